/**
 * How one app becomes an OCI runtime config (config.json, runtime-spec v1.0.2) for runc, crun or
 * runsc: rkt's isolation defaults (rkt-features §2 and §6) written in the spec's terms. Pure: the
 * caller resolves the user, environment and executable (src/pod/app) and reads the host's limits
 * (readHostLimits) first, then writes the result into the bundle.
 */
import { posix } from "node:path";
import { RktError } from "../../lib/errors.js";
import { capabilitySetsFor, DEFAULT_CAPABILITIES, isCapabilityName, LINUX_CAPABILITIES, type CapabilityName } from "./capabilities.js";
import { defaultMounts } from "./default-mounts.js";
import { ALLOW_ALL_DEVICE_RULES, DEFAULT_DEVICE_RULES } from "./device-rules.js";
import type { HostLimits } from "./host-limits.js";
import { MASKED_PATHS, READONLY_PATHS } from "./kernel-paths.js";
import { OOM_SCORE_ADJ_MAX, OOM_SCORE_ADJ_MIN } from "./oom-score-adj.js";
import { cpuQuotaFromMillis, MAX_CPU_SHARES, MIN_CPU_SHARES } from "./resource-quantity.js";
import { convertSeccompProfile } from "./seccomp/seccomp-profile-file.js";
import { defaultSeccompProfile, seccompFromSet } from "./seccomp/seccomp-profile.js";
import type { SeccompSet } from "./seccomp/seccomp-set.js";
import {
  OCI_VERSION,
  RLIMIT_TYPES,
  type RuntimeSpec,
  type SpecDevice,
  type SpecDeviceCgroupRule,
  type SpecIdMapping,
  type SpecSeccomp,
  type SpecLinux,
  type SpecMount,
  type SpecNamespace,
  type SpecResources,
  type SpecRlimit,
} from "./runtime-spec-types.js";

/**
 * Which rules the config follows:
 * - "default": every namespace private (unless joined by path), rkt's capabilities, masked and
 *   read-only kernel paths, device cgroup, resource limits. crun uses this one too.
 * - "fly": rkt's stage1-fly, for privileged host tools: the host's PID, network, IPC and UTS
 *   namespaces (a mount namespace of its own only), the host's /dev, /proc and /sys bind-mounted,
 *   no masked paths, no device or resource limits, no user namespace (fly had no isolators). By
 *   default all capabilities and no seccomp filter; an explicit capability set or seccomp set is
 *   applied, since both work in the host's namespaces too.
 * - "sandbox": gVisor's runsc; the same config as "default" (runsc implements /proc, /sys and /dev
 *   itself and ignores the device cgroup and masked paths, but they stay valid).
 */
export type SpecFlavor = "default" | "fly" | "sandbox";

/**
 * A namespace shared with something else or not: the host's ("host"), a new one ("private"), or
 * an existing one joined through its nsfs file (the pod's, pinned under /run/rkt/ns/<uuid>/).
 */
export type NamespaceMode = "host" | "private" | { readonly path: string };

/** The app's process (config.md "Process", "User", "Linux Process"). */
export interface AppProcessInput {
  /** argv; at least one entry. `args[0]` was checked to exist in the rootfs (exec-path.ts). */
  readonly args: readonly string[];
  /** Ordered `[name, value]` pairs (app-env.ts); written as `NAME=value`. */
  readonly env: readonly (readonly [string, string])[];
  /** Absolute working directory inside the rootfs. Default `/` (rkt's default WorkingDirectory). */
  readonly cwd?: string;
  /** Numeric ids inside the container (app-user.ts). */
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids?: readonly number[];
  /** Allocate a pty for the process (`--interactive`, `--stdin=tty`). Default false. */
  readonly terminal?: boolean;
  /**
   * Set no_new_privs (config.md `noNewPrivileges`). Default: true for non-root apps (rkt forced it
   * for them), false for root apps.
   */
  readonly noNewPrivileges?: boolean;
  /**
   * The bounding set (`--caps-retain`, or the default set minus `--caps-remove`). Default rkt's 14
   * (DEFAULT_CAPABILITIES), all for "fly". Ignored with `insecure.capabilities`, which gives all.
   */
  readonly capabilities?: readonly CapabilityName[];
  /** Rlimits to set, replacing the default of the same type (RLIMIT_NOFILE). */
  readonly rlimits?: readonly SpecRlimit[];
  /**
   * oom_score_adj (`--oom-score-adj`); unset leaves it as inherited (config.md). Range-checked here;
   * whether this host allows negative values is validateOomScoreAdj's job.
   */
  readonly oomScoreAdj?: number;
}

