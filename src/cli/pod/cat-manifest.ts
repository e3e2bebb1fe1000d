/** `rkt cat-manifest UUID`: print a pod's manifest. */
import { PodStore } from "../../pod/pod-store.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { podArgument } from "./pod-arguments.js";

export const catManifestCommand = defineCommand({
  path: ["cat-manifest"],
  summary: "Inspect and print the pod manifest",
  usage: "cat-manifest [--pretty-print] UUID",
  flags: { prettyPrint: boolFlag("apply indent to format the output", true), uuidFile: stringFlag("read the pod UUID from this file") },
  run(ctx, { values, positionals }) {
    const pods = new PodStore(ctx.globals.dataDir);
    const manifest = pods.readManifest(pods.find(podArgument(positionals, values.uuidFile, "cat-manifest")));
    ctx.out.stdout(`${values.prettyPrint ? JSON.stringify(manifest, null, "\t") : JSON.stringify(manifest)}\n`);
    return Promise.resolve(0);
  },
});
