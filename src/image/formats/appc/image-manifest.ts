/**
 * The appc image manifest (appc spec 0.8.11, aci.md "Image Manifest Schema", types.md): the
 * `manifest` file of an ACI, naming the image, its labels, how to run it, the images it is layered
 * on and which paths its rendered root filesystem keeps. Parsed at the boundary like every
 * document from outside: the schema checks types, then the rules the spec states in prose (AC
 * Identifier / AC Name formats, unique label and annotation names, the `os`/`arch` pairs, port
 * ranges, absolute paths) are checked field by field, and every error names the document and the
 * field.
 */
import { RktError } from "../../../lib/errors.js";
import * as z from "../../../lib/schema.js";
import { parseDocument } from "../parse-document.js";

/** The acKind of an image manifest (types.md, "AC Kind Type"). */
export const ACI_MANIFEST_KIND = "ImageManifest";

/**
 * The media type rkt records for an ACI in the store: the blob is the image archive, always
 * uncompressed (its digest is the image ID, aci.md "Image ID"), and as a layer it unpacks its
 * `rootfs/` only (see applyLayer's `archive: "aci"`). Not registered anywhere; rkt's own name.
 */
export const ACI_MEDIA_TYPE = "application/vnd.appc.aci";

/**
 * AC Identifier (types.md): lowercase URI unreserved characters, beginning and ending with a
 * letter or digit. Image names, label names, annotation names and isolator names.
 */
export const AC_IDENTIFIER = /^[a-z0-9]+([-._~/][a-z0-9]+)*$/;
/** AC Name (types.md): lowercase DNS label characters plus "-". Port and mount point names. */
export const AC_NAME = /^[a-z0-9]+(-[a-z0-9]+)*$/;

/**
 * The `os`/`arch` label pairs appc accepts (appc schema/types/labels.go `ValidOSArch`). `arch`
 * means something only with an `os`; an image without them is OS/architecture independent.
 */
export const APPC_OS_ARCH: ReadonlyMap<string, readonly string[]> = new Map([
  ["linux", ["amd64", "i386", "aarch64", "aarch64_be", "armv6l", "armv7l", "armv7b", "ppc64", "ppc64le", "s390x"]],
  ["freebsd", ["amd64", "i386", "arm"]],
  ["darwin", ["x86_64", "i386"]],
]);

/** A `{name, value}` pair: labels, annotations, environment variables. */
export interface AciNameValue {
  readonly name: string;
  readonly value: string;
}

/** A port the app listens on (aci.md, "ports"): `port` .. `port + count - 1`. */
export interface AciPort {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
  /** 1 when the manifest leaves it out. */
  readonly count: number;
  readonly socketActivated: boolean;
}

/** Where the app expects a volume (aci.md, "mountPoints"). */
export interface AciMountPoint {
  readonly name: string;
  /** Absolute. */
  readonly path: string;
  readonly readOnly: boolean;
}

/** A lifecycle hook (aci.md, "eventHandlers"). */
export interface AciEventHandler {
  readonly name: "pre-start" | "post-stop";
  readonly exec: readonly string[];
}

/** An isolator (types.md, "Isolator Type"): the value is checked by whoever applies it. */
export interface AciIsolator {
  readonly name: string;
  readonly value: unknown;
}

/** How to run the image (aci.md, "app"). */
export interface AciApp {
  /** The command; may be empty (then the executor or the user gives one). */
  readonly exec: readonly string[];
  readonly user: string;
  readonly group: string;
  readonly supplementaryGIDs: readonly number[];
  readonly eventHandlers: readonly AciEventHandler[];
  /** Absolute, when given. */
  readonly workingDirectory: string | undefined;
  readonly environment: readonly AciNameValue[];
  readonly isolators: readonly AciIsolator[];
  readonly mountPoints: readonly AciMountPoint[];
  readonly ports: readonly AciPort[];
}

/** An image this one is layered on (aci.md, "dependencies" and "Dependency Matching"). */
export interface AciDependency {
  readonly imageName: string;
  /** `sha512-<hex>`, possibly shortened; the dependency fetched MUST match it when given. */
  readonly imageID: string | undefined;
  readonly labels: readonly AciNameValue[];
  /** Bytes of the dependency's image, when given: a bound against endless data. */
  readonly size: number | undefined;
}