/** The app's namespaces (config-linux.md "Namespaces"). Every one defaults to "private". */
export interface AppNamespacesInput {
  readonly pid?: "private" | "host";
  /** Always a new one: an app's mounts never leak to the host. Listed for clarity. */
  readonly mount?: "private";
  readonly network?: NamespaceMode;
  readonly ipc?: NamespaceMode;
  readonly uts?: NamespaceMode;
}

/** A host file or directory made visible in the app: volumes, /etc/hosts, /etc/resolv.conf. */
export interface BindMountInput {
  readonly type: "bind";
  /** Absolute host path. */
  readonly source: string;
  /** Absolute path inside the app. */
  readonly destination: string;
  readonly readOnly?: boolean;
  /**
   * Include the mounts below `source` (rbind). Default true, except for "fly" (rkt-features §4:
   * host volumes are recursive by default, fly's are not). Note that `readOnly` makes only the top
   * mount read-only: runc 1.1 has no recursive read-only bind.
   */
  readonly recursive?: boolean;
}

/** A fresh tmpfs in the app (empty volumes, /tmp). */
export interface TmpfsMountInput {
  readonly type: "tmpfs";
  readonly destination: string;
  /** mount(8) tmpfs options. Default `nosuid,nodev,mode=755`. */
  readonly options?: readonly string[];
}

export type AppMountInput = BindMountInput | TmpfsMountInput;

/** cgroup limits (config-linux.md "Memory", "CPU"). Ignored by "fly". */
export interface AppResourcesInput {
  /** memory.limit_in_bytes (`--memory`, parseMemoryQuantity). */
  readonly memoryLimitBytes?: number;
  /** A CFS quota in millicores (`--cpu`, parseCpuQuantity); becomes quota/period. */
  readonly cpuMillis?: number;
  /** cpu.shares (`--cpu-shares`, parseCpuShares). */
  readonly cpuShares?: number;
}

/** `--insecure-options` that loosen the config (rkt-features §6). */
export interface InsecureOptionsInput {
  /** All capabilities, whatever `process.capabilities` says. */
  readonly capabilities?: boolean;
  /** No masked or read-only kernel paths, and no device cgroup restriction. */
  readonly paths?: boolean;
  /** No seccomp filter, whatever `seccomp` says. */
  readonly seccomp?: boolean;
}

/**
 * The app's seccomp filter (seccomp/): rkt's default profile (`errno` replacing EPERM), an explicit
 * set, a Docker/OCI profile's text, or none. Decided here rather than by the caller because the
 * default profile and a profile's conditional rules depend on the final bounding set.
 */
export type SeccompInput =
  | { readonly kind: "default"; readonly errno?: number }
  | { readonly kind: "set"; readonly set: SeccompSet; readonly what: string }
  | { readonly kind: "profile"; readonly text: string; readonly what: string }
  | { readonly kind: "unconfined" };

/**
 * A user namespace the app joins (`--private-users`): the pod's, pinned at `path`, whose mappings
 * the runtime needs too (to own the app's /dev and ptys). Not for "fly".
 */
export interface UserNamespaceInput {
  readonly path: string;
  readonly uidMappings: readonly SpecIdMapping[];
  readonly gidMappings: readonly SpecIdMapping[];
}

