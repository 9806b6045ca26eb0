#!/usr/bin/env node
// Validates a Teams app package (a .zip, or a directory holding its files) against the official
// JSON schemas bundled in the npm package @microsoft/app-manifest, offline:
//   - manifest.json against MicrosoftTeams.schema.json of the version it declares
//     (manifestVersion, which must agree with its $schema), through AppManifestUtils;
//   - every localization file it lists against MicrosoftTeams.Localization.schema.json of that
//     version (compiled with ajv's unicodeRegExp off: its patterns are not valid unicode regexps);
//   - every file the manifest names (icons, localization files) is in the package, same letter case.
// The rules Teams enforces beyond the schemas (lengths, icon pixels, ...) are checked by
// manifest/checks.py. Exit code 0: valid; 1: invalid (each problem on its own line); 2: usage.
//
//   node manifest/validate.mjs var/tapaamo-teams-app.zip

import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import zlib from "node:zlib";

const require = createRequire(import.meta.url);
const SCHEMA_HOST = "https://developer.microsoft.com/json-schemas/teams";

function usage(message) {
  process.stderr.write(`validate.mjs: ${message}\nusage: node manifest/validate.mjs <package.zip | directory>\n`);
  process.exit(2);
}

// --- reading the package ---------------------------------------------------------------------

function readZip(file) {
  const data = fs.readFileSync(file);
  let end = -1;
  for (let i = data.length - 22; i >= Math.max(0, data.length - 22 - 0xffff); i--) {
    if (data.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error("not a zip file (no end of central directory)");
  const count = data.readUInt16LE(end + 10);
  let at = data.readUInt32LE(end + 16);
  if (count === 0xffff || at === 0xffffffff) throw new Error("ZIP64 archives are not supported");
  const files = new Map();
  for (let n = 0; n < count; n++) {
    if (data.readUInt32LE(at) !== 0x02014b50) throw new Error("corrupt zip central directory");
    const flags = data.readUInt16LE(at + 8);
    const method = data.readUInt16LE(at + 10);
    const size = data.readUInt32LE(at + 20);
    const nameLength = data.readUInt16LE(at + 28);
    const extraLength = data.readUInt16LE(at + 30);
    const commentLength = data.readUInt16LE(at + 32);
    const local = data.readUInt32LE(at + 42);
    const name = data.subarray(at + 46, at + 46 + nameLength).toString(flags & 0x800 ? "utf8" : "latin1");
    at += 46 + nameLength + extraLength + commentLength;
    if (name.endsWith("/")) continue;
    if (flags & 1) throw new Error(`${name} is encrypted`);
    if (data.readUInt32LE(local) !== 0x04034b50) throw new Error(`corrupt local header of ${name}`);
    const start = local + 30 + data.readUInt16LE(local + 26) + data.readUInt16LE(local + 28);
    const raw = data.subarray(start, start + size);
    if (method === 0) files.set(name, Buffer.from(raw));
    else if (method === 8) files.set(name, zlib.inflateRawSync(raw));
    else throw new Error(`${name} uses compression method ${method}, Teams reads only stored or deflated`);
  }
  return files;
}

function readDirectory(root) {
  const files = new Map();
  const walk = (dir) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) files.set(path.relative(root, full).split(path.sep).join("/"), fs.readFileSync(full));
    }
  };
  walk(root);
  return files;
}

function parseJson(files, name, errors) {
  try {
    return JSON.parse(files.get(name).toString("utf8").replace(/^\uFEFF/, ""));
  } catch (error) {
    errors.push(`${name}: not valid JSON (${error.message})`);
    return undefined;
  }
}

function findFile(files, name, what, errors) {
  if (files.has(name)) return true;
  const other = [...files.keys()].find((present) => present.toLowerCase() === String(name).toLowerCase());
  errors.push(
    other
      ? `manifest.json: ${what} is "${name}" but the package has "${other}" (letter case must match)`
      : `manifest.json: ${what} "${name}" is not in the package`,
  );
  return false;
}

// --- schemas ---------------------------------------------------------------------------------

function schemaDirectory() {
  return path.join(path.dirname(require.resolve("@microsoft/app-manifest")), "json-schemas", "teams");
}

function loadSchema(file) {
  // As AppManifestUtils.fetchSchema does: some schemas hold \a and \v escapes, which JSON lacks.
  const text = fs.readFileSync(file, "utf8").replace(/\\a/g, "\\u0007").replace(/\\v/g, "\\u000b");
  return JSON.parse(text);
}

