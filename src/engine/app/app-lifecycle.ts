/**
 * `rkt app start|stop|rm|list|status`: one app of a running mutable pod at a time, through its
 * supervisor's control socket (see mutable-pod.ts). What ran is recorded in the app's files by the
 * supervisor (exit code, times, CRI log), so status survives any rkt process being killed; the
 * supervisor answers what runs now.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { RktError } from "../../lib/errors.js";
import { containerId } from "../../pod/pod-files.js";
import type { PodStore } from "../../pod/pod-store.js";
import { parseFlavor, runtimeFor } from "../../stage1/stage1-flavor.js";
import { releaseUserNamespaceApp } from "../../stage1/userns/pod-user-namespace.js";
import { supervisedApps, supervisorRequest, type SupervisedApp } from "../../stage1/supervisor-control.js";
import { podInfo, type AppInfo } from "../pod/pod-info.js";
import { openMutablePod, removeAppFiles, requireApp, withManifest } from "./mutable-pod.js";

const run = promisify(execFile);

/**
 * Starts app `name` (created or exited) and resolves with its host pid once it runs. Throws
 * RktError "failed-precondition" when it is already running, or its start failed (the reason).
 */
export async function startApp(pods: PodStore, uuid: string, name: string): Promise<number> {
  const pod = openMutablePod(pods, uuid);
  requireApp(pods.readManifest(pod.ref), pod.ref.uuid, name);
  const { reply } = await supervisorRequest(pod.files.dir, `start ${name}`);
  return Number(reply);
}

/**
 * Stops app `name`: TERM, KILL after `timeoutSeconds` (default: the supervisor's, 10 s). Resolves
 * with its exit code, or undefined when it never ran. Stopping a stopped app is not an error; a
 * pending restart is cancelled.
 */
export async function stopApp(pods: PodStore, uuid: string, name: string, timeoutSeconds?: number): Promise<number | undefined> {
  const pod = openMutablePod(pods, uuid);
  requireApp(pods.readManifest(pod.ref), pod.ref.uuid, name);
  const { reply } = await supervisorRequest(pod.files.dir, timeoutSeconds === undefined ? `stop ${name}` : `stop ${name} ${timeoutSeconds}`, ((timeoutSeconds ?? 10) + 60) * 1000);
  return reply === "-" ? undefined : Number(reply);
}

/**
 * Removes app `name` from the pod: stops it if it runs, makes the supervisor forget it, deletes its
 * runtime container, mount and files, and drops it from the manifest.
 */
export async function removeApp(pods: PodStore, uuid: string, name: string, timeoutSeconds?: number): Promise<void> {
  const pod = openMutablePod(pods, uuid);
  await withManifest(pods, pod, async (manifest) => {
    requireApp(manifest, pod.ref.uuid, name);
    await supervisorRequest(pod.files.dir, timeoutSeconds === undefined ? `stop ${name}` : `stop ${name} ${timeoutSeconds}`, ((timeoutSeconds ?? 10) + 60) * 1000);
    await supervisorRequest(pod.files.dir, `forget ${name}`);
    const runtime = runtimeFor(parseFlavor(pod.options.flavor), () => undefined);
    const [bin = "runc", ...args] = runtime.deleteArgv(containerId(pod.ref.uuid, name));
    await run(bin, args).catch(() => undefined);
    releaseUserNamespaceApp(pod.ref.uuid, name);
    removeAppFiles(pod.files.dir, name);
    return { manifest: { ...manifest, apps: manifest.apps.filter((a) => a.name !== name) }, result: undefined };
  });
}

/** An app of a mutable pod: what its files record, and what its supervisor says now. */
export interface AppStatus extends Omit<AppInfo, "state"> {
  readonly state: SupervisedApp["state"] | AppInfo["state"];
  readonly restarts: number;
  readonly podUuid: string;
}

/**
 * The apps of pod `uuid` (any pod; for a running mutable pod the supervisor's live state and
 * restart counts are merged in). `name` picks one (not-found error if absent).
 */
export async function appStatuses(pods: PodStore, uuid: string, name?: string): Promise<AppStatus[]> {
  const ref = pods.find(uuid);
  const info = podInfo(pods, ref);
  let live: SupervisedApp[] = [];
  if (info.state === "running") {
    try {
      live = await supervisedApps(ref.path);
    } catch (err) {
      // A pod of `rkt run` has no control socket: its files are the whole story.
      if (!(err instanceof RktError) || err.kind !== "unavailable") throw err;
    }
  }
  const apps = info.apps.map((a): AppStatus => {
    const l = live.find((x) => x.name === a.name);
    return {
      ...a,
      state: l?.state ?? a.state,
      pid: l?.pid ?? (a.state === "running" ? a.pid : undefined),
      exitCode: a.exitCode ?? l?.exitCode,
      restarts: l?.restarts ?? 0,
      podUuid: ref.uuid,
    };
  });
  if (name === undefined) return apps;
  const one = apps.filter((a) => a.name === name);
  if (one.length === 0) throw new RktError("not-found", `pod "${ref.uuid}" has no app "${name}"`, { hint: `apps: ${apps.map((a) => a.name).join(", ") || "(none)"}` });
  return one;
}
