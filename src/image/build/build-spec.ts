/**
 * What `rkt image build` builds: a small declarative spec with what acbuild offered (name, labels,
 * files to copy, exec, user, group, working directory, environment, ports, mount points,
 * annotations, isolators, dependencies, a base image). It comes from a JSON file (`--spec=FILE`),
 * from flags, or both: `mergeBuildSpecs` lays the flags over the file, field by field.
 *
 * The file is parsed strictly (an unknown field is an error, so a typo such as `workdir` never
 * silently does nothing); everything is then checked against the appc rules the outputs need in
 * `checkBuildSpec`.
 *
 * @example
 * const spec = mergeBuildSpecs(parseBuildSpec(readFileSync("build.json"), "build.json"), { labels: { version: "1.2.0" } });
 */
import { RktError } from "../../lib/errors.js";
import * as z from "../../lib/schema.js";
import { parseDocument } from "../formats/parse-document.js";

/** One `copy` step: a file or directory of the context dir placed at an absolute image path. */
export interface CopySpec {
  /** Relative to the context dir; a file, a directory (its contents are copied) or a symlink. */
  readonly from: string;
  /** Absolute path in the image; a trailing `/` puts a file inside that directory. */
  readonly to: string;
  /** Permission bits for the copied regular files (e.g. 0o4755); default: normalized from the source. */
  readonly mode?: number | undefined;
  /** Owner of everything this step copies; default 0. */
  readonly uid?: number | undefined;
  /** Group of everything this step copies; default 0. */
  readonly gid?: number | undefined;
}

/** A port the app listens on (appc aci.md "ports"). */
export interface PortSpec {
  readonly name: string;
  readonly protocol: string;
  readonly port: number;
  /** A range `port .. port+count-1`; default 1. */
  readonly count?: number | undefined;
  readonly socketActivated?: boolean | undefined;
}

/** Where the app expects a volume (appc aci.md "mountPoints"). */
export interface MountPointSpec {
  readonly name: string;
  readonly path: string;
  readonly readOnly?: boolean | undefined;
}

/** An appc isolator, passed through to the ACI manifest unchanged (types.md "Isolator Type"). */
export interface IsolatorSpec {
  readonly name: string;
  readonly value: unknown;
}

/** An appc dependency (aci.md "dependencies"): matched by name and labels, or pinned by image ID. */
export interface DependencySpec {
  readonly imageName: string;
  /** `sha512-<hex>`: the dependency must be exactly this image. */
  readonly imageID?: string | undefined;
  readonly labels?: Readonly<Record<string, string>> | undefined;
  /** Bytes of the dependency's uncompressed archive. */
  readonly size?: number | undefined;
}

/** The build spec: every field optional here; `checkBuildSpec` says what each output needs. */
export interface BuildSpec {
  /** The appc image name (AC Identifier), e.g. `example.com/app`. Required for ACI output. */
  readonly name?: string | undefined;
  /** appc labels: `version`, `os`, `arch`, and any other. */
  readonly labels?: Readonly<Record<string, string>> | undefined;
  readonly copy?: readonly CopySpec[] | undefined;
  /** The command: an executable and its arguments. */
  readonly exec?: readonly string[] | undefined;
  readonly user?: string | undefined;
  readonly group?: string | undefined;
  readonly workingDirectory?: string | undefined;
  readonly environment?: Readonly<Record<string, string>> | undefined;
  readonly ports?: readonly PortSpec[] | undefined;
  readonly mountPoints?: readonly MountPointSpec[] | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
  readonly isolators?: readonly IsolatorSpec[] | undefined;
  readonly dependencies?: readonly DependencySpec[] | undefined;
  /** An image in the rkt store (ID or name) this one is layered on. */
  readonly base?: string | undefined;
}

/** `"0755"`, `"755"`, `"0o755"` or a number. JSON has no octal literals, so strings are the usual form. */
const modeSchema = z.pipe(
  z.union([z.int(), z.string().check(z.regex(/^(0o?)?[0-7]{1,4}$/, "must be an octal mode such as \"0755\""))]),
  z.transform((v: number | string) => (typeof v === "number" ? v : parseInt(v.replace(/^0o/, ""), 8))),
);
const idSchema = z.int().check(z.nonnegative(), z.lte(0x7fffffff));
const stringMap = z.record(z.string(), z.string());

const copySchema = z.strictObject({
  from: z.string().check(z.minLength(1)),
  to: z.string().check(z.minLength(1)),
  mode: z.optional(modeSchema),
  uid: z.optional(idSchema),
  gid: z.optional(idSchema),
});

