/**
 * What the calling rkt process may hand down to a container: its hard resource limits (RLIMIT_NOFILE
 * above all) and its capability sets. The OCI runtime starts the container from this process, and the kernel refuses
 * to raise a hard rlimit or grant a capability the runtime itself lacks (setrlimit(2) and capset(2)
 * fail with EPERM), so the runtime config must stay within these bounds. Node has no getrlimit(2)
 * or capget(2); both are read from procfs.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { wrap } from "../../lib/errors.js";
import { capabilitiesFromMask, type CapabilityName } from "./capabilities.js";
import type { RlimitType } from "./runtime-spec-types.js";

/** The calling process's bounds, as read by {@link readHostLimits}. */
export interface HostLimits {
  /** RLIMIT_NOFILE hard limit (`ulimit -Hn`); `Infinity` when unlimited. */
  readonly nofileHardLimit: number;
  /** Every hard limit of /proc/self/limits by OCI name; `Infinity` when unlimited. */
  readonly hardLimits: Readonly<Partial<Record<RlimitType, number>>>;
  /** The capability bounding set (`CapBnd`): no container process can hold more. */
  readonly boundingCapabilities: readonly CapabilityName[];
  /** The effective set (`CapEff`): what this process can do itself, e.g. CAP_SYS_RESOURCE. */
  readonly effectiveCapabilities: readonly CapabilityName[];
}

/**
 * Reads the calling process's limits from `<procSelf>/limits` and `<procSelf>/status`.
 *
 * @example
 * const host = await readHostLimits();
 * host.nofileHardLimit; // 20000 here; often 1048576 or 524288
 */
export async function readHostLimits(procSelf = "/proc/self"): Promise<HostLimits> {
  const read = async (name: string): Promise<string> => {
    try {
      return await readFile(join(procSelf, name), "utf8");
    } catch (err) {
      throw wrap(`reading ${join(procSelf, name)}`, err);
    }
  };
  const [limits, status] = await Promise.all([read("limits"), read("status")]);
  const caps = parseStatusCapabilities(status);
  return { nofileHardLimit: parseNofileHardLimit(limits), hardLimits: parseHardLimits(limits), boundingCapabilities: caps.bounding, effectiveCapabilities: caps.effective };
}

/**
 * The RLIMIT_NOFILE hard limit in the text of /proc/<pid>/limits (`Max open files  soft  hard
 * files`); `Infinity` for "unlimited".
 *
 * @example
 * parseNofileHardLimit("Max open files            1024                 20000                files\n"); // 20000
 */
export function parseNofileHardLimit(limitsText: string): number {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limitsText);
  const hard = match?.[2];
  if (hard === undefined) throw wrap("parsing /proc/self/limits", new Error('no "Max open files" line'), "internal");
  if (hard === "unlimited") return Infinity;
  if (!/^\d+$/.test(hard)) throw wrap("parsing /proc/self/limits", new Error(`"Max open files" hard limit ${JSON.stringify(hard)} is not a number`), "internal");
  return Number(hard);
}

/** The rows of /proc/<pid>/limits, by the OCI name of their resource (getrlimit(2)). */
const LIMIT_ROWS: readonly (readonly [string, RlimitType])[] = [
  ["Max cpu time", "RLIMIT_CPU"],
  ["Max file size", "RLIMIT_FSIZE"],
  ["Max data size", "RLIMIT_DATA"],
  ["Max stack size", "RLIMIT_STACK"],
  ["Max core file size", "RLIMIT_CORE"],
  ["Max resident set", "RLIMIT_RSS"],
  ["Max processes", "RLIMIT_NPROC"],
  ["Max open files", "RLIMIT_NOFILE"],
  ["Max locked memory", "RLIMIT_MEMLOCK"],
  ["Max address space", "RLIMIT_AS"],
  ["Max file locks", "RLIMIT_LOCKS"],
  ["Max pending signals", "RLIMIT_SIGPENDING"],
  ["Max msgqueue size", "RLIMIT_MSGQUEUE"],
  ["Max nice priority", "RLIMIT_NICE"],
  ["Max realtime priority", "RLIMIT_RTPRIO"],
  ["Max realtime timeout", "RLIMIT_RTTIME"],
];

/**
 * Every hard limit in the text of /proc/<pid>/limits, keyed by OCI rlimit name; `Infinity` for
 * "unlimited". Rows this kernel does not print are left out.
 *
 * @example
 * parseHardLimits("Max processes             63432                63432                processes\n");
 * // { RLIMIT_NPROC: 63432 }
 */
export function parseHardLimits(limitsText: string): Partial<Record<RlimitType, number>> {
  const out: Partial<Record<RlimitType, number>> = {};
  for (const [row, type] of LIMIT_ROWS) {
    const match = new RegExp(`^${row}\\s+(\\S+)\\s+(\\S+)`, "m").exec(limitsText);
    const hard = match?.[2];
    if (hard === "unlimited") out[type] = Infinity;
    else if (hard !== undefined && /^\d+$/.test(hard)) out[type] = Number(hard);
  }
  return out;
}

/**
 * The bounding and effective capability sets in the text of /proc/<pid>/status (`CapBnd:` and
 * `CapEff:`, hex masks).
 *
 * @example
 * parseStatusCapabilities("CapEff:\t0000000000000020\nCapBnd:\t0000000020000420\n").effective; // ["CAP_KILL"]
 */
export function parseStatusCapabilities(statusText: string): { bounding: CapabilityName[]; effective: CapabilityName[] } {
  const mask = (field: string): bigint => {
    const match = new RegExp(`^${field}:\\s*([0-9a-fA-F]+)\\s*$`, "m").exec(statusText);
    const hex = match?.[1];
    if (hex === undefined) throw wrap("parsing /proc/self/status", new Error(`no ${field} line`), "internal");
    return BigInt(`0x${hex}`);
  };
  return { bounding: capabilitiesFromMask(mask("CapBnd")), effective: capabilitiesFromMask(mask("CapEff")) };
}
