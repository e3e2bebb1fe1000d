/**
 * One app of a pod made ready to start: its overlay root filesystem over the image's shared layer
 * trees, its volumes (Docker volumes seeded from the image), its OCI runtime config, and the
 * argv files the supervisor runs to start and signal it (src/stage1/supervisor/README.md). Used
 * for every app when a pod starts, and for each app added to a running mutable pod.
 */
import { execFile } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readFileSync, rmdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { RktError } from "../../lib/errors.js";
import type { InsecureOptions } from "../../config/insecure-options.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { secureJoin } from "../../image/layer/secure-join.js";
import { nameValueGet, type PodApp, type PodManifest } from "../../pod/pod-manifest.js";
import { containerId, type PodFiles } from "../../pod/pod-files.js";
import type { PodRef } from "../../pod/pod-store.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { idmappedMount } from "../../sys/idmapped-mount.js";
import { MNT_DETACH, MS_BIND, mount, umount2 } from "../../sys/libc.js";
import { mountOverlay } from "../../sys/mounts.js";
import { checkJson, decodeJsonText } from "../../lib/json-document.js";
import * as z from "../../lib/schema.js";
import { idMappings, podUserNamespacePin, releaseUserNamespaceApp, userNamespaceRootfs, userNamespaceVolume } from "../../stage1/userns/pod-user-namespace.js";
import type { IdRange } from "../../stage1/userns/id-range.js";
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
  /** Where to say what could not be done as asked (a host volume that cannot be idmapped). */
  readonly warn?: ((message: string) => void) | undefined;
}

/** The file in a pod directory recording its `--private-users` range (run-pod.ts writes it). */
export const USERNS_FILE = "userns.json";

const usernsRecordSchema = z.object({ base: z.number().check(z.int(), z.gte(1)), size: z.number().check(z.int(), z.gte(1)), hostNetwork: z.boolean() });