/** Everything buildRuntimeSpec needs about one app. */
export interface AppRuntimeInput {
  /** The app's root file system: an absolute host path, or relative to the bundle directory. */
  readonly rootfs: string;
  /** Mount the rootfs read-only (`--readonly-rootfs`). Default false. */
  readonly readonlyRootfs?: boolean;
  readonly process: AppProcessInput;
  /** Set only when the UTS namespace is new ("private"): a joined or host one keeps its name. */
  readonly hostname?: string;
  readonly namespaces?: AppNamespacesInput;
  /**
   * Mounts after the default ones, in this order. One whose destination is a default mount's
   * replaces it in place (a bigger /dev/shm, say).
   */
  readonly mounts?: readonly AppMountInput[];
  readonly resources?: AppResourcesInput;
  /**
   * Device cgroup rules appended to the default ones, e.g. to allow a host device passed in as a
   * volume (rkt-features §4). Ignored when devices are unrestricted.
   */
  readonly deviceRules?: readonly SpecDeviceCgroupRule[];
  /**
   * Device nodes the runtime creates in the app's /dev (host devices given to the app, and every
   * host device for `privileged`); each also needs an allow rule in `deviceRules`.
   */
  readonly devices?: readonly SpecDevice[];
  /** Default: rkt's default profile, except for "fly" (none). */
  readonly seccomp?: SeccompInput;
  /** Replace the default masked paths (kernel-paths.ts); the CRI sends exact lists. */
  readonly maskedPaths?: readonly string[];
  /** Replace the default read-only paths. */
  readonly readonlyPaths?: readonly string[];
  /**
   * Docker's `--privileged`: everything `insecure` can lift, and /sys and the cgroup file system
   * writable. Devices come through `devices`.
   */
  readonly privileged?: boolean;
  readonly userNamespace?: UserNamespaceInput;
  /** config-linux.md "Cgroups Path": `/rkt/<uuid>/<app>`, or `slice:prefix:name` for systemd. */
  readonly cgroupsPath?: string;
  /** Default "default". */
  readonly flavor?: SpecFlavor;
  readonly insecure?: InsecureOptionsInput;
  /** What the calling process can hand down (readHostLimits). */
  readonly host: Pick<HostLimits, "nofileHardLimit" | "boundingCapabilities"> & Partial<Pick<HostLimits, "hardLimits" | "effectiveCapabilities">>;
  /** config.md "Annotations". */
  readonly annotations?: Readonly<Record<string, string>>;
}

/** The RLIMIT_NOFILE rkt gives apps: systemd's and Docker's usual 1048576, capped at the host's. */
export const DEFAULT_NOFILE_LIMIT = 1_048_576;

/** The largest uid/gid (2^32 - 2: (uid_t)-1 means "no change" to the kernel). */
const MAX_ID = 4_294_967_294;

/**
 * Builds the config.json of one app. Fails with an "invalid-argument" RktError, naming the field,
 * on anything the runtime would reject late or misread: relative paths, ids out of range, NUL
 * bytes, unknown capabilities or rlimits, a capability or an RLIMIT_NOFILE beyond what this
 * process holds (the kernel refuses both with EPERM).
 *
 * @example
 * const spec = buildRuntimeSpec({
 *   rootfs: "/var/lib/rkt/pods/run/<uuid>/apps/web/rootfs",
 *   process: { args: ["/usr/bin/nginx"], env: [["PATH", "/usr/bin:/bin"]], uid: 101, gid: 101 },
 *   hostname: "rkt-<uuid>",
 *   namespaces: { network: { path: "/run/rkt/ns/<uuid>/net" } },
 *   resources: { memoryLimitBytes: parseMemoryQuantity("128M"), cpuMillis: parseCpuQuantity("500m") },
 *   cgroupsPath: "/rkt/<uuid>/web",
 *   host: await readHostLimits(),
 * });
 * await writeFile(join(bundle, "config.json"), JSON.stringify(spec));
 */