const dependencySchema = z.union([
  z.pipe(
    z.string().check(z.minLength(1)),
    z.transform((text: string) => parseDependencyArgument(text)),
  ),
  z.strictObject({
    imageName: z.string().check(z.minLength(1)),
    imageID: z.optional(z.string()),
    labels: z.optional(stringMap),
    size: z.optional(z.int().check(z.nonnegative())),
  }),
]);

const buildSpecSchema = z.strictObject({
  name: z.optional(z.string()),
  labels: z.optional(stringMap),
  copy: z.optional(z.array(copySchema)),
  exec: z.optional(z.array(z.string())),
  user: z.optional(z.string()),
  group: z.optional(z.string()),
  workingDirectory: z.optional(z.string()),
  environment: z.optional(stringMap),
  ports: z.optional(
    z.array(
      z.strictObject({
        name: z.string(),
        protocol: z.string(),
        port: z.int(),
        count: z.optional(z.int()),
        socketActivated: z.optional(z.boolean()),
      }),
    ),
  ),
  mountPoints: z.optional(z.array(z.strictObject({ name: z.string(), path: z.string(), readOnly: z.optional(z.boolean()) }))),
  annotations: z.optional(stringMap),
  isolators: z.optional(z.array(z.strictObject({ name: z.string(), value: z.unknown() }))),
  dependencies: z.optional(z.array(dependencySchema)),
  base: z.optional(z.string().check(z.minLength(1))),
});

/**
 * Parses a JSON build spec. `what` names it in errors (usually the file name).
 *
 * @example
 * parseBuildSpec(Buffer.from('{"name":"example.com/app","exec":["/bin/app"]}'), "build.json");
 */
export function parseBuildSpec(bytes: Uint8Array, what: string): BuildSpec {
  return parseDocument(bytes, buildSpecSchema, `build spec ${what}`);
}

/**
 * Lays `over` (from flags) over `base` (from the spec file). Scalars and lists given in `over`
 * replace the file's; maps (`labels`, `environment`, `annotations`) are merged key by key, with
 * `over` winning; `copy` steps from flags run after the file's.
 *
 * @example
 * mergeBuildSpecs({ labels: { version: "1" }, exec: ["/a"] }, { labels: { os: "linux" } });
 * // { labels: { version: "1", os: "linux" }, exec: ["/a"] }
 */
export function mergeBuildSpecs(base: BuildSpec, over: BuildSpec): BuildSpec {
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over) as [keyof BuildSpec, unknown][]) {
    if (value !== undefined) merged[key] = value;
  }
  return {
    ...merged,
    labels: mergeMaps(base.labels, over.labels),
    environment: mergeMaps(base.environment, over.environment),
    annotations: mergeMaps(base.annotations, over.annotations),
    copy: base.copy === undefined && over.copy === undefined ? undefined : [...(base.copy ?? []), ...(over.copy ?? [])],
  };
}

function mergeMaps(a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): Readonly<Record<string, string>> | undefined {
  return a === undefined && b === undefined ? undefined : { ...a, ...b };
}

/**
 * An appc image name with labels, as users type them for rkt: `example.com/base:1.0` (version
 * after a colon) or `example.com/base,version=1.0,os=linux`. Only the labels written are kept:
 * a dependency without `os` matches an image with any `os` (aci.md "Dependency Matching").
 *
 * @example
 * parseDependencyArgument("example.com/base:1.0,arch=amd64");
 * // { imageName: "example.com/base", labels: { version: "1.0", arch: "amd64" } }
 */
export function parseDependencyArgument(text: string): DependencySpec {
  const [head = "", ...rest] = text.split(",");
  let imageName = head;
  const labels: Record<string, string> = {};
  const colon = head.lastIndexOf(":");
  if (colon > head.lastIndexOf("/")) {
    imageName = head.slice(0, colon);
    labels.version = head.slice(colon + 1);
  }
  for (const pair of rest) {
    const eq = pair.indexOf("=");
    if (eq <= 0) {
      throw new RktError("invalid-argument", `invalid dependency "${text}": "${pair}" is not LABEL=VALUE`, {
        hint: "write NAME[:VERSION][,LABEL=VALUE...], e.g. example.com/base:1.0,os=linux",
      });
    }
    labels[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return Object.keys(labels).length === 0 ? { imageName } : { imageName, labels };
}
