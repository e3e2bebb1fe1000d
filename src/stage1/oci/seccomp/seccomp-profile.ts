/**
 * The seccomp filter of an app, in the OCI runtime spec's terms (config-linux.md "Seccomp"), from
 * rkt's default or from the set the app asked for (seccomp-set.ts).
 *
 * The default is Docker's default profile, rule for rule: an allow-list (syscall-groups.ts), the
 * calls a held capability needs, clone without namespace flags and personality with Docker's
 * personas only. A call outside it fails with EPERM, as in Docker, rather than killing the app with
 * SIGSYS as rkt's systemd filter did: an app that probes for a call (glibc, Go and Rust runtimes
 * do) gets an error it can handle, and a denied call shows up as "Operation not permitted" rather
 * than a core dump. clone3 fails with ENOSYS instead, so that C libraries fall back to clone, whose
 * flags the filter can see (clone3 passes them in memory).
 *
 * An explicit set (`--seccomp`, an isolator) keeps rkt's semantics: without `errno=`, a blocked
 * call kills the app with SIGSYS.
 */
import type { CapabilityName } from "../capabilities.js";
import type { SeccompAction, SpecSeccomp, SpecSyscallRule } from "../runtime-spec-types.js";
import { errnoNumber } from "./errno-names.js";
import { expandSeccompSet, type SeccompSet } from "./seccomp-set.js";
import { ARCH_SYSCALLS, CAPABILITY_SYSCALLS, UNCONDITIONAL_SYSCALLS } from "./syscall-groups.js";

const EPERM = 1;
const ENOSYS = 38;

/** clone(2) flags that create namespaces: CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET. */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** personality(2) values Docker allows: PER_LINUX, PER_LINUX32, UNAME26, UNAME26|PER_LINUX32, and the query 0xffffffff. */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

/**
 * The seccomp architectures of a Node `process.arch`: the native one and those its kernel also
 * runs binaries of (a filter that left them out would let a 32-bit binary call around it; the
 * runtime adds the audit-arch check). Undefined for other architectures: the runtime then filters
 * the native one only.
 *
 * @example
 * seccompArchitectures("x64"); // ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
 */
export function seccompArchitectures(arch: string): string[] | undefined {
  switch (arch) {
    case "x64":
      return ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"];
    case "arm64":
      return ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"];
    default:
      return undefined;
  }
}

/** What the profile depends on besides the set. */
export interface SeccompContext {
  /** The app's bounding set: Docker's profile allows some calls to capability holders only. */
  readonly capabilities: readonly CapabilityName[];
  /** Node's `process.arch` of the host. Default `process.arch`. */
  readonly arch?: string;
}

/**
 * rkt's default filter (see the module comment). `errno` replaces EPERM for blocked calls (rkt's
 * remove `@appc.io/empty` with `errno=`).
 *
 * @example
 * const profile = defaultSeccompProfile({ capabilities: DEFAULT_CAPABILITIES });
 * profile.defaultAction; // "SCMP_ACT_ERRNO"
 */
export function defaultSeccompProfile(context: SeccompContext, errno = EPERM): SpecSeccomp {
  const arch = context.arch ?? process.arch;
  const held = new Set(context.capabilities);
  const allowed = new Set([...UNCONDITIONAL_SYSCALLS, ...(ARCH_SYSCALLS[arch] ?? [])]);
  for (const [cap, calls] of Object.entries(CAPABILITY_SYSCALLS)) {
    if (held.has(cap as CapabilityName)) for (const call of calls) allowed.add(call);
  }
  const rules: SpecSyscallRule[] = [{ names: [...allowed].sort(), action: "SCMP_ACT_ALLOW" }];
  for (const value of PERSONALITIES) rules.push({ names: ["personality"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value, op: "SCMP_CMP_EQ" }] });
  if (!held.has("CAP_SYS_ADMIN")) {
    rules.push({ names: ["clone"], action: "SCMP_ACT_ALLOW", args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: "SCMP_CMP_MASKED_EQ" }] });
    rules.push({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS });
  }
  return withArchitectures({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: errno, syscalls: rules }, arch);
}

/**
 * The filter of an explicit set; undefined when the set turns filtering off (retain
 * `@appc.io/all`). `what` names the set's source in errors.
 *
 * @example
 * seccompFromSet({ mode: "remove", errno: "ENOTSUP", set: ["socket"] }, { capabilities }, "--seccomp");
 * // { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["socket"], action: "SCMP_ACT_ERRNO", errnoRet: 95 }], ... }
 */
export function seccompFromSet(set: SeccompSet, context: SeccompContext, what: string): SpecSeccomp | undefined {
  const arch = context.arch ?? process.arch;
  const errno = set.errno === undefined ? undefined : errnoNumber(set.errno, what);
  const expanded = expandSeccompSet(set);
  if (expanded.kind === "unconfined") return undefined;
  if (expanded.kind === "default") return defaultSeccompProfile(context, errno ?? EPERM);
  const blocked: { action: SeccompAction; errnoRet?: number } = errno === undefined ? { action: "SCMP_ACT_KILL_PROCESS" } : { action: "SCMP_ACT_ERRNO", errnoRet: errno };
  const calls = [...expanded.calls].sort();
  if (set.mode === "remove") {
    return withArchitectures({ defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: calls, ...blocked }] }, arch);
  }
  const rules: SpecSyscallRule[] = [{ names: calls, action: "SCMP_ACT_ALLOW" }];
  // Killing on clone3 would break every threaded program of a current C library, which tries it
  // first and falls back to clone on ENOSYS only.
  if (!calls.includes("clone3")) rules.push({ names: ["clone3"], action: "SCMP_ACT_ERRNO", errnoRet: ENOSYS });
  return withArchitectures({ defaultAction: blocked.action, ...(blocked.errnoRet === undefined ? {} : { defaultErrnoRet: blocked.errnoRet }), syscalls: rules }, arch);
}

function withArchitectures(profile: SpecSeccomp, arch: string): SpecSeccomp {
  const architectures = seccompArchitectures(arch);
  return architectures === undefined ? profile : { ...profile, architectures };
}
