/**
 * `rkt stop`: ask a running pod's supervisor to stop its apps (SIGTERM to the supervisor: apps get
 * SIGTERM, then SIGKILL after the grace period). `force` kills the apps at once. A pod whose
 * supervisor died (SIGKILL, crash) is stopped through the runtime directly.
 */
import { readFileSync } from "node:fs";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { RktError } from "../../lib/errors.js";
import { containerId, PodFiles } from "../../pod/pod-files.js";
import type { PodRef, PodStore } from "../../pod/pod-store.js";
import { parseFlavor, runtimeFor } from "../../stage1/stage1-flavor.js";
import { podInfo } from "./pod-info.js";

const run = promisify(execFile);

export type StopResult = "stopped" | "already-stopped";

export async function stopPod(pods: PodStore, ref: PodRef, force: boolean): Promise<StopResult> {
  const info = podInfo(pods, ref);
  if (info.state !== "running") {
    if (info.state === "exited" || info.state === "exited-garbage" || info.state === "prepared" || info.state === "aborted-prepare") return "already-stopped";
    throw new RktError("failed-precondition", `pod "${ref.uuid}" is ${info.state}`, { hint: "only running pods can be stopped" });
  }
  const files = new PodFiles(ref.path);
  const supervisor = info.pid;
  if (force) {
    for (const app of info.apps) {
      if (app.pid !== undefined && app.exitCode === undefined) killQuietly(app.pid, "SIGKILL");
    }
    if (supervisor !== undefined) killQuietly(supervisor, "SIGTERM");
  } else if (supervisor !== undefined && killQuietly(supervisor, "SIGTERM")) {
    return "stopped";
  }
  if (supervisor === undefined || !alive(supervisor)) {
    // No supervisor: stop through the runtime so no container outlives its pod.
    const runtime = runtimeFor(parseFlavor(readFileSync(files.stage1, "utf8").trim()), () => undefined);
    for (const app of info.apps) {
      const [bin = "runc", ...args] = runtime.killArgv(containerId(ref.uuid, app.name), force ? "KILL" : "TERM");
      await run(bin, args).catch(() => undefined);
    }
  }
  return "stopped";
}

function killQuietly(pid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
