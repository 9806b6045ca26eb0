"""Draws the app icons: ``python -m manifest.icons`` rewrites manifest/color.png and outline.png.

The motif is a small network: three meeting points joined by lines. ``color.png`` is 192×192,
white on the accent colour; ``outline.png`` is 32×32, white on transparent with no other colour
and no partial transparency, as Teams wants. The drawing is deterministic, and a test checks that
the committed files are what this script draws.
"""

from __future__ import annotations

import math
from pathlib import Path

from manifest import png

HERE = Path(__file__).parent
ACCENT = "#1B6E8C"

# The motif in unit coordinates (0..1 across the icon): nodes (x, y, radius) and the edges between them.
NODES = ((0.5, 0.27, 0.115), (0.25, 0.71, 0.115), (0.75, 0.71, 0.115))
EDGES = ((0, 1), (1, 2), (2, 0))


def _hex(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _segment_distance(px: float, py: float, ax: float, ay: float, bx: float, by: float) -> float:
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def distance(x: float, y: float, line_width: float, scale: float = 1.0) -> float:
    """Signed distance (negative inside) from (x, y) to the motif, both in unit coordinates.

    ``scale`` shrinks the motif about the centre (the colour icon keeps a margin around it).
    """
    x = 0.5 + (x - 0.5) / scale
    y = 0.5 + (y - 0.5) / scale
    best = min(math.hypot(x - cx, y - cy) - r for cx, cy, r in NODES)
    for a, b in EDGES:
        (ax, ay, _), (bx, by, _) = NODES[a], NODES[b]
        best = min(best, _segment_distance(x, y, ax, ay, bx, by) - line_width / 2)
    return best * scale


def color_icon(size: int = 192, accent: str = ACCENT) -> bytes:
    """White motif on the accent colour, anti-aliased from the distance field."""
    background = _hex(accent)
    rows = []
    for j in range(size):
        row = []
        for i in range(size):
            d = distance((i + 0.5) / size, (j + 0.5) / size, line_width=0.055, scale=0.8) * size
            cover = max(0.0, min(1.0, 0.5 - d))
            row.append(
                (
                    round(background[0] + (255 - background[0]) * cover),
                    round(background[1] + (255 - background[1]) * cover),
                    round(background[2] + (255 - background[2]) * cover),
                    255,
                )
            )
        rows.append(row)
    return png.write_rgba(rows)


def outline_icon(size: int = 32) -> bytes:
    """White motif on transparent: every pixel is either opaque white or fully transparent."""
    rows = []
    for j in range(size):
        row = []
        for i in range(size):
            inside = distance((i + 0.5) / size, (j + 0.5) / size, line_width=0.075) <= 0
            row.append((255, 255, 255, 255) if inside else (0, 0, 0, 0))
        rows.append(row)
    return png.write_rgba(rows)


def main() -> None:
    (HERE / "color.png").write_bytes(color_icon())
    (HERE / "outline.png").write_bytes(outline_icon())


if __name__ == "__main__":
    main()