export function buildRuntimeSpec(input: AppRuntimeInput): RuntimeSpec {
  const flavor = input.flavor ?? "default";
  const fly = flavor === "fly";
  const insecure = input.privileged === true ? { capabilities: true, paths: true, seccomp: true } : (input.insecure ?? {});
  const proc = input.process;

  if (input.rootfs === "" || input.rootfs.includes("\0")) fail("rootfs", "must be a non-empty path");
  if (proc.args.length === 0) fail("process.args", "must name the executable (at least one entry)");
  proc.args.forEach((arg, i) => noNul(`process.args[${i}]`, arg));
  const cwd = proc.cwd ?? "/";
  if (!posix.isAbsolute(cwd)) fail("process.cwd", `${JSON.stringify(cwd)} is not an absolute path`);
  noNul("process.cwd", cwd);
  const uid = checkId("process.uid", proc.uid);
  const gid = checkId("process.gid", proc.gid);
  const additionalGids = [...new Set((proc.additionalGids ?? []).map((g, i) => checkId(`process.additionalGids[${i}]`, g)))];
  const env = proc.env.map(([name, value]) => {
    if (name === "" || name.includes("=") || name.includes("\0")) fail("process.env", `${JSON.stringify(name)} is not a variable name`);
    noNul(`process.env ${name}`, value);
    return `${name}=${value}`;
  });
  if (proc.oomScoreAdj !== undefined && (!Number.isInteger(proc.oomScoreAdj) || proc.oomScoreAdj < OOM_SCORE_ADJ_MIN || proc.oomScoreAdj > OOM_SCORE_ADJ_MAX)) {
    fail("process.oomScoreAdj", `${proc.oomScoreAdj} is not a whole number from ${OOM_SCORE_ADJ_MIN} to ${OOM_SCORE_ADJ_MAX}`);
  }

  // fly apps are privileged host tools: all capabilities unless a set was asked for explicitly.
  const bounding =
    insecure.capabilities === true || (fly && proc.capabilities === undefined)
      ? allCapabilities(input.host.boundingCapabilities)
      : checkCapabilities(proc.capabilities ?? DEFAULT_CAPABILITIES, input.host.boundingCapabilities);
  const namespaces = fly ? [{ type: "mount" } as const] : buildNamespaces(input.namespaces ?? {}, input.userNamespace);
  const utsIsNew = namespaces.some((ns) => ns.type === "uts" && ns.path === undefined);
  const hostname = input.hostname !== undefined && utsIsNew ? checkHostname(input.hostname) : undefined;

  const unrestricted = fly || insecure.paths === true;
  if (fly && input.userNamespace !== undefined) fail("userNamespace", 'stage1 "fly" runs apps in the host\'s namespaces and cannot give them a user namespace');
  const seccomp = insecure.seccomp === true ? undefined : buildSeccomp(input.seccomp ?? (fly ? { kind: "unconfined" } : { kind: "default" }), bounding);
  const devices = (input.devices ?? []).map(checkDevice);
  const linux: SpecLinux = {
    namespaces,
    ...(input.userNamespace === undefined || fly ? {} : { uidMappings: input.userNamespace.uidMappings.map((m) => checkMapping("uidMappings", m)), gidMappings: input.userNamespace.gidMappings.map((m) => checkMapping("gidMappings", m)) }),
    ...(devices.length === 0 ? {} : { devices }),
    resources: {
      devices: unrestricted ? [...ALLOW_ALL_DEVICE_RULES] : [...DEFAULT_DEVICE_RULES, ...(input.deviceRules ?? []).map(checkDeviceRule)],
      ...(fly ? {} : buildResources(input.resources ?? {})),
    },
    ...(input.cgroupsPath === undefined ? {} : { cgroupsPath: checkCgroupsPath(input.cgroupsPath) }),
    ...(seccomp === undefined ? {} : { seccomp }),
    ...(unrestricted ? {} : { maskedPaths: checkPaths("maskedPaths", input.maskedPaths ?? MASKED_PATHS), readonlyPaths: checkPaths("readonlyPaths", input.readonlyPaths ?? READONLY_PATHS) }),
  };

  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: proc.terminal ?? false,
      user: { uid, gid, additionalGids },
      args: [...proc.args],
      env,
      cwd,
      capabilities: capabilitySetsFor(uid, bounding),
      rlimits: buildRlimits(proc.rlimits ?? [], input.host),
      noNewPrivileges: proc.noNewPrivileges ?? (seccomp !== undefined && (uid !== 0 || isRetainSet(input.seccomp))),
      ...(proc.oomScoreAdj === undefined ? {} : { oomScoreAdj: proc.oomScoreAdj }),
    },
    root: { path: input.rootfs, readonly: input.readonlyRootfs ?? false },
    ...(hostname === undefined ? {} : { hostname }),
    mounts: buildMounts(flavor, input.mounts ?? [], input.privileged === true),
    ...(input.annotations === undefined ? {} : { annotations: { ...input.annotations } }),
    linux,
  };
}

