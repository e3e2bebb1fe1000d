/** `rkt stop UUID...`: stop running pods. */
import { readFileSync } from "node:fs";
import { stopPod } from "../../engine/pod/stop-pod.js";
import { PodStore } from "../../pod/pod-store.js";
import { describe, RktError } from "../../lib/errors.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";

export const stopCommand = defineCommand({
  path: ["stop"],
  summary: "Stop one or more running pods",
  usage: "stop [--force] UUID...",
  flags: { force: boolFlag("forced stopping: kill the apps at once"), uuidFile: stringFlag("read the pod UUID from this file") },
  async run(ctx, { values, positionals }) {
    const uuids = values.uuidFile === "" ? positionals : [readFileSync(values.uuidFile, "utf8").trim()];
    if (uuids.length === 0) throw new RktError("invalid-argument", "no pod given", { hint: "usage: rkt stop UUID..." });
    const pods = new PodStore(ctx.globals.dataDir);
    let failed = 0;
    for (const u of uuids) {
      try {
        const ref = pods.find(u);
        const r = await stopPod(pods, ref, values.force);
        if (r === "already-stopped") ctx.out.stderr(`pod "${ref.uuid}" is already stopped\n`);
        else ctx.out.stdout(`"${ref.uuid}"\n`);
      } catch (err) {
        failed++;
        ctx.out.stderr(`stop: ${describe(err)}\n`);
      }
    }
    return failed > 0 ? 254 : 0;
  },
});
