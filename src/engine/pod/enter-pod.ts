/**
 * `rkt enter` and `rkt app exec`: run a command inside a running app, through the OCI runtime's
 * exec (it joins the app's namespaces and cgroup, with the app's user and environment).
 */
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { RktError } from "../../lib/errors.js";
import { containerId, PodFiles } from "../../pod/pod-files.js";
import type { PodRef, PodStore } from "../../pod/pod-store.js";
import { parseFlavor, runtimeFor } from "../../stage1/stage1-flavor.js";
import { podInfo } from "./pod-info.js";

export interface EnterOptions {
  readonly app?: string | undefined;
  readonly command: readonly string[];
  readonly tty: boolean;
}

/** Resolves the app to enter: `--app`, or the pod's only app. */
export function enterTarget(pods: PodStore, ref: PodRef, app: string | undefined): string {
  const info = podInfo(pods, ref);
  if (info.state !== "running") {
    throw new RktError("failed-precondition", `pod "${ref.uuid}" is ${info.state}, not running`, { hint: "only running pods can be entered; see `rkt list`" });
  }
  if (app === undefined) {
    if (info.apps.length !== 1) {
      throw new RktError("invalid-argument", `pod "${ref.uuid}" has ${info.apps.length} apps; say which with --app`, { hint: `apps: ${info.apps.map((a) => a.name).join(", ")}` });
    }
    return info.apps[0]?.name ?? "";
  }
  const hit = info.apps.find((a) => a.name === app);
  if (hit === undefined) throw new RktError("not-found", `pod "${ref.uuid}" has no app "${app}"`, { hint: `apps: ${info.apps.map((a) => a.name).join(", ")}` });
  if (hit.state !== "running") throw new RktError("failed-precondition", `app "${app}" of pod "${ref.uuid}" is ${hit.state}, not running`);
  return app;
}

/** Runs the command with this process's stdio; resolves with its exit code. */
export function enterApp(ref: PodRef, app: string, options: EnterOptions): Promise<number> {
  const files = new PodFiles(ref.path);
  const runtime = runtimeFor(parseFlavor(readFileSync(files.stage1, "utf8").trim()), () => undefined);
  const [bin = "runc", ...args] = runtime.execArgv(containerId(ref.uuid, app), options.tty, undefined, [], options.command);
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: "inherit" });
    child.once("error", (err) => reject(new RktError("internal", `cannot run ${bin}: ${err.message}`)));
    child.once("exit", (code, signal) => resolve(code ?? (signal === null ? 254 : 128 + constants.signals[signal])));
  });
}
