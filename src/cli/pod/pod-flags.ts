/**
 * The flags of `rkt run` / `rkt prepare` (pod flags before the first image, app flags after each
 * image), with rkt's names, and their translation into the engine's requests.
 */
import { RktError } from "../../lib/errors.js";
import type { AppRequest, AppSecurity, VolumeRequest } from "../../engine/pod/app-request.js";
import { parseCapabilityNames } from "../../stage1/oci/capabilities.js";
import { parseSeccompFlag } from "../../stage1/oci/seccomp/seccomp-set.js";
import { boolFlag, listFlag, parseBool, stringFlag, type FlagValues } from "../args/flags.js";

export const appFlags = {
  exec: stringFlag("override the exec command for the preceding image"),
  user: stringFlag("user override for the preceding image (UID or name in the image's /etc/passwd)"),
  group: stringFlag("group override for the preceding image (GID or name in the image's /etc/group)"),
  supplementaryGids: stringFlag("supplementary group IDs override for the preceding image (comma-separated)"),
  workingDir: stringFlag("override the working directory of the preceding image"),
  readonlyRootfs: stringFlag("mount the rootfs of the preceding image read-only", "", ["", "true", "false"]),
  name: stringFlag("set the name of the app (default: derived from the image name)"),
  environment: listFlag("set an environment variable for the preceding app (K=V)"),
  mount: listFlag("mount a volume into the preceding app: volume=NAME,target=PATH"),
  memory: stringFlag("memory limit for the preceding image (e.g. 128M, 1Gi)"),
  cpu: stringFlag("CPU limit for the preceding image (e.g. 500m, 2)"),
  cpuShares: stringFlag("CPU shares for the preceding image (relative weight)"),
  oomScoreAdj: stringFlag("oom-score-adj isolator override (0..1000 on this machine)"),
  annotation: listFlag("set an annotation for the preceding app (NAME=VALUE)"),
  signature: listFlag("local signature file to use in validating the preceding image"),
  capsRetain: stringFlag("capabilities the preceding app keeps, all others dropped (e.g. CAP_NET_ADMIN,CAP_SYS_TIME)"),
  capsRemove: stringFlag("capabilities removed from the preceding app's default set (e.g. CAP_NET_RAW,CAP_MKNOD)"),
  seccomp: stringFlag("seccomp filter of the preceding app: mode=retain|remove[,errno=ENAME],SYSCALL|@GROUP,..."),
} as const;

export const stage1Flags = {
  stage1Name: stringFlag("the stage1 to use: default (runc), crun, fly, sandbox (gVisor)"),
  stage1Path: stringFlag("a stage1 image file (ACI stage1 images are not supported)", "", undefined),
  stage1Url: stringFlag("a stage1 image URL (ACI stage1 images are not supported)"),
  stage1Hash: stringFlag("a stage1 image hash (ACI stage1 images are not supported)"),
  stage1FromDir: stringFlag("a stage1 image in the stage1 images directory (not supported)"),
} as const;

export const podPrepareFlags = {
  ...stage1Flags,
  podManifest: stringFlag("the path to the pod manifest; when given, images and app flags are ignored"),
  volume: listFlag("volumes to make available in the pod: NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL] or NAME,kind=empty[,mode=0755][,uid=0][,gid=0]"),
  mount: listFlag("mount a volume into every app: volume=NAME,target=PATH"),
  inheritEnv: boolFlag("apps inherit the environment of rkt"),
  setEnv: listFlag("an environment variable for all apps (K=V)"),
  setEnvFile: listFlag("a file of environment variables for all apps (K=V lines)"),
  pullPolicy: stringFlag("when to fetch images: new, update, never", "new", ["new", "update", "never"]),
  noOverlay: boolFlag("disable overlay filesystems (not supported: rkt always uses overlayfs)", false, true),
  privateUsers: boolFlag("run the pod in a user namespace, on a host UID/GID range no other pod uses"),
  quiet: boolFlag("suppress superfluous output on stdout, print only the UUID"),
  storeOnly: boolFlag("deprecated: --pull-policy=never", false, true),
  noStore: boolFlag("deprecated: --pull-policy=update", false, true),
} as const;

