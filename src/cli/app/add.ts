/** `rkt app add UUID IMAGE [app flags] [-- ARGS]`: add an app (image in the store) to a mutable pod. */
import { addApp, type RestartPolicy, type StdinMode } from "../../engine/app/add-app.js";
import { ImageStore } from "../../image/store/image-store.js";
import { RktError } from "../../lib/errors.js";
import { PodStore } from "../../pod/pod-store.js";
import { listFlag, stringFlag } from "../args/flags.js";
import { parseAppSections } from "../args/app-sections.js";
import { defineCommand } from "../command.js";
import { appFlags, appRequestFrom, intFlag, parseVolume } from "../pod/pod-flags.js";
import { requireRoot } from "../pod/run.js";

/** The flags `rkt app add` takes besides rkt's per-app flags. */
const addFlags = {
  ...appFlags,
  restart: stringFlag("restart policy: never, on-failure or always[:INITIAL_MS[:MAX_MS]] backoff", "never"),
  stdin: stringFlag("keep the app's stdin for `rkt attach`: null, stream, stream-once or tty", "null", ["null", "stream", "stream-once", "tty"]),
  mntVolume: listFlag("a volume for this app, mounted: NAME,kind=host,source=PATH,target=PATH (or kind=empty)"),
} as const;

export const appAddCommand = defineCommand({
  path: ["app", "add"],
  summary: "Add an app to a running mutable pod (the image must be in the store)",
  usage: "app add UUID IMAGE [--name=NAME] [--exec=PATH] [--restart=POLICY] [--stdin=MODE] [app flags] [-- ARGS]",
  flags: {},
  stopAtPositional: true,
  async run(ctx, { positionals }) {
    requireRoot("app add");
    const [uuid, ...rest] = positionals;
    if (uuid === undefined || rest.length === 0) throw new RktError("invalid-argument", "expected a pod UUID and an image", { hint: "usage: rkt app add UUID IMAGE [app flags] [-- ARGS]" });
    const sections = parseAppSections(rest, addFlags, "app add");
    const section = sections[0];
    if (section === undefined || sections.length !== 1) throw new RktError("invalid-argument", "rkt app add takes one image", { hint: "add several apps with several `rkt app add`" });
    const v = section.values;
    const volumes = v.mntVolume.map(parseMntVolume);
    const request = appRequestFrom(section.image, v, section.given, section.args);
    const name = await addApp(
      new PodStore(ctx.globals.dataDir),
      ImageStore.open(ctx.globals.dataDir),
      uuid,
      { ...request, mounts: [...(request.mounts ?? []), ...volumes.map((m) => ({ volume: m.volume.name, target: m.target }))] },
      { insecure: ctx.globals.insecure, restart: parseRestart(v.restart), stdin: v.stdin as StdinMode, volumes: volumes.map((m) => m.volume) },
    );
    ctx.out.stderr(`added app "${name}"\n`);
    return 0;
  },
});

/** `never`, `on-failure`, `always`, optionally `:INITIAL_MS[:MAX_MS]`. */
export function parseRestart(text: string): RestartPolicy {
  const [policy = "", initial, max] = text.split(":");
  if (policy !== "never" && policy !== "on-failure" && policy !== "always") {
    throw new RktError("invalid-argument", `invalid value "${text}" for --restart`, { hint: "use never, on-failure or always, optionally with :INITIAL_MS[:MAX_MS] backoff, e.g. on-failure:200:5000" });
  }
  return {
    policy,
    ...(initial === undefined ? {} : { initialBackoffMs: intFlag(initial, "restart (initial backoff ms)", 1, 86_400_000) }),
    ...(max === undefined ? {} : { maxBackoffMs: intFlag(max, "restart (maximum backoff ms)", 1, 86_400_000) }),
  };
}

/** rkt's `--mnt-volume=NAME,kind=...,source=...,target=PATH`: a volume and its mount in one. */
function parseMntVolume(text: string): { volume: ReturnType<typeof parseVolume>; target: string } {
  const parts = text.split(",");
  const target = parts.find((p) => p.startsWith("target="))?.slice(7);
  if (target === undefined || !target.startsWith("/")) {
    throw new RktError("invalid-argument", `--mnt-volume "${text}" needs target=/ABSOLUTE/PATH`, { hint: "e.g. --mnt-volume=data,kind=host,source=/srv/data,target=/data" });
  }
  return { volume: parseVolume(parts.filter((p) => !p.startsWith("target=")).join(",")), target };
}
