/**
 * Turns a PodRequest plus the images it names into an appc pod manifest. The image's OCI/Docker
 * config fills each app the way rkt's docker2aci did, natively: exec = Entrypoint + Cmd, Env,
 * WorkingDir, User, ExposedPorts named `<port>-<proto>`, and Volumes as mount points backed by
 * implicit empty volumes that start with the image's content (Docker volume semantics).
 */
import { RktError } from "../../lib/errors.js";
import type { ImageRecord } from "../../image/store/image-record.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { AC_VERSION, type AppSection, type Isolator, type PodApp, type PodManifest, type Volume } from "../../pod/pod-manifest.js";
import { composeAppExec } from "../../pod/app/exec-path.js";
import type { AppRequest, PodEnvironment, PodRequest } from "./app-request.js";
import { imageAppDefaults, type ImageAppDefaults } from "./image-app-defaults.js";
import { securityToManifest } from "./security-isolators.js";

/** Pod annotation of `--private-users`: the pod runs in a user namespace of its own. */
export const PRIVATE_USERS_ANNOTATION = "rkt.dev/private-users";

export interface ResolvedApp {
  readonly request: AppRequest;
  readonly image: ImageRecord;
  readonly imageName: string | undefined;
}

/** Annotation on implicit volumes: their content is copied from the image on first use. */
export const DOCKER_VOLUME_ANNOTATION = "rkt.dev/docker-volume-semantics";

export function buildPodManifest(store: ImageStore, request: PodRequest, apps: readonly ResolvedApp[]): PodManifest {
  if (apps.length === 0) throw new RktError("invalid-argument", "a pod needs at least one image", { hint: "usage: rkt run IMAGE [--- IMAGE...]" });
  const names = new Set<string>();
  const volumes: Volume[] = request.volumes.map((v) => ({
    name: v.name,
    kind: v.kind,
    ...(v.source === undefined ? {} : { source: v.source }),
    ...(v.readOnly === undefined ? {} : { readOnly: v.readOnly }),
    ...(v.recursive === undefined ? {} : { recursive: v.recursive }),
    ...(v.mode === undefined ? {} : { mode: v.mode }),
    ...(v.uid === undefined ? {} : { uid: v.uid }),
    ...(v.gid === undefined ? {} : { gid: v.gid }),
  }));
  const volumeNames = new Set(volumes.map((v) => v.name));
  const podApps: PodApp[] = [];
  const prefilled: string[] = [];
  for (const resolved of apps) {
    const defaults = imageAppDefaults(store, resolved.image, resolved.request.image);
    const name = resolved.request.name ?? defaultAppName(resolved.imageName ?? resolved.request.image);
    validateAppName(name, resolved.request.name !== undefined);
    if (names.has(name)) {
      throw new RktError("invalid-argument", `two apps are named "${name}"`, { hint: "give each app of the pod its own --name" });
    }
    names.add(name);
    const security = resolved.request.security === undefined ? undefined : securityToManifest(resolved.request.security, name);
    const app = appSection(resolved.request, defaults, request.environment, resolved.imageName ?? resolved.request.image, security?.isolators ?? [], security?.replaces ?? []);
    const appAnnotations = [...(resolved.request.annotations ?? []).map(([n, v]) => ({ name: n, value: v })), ...(security?.annotations ?? [])];
    const mounts: { volume: string; path: string }[] = [];
    for (const m of [...request.podMounts, ...(resolved.request.mounts ?? [])]) {
      if (!volumeNames.has(m.volume)) {
        throw new RktError("invalid-argument", `--mount refers to volume "${m.volume}", which no --volume defines`, { hint: `add --volume ${m.volume},kind=empty or kind=host,source=PATH` });
      }
      mounts.push({ volume: m.volume, path: m.target });
    }
    // An image mount point takes the pod volume of the same name (appc), else an implicit empty
    // volume: pre-filled from the image for Docker images, empty for ACIs.
    for (const mp of app.mountPoints ?? []) {
      if (mounts.some((m) => m.path === mp.path)) continue;
      if (volumeNames.has(mp.name) && request.volumes.some((v) => v.name === mp.name)) {
        mounts.push({ volume: mp.name, path: mp.path });
        continue;
      }
      const volName = `${name}-${mp.name}`;
      volumes.push({ name: volName, kind: "empty", mode: "0755", uid: 0, gid: 0 });
      volumeNames.add(volName);
      mounts.push({ volume: volName, path: mp.path });
      if (defaults.prefillVolumes) prefilled.push(volName);
    }
    podApps.push({
      name,
      image: { ...(resolved.imageName === undefined ? {} : { name: resolved.imageName }), id: resolved.image.id },
      app,
      ...(resolved.request.readonlyRootfs === true ? { readOnlyRootFS: true } : {}),
      ...(mounts.length > 0 ? { mounts } : {}),
      ...(resolved.request.annotations === undefined && appAnnotations.length === 0 ? {} : { annotations: appAnnotations }),
    });
  }
  const annotations = [...(request.annotations ?? []).map(([n, v]) => ({ name: n, value: v }))];
  if (prefilled.length > 0) annotations.push({ name: DOCKER_VOLUME_ANNOTATION, value: prefilled.join(",") });
  if (request.privateUsers === true) annotations.push({ name: PRIVATE_USERS_ANNOTATION, value: "true" });
  return {
    acVersion: AC_VERSION,
    acKind: "PodManifest",
    apps: podApps,
    volumes,
    ...(annotations.length > 0 ? { annotations } : {}),
  };
}

