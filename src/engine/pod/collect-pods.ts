/**
 * `rkt rm` and `rkt gc`: removing pods and everything they hold on the host.
 *
 * gc follows rkt: exited pods are first *marked* (moved to exited-garbage; the grace period runs
 * from that rename, so `rkt gc --mark-only` in a unit's ExecStopPost records the exit time), and
 * swept once the grace period has passed. Prepare attempts whose process died (prepare/ with a free
 * lock) and pods in garbage/ go at once; prepared pods after --expire-prepared. Sweeping tears down
 * what a killed stage1 may have left (containers, mounts, namespaces, cgroups) before the directory
 * goes, so nothing outlives `rkt gc`.
 */
import { readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import { PodFiles } from "../../pod/pod-files.js";
import type { PodRef, PodStore } from "../../pod/pod-store.js";
import { FileLock } from "../../sys/file-lock.js";
import { NS_ROOT, destroyPodNamespaces } from "../../stage1/pod-namespaces.js";
import { parseFlavor, runtimeFor, STAGE1_FLAVORS } from "../../stage1/stage1-flavor.js";
import { teardownPod } from "./teardown-pod.js";
import { recordPodEvent } from "../../events/event-journal.js";

export interface GcOptions {
  readonly gracePeriodMs: number;
  readonly expirePreparedMs: number;
  readonly markOnly: boolean;
  readonly now?: Date;
  readonly log: (line: string) => void;
}

/** Removes one pod now (rkt rm): exited, prepared or aborted pods only. */
export async function removePod(pods: PodStore, ref: PodRef): Promise<void> {
  const state = pods.state(ref);
  if (state === "running" || state === "preparing" || state === "deleting" || state === "embryo") {
    throw new RktError("failed-precondition", `pod "${ref.uuid}" is ${state}; only exited, prepared or aborted pods can be removed`, {
      hint: state === "running" ? `stop it first: rkt stop ${ref.uuid}` : undefined,
    });
  }
  await sweep(pods, ref);
}

export async function gcPods(pods: PodStore, options: GcOptions): Promise<{ marked: number; collected: number }> {
  let marked = 0;
  let collected = 0;
  for (const ref of pods.list()) {
    const state = pods.state(ref);
    if (state === "exited") {
      options.log(`Moving pod "${ref.uuid}" to garbage`);
      try {
        const moved = pods.move(ref, "exited-garbage");
        recordPodEvent(pods.dataDir, "pod-garbage-collected", ref.uuid, moved.path);
        marked++;
      } catch {
        // moved by a concurrent gc
      }
    }
  }
  if (options.markOnly) return { marked, collected };
  // Taken after marking: a pod marked just now has age 0, which a zero grace period collects.
  const now = (options.now ?? new Date()).getTime();
  for (const ref of pods.list()) {
    const state = pods.state(ref);
    // ctimeMs has a sub-millisecond fraction and can be up to 1 ms ahead of Date.now() for a pod
    // marked just now: floor it, or a zero grace period misses the last pods marked.
    const age = now - Math.floor(statSync(ref.path, { throwIfNoEntry: false })?.ctimeMs ?? now);
    const due =
      (state === "exited-garbage" && age >= options.gracePeriodMs) ||
      state === "aborted-prepare" ||
      state === "garbage" ||
      (state === "prepared" && age >= options.expirePreparedMs);
    if (!due) continue;
    options.log(`Garbage collecting pod "${ref.uuid}"`);
    try {
      await sweep(pods, ref);
      collected++;
    } catch (err) {
      options.log(`Unable to collect pod "${ref.uuid}": ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  await sweepOrphanNamespaces(pods);
  return { marked, collected };
}

/** Tears a pod down and deletes its directory, holding its lock so nobody else is at it. */
async function sweep(pods: PodStore, ref: PodRef): Promise<void> {
  const lock = FileLock.tryAcquire(ref.path, "exclusive");
  if (lock === undefined) throw new RktError("failed-precondition", `pod "${ref.uuid}" is in use by another rkt process`);
  try {
    const files = new PodFiles(ref.path);
    let flavorName = "default";
    try {
      flavorName = readFileSync(files.stage1, "utf8").trim();
    } catch {
      // an embryo without a flavor
    }
    const flavor = (STAGE1_FLAVORS as readonly string[]).includes(flavorName) ? parseFlavor(flavorName) : "default";
    const problems = await teardownPod(ref.uuid, ref.path, runtimeFor(flavor, () => undefined));
    if (problems.length > 0) throw new RktError("internal", problems.join("; "));
    const doomed = ref.dir === "garbage" ? ref : pods.move(ref, "garbage");
    rmSync(doomed.path, { recursive: true, force: true });
    recordPodEvent(pods.dataDir, "pod-removed", ref.uuid);
  } finally {
    lock.release();
  }
}

/**
 * Pinned namespaces of this store's pods that are not running (a stage0 killed mid-start). Only
 * this store's pods: /run/rkt/ns is shared by every data directory on the host, and a namespace
 * whose UUID this store does not know may belong to a pod another store is starting right now.
 */
async function sweepOrphanNamespaces(pods: PodStore): Promise<void> {
  let uuids: string[];
  try {
    uuids = readdirSync(NS_ROOT);
  } catch {
    return;
  }
  const known = new Map(pods.list().map((r) => [r.uuid, r]));
  for (const uuid of uuids) {
    const ref = known.get(uuid);
    if (ref === undefined) continue;
    const state = pods.state(ref);
    if (["running", "preparing", "deleting", "embryo"].includes(state)) continue;
    if (statSync(join(NS_ROOT, uuid), { throwIfNoEntry: false })?.isDirectory() === true) destroyPodNamespaces(uuid);
  }
  await Promise.resolve();
}