/** An appc image manifest, parsed and checked; optional lists are empty when absent. */
export interface AciManifest {
  readonly acKind: typeof ACI_MANIFEST_KIND;
  readonly acVersion: string;
  readonly name: string;
  readonly labels: readonly AciNameValue[];
  readonly app: AciApp | undefined;
  readonly dependencies: readonly AciDependency[];
  /** Absolute paths; empty means "everything" (aci.md, "pathWhitelist"). */
  readonly pathWhitelist: readonly string[];
  readonly annotations: readonly AciNameValue[];
}

const nameValue = z.object({ name: z.string(), value: z.string() });
const stringList = z.array(z.string());

const manifestSchema = z.object({
  acKind: z.string(),
  acVersion: z.string(),
  name: z.string(),
  labels: z.optional(z.array(nameValue)),
  app: z.optional(
    z.object({
      exec: z.optional(stringList),
      user: z.optional(z.string()),
      group: z.optional(z.string()),
      supplementaryGIDs: z.optional(z.array(z.int().check(z.nonnegative()))),
      // The spec's own example spells it this way; appc's Go types read only `supplementaryGIDs`.
      supplementaryGids: z.optional(z.array(z.int().check(z.nonnegative()))),
      eventHandlers: z.optional(z.array(z.object({ name: z.string(), exec: stringList }))),
      workingDirectory: z.optional(z.string()),
      environment: z.optional(z.array(nameValue)),
      isolators: z.optional(z.array(z.object({ name: z.string(), value: z.unknown() }))),
      mountPoints: z.optional(z.array(z.object({ name: z.string(), path: z.string(), readOnly: z.optional(z.boolean()) }))),
      ports: z.optional(
        z.array(
          z.object({
            name: z.string(),
            protocol: z.string(),
            port: z.int(),
            count: z.optional(z.int()),
            socketActivated: z.optional(z.boolean()),
          }),
        ),
      ),
    }),
  ),
  dependencies: z.optional(
    z.array(
      z.object({
        imageName: z.string(),
        imageID: z.optional(z.string()),
        labels: z.optional(z.array(nameValue)),
        size: z.optional(z.int().check(z.nonnegative())),
      }),
    ),
  ),
  pathWhitelist: z.optional(stringList),
  annotations: z.optional(z.array(nameValue)),
});

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
/** Environment variable names as appc accepts them (schema/types/environment.go and its tests). */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
/** Image ID Type (types.md): `sha512-<hex>`; appc takes shortened values. */
const APPC_IMAGE_ID = /^sha512-[0-9a-f]{1,128}$/;
/** RFC 3339 `date-time` (types.md, "Timestamps Type"). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Parses the bytes of an ACI's `manifest` file. `label` names the image in errors (a file path or
 * URL). Unknown fields are ignored (as appc's Go types do); everything the spec forbids is an
 * "invalid-argument" RktError like `invalid image manifest of ./app.aci: app.ports.0.port: must be
 * in 1-65535`.
 *
 * @example
 * const m = parseAciManifest(readFileSync("manifest"), "app.aci");
 * m.name; // "example.com/app"
 * aciLabel(m.labels, "version"); // "1.0.0"
 */
export function parseAciManifest(bytes: Uint8Array, label: string): AciManifest {
  const what = `image manifest of ${label}`;
  const raw = parseDocument(bytes, manifestSchema, what);
  const fail = (field: string, why: string): RktError => new RktError("invalid-argument", `invalid ${what}: ${field}: ${why}`);

  if (raw.acKind !== ACI_MANIFEST_KIND) throw fail("acKind", `must be "${ACI_MANIFEST_KIND}", not ${JSON.stringify(raw.acKind)}`);
  const version = SEMVER.exec(raw.acVersion);
  if (version === null) throw fail("acVersion", `${JSON.stringify(raw.acVersion)} is not a semantic version (types.md, "AC Version Type")`);
  // types.md: compatible only within a major version series; rkt implements 0.8.11.
  if (version[1] !== "0") throw fail("acVersion", `${raw.acVersion} is not an appc 0.x version; rkt reads appc 0.8.11 manifests`);
  checkIdentifier(raw.name, "name", fail);

  const labels = raw.labels ?? [];
  checkLabels(labels, "labels", fail);
  const annotations = raw.annotations ?? [];
  checkAnnotations(annotations, fail);

  const dependencies: AciDependency[] = (raw.dependencies ?? []).map((d, i) => {
    const field = `dependencies.${i}`;
    checkIdentifier(d.imageName, `${field}.imageName`, fail);
    if (d.imageID !== undefined && !APPC_IMAGE_ID.test(d.imageID)) {
      throw fail(`${field}.imageID`, `${JSON.stringify(d.imageID)} is not an image ID (sha512-<hex>, types.md "Image ID Type")`);
    }
    const depLabels = d.labels ?? [];
    checkLabels(depLabels, `${field}.labels`, fail);
    return { imageName: d.imageName, imageID: d.imageID, labels: depLabels, size: d.size };
  });

  const pathWhitelist = raw.pathWhitelist ?? [];
  pathWhitelist.forEach((p, i) => checkAbsolutePath(p, `pathWhitelist.${i}`, fail));

  return {
    acKind: ACI_MANIFEST_KIND,
    acVersion: raw.acVersion,
    name: raw.name,
    labels,
    app: raw.app === undefined ? undefined : parseApp(raw.app, fail),
    dependencies,
    pathWhitelist,
    annotations,
  };
}

