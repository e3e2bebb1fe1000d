/** `rkt gc`: collect exited pods after a grace period, and abandoned or expired prepared pods. */
import { gcPods } from "../../engine/pod/collect-pods.js";
import { PodStore } from "../../pod/pod-store.js";
import { boolFlag, parseDuration, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { requireRoot } from "./run.js";

export const gcCommand = defineCommand({
  path: ["gc"],
  summary: "Garbage collect rkt pods no longer in use",
  usage: "gc [--grace-period=30m0s] [--expire-prepared=24h0m0s] [--mark-only]",
  flags: {
    gracePeriod: stringFlag("duration to wait before discarding inactive pods from garbage", "30m0s"),
    expirePrepared: stringFlag("duration to wait before expiring prepared pods", "24h0m0s"),
    markOnly: boolFlag("move to the garbage directories without actually deleting"),
  },
  async run(ctx, { values }) {
    requireRoot("gc");
    await gcPods(new PodStore(ctx.globals.dataDir), {
      gracePeriodMs: parseDuration(values.gracePeriod, "grace-period"),
      expirePreparedMs: parseDuration(values.expirePrepared, "expire-prepared"),
      markOnly: values.markOnly,
      log: (l) => ctx.out.stderr(`${l}\n`),
    });
    return 0;
  },
});