function fail(field: string, why: string, hint?: string): never {
  throw new RktError("invalid-argument", `app runtime config: ${field}: ${why}`, { hint });
}

function noNul(field: string, value: string): void {
  if (value.includes("\0")) fail(field, "contains a NUL byte");
}

function checkId(field: string, id: number): number {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) fail(field, `${id} is not an id from 0 to ${MAX_ID}`);
  return id;
}

/** Every capability this process can hand down: "all" means all that are possible here. */
function allCapabilities(hostBounding: readonly CapabilityName[]): CapabilityName[] {
  return LINUX_CAPABILITIES.filter((c) => hostBounding.includes(c));
}

function checkCapabilities(requested: readonly CapabilityName[], hostBounding: readonly CapabilityName[]): CapabilityName[] {
  const out: CapabilityName[] = [];
  for (const cap of requested) {
    if (!isCapabilityName(cap)) fail("process.capabilities", `unknown capability ${JSON.stringify(cap)}`);
    if (!hostBounding.includes(cap)) {
      fail("process.capabilities", `${cap} is not in rkt's own bounding set, so no container it starts can have it`, `remove ${cap} from --caps-retain, or run rkt with ${cap}`);
    }
    if (!out.includes(cap)) out.push(cap);
  }
  return out;
}

function buildNamespaces(ns: AppNamespacesInput, userns: UserNamespaceInput | undefined): SpecNamespace[] {
  const out: SpecNamespace[] = [];
  if (userns !== undefined) {
    if (!posix.isAbsolute(userns.path) || userns.path.includes("\0")) fail("userNamespace.path", `${JSON.stringify(userns.path)} is not an absolute path`);
    // runc joins namespaces given by path in this order: the user namespace first, so that the
    // pod's network, IPC and UTS namespaces, which it owns, can be joined from inside it.
    out.push({ type: "user", path: userns.path });
  }
  if ((ns.pid ?? "private") === "private") out.push({ type: "pid" });
  out.push({ type: "mount" });
  for (const [type, mode] of [
    ["network", ns.network],
    ["ipc", ns.ipc],
    ["uts", ns.uts],
  ] as const) {
    const m = mode ?? "private";
    if (m === "host") continue;
    if (m === "private") {
      out.push({ type });
      continue;
    }
    if (!posix.isAbsolute(m.path) || m.path.includes("\0")) fail(`namespaces.${type}.path`, `${JSON.stringify(m.path)} is not an absolute path`);
    out.push({ type, path: m.path });
  }
  return out;
}

/** RFC 1123 host name, at most 64 bytes (HOST_NAME_MAX). */
function checkHostname(name: string): string {
  const label = "[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
  if (name.length > 64 || !new RegExp(`^${label}(\\.${label})*$`).test(name)) {
    fail("hostname", `${JSON.stringify(name)} is not a valid host name`, "use letters, digits, dashes and dots, at most 64 characters");
  }
  return name;
}

function checkDeviceRule(rule: SpecDeviceCgroupRule, i: number): SpecDeviceCgroupRule {
  const field = `deviceRules[${i}]`;
  if (rule.access !== undefined && !/^[rwm]{1,3}$/.test(rule.access)) fail(field, `access ${JSON.stringify(rule.access)} is not made of r, w and m`);
  for (const n of [rule.major, rule.minor]) if (n !== undefined && (!Number.isInteger(n) || n < 0)) fail(field, `${n} is not a device number`);
  return { ...rule };
}

