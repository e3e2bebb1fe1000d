/** `rkt app exec [--app=NAME] [--tty] UUID CMD [ARGS...]`: run a command in a running app; its exit code is ours. */
import { enterApp, enterTarget } from "../../engine/pod/enter-pod.js";
import { PodStore } from "../../pod/pod-store.js";
import { RktError } from "../../lib/errors.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { requireRoot } from "../pod/run.js";

export const appExecCommand = defineCommand({
  path: ["app", "exec"],
  summary: "Execute a command in an app of a running pod",
  usage: "app exec [--app=NAME] [--tty] UUID CMD [ARGS...]",
  flags: { app: stringFlag("name of the app (required if the pod has several)"), tty: boolFlag("allocate a terminal for the command") },
  stopAtPositional: true,
  async run(ctx, { values, positionals }) {
    requireRoot("app exec");
    const [uuid, ...command] = positionals;
    if (uuid === undefined || command.length === 0) throw new RktError("invalid-argument", "expected a pod UUID and a command", { hint: "usage: rkt app exec [--app=NAME] UUID CMD [ARGS...]" });
    const pods = new PodStore(ctx.globals.dataDir);
    const ref = pods.find(uuid);
    const app = enterTarget(pods, ref, values.app === "" ? undefined : values.app);
    return enterApp(ref, app, { command, tty: values.tty });
  },
});
