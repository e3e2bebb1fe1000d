/**
 * Seccomp profiles from files, as Kubernetes points at them (`localhost/<path>` in a pod's
 * securityContext, resolved by the CRI server) and as Docker, podman and CRI-O write them: the
 * Docker format (moby profiles/seccomp: `defaultAction`, `archMap` or `architectures`, `syscalls[]`
 * with `name` or `names`, `includes`/`excludes` by capability, architecture and kernel version) and
 * the OCI runtime spec's own `linux.seccomp` object, which is a subset of it. The result is a
 * plain OCI filter for this host and this app: conditional rules are decided here.
 */
import { readFile } from "node:fs/promises";
import { release } from "node:os";
import { describe, RktError } from "../../../lib/errors.js";
import { checkJson, decodeJsonText } from "../../../lib/json-document.js";
import * as z from "../../../lib/schema.js";
import type { CapabilityName } from "../capabilities.js";
import { SECCOMP_ACTIONS, SECCOMP_OPERATORS, type SpecSeccomp, type SpecSyscallRule } from "../runtime-spec-types.js";
import { seccompArchitectures } from "./seccomp-profile.js";

const uint = z.number().check(z.int(), z.gte(0));
const conditionSchema = z.object({
  caps: z.optional(z.array(z.string())),
  arches: z.optional(z.array(z.string())),
  minKernel: z.optional(z.string()),
});
const ruleSchema = z.object({
  name: z.optional(z.string()),
  names: z.optional(z.array(z.string())),
  action: z.enum(SECCOMP_ACTIONS),
  errnoRet: z.optional(uint),
  args: z.optional(
    z.nullable(z.array(z.object({ index: uint.check(z.lte(5)), value: uint, valueTwo: z.optional(uint), op: z.enum(SECCOMP_OPERATORS) }))),
  ),
  includes: z.optional(conditionSchema),
  excludes: z.optional(conditionSchema),
});
const profileSchema = z.object({
  defaultAction: z.enum(SECCOMP_ACTIONS),
  defaultErrnoRet: z.optional(uint),
  architectures: z.optional(z.nullable(z.array(z.string().check(z.regex(/^SCMP_ARCH_[A-Z0-9_]+$/))))),
  archMap: z.optional(z.nullable(z.array(z.object({ architecture: z.string(), subArchitectures: z.optional(z.nullable(z.array(z.string()))) })))),
  syscalls: z.optional(z.nullable(z.array(ruleSchema))),
});
type Condition = z.infer<typeof conditionSchema>;

/** Go's GOARCH names (Docker's `arches`) for Node's `process.arch`. */
const GOARCH: Readonly<Record<string, string>> = { x64: "amd64", arm64: "arm64", ia32: "386", arm: "arm", s390x: "s390x", ppc64: "ppc64le" };

/** What a profile's conditions are decided against. */
export interface ProfileHost {
  readonly capabilities: readonly CapabilityName[];
  /** Default `process.arch`. */
  readonly arch?: string;
  /** Default `os.release()`. */
  readonly kernelRelease?: string;
}

/**
 * Reads and converts the profile at `path` (see {@link convertSeccompProfile}).
 *
 * @example
 * const filter = await readSeccompProfile("/var/lib/kubelet/seccomp/audit.json", { capabilities });
 */
export async function readSeccompProfile(path: string, host: ProfileHost): Promise<SpecSeccomp> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new RktError("invalid-argument", `cannot read seccomp profile ${path}: ${describe(err)}`, { hint: "give the path of a Docker or OCI seccomp JSON profile", cause: err });
  }
  return convertSeccompProfile(text, `seccomp profile ${path}`, host);
}

/**
 * Converts a Docker- or OCI-format profile into the OCI filter for this host: rules whose
 * `includes` do not hold (capabilities the app lacks, another architecture, an older kernel) or
 * whose `excludes` do are dropped, `name` becomes `names`, `archMap` becomes the native
 * architecture and its companions. `what` names the document in errors.
 *
 * @example
 * convertSeccompProfile('{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"name":"mount","action":"SCMP_ACT_ERRNO"}]}', "profile", { capabilities: [] });
 * // { defaultAction: "SCMP_ACT_ALLOW", syscalls: [{ names: ["mount"], action: "SCMP_ACT_ERRNO" }] }
 */
export function convertSeccompProfile(text: string, what: string, host: ProfileHost): SpecSeccomp {
  const profile = checkJson(decodeJsonText(text, what), profileSchema, what);
  const arch = host.arch ?? process.arch;
  const ctx = { caps: new Set<string>(host.capabilities), goarch: GOARCH[arch] ?? arch, kernel: host.kernelRelease ?? release() };
  const syscalls: SpecSyscallRule[] = [];
  for (const [i, rule] of (profile.syscalls ?? []).entries()) {
    const names = [...(rule.names ?? []), ...(rule.name === undefined ? [] : [rule.name])];
    if (names.length === 0) throw new RktError("invalid-argument", `invalid ${what}: syscalls[${i}] names no syscall`);
    if (rule.includes !== undefined && !holds(rule.includes, ctx, "all")) continue;
    if (rule.excludes !== undefined && holds(rule.excludes, ctx, "any")) continue;
    syscalls.push({
      names,
      action: rule.action,
      ...(rule.errnoRet === undefined ? {} : { errnoRet: rule.errnoRet }),
      ...(rule.args === undefined || rule.args === null || rule.args.length === 0 ? {} : { args: rule.args }),
    });
  }
  let architectures = profile.architectures ?? undefined;
  if (architectures === undefined && profile.archMap !== undefined && profile.archMap !== null) {
    const native = seccompArchitectures(arch)?.[0];
    const entry = profile.archMap.find((a) => a.architecture === native);
    if (entry !== undefined) architectures = [entry.architecture, ...(entry.subArchitectures ?? [])];
  }
  return {
    defaultAction: profile.defaultAction,
    ...(profile.defaultErrnoRet === undefined ? {} : { defaultErrnoRet: profile.defaultErrnoRet }),
    ...(architectures === undefined || architectures.length === 0 ? {} : { architectures }),
    syscalls,
  };
}

/** Whether a Docker condition holds: every part of it ("all", for includes) or any part ("any", for excludes). */
function holds(cond: Condition, ctx: { caps: ReadonlySet<string>; goarch: string; kernel: string }, how: "all" | "any"): boolean {
  const parts: boolean[] = [];
  if (cond.caps !== undefined && cond.caps.length > 0) parts.push(how === "all" ? cond.caps.every((c) => ctx.caps.has(c)) : cond.caps.some((c) => ctx.caps.has(c)));
  if (cond.arches !== undefined && cond.arches.length > 0) parts.push(cond.arches.includes(ctx.goarch));
  if (cond.minKernel !== undefined && cond.minKernel !== "") parts.push(kernelAtLeast(ctx.kernel, cond.minKernel));
  if (parts.length === 0) return how === "all";
  return how === "all" ? parts.every(Boolean) : parts.some(Boolean);
}

/** `6.1.0-18-amd64` >= `4.8`, comparing major.minor. */
function kernelAtLeast(running: string, wanted: string): boolean {
  const parse = (v: string): [number, number] => {
    const [major = "0", minor = "0"] = v.split(/[.-]/);
    return [Number(major) || 0, Number(minor) || 0];
  };
  const [a, b] = parse(running);
  const [c, d] = parse(wanted);
  return a > c || (a === c && b >= d);
}