/** A pod's user namespace record, or undefined for a pod without one. */
export function readPodUserns(podDir: string): (IdRange & { readonly hostNetwork: boolean }) | undefined {
  const path = join(podDir, USERNS_FILE);
  if (!existsSync(path)) return undefined;
  return checkJson(decodeJsonText(readFileSync(path, "utf8"), path, "internal"), usernsRecordSchema, path, "internal");
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
  const userns = readPodUserns(files.dir);
  if (userns === undefined) mountOverlay(rootfs, layersBase, lowers, upper, work);
  else {
    // An app prepared again (a mutable pod's app re-added) starts from nothing left of before.
    releaseUserNamespaceApp(ref.uuid, app.name);
    mountShiftedOverlay(ref.uuid, files.dir, app.name, rootfs, layersBase, lowers, upper, work, userns);
  }
  images.touch(record.id);
  writeFileSync(files.appFile(app.name, "image-id"), record.id);

  // Implicit volumes start with the image's content at their mount point (Docker semantics).
  const implicit = new Set((nameValueGet(manifest.annotations, DOCKER_VOLUME_ANNOTATION) ?? "").split(",").filter((s) => s !== ""));
  const mounts: { destination: string; source: string; readOnly: boolean; recursive: boolean }[] = [];
  const hostSources: { source: string; readOnly: boolean }[] = [];
  for (const m of app.mounts ?? []) {
    const vol = (manifest.volumes ?? []).find((v) => v.name === m.volume);
    if (vol === undefined) throw new RktError("invalid-argument", `app "${app.name}" mounts unknown volume "${m.volume}"`);
    const source = vol.kind === "host" ? (vol.source ?? "") : files.volume(vol.name);
    if (implicit.has(vol.name)) await seedVolume(rootfs, m.path, source);
    const recursive = vol.recursive ?? true;
    const shifted = userns !== undefined && vol.kind === "host" && vol.readOnly === true ? shiftedVolume(ref.uuid, app.name, hostSources.length, source, recursive, input.warn) : source;
    if (vol.kind === "host") hostSources.push({ source, readOnly: vol.readOnly === true });
    mounts.push({ destination: m.path, source: shifted, readOnly: vol.readOnly === true, recursive });
  }
  const spec = await buildAppProcess({
    uuid: ref.uuid,
    app,
    rootfs: userns === undefined ? rootfs : userNamespaceRootfs(ref.uuid, app.name),
    imageLabel: app.image.name ?? app.image.id,
    mounts,
    etc: { hosts: files.etc("hosts"), resolv: files.etc("resolv.conf"), hostname: files.etc("hostname") },
    ns,
    hostname,
    terminal: input.terminal,
    flavor,
    insecure: input.insecure,
    cgroupsPath: `${podCgroupParent(ref.uuid)}/${app.name}`,
    hostVolumeSources: hostSources,
    ...(userns === undefined
      ? {}
      : { userNamespace: { path: podUserNamespacePin(ref.uuid), uidMappings: idMappings(userns), gidMappings: idMappings(userns) } }),
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
 * The app's root for a pod with a user namespace: the image's layer trees, shared by every pod and
 * owned by the host's ids, each idmapped through the pod's user namespace (so the pod's root owns
 * what the host's root owns), stacked under an upper layer owned by the pod's root. overlayfs
 * keeps private clones of its layer mounts, so the idmapped mounts are detached again right after;
 * nothing of them stays on the host. The root is then bind-mounted where the runtime, inside the
 * user namespace, can reach it (pod-user-namespace.ts).
 *
 * Files the app creates are stored with their host ids (base + id), never as the host's root.
 */
function mountShiftedOverlay(uuid: string, podDir: string, app: string, rootfs: string, layersBase: string, lowers: readonly string[], upper: string, work: string, range: IdRange): void {
  const userns = podUserNamespacePin(uuid);
  const staging = join(podDir, "userns", app);
  mkdirSync(staging, { recursive: true, mode: 0o700 });
  const points: string[] = [];
  try {
    for (const [i, lower] of lowers.entries()) {
      const point = join(staging, String(i));
      mkdirSync(point, { recursive: true });
      // Layer paths are relative to the layer store; the empty layer of a layerless image is absolute.
      idmappedMount(resolve(layersBase, lower), point, userns);
      points.push(point);
    }
    chownSync(upper, range.base, range.base);
    mountOverlay(rootfs, staging, points.map((_, i) => String(i)), upper, work);
  } finally {
    for (const point of points) {
      umount2(point, MNT_DETACH);
      rmdirSync(point);
    }
  }
  const reachable = userNamespaceRootfs(uuid, app);
  mkdirSync(dirname(reachable), { recursive: true, mode: 0o711 });
  mkdirSync(reachable, { recursive: true });
  mount(rootfs, reachable, null, MS_BIND, null);
}

/**
 * A read-only host volume of a pod with a user namespace, idmapped like the image (the pod reads
 * it as the host's root would) when the file system allows it; else the volume as it is. Writable
 * host volumes are never shifted: through an idmapped mount the pod's root would create files
 * owned by the host's root on the host, setuid binaries and file capabilities included, which is
 * what the user namespace is there to prevent. In them the pod sees files outside its range as
 * nobody's and may write what its range owns or what is writable by all.
 */
function shiftedVolume(uuid: string, app: string, index: number, source: string, recursive: boolean, warn: ((m: string) => void) | undefined): string {
  const target = userNamespaceVolume(uuid, app, index);
  try {
    mkdirSync(dirname(target), { recursive: true, mode: 0o711 });
    if (statSync(source).isDirectory()) mkdirSync(target, { recursive: true });
    else writeFileSync(target, "");
    idmappedMount(source, target, podUserNamespacePin(uuid), recursive);
    return target;
  } catch (err) {
    const st = statSync(source, { throwIfNoEntry: false });
    // Device nodes (devtmpfs cannot be idmapped) are opened by mode and cgroup, not by owner.
    if (st?.isCharacterDevice() !== true && st?.isBlockDevice() !== true) {
      warn?.(`volume ${source} is not shifted into the pod's user namespace (${err instanceof Error ? err.message : String(err)}): the pod sees files it does not own as nobody`);
    }
    return source;
  }
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
