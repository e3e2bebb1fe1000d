/** `rkt rm UUID...`: remove exited or prepared pods at once. */
import { removePod } from "../../engine/pod/collect-pods.js";
import { stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { forEachPod, podArguments } from "./pod-arguments.js";
import { requireRoot } from "./run.js";

export const rmCommand = defineCommand({
  path: ["rm"],
  summary: "Remove all files and resources associated with exited or prepared pods",
  usage: "rm UUID...",
  flags: { uuidFile: stringFlag("read the pod UUID from this file") },
  run(ctx, { values, positionals }) {
    requireRoot("rm");
    return forEachPod(ctx, podArguments(positionals, values.uuidFile, "rm"), "rm", async (pods, ref) => {
      await removePod(pods, ref);
      ctx.out.stdout(`"${ref.uuid}"\n`);
    });
  },
});
