/**
 * The parts of the OCI runtime spec's config.json that rkt writes (runtime-spec v1.0.2, config.md
 * and config-linux.md; Go bindings specs-go/config.go). Field names and optionality follow the
 * spec; fields rkt never sets are left out rather than typed loosely.
 */
import type { CapabilityName } from "./capabilities.js";

/** The spec version rkt writes: what runc 1.1 (spec 1.0.2-dev), crun and runsc all accept. */
export const OCI_VERSION = "1.0.2";

/** config.md "Root". */
export interface SpecRoot {
  /** Absolute, or relative to the bundle directory. */
  readonly path: string;
  readonly readonly?: boolean;
}

/** config.md "Mounts" (POSIX). A bind mount has `bind` or `rbind` in its options. */
export interface SpecMount {
  readonly destination: string;
  readonly type?: string;
  readonly source?: string;
  readonly options?: readonly string[];
}

/** config.md "User" (POSIX). */
export interface SpecUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids?: readonly number[];
}

/** config.md "Linux Process", `capabilities`. */
export interface SpecCapabilities {
  readonly bounding?: readonly CapabilityName[];
  readonly effective?: readonly CapabilityName[];
  readonly inheritable?: readonly CapabilityName[];
  readonly permitted?: readonly CapabilityName[];
  readonly ambient?: readonly CapabilityName[];
}

/** The resources of getrlimit(2) that OCI `rlimits[].type` names. */
export const RLIMIT_TYPES = [
  "RLIMIT_AS",
  "RLIMIT_CORE",
  "RLIMIT_CPU",
  "RLIMIT_DATA",
  "RLIMIT_FSIZE",
  "RLIMIT_LOCKS",
  "RLIMIT_MEMLOCK",
  "RLIMIT_MSGQUEUE",
  "RLIMIT_NICE",
  "RLIMIT_NOFILE",
  "RLIMIT_NPROC",
  "RLIMIT_RSS",
  "RLIMIT_RTPRIO",
  "RLIMIT_RTTIME",
  "RLIMIT_SIGPENDING",
  "RLIMIT_STACK",
] as const;
export type RlimitType = (typeof RLIMIT_TYPES)[number];

/** config.md "POSIX process", `rlimits[]`: soft and hard, both uint64. */
export interface SpecRlimit {
  readonly type: RlimitType;
  readonly soft: number;
  readonly hard: number;
}

/** config.md "Process". */
export interface SpecProcess {
  /** The pty's initial size when `terminal` (config.md "consoleSize"). */
  consoleSize?: { height: number; width: number };
  readonly terminal?: boolean;
  readonly user: SpecUser;
  /** At least one entry; `args[0]` is looked up like execvp(3)'s *file*. */
  readonly args: readonly string[];
  /** `NAME=value` entries, environ(7) semantics. */
  readonly env?: readonly string[];
  /** Absolute. */
  readonly cwd: string;
  readonly capabilities?: SpecCapabilities;
  readonly rlimits?: readonly SpecRlimit[];
  readonly noNewPrivileges?: boolean;
  readonly oomScoreAdj?: number;
}

/** config-linux.md "Namespaces". */
export type NamespaceType = "pid" | "network" | "mount" | "ipc" | "uts" | "user" | "cgroup";

export interface SpecNamespace {
  readonly type: NamespaceType;
  /** Join this namespace (an nsfs file such as /proc/<pid>/ns/net) instead of creating one. */
  readonly path?: string;
}

/** config-linux.md "Allowed Device list": one device cgroup rule, applied in order. */
export interface SpecDeviceCgroupRule {
  readonly allow: boolean;
  /** `a` (all, the default), `c` or `b`. */
  readonly type?: "a" | "c" | "b";
  /** Unset means all (`*`). */
  readonly major?: number;
  readonly minor?: number;
  /** Some of `r`, `w`, `m`. */
  readonly access?: string;
}

/** config-linux.md "Memory" (bytes). */
export interface SpecMemory {
  readonly limit?: number;
}

/** config-linux.md "CPU" (microseconds, weights). */
export interface SpecCpu {
  readonly shares?: number;
  readonly quota?: number;
  readonly period?: number;
}

/** config-linux.md "Control groups", `resources`. */
export interface SpecResources {
  readonly devices?: readonly SpecDeviceCgroupRule[];
  readonly memory?: SpecMemory;
  readonly cpu?: SpecCpu;
}

/** config-linux.md "Seccomp": what the filter does with a call. */
export const SECCOMP_ACTIONS = [
  "SCMP_ACT_KILL",
  "SCMP_ACT_KILL_PROCESS",
  "SCMP_ACT_KILL_THREAD",
  "SCMP_ACT_TRAP",
  "SCMP_ACT_ERRNO",
  "SCMP_ACT_TRACE",
  "SCMP_ACT_ALLOW",
  "SCMP_ACT_LOG",
] as const;
/** One of {@link SECCOMP_ACTIONS}. */
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];

/** config-linux.md "Seccomp", `syscalls[].args[].op`. */
export const SECCOMP_OPERATORS = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"] as const;
/** One of {@link SECCOMP_OPERATORS}. */
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];

/** A condition on one argument; for SCMP_CMP_MASKED_EQ, `value` is the mask and `valueTwo` the result. */
export interface SpecSeccompArg {
  readonly index: number;
  readonly value: number;
  readonly valueTwo?: number;
  readonly op: SeccompOperator;
}

/** One rule: the calls it names get `action` (when every arg condition holds). */
export interface SpecSyscallRule {
  readonly names: readonly string[];
  readonly action: SeccompAction;
  /** The errno of SCMP_ACT_ERRNO (EPERM when unset). */
  readonly errnoRet?: number;
  readonly args?: readonly SpecSeccompArg[];
}

/** config-linux.md "Seccomp". */
export interface SpecSeccomp {
  readonly defaultAction: SeccompAction;
  /** The errno of a SCMP_ACT_ERRNO default action. */
  readonly defaultErrnoRet?: number;
  /** `SCMP_ARCH_X86_64`, ...: the native one and the ones its kernel also runs (x86, x32). */
  readonly architectures?: readonly string[];
  readonly syscalls?: readonly SpecSyscallRule[];
}

/** config-linux.md "Devices": a device node the runtime creates in the app's /dev. */
export interface SpecDevice {
  readonly path: string;
  readonly type: "c" | "b" | "u" | "p";
  readonly major: number;
  readonly minor: number;
  readonly fileMode?: number;
  readonly uid?: number;
  readonly gid?: number;
}

/** config-linux.md "User namespace mappings". */
export interface SpecIdMapping {
  readonly containerID: number;
  readonly hostID: number;
  readonly size: number;
}

/** config-linux.md. */
export interface SpecLinux {
  readonly namespaces?: readonly SpecNamespace[];
  readonly uidMappings?: readonly SpecIdMapping[];
  readonly gidMappings?: readonly SpecIdMapping[];
  readonly devices?: readonly SpecDevice[];
  readonly resources?: SpecResources;
  readonly cgroupsPath?: string;
  readonly seccomp?: SpecSeccomp;
  readonly maskedPaths?: readonly string[];
  readonly readonlyPaths?: readonly string[];
}

/** A config.json: the whole runtime configuration of one container. */
export interface RuntimeSpec {
  readonly ociVersion: string;
  readonly process: SpecProcess;
  readonly root: SpecRoot;
  readonly hostname?: string;
  readonly mounts?: readonly SpecMount[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly linux?: SpecLinux;
}
