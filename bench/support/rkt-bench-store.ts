/**
 * A throw-away rkt data directory (`--dir`) for pod benchmarks: pods run from it are collected as
 * the benchmark goes (`rkt rm`, see {@link RktBenchStore.collect}), and at the end every pod is stopped, collected, and checked to
 * have left nothing on the host (mounts under the directory, namespace pins in /run/rkt/ns,
 * runc containers, cgroups). Whatever a killed run left is removed by force before the directory
 * goes.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "../../test/support/tmp.js";
import { execTool } from "../../test/support/exec-tool.js";
import { removeTreeWithMounts } from "./remove-tree-with-mounts.js";
import { timedRun, type TimedRunOptions, type TimedRunResult } from "./timed-run.js";

/** Where rkt keeps what outlives a pod's process (src/stage1/pod-namespaces.ts, stage1-flavor.ts). */
const NS_ROOT = "/run/rkt/ns";
const RUNC_ROOT = "/run/rkt/runtime/runc";
const POD_DIRS = ["embryo", "prepare", "prepared", "run", "exited-garbage", "garbage"];

export class RktBenchStore {
  readonly dir: string;
  readonly bin: string;
  /** Every pod UUID seen in the store, so the final check also covers collected pods. */
  readonly #seen = new Set<string>();

  private constructor(dir: string, bin: string) {
    this.dir = dir;
    this.bin = bin;
  }

  /** An empty data directory used with the rkt at `bin`. */
  static async create(bin: string): Promise<RktBenchStore> {
    return new RktBenchStore(await makeTempDir("rkt-bench-pods-"), bin);
  }

  /** `rkt --dir=DIR args...`, timed (see {@link timedRun}). */
  rkt(args: readonly string[], options: TimedRunOptions = {}): Promise<TimedRunResult> {
    return timedRun(this.bin, [`--dir=${this.dir}`, ...args], options);
  }

  /** The UUIDs of the pods in the store now (remembered for {@link leftovers}). */
  pods(): string[] {
    const out: string[] = [];
    for (const d of POD_DIRS) {
      let names: string[] = [];
      try {
        names = readdirSync(join(this.dir, "pods", d));
      } catch {
        // no such state yet
      }
      out.push(...names);
    }
    for (const u of out) this.#seen.add(u);
    return out;
  }

  /** The pod directory of a running (or just exited) pod. */
  runningPodDir(uuid: string): string {
    return join(this.dir, "pods", "run", uuid);
  }

  /** The directory of pod `uuid`, in whichever state directory it is. */
  podDir(uuid: string): string {
    const found = POD_DIRS.map((d) => join(this.dir, "pods", d, uuid)).find((p) => existsSync(p));
    if (found === undefined) throw new Error(`pod ${uuid} is not in ${this.dir}`);
    return found;
  }

  /**
   * Removes every pod of the store (`rkt rm UUID...`; call it when none is running), as `rkt gc
   * --grace-period=0s` would. Not gc itself: gc also sweeps /run/rkt/ns of every pinned namespace
   * whose pod is not in *its* store, so on a machine where other stores run pods (tests, other
   * benchmarks) it would tear down their namespaces, and theirs ours.
   */
  async collect(signal?: AbortSignal): Promise<void> {
    const uuids = this.pods();
    if (uuids.length > 0) await this.rkt(["rm", ...uuids], signal === undefined ? {} : { signal });
  }

  /** Stops every running pod at once (`rkt stop --force`), waits up to 20 s for them to exit, and collects them. */
  async stopAll(): Promise<void> {
    this.pods();
    const running = async (): Promise<string[]> => {
      const r = await this.rkt(["list", "--format=json"]).catch(() => undefined);
      return (JSON.parse(r?.stdout ?? "[]") as { name: string; state: string }[]).filter((p) => p.state === "running").map((p) => p.name);
    };
    let left = await running();
    for (const uuid of left) await this.rkt(["stop", "--force", uuid]).catch(() => undefined);
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 200));
      left = await running();
    }
    await this.collect().catch(() => undefined);
    // What rm could not remove (an aborted prepare, ...): gc, whatever it does to other stores.
    if (this.pods().length > 0) await this.rkt(["gc", "--grace-period=0s", "--expire-prepared=0s"]).catch(() => undefined);
  }

  /** What pods of this store left on the host: mounts, namespace pins, runc containers, cgroups. */
  async leftovers(): Promise<string[]> {
    this.pods();
    const out: string[] = [];
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
      const point = line.split(" ")[4];
      if (point?.startsWith(`${this.dir}/`) === true) out.push(`mount ${point}`);
    }
    for (const u of this.#seen) {
      if (existsSync(join(NS_ROOT, u))) out.push(`namespaces ${join(NS_ROOT, u)}`);
      for (const c of cgroupHierarchies()) if (existsSync(join(c, "rkt", u))) out.push(`cgroup ${join(c, "rkt", u)}`);
    }
    for (const id of await runcContainers()) if ([...this.#seen].some((u) => id.includes(u))) out.push(`runc container ${id}`);
    return out;
  }

  /**
   * Stops and collects every pod, then removes by force what is still there (a benchmark killed
   * mid-run), and deletes the directory. Returns what had to be removed by force.
   */
  async destroy(): Promise<string[]> {
    await this.stopAll();
    const left = await this.leftovers();
    if (left.length > 0) {
      for (const id of await runcContainers()) {
        if ([...this.#seen].some((u) => id.includes(u))) await timedRun("runc", ["--root", RUNC_ROOT, "delete", "--force", id]).catch(() => undefined);
      }
      for (const u of this.#seen) {
        const ns = join(NS_ROOT, u);
        if (existsSync(ns)) await removeTreeWithMounts(ns).catch(() => undefined);
        for (const c of cgroupHierarchies()) await execTool("find", [join(c, "rkt", u), "-depth", "-type", "d", "-exec", "rmdir", "{}", ";"]).catch(() => undefined);
      }
    }
    await removeTreeWithMounts(this.dir);
    return left;
  }
}

/** The cgroup v1 hierarchies and the v2 mount, where rkt makes a `rkt/UUID` group per pod. */
function cgroupHierarchies(): string[] {
  try {
    return readdirSync("/sys/fs/cgroup").map((n) => join("/sys/fs/cgroup", n));
  } catch {
    return [];
  }
}

/** IDs of the containers in rkt's runc state directory. */
async function runcContainers(): Promise<string[]> {
  if (!existsSync(RUNC_ROOT)) return [];
  const r = await timedRun("runc", ["--root", RUNC_ROOT, "list", "--quiet"]).catch(() => undefined);
  return (r?.stdout ?? "").split("\n").filter((s) => s !== "");
}