function appSection(req: AppRequest, image: ImageAppDefaults, podEnv: PodEnvironment | undefined, imageName: string, securityIsolators: readonly Isolator[], replaced: readonly string[]): AppSection {
  const exec = composeAppExec({ imageName, entrypoint: image.entrypoint, cmd: image.cmd, exec: req.exec, args: req.args });
  const env = new Map<string, string>(podEnv?.inherited ?? []);
  for (const [k, v] of [...image.environment, ...(podEnv?.fromFiles ?? []), ...(podEnv?.set ?? []), ...(req.environment ?? [])]) env.set(k, v);
  // Flags override the image's isolators of the same name; the image's others stay.
  const requested: Isolator[] = [];
  if (req.memory !== undefined) requested.push({ name: "resource/memory", value: { limit: req.memory } });
  if (req.cpu !== undefined) requested.push({ name: "resource/cpu", value: { limit: req.cpu } });
  if (req.cpuShares !== undefined) requested.push({ name: "os/linux/cpu-shares", value: req.cpuShares });
  if (req.oomScoreAdj !== undefined) requested.push({ name: "os/linux/oom-score-adj", value: req.oomScoreAdj });
  requested.push(...securityIsolators);
  const isolators = [...image.isolators.filter((i) => !requested.some((r) => r.name === i.name) && !replaced.includes(i.name)), ...requested];
  const supplementaryGIDs = req.supplementaryGids !== undefined && req.supplementaryGids.length > 0 ? req.supplementaryGids : image.supplementaryGIDs;
  return {
    exec,
    user: req.user ?? image.user,
    group: req.group ?? image.group,
    ...(supplementaryGIDs.length === 0 ? {} : { supplementaryGIDs: [...supplementaryGIDs] }),
    workingDirectory: req.workingDir ?? image.workingDirectory,
    environment: [...env].map(([name, value]) => ({ name, value })),
    ...(isolators.length > 0 ? { isolators } : {}),
    ...(image.mountPoints.length > 0 ? { mountPoints: [...image.mountPoints] } : {}),
    ...(image.ports.length > 0 ? { ports: [...image.ports] } : {}),
  };
}

/** `registry-1.docker.io/library/nginx:latest` -> `nginx`; `oci:/x/busybox:1` -> `busybox`. */
export function defaultAppName(image: string): string {
  const noTag = image.replace(/^[a-z-]+:\/\//, "").replace(/@.*$/, "");
  const last = noTag.split("/").filter((p) => p !== "").pop() ?? "app";
  const bare = last.replace(/:[^:]*$/, "");
  const name = bare.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return name === "" || /^sha(256|512)-?[a-f0-9]*$/.test(name) ? "app" : name;
}

function validateAppName(name: string, explicit: boolean): void {
  if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(name)) {
    throw new RktError("invalid-argument", `invalid app name "${name}"${explicit ? " (--name)" : ""}`, { hint: "app names are lowercase letters, digits and single dashes, e.g. web-1" });
  }
}
