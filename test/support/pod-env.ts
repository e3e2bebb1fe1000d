/**
 * Shared setup for pod tests: an rkt data dir with the busybox fixture in its store, and a check
 * that a test left nothing running or mounted on the host.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { busyboxImage } from "./image-fixtures.js";
import { runRkt } from "./run-rkt.js";
import { makeTempDir, removeTempDir, tempDir } from "./tmp.js";

export interface PodTestStore {
  readonly dir: string;
  /** The busybox image's ID (`sha256-...`). */
  readonly busybox: string;
}

/**
 * A fresh store with busybox fetched (as `localhost/busybox:latest`). After the test, every pod
 * is stopped and collected, the test fails if anything of theirs is left on the host, and the
 * directory is removed.
 */
export async function podTestStore(t: TestContext): Promise<PodTestStore> {
  const dir = await makeTempDir("rkt-pods-");
  t.after(async () => {
    try {
      await collectAll(dir);
    } finally {
      await removeTempDir(dir);
    }
  });
  const layout = join(await tempDir(t), "busybox");
  await busyboxImage({ dir: layout });
  const r = await runRkt(["fetch", "--insecure-options=image", layout], { dir });
  assert.equal(r.code, 0, r.stderr);
  return { dir, busybox: r.stdout.trim() };
}

/** Stops and collects every pod in `dir` and checks nothing of theirs is left on the host. */
export async function collectAll(dir: string): Promise<void> {
  const list = JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { name: string; state: string }[];
  for (const p of list) if (p.state === "running") await runRkt(["stop", "--force", p.name], { dir });
  await runRkt(["gc", "--grace-period=0s", "--expire-prepared=0s"], { dir });
  const left = leftovers(dir);
  assert.deepEqual(left, [], `pods left host resources behind: ${left.join(", ")}`);
}

/** Mounts under the data dir, pinned namespaces and runtime containers of pods of this store. */
export function leftovers(dir: string): string[] {
  const out: string[] = [];
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = line.split(" ")[4];
    if (point?.startsWith(`${dir}/`) === true) out.push(`mount ${point}`);
  }
  let uuids: string[] = [];
  try {
    uuids = readdirSync(join(dir, "pods", "run")).concat(readdirSync(join(dir, "pods", "exited-garbage")));
  } catch {
    // no pods dir
  }
  for (const u of uuids) {
    try {
      readdirSync(join("/run/rkt/ns", u));
      out.push(`namespaces of ${u}`);
    } catch {
      // gone, good
    }
  }
  try {
    const ids = execFileSync("runc", ["--root", "/run/rkt/runtime/runc", "list", "-q"], { encoding: "utf8" }).split("\n").filter((s) => s !== "");
    for (const id of ids) if (uuids.some((u) => id.includes(u))) out.push(`container ${id}`);
  } catch {
    // no runtime state yet
  }
  return out;
}
