/** `rkt rm UUID...`: remove exited or prepared pods at once. */
import { readFileSync } from "node:fs";
import { removePod } from "../../engine/pod/collect-pods.js";
import { PodStore } from "../../pod/pod-store.js";
import { describe, RktError } from "../../lib/errors.js";
import { stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { requireRoot } from "./run.js";

export const rmCommand = defineCommand({
  path: ["rm"],
  summary: "Remove all files and resources associated with exited or prepared pods",
  usage: "rm UUID...",
  flags: { uuidFile: stringFlag("read the pod UUID from this file") },
  async run(ctx, { values, positionals }) {
    requireRoot("rm");
    const uuids = values.uuidFile === "" ? positionals : [readFileSync(values.uuidFile, "utf8").trim()];
    if (uuids.length === 0) throw new RktError("invalid-argument", "no pod given", { hint: "usage: rkt rm UUID..." });
    const pods = new PodStore(ctx.globals.dataDir);
    let failed = 0;
    for (const u of uuids) {
      try {
        const ref = pods.find(u);
        await removePod(pods, ref);
        ctx.out.stdout(`"${ref.uuid}"\n`);
      } catch (err) {
        failed++;
        ctx.out.stderr(`rm: ${describe(err)}\n`);
      }
    }
    return failed > 0 ? 254 : 0;
  },
});
