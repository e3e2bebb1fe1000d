/** `rkt run`: prepare a pod and run it in the foreground; this command's exit code is the pod's. */
import { readFileSync } from "node:fs";
import { insecureWarnings } from "../../config/insecure-options.js";
import { preparePod } from "../../engine/pod/prepare-pod.js";
import { runPreparedPod } from "../../engine/pod/run-pod.js";
import { ImageStore } from "../../image/store/image-store.js";
import { podManifestSchema, type PodManifest } from "../../pod/pod-manifest.js";
import { PodStore } from "../../pod/pod-store.js";
import { RktError } from "../../lib/errors.js";
import { defineCommand } from "../command.js";
import { podPrepareFlags, podRunFlags } from "./pod-flags.js";
import { fetchOptionsFrom, flavorFrom, podRequestFrom, runOptionsFrom, saveUuid } from "./run-support.js";

export const runCommand = defineCommand({
  path: ["run"],
  summary: "Run image(s) in a pod in rkt",
  usage: "run [--net=none|host] [--interactive] [flags] IMAGE [app flags] [-- ARGS] [--- IMAGE ...]",
  flags: { ...podPrepareFlags, ...podRunFlags },
  stopAtPositional: true,
  async run(ctx, { values, positionals }) {
    requireRoot("run");
    for (const w of insecureWarnings(ctx.globals.insecure)) ctx.out.stderr(`warning: ${w}\n`);
    const runOptions = runOptionsFrom(ctx, values, false);
    const flavor = flavorFrom(ctx, values);
    const manifest = values.podManifest === "" ? undefined : readPodManifest(values.podManifest);
    if (manifest === undefined && positionals.length === 0) {
      throw new RktError("invalid-argument", "no image given", { hint: "usage: rkt run [flags] IMAGE [app flags] [--- IMAGE ...]" });
    }
    const images = ImageStore.open(ctx.globals.dataDir);
    const pods = new PodStore(ctx.globals.dataDir);
    const request = await podRequestFrom(ctx, values, positionals, "run");
    const prepared = await preparePod(pods, images, request, {
      fetch: fetchOptionsFrom(ctx, values.pullPolicy, values.storeOnly, values.noStore),
      flavor,
      manifest,
    });
    saveUuid(values.uuidFileSave, prepared.uuid);
    const started = await runPreparedPod(pods, images, prepared, runOptions);
    return started.exited === undefined ? 0 : await started.exited;
  },
});

export function readPodManifest(path: string): PodManifest {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new RktError("invalid-argument", `cannot read pod manifest ${path}: ${(err as Error).message}`);
  }
  const parsed = podManifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new RktError("invalid-argument", `invalid pod manifest ${path}: ${issue === undefined ? "" : `${issue.path.join(".")}: ${issue.message}`}`);
  }
  return parsed.data;
}

/** rkt's rule for commands that create mounts and namespaces. */
export function requireRoot(command: string): void {
  if (process.getuid?.() !== 0) {
    throw new RktError("permission-denied", `cannot run as unprivileged user: "rkt ${command}" needs root`, { hint: `run it with sudo` });
  }
}
