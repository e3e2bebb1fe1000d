/** `rkt attach [--app=NAME] UUID`: attach to a running app's streams; Ctrl-P Ctrl-Q (or Ctrl-C) detaches. */
import { appStdinMode, attachApp } from "../../engine/app/attach-app.js";
import { openMutablePod } from "../../engine/app/mutable-pod.js";
import { RktError } from "../../lib/errors.js";
import { PodStore } from "../../pod/pod-store.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { requireRoot } from "./run.js";

export const attachCommand = defineCommand({
  path: ["attach"],
  summary: "Attach to an app of a running mutable pod",
  usage: "attach [--app=NAME] [--mode=auto|list|stdout,stderr] [--close-stdin] UUID",
  flags: {
    app: stringFlag("name of the app (required if the pod has several)"),
    mode: stringFlag("auto (all the app has), list (print what the app offers), or stdout,stderr (output only)", "auto"),
    closeStdin: boolFlag("close the app's stdin when this input ends"),
  },
  async run(ctx, { values, positionals }) {
    requireRoot("attach");
    const [uuid] = positionals;
    if (uuid === undefined || positionals.length !== 1) throw new RktError("invalid-argument", "expected exactly one pod UUID", { hint: "usage: rkt attach [--app=NAME] UUID" });
    const pods = new PodStore(ctx.globals.dataDir);
    const pod = openMutablePod(pods, uuid);
    const apps = pods.readManifest(pod.ref).apps.map((a) => a.name);
    const app = values.app !== "" ? values.app : apps.length === 1 ? (apps[0] ?? "") : "";
    if (app === "") throw new RktError("invalid-argument", `pod "${pod.ref.uuid}" has ${apps.length} apps; say which with --app`, { hint: `apps: ${apps.join(", ") || "(none)"}` });
    const stdin = appStdinMode(pod.files.dir, app);
    if (values.mode === "list") {
      ctx.out.stdout(stdin === "tty" ? "tty\n" : stdin === "null" ? "stdout\nstderr\n" : "stdin\nstdout\nstderr\n");
      return 0;
    }
    if (values.mode !== "auto" && !/^(stdout|stderr)(,(stdout|stderr))*$/.test(values.mode)) {
      throw new RktError("invalid-argument", `invalid value "${values.mode}" for --mode`, { hint: "use auto, list, or stdout,stderr" });
    }
    const result = await attachApp(pods, pod.ref.uuid, app, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }, { input: values.mode === "auto", closeStdin: values.closeStdin, signal: ctx.signal });
    if (result.kind === "detached") {
      ctx.out.stderr(`detached from app "${app}" (it keeps running)\n`);
      return 0;
    }
    return result.exitCode;
  },
});
