/**
 * Releases everything a pod held on the host: runtime containers, mounts, pinned namespaces and
 * cgroup directories. Idempotent and tolerant of partial state, because it runs in three places:
 * the supervisor's `finally` when a pod ends, `rkt gc` for pods whose stage1 was killed, and the
 * error path of a failed start.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { readNetInfo } from "../../network/net-info.js";
import { detachPodNetworks } from "../../network/pod-network.js";
import { containerId } from "../../pod/pod-files.js";
import { mountsUnder, unmount } from "../../sys/mounts.js";
import { destroyPodNamespaces, NS_ROOT } from "../../stage1/pod-namespaces.js";
import type { OciRuntime } from "../../stage1/stage1-flavor.js";

const run = promisify(execFile);

/** The cgroup (relative to each hierarchy's root) under which a pod's apps live. */
export function podCgroupParent(uuid: string): string {
  return `/rkt/${uuid}`;
}

export async function teardownPod(uuid: string, podDir: string, runtime: OciRuntime): Promise<string[]> {
  const problems: string[] = [];
  let apps: string[] = [];
  try {
    apps = readdirSync(join(podDir, "apps"));
  } catch {
    // no apps were set up
  }
  await Promise.all(
    apps.map(async (app) => {
      const id = containerId(uuid, app);
      try {
        const [bin = "runc", ...args] = runtime.deleteArgv(id);
        await run(bin, args);
      } catch (err) {
        const stderr = (err as { stderr?: string }).stderr ?? "";
        if (!/does not exist|not found|no such/i.test(stderr)) problems.push(`deleting container ${id}: ${stderr.trim() || String(err)}`);
      }
    }),
  );
  for (const point of mountsUnder(podDir)) {
    try {
      unmount(point);
    } catch (err) {
      problems.push(`unmounting ${point}: ${String(err)}`);
    }
  }
  // Networks leave before the namespace goes: the plugins find the pod's interfaces through it.
  // net-info.json stays (rkt list shows an exited pod's networks); a marker says DEL is done.
  try {
    const detached = join(podDir, "net-detached");
    const info = existsSync(detached) ? undefined : await readNetInfo(join(podDir, "net-info.json"));
    if (info !== undefined) {
      await detachPodNetworks(info);
      writeFileSync(detached, "");
    }
  } catch (err) {
    problems.push(`leaving networks: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    destroyPodNamespaces(uuid);
  } catch (err) {
    problems.push(`removing namespaces: ${String(err)}`);
  }
  removeCgroups(podCgroupParent(uuid));
  return problems;
}

/** Removes the pod's cgroup directories in every v1 hierarchy (and the v2 mount), leaf first. */
function removeCgroups(relative: string): void {
  let hierarchies: string[];
  try {
    hierarchies = readdirSync("/sys/fs/cgroup");
  } catch {
    return;
  }
  for (const h of hierarchies) {
    const base = join("/sys/fs/cgroup", h, relative);
    removeTree(base);
  }
}

function removeTree(dir: string): void {
  let entries: import("node:fs").Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) if (e.isDirectory()) removeTree(join(dir, e.name));
  try {
    rmdirSync(dir);
  } catch {
    // still has processes, or already gone
  }
}

/**
 * teardownPod as a shell script, for the common case of a pod without CNI networks: the
 * supervisor execs it when the apps are done, instead of starting Node a second time (~130 ms of
 * every `rkt run`, measured in bench/PODS.md). The same steps in the same order: delete the
 * runtime containers, unmount the app roots, unpin the namespaces, remove the cgroups. Whatever it
 * misses, `rkt gc` still collects with teardownPod. `beforeExit` lines run last (the events
 * journal's `pod-exited`). It exits with the pod's exit code.
 */
export function teardownScript(uuid: string, podDir: string, runtime: OciRuntime, apps: readonly string[], beforeExit: readonly string[] = []): string {
  const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
  const lines = ["exec >/dev/null 2>&1"];
  for (const app of apps) lines.push(runtime.deleteArgv(containerId(uuid, app)).map(q).join(" "));
  for (const app of apps) lines.push(`umount ${q(join(podDir, "apps", app, "rootfs"))} || umount -l ${q(join(podDir, "apps", app, "rootfs"))}`);
  const ns = join(NS_ROOT, uuid);
  lines.push(`for f in ${q(ns)}/*; do umount "$f"; done; rm -rf ${q(ns)}`);
  const cg = podCgroupParent(uuid);
  lines.push(`for h in /sys/fs/cgroup/*; do for d in "$h"${q(cg)}/* "$h"${q(cg)}; do [ -d "$d" ] && rmdir "$d"; done; done`);
  lines.push(...beforeExit);
  lines.push('exit "${RKT_EXIT_CODE:-254}"');
  return lines.join("\n");
}
