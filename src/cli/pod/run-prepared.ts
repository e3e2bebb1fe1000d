/** `rkt run-prepared UUID`: run a pod made by `rkt prepare`. */
import { runPreparedPod } from "../../engine/pod/run-pod.js";
import { ImageStore } from "../../image/store/image-store.js";
import { PodStore } from "../../pod/pod-store.js";
import { RktError } from "../../lib/errors.js";
import { defineCommand } from "../command.js";
import { podRunFlags } from "./pod-flags.js";
import { requireRoot } from "./run.js";
import { runOptionsFrom } from "./run-support.js";

export const runPreparedCommand = defineCommand({
  path: ["run-prepared"],
  summary: "Run a prepared application pod in rkt",
  usage: "run-prepared [--net=none|host] [--interactive] UUID",
  flags: podRunFlags,
  async run(ctx, { values, positionals }) {
    requireRoot("run-prepared");
    if (positionals.length !== 1) throw new RktError("invalid-argument", "expected exactly one pod UUID", { hint: "usage: rkt run-prepared UUID" });
    const pods = new PodStore(ctx.globals.dataDir);
    const ref = pods.find(positionals[0] ?? "");
    const started = await runPreparedPod(pods, ImageStore.open(ctx.globals.dataDir), ref, runOptionsFrom(ctx, values, false));
    return started.exited === undefined ? 0 : await started.exited;
  },
});
