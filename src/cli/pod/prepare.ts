/** `rkt prepare`: fetch images and create a prepared pod; print its UUID. */
import { insecureWarnings } from "../../config/insecure-options.js";
import { preparePod } from "../../engine/pod/prepare-pod.js";
import { ImageStore } from "../../image/store/image-store.js";
import { PodStore } from "../../pod/pod-store.js";
import { RktError } from "../../lib/errors.js";
import { stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { podPrepareFlags } from "./pod-flags.js";
import { readPodManifest, requireRoot } from "./run.js";
import { fetchOptionsFrom, flavorFrom, podRequestFrom, saveUuid } from "./run-support.js";

export const prepareCommand = defineCommand({
  path: ["prepare"],
  summary: "Prepare to run image(s) in a pod in rkt",
  usage: "prepare [flags] IMAGE [app flags] [-- ARGS] [--- IMAGE ...]",
  flags: { ...podPrepareFlags, uuidFileSave: stringFlag("write the pod's UUID to this file") },
  stopAtPositional: true,
  async run(ctx, { values, positionals }) {
    requireRoot("prepare");
    if (!values.quiet) for (const w of insecureWarnings(ctx.globals.insecure)) ctx.out.stderr(`warning: ${w}\n`);
    const manifest = values.podManifest === "" ? undefined : readPodManifest(values.podManifest);
    if (manifest === undefined && positionals.length === 0) throw new RktError("invalid-argument", "no image given", { hint: "usage: rkt prepare IMAGE..." });
    const pods = new PodStore(ctx.globals.dataDir);
    const prepared = await preparePod(pods, ImageStore.open(ctx.globals.dataDir), await podRequestFrom(ctx, values, positionals, "prepare"), {
      fetch: fetchOptionsFrom(ctx, values.pullPolicy, values.storeOnly, values.noStore),
      flavor: flavorFrom(ctx, values),
      manifest,
    });
    saveUuid(values.uuidFileSave, prepared.uuid);
    ctx.out.stdout(`${prepared.uuid}\n`);
    return 0;
  },
});