function buildResources(r: AppResourcesInput): Pick<SpecResources, "memory" | "cpu"> {
  const out: { memory?: SpecResources["memory"]; cpu?: SpecResources["cpu"] } = {};
  if (r.memoryLimitBytes !== undefined) {
    if (!Number.isSafeInteger(r.memoryLimitBytes) || r.memoryLimitBytes <= 0) fail("resources.memoryLimitBytes", `${r.memoryLimitBytes} is not a positive number of bytes`);
    out.memory = { limit: r.memoryLimitBytes };
  }
  if (r.cpuShares !== undefined && (!Number.isInteger(r.cpuShares) || r.cpuShares < MIN_CPU_SHARES || r.cpuShares > MAX_CPU_SHARES)) {
    fail("resources.cpuShares", `${r.cpuShares} is not a whole number from ${MIN_CPU_SHARES} to ${MAX_CPU_SHARES}`);
  }
  const quota = r.cpuMillis === undefined ? undefined : cpuQuotaFromMillis(r.cpuMillis);
  if (quota !== undefined || r.cpuShares !== undefined) {
    out.cpu = { ...(r.cpuShares === undefined ? {} : { shares: r.cpuShares }), ...(quota ?? {}) };
  }
  return out;
}

/**
 * The filter for `request` given the app's final bounding set. no_new_privs (set by the caller's
 * rule in buildRuntimeSpec) matters here too: with it, runc installs the filter just before
 * execve; without it, before dropping privileges, so a retain set must then also allow what runc
 * itself calls on the way (Docker's list does).
 */
function buildSeccomp(request: SeccompInput, bounding: readonly CapabilityName[]): SpecSeccomp | undefined {
  switch (request.kind) {
    case "unconfined":
      return undefined;
    case "default":
      return defaultSeccompProfile({ capabilities: bounding }, request.errno);
    case "set":
      return seccompFromSet(request.set, { capabilities: bounding }, request.what);
    case "profile":
      return convertSeccompProfile(request.text, request.what, { capabilities: bounding });
  }
}

/** An explicit retain set kills (or fails) every call it does not name, runc's own included. */
function isRetainSet(request: SeccompInput | undefined): boolean {
  return request?.kind === "set" && request.set.mode === "retain";
}

function checkDevice(device: SpecDevice, i: number): SpecDevice {
  const field = `devices[${i}]`;
  if (!posix.isAbsolute(device.path) || !device.path.startsWith("/dev/") || device.path.includes("\0")) fail(`${field}.path`, `${JSON.stringify(device.path)} is not a path under /dev`);
  for (const n of [device.major, device.minor]) if (!Number.isInteger(n) || n < 0) fail(field, `${n} is not a device number`);
  return { ...device };
}

function checkMapping(field: string, m: SpecIdMapping): SpecIdMapping {
  for (const n of [m.containerID, m.hostID, m.size]) if (!Number.isInteger(n) || n < 0 || n > MAX_ID) fail(field, `${n} is not an id or range size`);
  if (m.size === 0 || m.hostID + m.size - 1 > MAX_ID) fail(field, `range ${m.hostID}+${m.size} is not a range of host ids`);
  return { ...m };
}

function checkPaths(field: string, paths: readonly string[]): string[] {
  for (const p of paths) if (!posix.isAbsolute(p) || p.includes("\0")) fail(field, `${JSON.stringify(p)} is not an absolute path`);
  return [...paths];
}

function checkCgroupsPath(path: string): string {
  if (path === "" || path.includes("\0") || path.split(/[/:]/).includes("..")) fail("cgroupsPath", `${JSON.stringify(path)} is not a cgroup path`);
  return path;
}

/**
 * RLIMIT_NOFILE soft = hard = min(1048576, the caller's hard limit): a process may lower its hard
 * limit but only CAP_SYS_RESOURCE raises it, and the runtime's setrlimit(2) runs with our limits.
 * Every requested limit is checked against the caller's hard limit of its kind (readHostLimits),
 * unless the caller holds CAP_SYS_RESOURCE: asking for more would fail late, in the runtime, with
 * a bare EPERM.
 */