/**
 * The value of a label (or annotation, or environment variable) in an appc name/value list.
 *
 * @example
 * aciLabel([{ name: "os", value: "linux" }], "os"); // "linux"
 */
export function aciLabel(list: readonly AciNameValue[], name: string): string | undefined {
  return list.find((l) => l.name === name)?.value;
}

/**
 * Whether a full image ID (`sha512:<128 hex>`, as the store keys it) is the one an appc image ID
 * (`sha512-<hex>`, possibly shortened, as manifests and users write it) names.
 *
 * @example
 * aciImageIdMatches("sha512:" + "ab".repeat(64), "sha512-abab"); // true
 */
export function aciImageIdMatches(digest: string, appcId: string): boolean {
  if (!APPC_IMAGE_ID.test(appcId)) return false;
  return digest.startsWith(`sha512:${appcId.slice("sha512-".length)}`);
}

type Fail = (field: string, why: string) => RktError;
type RawApp = NonNullable<z.infer<typeof manifestSchema>["app"]>;

function parseApp(app: RawApp, fail: Fail): AciApp {
  const exec = app.exec ?? [];
  if (exec.length > 0 && exec[0] === "") throw fail("app.exec.0", "is empty");
  // appc schema/types/app.go: "user is required", "group is required".
  if (app.user === undefined || app.user === "") throw fail("app.user", "is required (a user name, a UID, or the path of a file whose owner to run as)");
  if (app.group === undefined || app.group === "") throw fail("app.group", "is required (a group name, a GID, or the path of a file whose group to run as)");
  if (app.workingDirectory !== undefined && app.workingDirectory !== "") checkAbsolutePath(app.workingDirectory, "app.workingDirectory", fail);

  const eventHandlers: AciEventHandler[] = [];
  (app.eventHandlers ?? []).forEach((h, i) => {
    if (h.name !== "pre-start" && h.name !== "post-stop") throw fail(`app.eventHandlers.${i}.name`, `must be "pre-start" or "post-stop", not ${JSON.stringify(h.name)}`);
    if (eventHandlers.some((e) => e.name === h.name)) throw fail(`app.eventHandlers.${i}.name`, `only one "${h.name}" handler is allowed`);
    if (h.exec.length === 0 || h.exec[0] === "") throw fail(`app.eventHandlers.${i}.exec`, "must name a command");
    eventHandlers.push({ name: h.name, exec: h.exec });
  });

  const environment = app.environment ?? [];
  unique(environment, "app.environment", fail);
  environment.forEach((e, i) => {
    if (!ENV_NAME.test(e.name)) throw fail(`app.environment.${i}.name`, `${JSON.stringify(e.name)} is not a variable name (letters, digits, "_", ".", "-"; not starting with a digit)`);
  });

  const isolators = app.isolators ?? [];
  isolators.forEach((iso, i) => checkIdentifier(iso.name, `app.isolators.${i}.name`, fail));

  const mountPoints: AciMountPoint[] = (app.mountPoints ?? []).map((m, i) => {
    checkName(m.name, `app.mountPoints.${i}.name`, fail);
    checkAbsolutePath(m.path, `app.mountPoints.${i}.path`, fail);
    return { name: m.name, path: m.path, readOnly: m.readOnly ?? false };
  });
  unique(mountPoints, "app.mountPoints", fail);

  const ports: AciPort[] = (app.ports ?? []).map((p, i) => {
    const field = `app.ports.${i}`;
    checkName(p.name, `${field}.name`, fail);
    if (p.protocol === "") throw fail(`${field}.protocol`, "is required (e.g. tcp, udp)");
    if (p.port < 1 || p.port > 65535) throw fail(`${field}.port`, `${p.port} is not in 1-65535`);
    // appc schema/types/port.go: an absent (or 0) count means 1.
    const count = p.count === undefined || p.count === 0 ? 1 : p.count;
    if (count < 1 || p.port + count - 1 > 65535) throw fail(`${field}.count`, `${count} ports from ${p.port} run past 65535`);
    return { name: p.name, protocol: p.protocol, port: p.port, count, socketActivated: p.socketActivated ?? false };
  });
  unique(ports, "app.ports", fail);

  return {
    exec,
    user: app.user,
    group: app.group,
    supplementaryGIDs: app.supplementaryGIDs ?? app.supplementaryGids ?? [],
    eventHandlers,
    workingDirectory: app.workingDirectory === "" ? undefined : app.workingDirectory,
    environment,
    isolators,
    mountPoints,
    ports,
  };
}

