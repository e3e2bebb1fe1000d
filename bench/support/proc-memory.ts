/**
 * What processes cost in memory, read from /proc: the process tree (pid → parent) and, per
 * process, VmRSS and RssAnon (/proc/PID/status) and PSS (/proc/PID/smaps_rollup, resident pages
 * divided by how many processes share them, so shared libc pages are not counted once per
 * process). For "what does a running pod cost beyond its apps".
 */
import { readdirSync, readFileSync } from "node:fs";

/** One process as /proc shows it. */
export interface ProcEntry {
  readonly pid: number;
  readonly ppid: number;
  /** /proc/PID/comm (the executable's name, at most 15 characters). */
  readonly comm: string;
  /** /proc/PID/cmdline with spaces between arguments. */
  readonly cmdline: string;
}

/** Resident memory of one process, in KiB. */
export interface ProcMemory extends ProcEntry {
  readonly rssKb: number;
  readonly anonKb: number;
  /** Proportional set size; undefined when smaps_rollup is not readable. */
  readonly pssKb: number | undefined;
}

/**
 * Every process of the system, by pid. Processes that exit while the table is read are skipped.
 *
 * @example
 * const table = processTable();
 * const tree = subtree(table, launcherPid);
 */
export function processTable(): Map<number, ProcEntry> {
  const table = new Map<number, ProcEntry>();
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      // "PID (comm) STATE PPID ...": comm may contain spaces and parentheses, so split at the last ")".
      const close = stat.lastIndexOf(")");
      const fields = stat.slice(close + 2).split(" ");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter((s) => s !== "").join(" ");
      table.set(pid, { pid, ppid: Number(fields[1]), comm, cmdline });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/** `root` and all its descendants in `table` (root first; empty when root is not there). */
export function subtree(table: ReadonlyMap<number, ProcEntry>, root: number): number[] {
  if (!table.has(root)) return [];
  const children = new Map<number, number[]>();
  for (const p of table.values()) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const out: number[] = [];
  const stack = [root];
  for (let pid = stack.pop(); pid !== undefined; pid = stack.pop()) {
    out.push(pid);
    stack.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * The processes of the trees under `roots` minus the trees under `exclude` (the apps), with
 * their memory. Each pid is counted once even if trees overlap.
 *
 * @example
 * const overhead = treeMemory([launcherPid], appPids);
 * const totalKb = overhead.reduce((s, p) => s + p.rssKb, 0);
 */
export function treeMemory(roots: readonly number[], exclude: readonly number[]): ProcMemory[] {
  const table = processTable();
  const skip = new Set(exclude.flatMap((pid) => subtree(table, pid)));
  const pids = new Set(roots.flatMap((pid) => subtree(table, pid)).filter((pid) => !skip.has(pid)));
  const out: ProcMemory[] = [];
  for (const pid of pids) {
    const entry = table.get(pid)!;
    const mem = memoryOf(pid);
    if (mem !== undefined) out.push({ ...entry, ...mem });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** VmRSS, RssAnon and PSS of one process in KiB; undefined if it is gone (or a kernel thread). */
export function memoryOf(pid: number): { rssKb: number; anonKb: number; pssKb: number | undefined } | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const field = (name: string): number | undefined => {
    const m = new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status);
    return m === null ? undefined : Number(m[1]);
  };
  const rssKb = field("VmRSS");
  if (rssKb === undefined) return undefined;
  let pssKb: number | undefined;
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"));
    pssKb = m === null ? undefined : Number(m[1]);
  } catch {
    pssKb = undefined;
  }
  return { rssKb, anonKb: field("RssAnon") ?? 0, pssKb };
}