function buildRlimits(extra: readonly SpecRlimit[], host: AppRuntimeInput["host"]): SpecRlimit[] {
  const hostNofileHard = host.nofileHardLimit;
  const mayRaise = host.effectiveCapabilities?.includes("CAP_SYS_RESOURCE") === true;
  const nofile = Math.min(DEFAULT_NOFILE_LIMIT, hostNofileHard);
  const byType = new Map<string, SpecRlimit>([["RLIMIT_NOFILE", { type: "RLIMIT_NOFILE", soft: nofile, hard: nofile }]]);
  for (const [i, r] of extra.entries()) {
    const field = `process.rlimits[${i}]`;
    if (!(RLIMIT_TYPES as readonly string[]).includes(r.type)) fail(field, `unknown rlimit type ${JSON.stringify(r.type)}`, `one of ${RLIMIT_TYPES.join(", ")}`);
    if (!Number.isSafeInteger(r.soft) || !Number.isSafeInteger(r.hard) || r.soft < 0 || r.hard < 0) fail(field, `${r.type} limits must be non-negative whole numbers`);
    if (r.soft > r.hard) fail(field, `${r.type} soft limit ${r.soft} is above its hard limit ${r.hard}`);
    if (r.type === "RLIMIT_NOFILE" && r.hard > hostNofileHard && !mayRaise) {
      fail(field, `RLIMIT_NOFILE hard limit ${r.hard} is above rkt's own (${hostNofileHard}), which only CAP_SYS_RESOURCE can raise`, `use at most ${hostNofileHard}`);
    }
    const hostHard = host.hardLimits?.[r.type];
    if (hostHard !== undefined && r.hard > hostHard && !mayRaise) {
      fail(field, `${r.type} hard limit ${r.hard} is above rkt's own (${hostHard}), which only CAP_SYS_RESOURCE can raise`, `use at most ${hostHard}`);
    }
    byType.set(r.type, { type: r.type, soft: r.soft, hard: r.hard });
  }
  return [...byType.values()];
}

function buildMounts(flavor: SpecFlavor, extra: readonly AppMountInput[], privileged: boolean): SpecMount[] {
  // A privileged app may write /sys and its cgroups, as Docker's --privileged allows.
  const mounts = defaultMounts(flavor).map((m) => (privileged && (m.type === "sysfs" || m.type === "cgroup") ? { ...m, options: (m.options ?? []).map((o) => (o === "ro" ? "rw" : o)) } : m));
  const seen = new Set<string>();
  for (const [i, m] of extra.entries()) {
    const field = `mounts[${i}]`;
    noNul(`${field}.destination`, m.destination);
    if (!posix.isAbsolute(m.destination)) fail(`${field}.destination`, `${JSON.stringify(m.destination)} is not an absolute path`);
    // Normalized so that "/data/" and "/data" are one destination; a ".." cannot climb out
    // of "/" anyway, and the runtime resolves the rest inside the rootfs.
    const destination = posix.normalize(m.destination).replace(/(.)\/+$/, "$1");
    if (destination === "/") fail(`${field}.destination`, "cannot mount over the rootfs itself");
    if (seen.has(destination)) fail(`${field}.destination`, `${destination} is mounted twice`);
    seen.add(destination);
    let mount: SpecMount;
    if (m.type === "bind") {
      noNul(`${field}.source`, m.source);
      if (!posix.isAbsolute(m.source)) fail(`${field}.source`, `${JSON.stringify(m.source)} is not an absolute path`);
      const recursive = m.recursive ?? flavor !== "fly";
      mount = { destination, type: "bind", source: m.source, options: [recursive ? "rbind" : "bind", m.readOnly === true ? "ro" : "rw"] };
    } else {
      mount = { destination, type: "tmpfs", source: "tmpfs", options: [...(m.options ?? ["nosuid", "nodev", "mode=755"])] };
    }
    const replaced = mounts.findIndex((d) => d.destination === destination);
    if (replaced >= 0) mounts[replaced] = mount;
    else mounts.push(mount);
  }
  return mounts;
}