export const podRunFlags = {
  net: { kind: "list", help: "networks to join: default, none, host, all, or named CNI networks from net.d (name[:K=V;...]); bare --net means default", csv: true, bare: "default" },
  port: listFlag("ports to forward from the host: NAME:[HOSTIP:]HOSTPORT (NAME is an app port, e.g. 80-tcp)"),
  dns: listFlag("name servers for the pod's /etc/resolv.conf"),
  dnsSearch: listFlag("DNS search domains"),
  dnsOpt: listFlag("DNS options"),
  dnsDomain: stringFlag("DNS domain"),
  hostsEntry: listFlag("entries for the pod's /etc/hosts: IP=HOSTNAME"),
  hostname: stringFlag("pod's hostname (default rkt-$UUID)"),
  ipc: stringFlag("IPC namespace: auto, private, parent", "auto", ["auto", "private", "parent"]),
  interactive: boolFlag("run the app interactively, attached to this terminal (one app only)"),
  mdsRegister: boolFlag("register the pod with the metadata service (rkt metadata-service); apps get AC_METADATA_URL"),
  uuidFileSave: stringFlag("write the pod's UUID to this file"),
} as const;

export function appRequestFrom(image: string, v: FlagValues<typeof appFlags>, given: ReadonlySet<string>, args: readonly string[] | undefined): AppRequest {
  if (v.signature.length > 1) throw new RktError("invalid-argument", `--signature given ${v.signature.length} times for ${image}`, { hint: "one signature file per image" });
  return {
    image,
    ...(v.signature[0] === undefined ? {} : { signature: v.signature[0] }),
    ...(given.has("name") ? { name: v.name } : {}),
    ...(given.has("exec") ? { exec: v.exec } : {}),
    ...(args === undefined ? {} : { args }),
    ...(given.has("user") ? { user: v.user } : {}),
    ...(given.has("group") ? { group: v.group } : {}),
    ...(given.has("supplementaryGids") ? { supplementaryGids: parseGids(v.supplementaryGids) } : {}),
    ...(given.has("workingDir") ? { workingDir: v.workingDir } : {}),
    ...(v.readonlyRootfs === "" ? {} : { readonlyRootfs: parseBool(v.readonlyRootfs, "readonly-rootfs") }),
    environment: v.environment.map((e) => keyValue(e, "environment")),
    mounts: v.mount.map(parseMount),
    ...(given.has("memory") ? { memory: v.memory } : {}),
    ...(given.has("cpu") ? { cpu: v.cpu } : {}),
    ...(given.has("cpuShares") ? { cpuShares: intFlag(v.cpuShares, "cpu-shares", 2, 262144) } : {}),
    ...(given.has("oomScoreAdj") ? { oomScoreAdj: intFlag(v.oomScoreAdj, "oom-score-adj", -1000, 1000) } : {}),
    annotations: v.annotation.map((a) => keyValue(a, "annotation")),
    ...securityFrom(v, given),
  };
}

/**
 * `--caps-retain`, `--caps-remove` and `--seccomp` of one app. Both capability flags at once are
 * an error here, naming both, before anything is fetched.
 */
function securityFrom(v: FlagValues<typeof appFlags>, given: ReadonlySet<string>): { security?: AppSecurity } {
  if (given.has("capsRetain") && given.has("capsRemove")) {
    throw new RktError("invalid-argument", `--caps-retain=${v.capsRetain} and --caps-remove=${v.capsRemove} cannot both be given for one app`, {
      hint: "--caps-retain lists exactly the capabilities the app keeps; --caps-remove drops some from the default set",
    });
  }
  const security: { -readonly [K in keyof AppSecurity]: AppSecurity[K] } = {};
  // An empty retain set is meaningful: no capabilities at all (Docker's --cap-drop=ALL).
  if (given.has("capsRetain")) security.capsRetain = parseCapabilityNames(v.capsRetain, `--caps-retain=${v.capsRetain}`);
  if (given.has("capsRemove")) security.capsRemove = nonEmpty(parseCapabilityNames(v.capsRemove, `--caps-remove=${v.capsRemove}`), "caps-remove", v.capsRemove);
  if (given.has("seccomp")) security.seccomp = parseSeccompFlag(v.seccomp);
  return Object.keys(security).length === 0 ? {} : { security };
}

