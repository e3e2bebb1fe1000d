/**
 * appc image names as users type them (appc spec 0.8.11, discovery.md "App Name" and the
 * `NewAppFromString` convention of appc/spec and rkt): `example.com/app:0.0.1`,
 * `example.com/app,version=0.0.1,os=linux` or both, `example.com/app:0.0.1,channel=alpha`.
 *
 * The name is an AC Identifier (types.md "AC Identifier Type"); `:VERSION` is shorthand for the
 * `version` label; every other label is `,NAME=VALUE` with an AC Identifier name. Missing labels
 * get the defaults rkt used when fetching by name: `version=latest` and this host's `os`/`arch`
 * in appc's spelling (`linux`, `amd64`, `aarch64`, ...), so discovery templates and the
 * manifest's labels can be matched against them.
 *
 * Kept free of the schema library on purpose: looking an image up by name must not load zod.
 */
import { RktError } from "../../../lib/errors.js";

/** An appc image name with its labels (`version`, `os`, `arch` always present). */
export interface AppImageName {
  /** The AC Identifier, e.g. `example.com/app`. */
  readonly name: string;
  /** Label name to value, in the order given, then the defaults. */
  readonly labels: ReadonlyMap<string, string>;
}

/**
 * AC Identifier (types.md): lowercase letters, digits and `-._~/`, starting and ending with a
 * letter or digit, never two separators in a row. Image names and label names.
 */
const AC_IDENTIFIER_RE = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/;

/** Whether `text` is an appc AC Identifier (`example.com/app`, `version`). */
export function isAcIdentifier(text: string): boolean {
  return AC_IDENTIFIER_RE.test(text);
}

/** Node's `process.arch` to appc's `arch` label for Linux (appc schema/types/labels.go). */
const APPC_ARCH: Readonly<Record<string, string>> = {
  x64: "amd64",
  ia32: "i386",
  arm64: "aarch64",
  arm: "armv7l",
  ppc64: "ppc64le",
  s390x: "s390x",
};

/**
 * This host's appc `os` and `arch` labels: `{ os: "linux", arch: "amd64" }` on x86-64 Linux,
 * `arch: "aarch64"` on 64-bit ARM. `nodeArch` is passed in by tests.
 *
 * @example
 * hostAppcPlatform("arm64"); // { os: "linux", arch: "aarch64" }
 */
export function hostAppcPlatform(nodeArch: string = process.arch): { readonly os: string; readonly arch: string } {
  return { os: "linux", arch: APPC_ARCH[nodeArch] ?? nodeArch };
}

/**
 * Parses an appc image name with optional `:version` and `,label=value` parts. Throws RktError
 * "invalid-argument" naming the part that is wrong (a bad name, a label without `=`, a label
 * given twice, `name` as a label).
 *
 * @example
 * const app = parseAppImageName("example.com/app:0.0.1,channel=alpha");
 * app.name;                    // "example.com/app"
 * app.labels.get("version");   // "0.0.1"
 * app.labels.get("arch");      // "amd64" on x86-64
 */
export function parseAppImageName(text: string, platform: { readonly os: string; readonly arch: string } = hostAppcPlatform()): AppImageName {
  const parts = text.split(",");
  const head = parts[0] ?? "";
  const labels = new Map<string, string>();
  const colon = head.indexOf(":");
  const name = colon < 0 ? head : head.slice(0, colon);
  if (!isAcIdentifier(name)) {
    throw new RktError("invalid-argument", `invalid image name "${name}" in "${text}": an appc name is lowercase letters, digits and -._~/ and starts and ends with a letter or digit`, {
      hint: "for example: example.com/app:1.0 or example.com/app,version=1.0",
    });
  }
  if (colon >= 0) {
    const version = head.slice(colon + 1);
    if (version === "" || version.includes(":")) {
      throw new RktError("invalid-argument", `invalid version "${version}" in image name "${text}"`, { hint: "write NAME:VERSION with one colon, e.g. example.com/app:1.0" });
    }
    labels.set("version", version);
  }
  for (const part of parts.slice(1)) {
    const eq = part.indexOf("=");
    if (eq <= 0) {
      throw new RktError("invalid-argument", `malformed label "${part}" in image name "${text}": labels are NAME=VALUE`, { hint: "for example: example.com/app,version=1.0,os=linux" });
    }
    const key = part.slice(0, eq);
    const value = part.slice(eq + 1);
    if (key === "name") throw new RktError("invalid-argument", `"name" cannot be a label in image name "${text}"`);
    if (!isAcIdentifier(key)) throw new RktError("invalid-argument", `invalid label name "${key}" in image name "${text}": label names are AC Identifiers (lowercase letters, digits, -._~/)`);
    if (value === "") throw new RktError("invalid-argument", `label "${key}" has no value in image name "${text}"`);
    if (labels.has(key)) throw new RktError("invalid-argument", `label "${key}" is given twice in image name "${text}"`);
    labels.set(key, value);
  }
  if (!labels.has("version")) labels.set("version", "latest");
  if (!labels.has("os")) labels.set("os", platform.os);
  if (!labels.has("arch")) labels.set("arch", platform.arch);
  return { name, labels };
}
