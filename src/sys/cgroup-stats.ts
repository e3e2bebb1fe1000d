/**
 * Resource usage of one cgroup, read from cgroupfs: CPU time, memory, process count. Both
 * layouts: cgroup v1 (one hierarchy per controller under /sys/fs/cgroup/<controller>/, as on
 * hosts in "hybrid" mode) and the unified v2 hierarchy (/sys/fs/cgroup/ with cgroup.controllers).
 * A cgroup path is what an OCI config's `linux.cgroupsPath` says (relative to each hierarchy's
 * root). Values a kernel does not offer are left undefined.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** One cgroup's usage at one moment. */
export interface CgroupStats {
  /** Cumulative CPU time of all its tasks, nanoseconds. */
  readonly cpuUsageNanos?: bigint;
  /** Memory charged to it (v1 usage_in_bytes, v2 memory.current). */
  readonly memoryUsageBytes?: bigint;
  /** Usage minus inactive file pages: the kubelet's "working set". */
  readonly workingSetBytes?: bigint;
  readonly rssBytes?: bigint;
  readonly pageFaults?: bigint;
  readonly majorPageFaults?: bigint;
  /** The memory limit, when one is set. */
  readonly memoryLimitBytes?: bigint;
  readonly processCount?: bigint;
}

/**
 * Reads the usage of cgroup `path` (e.g. `/rkt/<uuid>/<app>`); undefined when the cgroup does
 * not exist (the container is not running).
 *
 * @example
 * const s = readCgroupStats("/rkt/2d4f.../web");
 * s?.cpuUsageNanos; // 123456789n
 */
export function readCgroupStats(path: string, root = "/sys/fs/cgroup"): CgroupStats | undefined {
  return existsSync(join(root, "cgroup.controllers")) ? readV2(join(root, path)) : readV1(root, path);
}

function readV1(root: string, path: string): CgroupStats | undefined {
  const memoryDir = join(root, "memory", path);
  const cpuDir = [join(root, "cpuacct", path), join(root, "cpu,cpuacct", path)].find((d) => existsSync(d));
  if (!existsSync(memoryDir) && cpuDir === undefined) return undefined;
  const stat = keyValues(read(join(memoryDir, "memory.stat")));
  const usage = int(read(join(memoryDir, "memory.usage_in_bytes")));
  const inactive = stat.get("total_inactive_file") ?? 0n;
  const limit = int(read(join(memoryDir, "memory.limit_in_bytes")));
  return clean({
    cpuUsageNanos: cpuDir === undefined ? undefined : int(read(join(cpuDir, "cpuacct.usage"))),
    memoryUsageBytes: usage,
    workingSetBytes: usage === undefined ? undefined : usage > inactive ? usage - inactive : 0n,
    rssBytes: stat.get("total_rss"),
    pageFaults: stat.get("total_pgfault"),
    majorPageFaults: stat.get("total_pgmajfault"),
    // v1 reports "no limit" as a huge page-rounded number.
    memoryLimitBytes: limit !== undefined && limit < 1n << 62n ? limit : undefined,
    processCount: int(read(join(root, "pids", path, "pids.current"))),
  });
}

function readV2(dir: string): CgroupStats | undefined {
  if (!existsSync(dir)) return undefined;
  const cpu = keyValues(read(join(dir, "cpu.stat")));
  const stat = keyValues(read(join(dir, "memory.stat")));
  const usage = int(read(join(dir, "memory.current")));
  const inactive = stat.get("inactive_file") ?? 0n;
  const max = read(join(dir, "memory.max"))?.trim();
  const usec = cpu.get("usage_usec");
  return clean({
    cpuUsageNanos: usec === undefined ? undefined : usec * 1000n,
    memoryUsageBytes: usage,
    workingSetBytes: usage === undefined ? undefined : usage > inactive ? usage - inactive : 0n,
    rssBytes: stat.get("anon"),
    pageFaults: stat.get("pgfault"),
    majorPageFaults: stat.get("pgmajfault"),
    memoryLimitBytes: max === undefined || max === "max" ? undefined : int(max),
    processCount: int(read(join(dir, "pids.current"))),
  });
}

function clean(s: Record<string, bigint | undefined>): CgroupStats {
  return Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined));
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

function int(text: string | undefined): bigint | undefined {
  const t = text?.trim();
  return t !== undefined && /^\d+$/.test(t) ? BigInt(t) : undefined;
}

function keyValues(text: string | undefined): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of (text ?? "").split("\n")) {
    const [k, v] = line.split(" ");
    if (k !== undefined && v !== undefined && /^\d+$/.test(v)) out.set(k, BigInt(v));
  }
  return out;
}
