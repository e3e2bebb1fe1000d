/**
 * Turns a PodRequest plus the images it names into an appc pod manifest. The image's OCI/Docker
 * config fills each app the way rkt's docker2aci did, natively: exec = Entrypoint + Cmd, Env,
 * WorkingDir, User, ExposedPorts named `<port>-<proto>`, and Volumes as mount points backed by
 * implicit empty volumes that start with the image's content (Docker volume semantics).
 */
import { RktError } from "../../lib/errors.js";
import type { ImageConfig } from "../../image/formats/image-config.js";
import { parseImageConfig } from "../../image/formats/image-config.js";
import type { ImageRecord } from "../../image/store/image-record.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { AC_VERSION, type AppSection, type Isolator, type PodApp, type PodManifest, type Volume } from "../../pod/pod-manifest.js";
import { composeAppExec } from "../../pod/app/exec-path.js";
import type { AppRequest, PodEnvironment, PodRequest } from "./app-request.js";

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
  for (const resolved of apps) {
    const config = parseImageConfig(store.readBlob(resolved.image.configDigest), `config of image ${resolved.request.image}`);
    const name = resolved.request.name ?? defaultAppName(resolved.imageName ?? resolved.request.image);
    validateAppName(name, resolved.request.name !== undefined);
    if (names.has(name)) {
      throw new RktError("invalid-argument", `two apps are named "${name}"`, { hint: "give each app of the pod its own --name" });
    }
    names.add(name);
    const app = appSection(resolved.request, config, request.environment, resolved.imageName ?? resolved.request.image);
    const mounts: { volume: string; path: string }[] = [];
    for (const m of [...request.podMounts, ...(resolved.request.mounts ?? [])]) {
      if (!volumeNames.has(m.volume)) {
        throw new RktError("invalid-argument", `--mount refers to volume "${m.volume}", which no --volume defines`, { hint: `add --volume ${m.volume},kind=empty or kind=host,source=PATH` });
      }
      mounts.push({ volume: m.volume, path: m.target });
    }
    // Image volumes without an explicit mount get an implicit empty volume, pre-filled from the image.
    for (const mp of app.mountPoints ?? []) {
      if (mounts.some((m) => m.path === mp.path)) continue;
      const volName = `${name}-${mp.name}`;
      volumes.push({ name: volName, kind: "empty", mode: "0755", uid: 0, gid: 0 });
      volumeNames.add(volName);
      mounts.push({ volume: volName, path: mp.path });
    }
    podApps.push({
      name,
      image: { ...(resolved.imageName === undefined ? {} : { name: resolved.imageName }), id: resolved.image.id },
      app,
      ...(resolved.request.readonlyRootfs === true ? { readOnlyRootFS: true } : {}),
      ...(mounts.length > 0 ? { mounts } : {}),
      ...(resolved.request.annotations === undefined ? {} : { annotations: resolved.request.annotations.map(([n, v]) => ({ name: n, value: v })) }),
    });
  }
  const implicit = volumes.filter((v) => !request.volumes.some((r) => r.name === v.name)).map((v) => v.name);
  const annotations = [...(request.annotations ?? []).map(([n, v]) => ({ name: n, value: v }))];
  if (implicit.length > 0) annotations.push({ name: DOCKER_VOLUME_ANNOTATION, value: implicit.join(",") });
  return {
    acVersion: AC_VERSION,
    acKind: "PodManifest",
    apps: podApps,
    volumes,
    ...(annotations.length > 0 ? { annotations } : {}),
  };
}

function appSection(req: AppRequest, image: ImageConfig, podEnv: PodEnvironment | undefined, imageName: string): AppSection {
  const cfg = image.config ?? {};
  const exec = composeAppExec({ imageName, entrypoint: cfg.Entrypoint, cmd: cfg.Cmd, exec: req.exec, args: req.args });
  const [imageUser = "", imageGroup = ""] = (cfg.User ?? "").split(":");
  const env = new Map<string, string>(podEnv?.inherited ?? []);
  for (const e of cfg.Env ?? []) {
    const eq = e.indexOf("=");
    if (eq > 0) env.set(e.slice(0, eq), e.slice(eq + 1));
  }
  for (const [k, v] of [...(podEnv?.fromFiles ?? []), ...(podEnv?.set ?? []), ...(req.environment ?? [])]) env.set(k, v);
  const isolators: Isolator[] = [];
  if (req.memory !== undefined) isolators.push({ name: "resource/memory", value: { limit: req.memory } });
  if (req.cpu !== undefined) isolators.push({ name: "resource/cpu", value: { limit: req.cpu } });
  if (req.cpuShares !== undefined) isolators.push({ name: "os/linux/cpu-shares", value: req.cpuShares });
  if (req.oomScoreAdj !== undefined) isolators.push({ name: "os/linux/oom-score-adj", value: req.oomScoreAdj });
  const ports = Object.keys(cfg.ExposedPorts ?? {}).flatMap((key) => {
    const [port = "", proto = "tcp"] = key.split("/");
    const n = Number(port);
    return Number.isInteger(n) && n > 0 && n < 65536 ? [{ name: `${n}-${proto}`, protocol: proto, port: n }] : [];
  });
  const mountPoints = Object.keys(cfg.Volumes ?? {}).map((path) => ({ name: volumeNameFor(path), path }));
  return {
    exec,
    user: req.user ?? (imageUser === "" ? "0" : imageUser),
    group: req.group ?? imageGroup,
    ...(req.supplementaryGids === undefined || req.supplementaryGids.length === 0 ? {} : { supplementaryGIDs: [...req.supplementaryGids] }),
    workingDirectory: req.workingDir ?? (cfg.WorkingDir === undefined || cfg.WorkingDir === "" ? "/" : cfg.WorkingDir),
    environment: [...env].map(([name, value]) => ({ name, value })),
    ...(isolators.length > 0 ? { isolators } : {}),
    ...(mountPoints.length > 0 ? { mountPoints } : {}),
    ...(ports.length > 0 ? { ports } : {}),
  };
}

/** rkt's docker2aci naming: `/var/lib/redis` -> `volume-var-lib-redis`. */
function volumeNameFor(path: string): string {
  const base = path.replace(/^\/+|\/+$/g, "").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "");
  return `volume-${base === "" ? "root" : base}`;
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
