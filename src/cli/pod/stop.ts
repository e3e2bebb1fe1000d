/** `rkt stop UUID...`: stop running pods. */
import { stopPod } from "../../engine/pod/stop-pod.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { forEachPod, podArguments } from "./pod-arguments.js";

export const stopCommand = defineCommand({
  path: ["stop"],
  summary: "Stop one or more running pods",
  usage: "stop [--force] UUID...",
  flags: { force: boolFlag("forced stopping: kill the apps at once"), uuidFile: stringFlag("read the pod UUID from this file") },
  run(ctx, { values, positionals }) {
    return forEachPod(ctx, podArguments(positionals, values.uuidFile, "stop"), "stop", async (pods, ref) => {
      const r = await stopPod(pods, ref, values.force);
      if (r === "already-stopped") ctx.out.stderr(`pod "${ref.uuid}" is already stopped\n`);
      else ctx.out.stdout(`"${ref.uuid}"\n`);
    });
  },
});
