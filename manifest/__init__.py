"""The Teams app package: manifest template, icons, fi/sv texts, builder and checks."""
