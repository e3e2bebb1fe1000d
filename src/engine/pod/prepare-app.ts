/**
 * One app of a pod made ready to start: its overlay root filesystem over the image's shared layer
 * trees, its volumes (Docker volumes seeded from the image), its OCI runtime config, and the
 * argv files the supervisor runs to start and signal it (src/stage1/supervisor/README.md). Used
 * for every app when a pod starts, and for each app added to a running mutable pod.
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, lstatSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { RktError } from "../../lib/errors.js";
import type { InsecureOptions } from "../../config/insecure-options.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { secureJoin } from "../../image/layer/secure-join.js";
import { nameValueGet, type PodApp, type PodManifest } from "../../pod/pod-manifest.js";
import { containerId, type PodFiles } from "../../pod/pod-files.js";
import type { PodRef } from "../../pod/pod-store.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { mountOverlay } from "../../sys/mounts.js";
import type { PodNamespaces } from "../../stage1/pod-namespaces.js";
import type { OciRuntime, Stage1Flavor } from "../../stage1/stage1-flavor.js";
import { buildAppProcess } from "./app-process.js";
import { DOCKER_VOLUME_ANNOTATION } from "./build-pod-manifest.js";
import { podCgroupParent } from "./teardown-pod.js";

const run = promisify(execFile);

/** What {@link prepareApp} needs about the pod and the app. */
export interface PrepareAppInput {
  readonly images: ImageStore;
  readonly ref: PodRef;
  readonly files: PodFiles;
  readonly manifest: PodManifest;
  readonly app: PodApp;
  readonly runtime: OciRuntime;
  readonly flavor: Stage1Flavor;
  readonly ns: PodNamespaces | undefined;
  readonly hostname: string;
  readonly insecure: InsecureOptions;
  /** The app gets a terminal (its pty master goes to `consoleSocket`). */
  readonly terminal: boolean;
  /** Where the runtime sends the pty master, with `terminal`. */
  readonly consoleSocket: string | undefined;
  /** The caller's terminal size, so a terminal app starts with it (not 0x0). */
  readonly consoleSize?: { readonly rows: number; readonly columns: number } | undefined;
  /**
   * The app may be started again (mutable pods: `rkt app start` after an exit, restart policies):
   * its start command first removes the runtime's container of the last run, whose ID it reuses.
   */
  readonly restartable?: boolean | undefined;
}

/**
 * Prepares `input.app` (see the module comment). Throws RktError "not-found" when its image left
 * the store, "invalid-argument" for a mount of an unknown volume.
 *
 * @example
 * await prepareApp({ images, ref, files, manifest, app, runtime, flavor, ns, hostname, insecure, terminal: false, consoleSocket: undefined });
 */
export async function prepareApp(input: PrepareAppInput): Promise<void> {
  const { images, ref, files, manifest, app, runtime, flavor, ns, hostname } = input;
  const record = images.getImage(app.image.id);
  if (record === undefined) throw new RktError("not-found", `image ${app.image.id} of app "${app.name}" is no longer in the store`, { hint: "fetch it again" });
  const bundle = files.app(app.name);
  const rootfs = files.appFile(app.name, "rootfs");
  const { upper, work } = files.overlay(app.name);
  mkdirSync(rootfs, { recursive: true });
  mkdirSync(upper, { recursive: true });
  mkdirSync(work, { recursive: true });
  const layersBase = join(images.paths.layersRoot());
  const lowers = [...record.layers].reverse().map((l) => {
    const [algorithm = "", hex = ""] = l.diffId.split(":");
    return `${algorithm}/${hex}/rootfs`;
  });
  if (lowers.length === 0) {
    mkdirSync(join(files.dir, "overlay", "empty"), { recursive: true });
    lowers.push(join(files.dir, "overlay", "empty"));
  }
  mountOverlay(rootfs, layersBase, lowers, upper, work);
  images.touch(record.id);
  writeFileSync(files.appFile(app.name, "image-id"), record.id);

  // Implicit volumes start with the image's content at their mount point (Docker semantics).
  const implicit = new Set((nameValueGet(manifest.annotations, DOCKER_VOLUME_ANNOTATION) ?? "").split(",").filter((s) => s !== ""));
  const mounts: { destination: string; source: string; readOnly: boolean; recursive: boolean }[] = [];
  for (const m of app.mounts ?? []) {
    const vol = (manifest.volumes ?? []).find((v) => v.name === m.volume);
    if (vol === undefined) throw new RktError("invalid-argument", `app "${app.name}" mounts unknown volume "${m.volume}"`);
    const source = vol.kind === "host" ? (vol.source ?? "") : files.volume(vol.name);
    if (implicit.has(vol.name)) await seedVolume(rootfs, m.path, source);
    mounts.push({ destination: m.path, source, readOnly: vol.readOnly === true, recursive: vol.recursive ?? true });
  }
  const spec = await buildAppProcess({
    uuid: ref.uuid,
    app,
    rootfs,
    imageLabel: app.image.name ?? app.image.id,
    mounts,
    etc: { hosts: files.etc("hosts"), resolv: files.etc("resolv.conf"), hostname: files.etc("hostname") },
    ns,
    hostname,
    terminal: input.terminal,
    flavor,
    insecure: input.insecure,
    cgroupsPath: `${podCgroupParent(ref.uuid)}/${app.name}`,
  });
  if (input.terminal && input.consoleSize !== undefined) {
    spec.process.consoleSize = { height: input.consoleSize.rows, width: input.consoleSize.columns };
  }
  atomicWriteFileSync(files.appFile(app.name, "config.json"), JSON.stringify(spec, null, 2));
  const netns = ns === undefined || ns.net === "host" ? undefined : ns.net;
  const start = runtime.startArgv(bundle, containerId(ref.uuid, app.name), files.appFile(app.name, "pid"), input.consoleSocket, netns);
  writeArgv(files.appFile(app.name, "start"), input.restartable === true ? deleteFirst(runtime.deleteArgv(containerId(ref.uuid, app.name)), start) : start);
  const signal = runtime.signalArgv(containerId(ref.uuid, app.name));
  if (signal !== undefined) writeArgv(files.appFile(app.name, "signal"), signal);
}

/**
 * Docker volume semantics: an implicit volume starts as a copy of what the image has at its mount
 * point, owners and modes included (cp -a: links stay links, nothing outside the root is read).
 */
async function seedVolume(rootfs: string, path: string, volume: string): Promise<void> {
  const inImage = await secureJoin(rootfs, path);
  const st = lstatSync(inImage, { throwIfNoEntry: false });
  if (st === undefined || !st.isDirectory()) return;
  await run("cp", ["-a", "--", `${inImage}/.`, volume]);
  chownSync(volume, st.uid, st.gid);
  chmodSync(volume, st.mode & 0o7777);
}


/** `sh -c 'DELETE >/dev/null 2>&1; exec "$@"' sh START...`: the start argv, after removing a stale container. */
function deleteFirst(deleteArgv: readonly string[], start: readonly string[]): string[] {
  const q = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;
  return ["/bin/sh", "-c", `${deleteArgv.map(q).join(" ")} >/dev/null 2>&1; exec "$@"`, "sh", ...start];
}

/** Writes an argv file as the supervisor reads it: every argument followed by a NUL. */
export function writeArgv(path: string, argv: readonly string[]): void {
  atomicWriteFileSync(path, argv.map((a) => `${a}\0`).join(""));
}
