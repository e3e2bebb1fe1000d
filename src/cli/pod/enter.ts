/** `rkt enter [--app=NAME] UUID [CMD [ARGS...]]`: run a command in a running app. */
import { enterApp, enterTarget } from "../../engine/pod/enter-pod.js";
import { PodStore } from "../../pod/pod-store.js";
import { RktError } from "../../lib/errors.js";
import { stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { requireRoot } from "./run.js";

export const enterCommand = defineCommand({
  path: ["enter"],
  summary: "Enter the namespaces of an app within a rkt pod",
  usage: "enter [--app=NAME] UUID [CMD [ARGS...]]",
  flags: { app: stringFlag("name of the app to enter within the specified pod") },
  stopAtPositional: true,
  async run(ctx, { values, positionals }) {
    requireRoot("enter");
    // stopAtPositional leaves flags after the UUID unparsed: only the command follows it.
    const [uuid, ...cmd] = positionals;
    if (uuid === undefined) throw new RktError("invalid-argument", "no pod given", { hint: "usage: rkt enter [--app=NAME] UUID [CMD [ARGS...]]" });
    const pods = new PodStore(ctx.globals.dataDir);
    const ref = pods.find(uuid);
    const app = enterTarget(pods, ref, values.app === "" ? undefined : values.app);
    let command = cmd;
    if (command.length === 0) {
      command = ["/bin/bash"];
      ctx.out.stderr('no command specified, assuming "/bin/bash"\n');
    }
    return enterApp(ref, app, { command, tty: process.stdin.isTTY && process.stdout.isTTY });
  },
});