function nonEmpty<T>(list: T[], flag: string, text: string): T[] {
  if (list.length === 0) throw new RktError("invalid-argument", `invalid value "${text}" for --${flag}: no capability given`, { hint: "e.g. --caps-retain=CAP_NET_BIND_SERVICE" });
  return list;
}

function parseGids(text: string): number[] {
  return text
    .split(",")
    .filter((s) => s.trim() !== "")
    .map((s) => intFlag(s.trim(), "supplementary-gids", 0, 4294967294));
}

export function intFlag(text: string, flag: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^-?\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new RktError("invalid-argument", `invalid value "${text}" for --${flag}: expected an integer from ${min} to ${max}`);
  }
  return n;
}

export function keyValue(text: string, flag: string): [string, string] {
  const eq = text.indexOf("=");
  if (eq <= 0) throw new RktError("invalid-argument", `invalid value "${text}" for --${flag}: expected NAME=VALUE`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

/** `volume=NAME,target=PATH` */
export function parseMount(text: string): { volume: string; target: string } {
  const fields = parseFields(text, "mount");
  const volume = fields.get("volume");
  const target = fields.get("target");
  if (volume === undefined || target === undefined || !target.startsWith("/")) {
    throw new RktError("invalid-argument", `invalid --mount "${text}"`, { hint: "use --mount volume=NAME,target=/ABSOLUTE/PATH" });
  }
  return { volume, target };
}

/** `NAME,kind=host,source=PATH[,readOnly=BOOL][,recursive=BOOL]` or `NAME,kind=empty[,mode=..][,uid=..][,gid=..]` */
export function parseVolume(text: string): VolumeRequest {
  const [name = "", ...rest] = text.split(",");
  const fields = parseFields(rest.join(","), "volume");
  const kind = fields.get("kind");
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) throw new RktError("invalid-argument", `invalid volume name "${name}" in --volume "${text}"`, { hint: "names are lowercase letters, digits and dashes" });
  if (kind === "host") {
    const source = fields.get("source");
    if (source === undefined || !source.startsWith("/")) throw new RktError("invalid-argument", `--volume "${text}": a host volume needs source=/ABSOLUTE/PATH`);
    return {
      name,
      kind,
      source,
      ...(fields.has("readOnly") ? { readOnly: parseBool(fields.get("readOnly") ?? "", "volume readOnly") } : {}),
      ...(fields.has("recursive") ? { recursive: parseBool(fields.get("recursive") ?? "", "volume recursive") } : {}),
    };
  }
  if (kind === "empty") {
    const mode = fields.get("mode");
    if (mode !== undefined && !/^0?[0-7]{3,4}$/.test(mode)) throw new RktError("invalid-argument", `--volume "${text}": mode must be octal like 0755`);
    return {
      name,
      kind,
      ...(mode === undefined ? {} : { mode }),
      ...(fields.has("uid") ? { uid: intFlag(fields.get("uid") ?? "", "volume uid", 0, 4294967294) } : {}),
      ...(fields.has("gid") ? { gid: intFlag(fields.get("gid") ?? "", "volume gid", 0, 4294967294) } : {}),
      ...(fields.has("readOnly") ? { readOnly: parseBool(fields.get("readOnly") ?? "", "volume readOnly") } : {}),
    };
  }
  throw new RktError("invalid-argument", `--volume "${text}": kind must be host or empty`, { hint: "e.g. --volume data,kind=host,source=/srv/data" });
}

function parseFields(text: string, flag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(",")) {
    if (part === "") continue;
    const [k, v] = keyValue(part, flag);
    out.set(k, v);
  }
  return out;
}