function canonicalSchemaUrl(url) {
  // https://developer.microsoft.com/en-us/json-schemas/... is the same schema as /json-schemas/...
  return String(url).replace(/^(https:\/\/developer\.microsoft\.com)\/[a-z]{2}(-[a-z]{2})?\//i, "$1/");
}

function formatAjvError(file, error) {
  const where = error.instancePath || "(root)";
  const extra = [];
  if (error.params?.additionalProperty !== undefined) extra.push(`"${error.params.additionalProperty}"`);
  if (error.params?.allowedValues !== undefined) extra.push(`allowed: ${JSON.stringify(error.params.allowedValues)}`);
  if (error.params?.pattern !== undefined && error.keyword === "pattern") extra.push(error.params.pattern);
  return `${file}: ${where} ${error.message}${extra.length ? ` (${extra.join("; ")})` : ""}`;
}

async function validate(files) {
  const errors = [];
  if (!files.has("manifest.json")) {
    const nested = [...files.keys()].find((name) => name.split("/").pop().toLowerCase() === "manifest.json");
    errors.push(nested ? `manifest.json must be at the package root, found "${nested}"` : "the package has no manifest.json");
    return { errors };
  }
  const manifest = parseJson(files, "manifest.json", errors);
  if (manifest === undefined) return { errors };
  if (typeof manifest !== "object" || manifest === null || Array.isArray(manifest)) {
    return { errors: ["manifest.json: must be a JSON object"] };
  }

  const version = manifest.manifestVersion;
  const versions = fs.readdirSync(schemaDirectory()).filter((name) => /^v\d|^vDevPreview$/.test(name));
  const folder = version === "devPreview" ? "vDevPreview" : `v${version}`;
  const schemaFile = path.join(schemaDirectory(), folder, "MicrosoftTeams.schema.json");
  if (typeof version !== "string" || !fs.existsSync(schemaFile)) {
    errors.push(
      `manifest.json: no bundled schema for manifestVersion ${JSON.stringify(version)}; ` +
        `@microsoft/app-manifest has ${versions.join(", ")}`,
    );
    return { errors };
  }
  const expectedUrl = `${SCHEMA_HOST}/${folder}/MicrosoftTeams.schema.json`;
  if (canonicalSchemaUrl(manifest.$schema) !== expectedUrl) {
    errors.push(`manifest.json: $schema is ${JSON.stringify(manifest.$schema)}, expected "${expectedUrl}" for manifestVersion ${version}`);
  }

  const { AppManifestUtils } = require("@microsoft/app-manifest");
  const failures = await AppManifestUtils.validateAgainstSchema(manifest, loadSchema(schemaFile));
  for (const failure of failures) {
    errors.push(`manifest.json: ${failure.trim().startsWith("must") ? "(root) " : ""}${failure.trim()}`);
  }

  const icons = manifest.icons ?? {};
  for (const kind of ["color", "outline", "color32x32"]) {
    if (typeof icons[kind] === "string") findFile(files, icons[kind], `icons.${kind}`, errors);
  }

  const info = manifest.localizationInfo ?? {};
  const languages = [];
  if (typeof info.defaultLanguageFile === "string") languages.push([info.defaultLanguageTag, info.defaultLanguageFile]);
  for (const entry of Array.isArray(info.additionalLanguages) ? info.additionalLanguages : []) {
    if (entry && typeof entry.file === "string") languages.push([entry.languageTag, entry.file]);
  }
  if (languages.length) {
    const localizationFile = path.join(schemaDirectory(), folder, "MicrosoftTeams.Localization.schema.json");
    let check;
    if (fs.existsSync(localizationFile)) {
      const appManifestRequire = createRequire(require.resolve("@microsoft/app-manifest"));
      const Ajv04 = appManifestRequire("ajv-draft-04");
      const addFormats = appManifestRequire("ajv-formats");
      const ajv = new (Ajv04.default ?? Ajv04)({ allErrors: true, strict: false, unicodeRegExp: false });
      (addFormats.default ?? addFormats)(ajv, ["uri", "email", "regex"]);
      check = ajv.compile(loadSchema(localizationFile));
    } else {
      errors.push(`no bundled localization schema for manifestVersion ${version}`);
    }
    const expectedLocalizationUrl = `${SCHEMA_HOST}/${folder}/MicrosoftTeams.Localization.schema.json`;
    for (const [tag, file] of languages) {
      if (!findFile(files, file, `localization file of "${tag}"`, errors)) continue;
      const strings = parseJson(files, file, errors);
      if (strings === undefined || !check) continue;
      if (strings.$schema !== undefined && canonicalSchemaUrl(strings.$schema) !== expectedLocalizationUrl) {
        errors.push(`${file}: $schema is ${JSON.stringify(strings.$schema)}, expected "${expectedLocalizationUrl}"`);
      }
      if (!check(strings)) for (const error of check.errors) errors.push(formatAjvError(file, error));
    }
  }
  return { errors, version, count: files.size };
}

async function main() {
  const target = process.argv[2];
  if (!target || process.argv.length > 3) usage("give one package (.zip) or directory");
  if (!fs.existsSync(target)) usage(`${target} does not exist`);
  let files;
  try {
    files = fs.statSync(target).isDirectory() ? readDirectory(target) : readZip(target);
  } catch (error) {
    process.stderr.write(`${target}: ${error.message}\n`);
    process.exit(1);
  }
  const { errors, version, count } = await validate(files);
  if (errors.length) {
    process.stderr.write(`${target}: ${errors.length} problem(s)\n${errors.map((e) => `  - ${e}`).join("\n")}\n`);
    process.exit(1);
  }
  process.stdout.write(`${target}: valid Teams app package (manifest v${version}, ${count} files)\n`);
}

await main();