function checkIdentifier(value: string, field: string, fail: Fail): void {
  if (!AC_IDENTIFIER.test(value)) {
    throw fail(field, `${JSON.stringify(value)} is not an AC Identifier (lowercase letters, digits and -._~/, starting and ending with a letter or digit; types.md)`);
  }
}

function checkName(value: string, field: string, fail: Fail): void {
  if (!AC_NAME.test(value)) throw fail(field, `${JSON.stringify(value)} is not an AC Name (lowercase letters, digits and "-", starting and ending with a letter or digit; types.md)`);
}

function checkAbsolutePath(value: string, field: string, fail: Fail): void {
  if (!value.startsWith("/")) throw fail(field, `${JSON.stringify(value)} is not an absolute path`);
  if (value.includes("\0")) throw fail(field, "contains a NUL byte");
  if (value.split("/").includes("..")) throw fail(field, `${JSON.stringify(value)} contains ".."`);
}

function unique(list: readonly { readonly name: string }[], field: string, fail: Fail): void {
  const seen = new Set<string>();
  list.forEach((item, i) => {
    if (seen.has(item.name)) throw fail(`${field}.${i}.name`, `${JSON.stringify(item.name)} appears twice`);
    seen.add(item.name);
  });
}

/** Labels (aci.md, "labels"; appc schema/types/labels.go): AC Identifier names, unique, not "name", valid os/arch. */
function checkLabels(labels: readonly AciNameValue[], field: string, fail: Fail): void {
  labels.forEach((l, i) => {
    checkIdentifier(l.name, `${field}.${i}.name`, fail);
    if (l.name === "name") throw fail(`${field}.${i}.name`, 'a label cannot be called "name" (it would be confused with the image name)');
  });
  unique(labels, field, fail);
  const os = aciLabel(labels, "os");
  if (os === undefined) return;
  const archs = APPC_OS_ARCH.get(os);
  if (archs === undefined) throw fail(`${field} os`, `unknown os ${JSON.stringify(os)} (one of: ${[...APPC_OS_ARCH.keys()].join(", ")})`);
  const arch = aciLabel(labels, "arch");
  if (arch !== undefined && !archs.includes(arch)) throw fail(`${field} arch`, `unknown arch ${JSON.stringify(arch)} for ${os} (one of: ${archs.join(", ")})`);
}

/** Annotations (aci.md, "annotations"): AC Identifier names, unique; the recognized ones checked. */
function checkAnnotations(annotations: readonly AciNameValue[], fail: Fail): void {
  annotations.forEach((a, i) => checkIdentifier(a.name, `annotations.${i}.name`, fail));
  unique(annotations, "annotations", fail);
  const created = aciLabel(annotations, "created");
  if (created !== undefined && (!RFC3339.test(created) || Number.isNaN(Date.parse(created)))) {
    throw fail("annotations created", `${JSON.stringify(created)} is not an RFC 3339 date-time`);
  }
  for (const name of ["homepage", "documentation"]) {
    const value = aciLabel(annotations, name);
    if (value === undefined) continue;
    let ok = false;
    try {
      const url = new URL(value);
      ok = url.protocol === "http:" || url.protocol === "https:";
    } catch {
      ok = false;
    }
    if (!ok) throw fail(`annotations ${name}`, `${JSON.stringify(value)} is not an http(s) URL`);
  }
}
