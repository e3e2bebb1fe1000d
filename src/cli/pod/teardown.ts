/**
 * `rkt stage1-teardown UUID` (internal, not listed): what the supervisor execs when a pod's apps
 * have all exited. It still holds the pod lock (inherited as fd RKT_LOCK_FD), releases the host
 * resources, and exits with the pod's exit code (RKT_EXIT_CODE), which becomes `rkt run`'s.
 */
import { readFileSync } from "node:fs";
import { teardownPod } from "../../engine/pod/teardown-pod.js";
import { PodFiles } from "../../pod/pod-files.js";
import { PodStore } from "../../pod/pod-store.js";
import { parseFlavor, runtimeFor } from "../../stage1/stage1-flavor.js";
import { defineCommand } from "../command.js";

export const teardownCommand = defineCommand({
  path: ["stage1-teardown"],
  summary: "(internal) release a finished pod's host resources",
  usage: "stage1-teardown UUID",
  hidden: true,
  flags: {},
  async run(ctx, { positionals }) {
    const pods = new PodStore(ctx.globals.dataDir);
    const ref = pods.find(positionals[0] ?? "");
    const flavor = parseFlavor(readFileSync(new PodFiles(ref.path).stage1, "utf8").trim());
    const problems = await teardownPod(ref.uuid, ref.path, runtimeFor(flavor, () => undefined));
    for (const p of problems) ctx.out.stderr(`rkt: teardown of pod ${ref.uuid}: ${p}\n`);
    const code = Number(ctx.env.RKT_EXIT_CODE ?? "0");
    return Number.isInteger(code) ? code : 254;
  },
});
