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

/** config-linux.md. */
export interface SpecLinux {
  readonly namespaces?: readonly SpecNamespace[];
  readonly resources?: SpecResources;
  readonly cgroupsPath?: string;
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
