/**
 * The CRI ImageService over rkt's image store: PullImage fetches `docker://` images (the kubelet
 * names registry images the Docker way), ImageStatus / ListImages describe stored images,
 * RemoveImage drops one (idempotent), ImageFsInfo measures the store.
 *
 * Trust: CRI pulls do not verify signatures (`--insecure-options=image` for this path only). The
 * kubelet has no way to ask for verification or to name keys: the images Kubernetes runs are
 * unsigned Docker images, and refusing them would make rkt unusable as a node runtime. Digests are
 * still verified for every manifest and blob. Plain HTTP is allowed for loopback registries
 * (127.0.0.0/8, ::1, localhost), as Docker and containerd allow by default, and for mirrors
 * marked insecure; TLS everywhere else unless the server runs with --insecure-options=http.
 */
import { readdirSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import type { AuthConfig, BasicCredentials } from "../../config/auth-config.js";
import type { InsecureOption } from "../../config/insecure-options.js";
import { RktError } from "../../lib/errors.js";
import { parseImageConfig } from "../../image/formats/image-config.js";
import { DOCKER_HUB_REGISTRY, parseDockerReference } from "../../image/reference.js";
import type { ImageRecord } from "../../image/store/image-record.js";
import { fetchImage } from "../image/fetch-images.js";
import { tryFindImage } from "../image/find-image.js";
import { removeImages } from "../image/remove-images.js";
import type { CriContext } from "./cri-context.js";
import { nowNanos, type CriAuthConfig, type CriFilesystemUsage, type CriImage, type CriImageSpec } from "./cri-types.js";

/**
 * PullImage: fetches `spec.image` (always asking the registry: the kubelet calls PullImage only
 * when its pull policy says so) and returns the image's ID.
 *
 * @example
 * await pullImage(ctx, { image: "docker.io/library/busybox:1.36" }, null); // "sha256:..."
 */
export async function pullImage(ctx: CriContext, spec: CriImageSpec | null, auth: CriAuthConfig | null, signal?: AbortSignal): Promise<string> {
  const name = spec?.image ?? "";
  if (name === "") throw new RktError("invalid-argument", "PullImage names no image");
  const ref = parseDockerReference(name);
  const insecure = new Set<InsecureOption>([...ctx.insecure, "image"]);
  if (isLoopback(ref.registry)) insecure.add("http");
  const record = await fetchImage(ctx.images, `docker://${name}`, {
    pullPolicy: "update",
    insecure,
    auth: withKubeletAuth(ctx.auth, ref.registry, auth),
    trust: { systemConfigDir: "", localConfigDir: ctx.localConfig, trustKeysFromHttps: false },
    mirrors: ctx.mirrors,
    userAgent: "rkt-cri",
    ...(signal === undefined ? {} : { signal }),
  });
  return record.id;
}

/** ImageStatus: the image, or null when the store does not have it (not an error, api.proto). */
export function imageStatus(ctx: CriContext, spec: CriImageSpec | null, verbose: boolean): { image: CriImage | null; info: Record<string, string> } {
  const name = spec?.image ?? "";
  if (name === "") throw new RktError("invalid-argument", "ImageStatus names no image");
  const record = findCriImage(ctx, name);
  if (record === undefined) return { image: null, info: {} };
  const info: Record<string, string> = {};
  if (verbose) {
    info.info = JSON.stringify({ id: record.id, source: record.source, format: record.format, imported: record.importTime, lastUsed: record.lastUsed, layers: record.layers, config: imageConfig(ctx, record) });
  }
  return { image: criImage(ctx, record), info };
}

/** ListImages, optionally only the image a filter names. */
export function listImages(ctx: CriContext, filter: { readonly image: CriImageSpec | null } | null): CriImage[] {
  const wanted = filter?.image?.image ?? "";
  if (wanted !== "") {
    const record = findCriImage(ctx, wanted);
    return record === undefined ? [] : [criImage(ctx, record)];
  }
  return ctx.images.listImages().map((r) => criImage(ctx, r));
}

/** RemoveImage: idempotent (an image already gone is no error). */
export async function removeImage(ctx: CriContext, spec: CriImageSpec | null): Promise<void> {
  const name = spec?.image ?? "";
  if (name === "") throw new RktError("invalid-argument", "RemoveImage names no image");
  const record = findCriImage(ctx, name);
  if (record === undefined) return;
  const { errors } = await removeImages(ctx.images, [record.id]);
  const real = errors.filter((e) => !(e.error instanceof RktError && e.error.kind === "not-found"));
  if (real[0] !== undefined) throw real[0].error;
}

/** ImageFsInfo: the bytes and inodes of the store's blobs and unpacked layers. */
export function imageFsInfo(ctx: CriContext): CriFilesystemUsage[] {
  let bytes = 0n;
  let inodes = 0n;
  const blobs = ctx.images.paths.blobsRoot();
  for (const algorithm of list(blobs)) {
    for (const hex of list(join(blobs, algorithm))) {
      bytes += BigInt(statSync(join(blobs, algorithm, hex), { throwIfNoEntry: false })?.size ?? 0);
      inodes++;
    }
  }
  const layers = ctx.images.paths.layersRoot();
  for (const algorithm of list(layers)) {
    for (const hex of list(join(layers, algorithm))) {
      try {
        const info = ctx.images.layerInfo(`${algorithm}:${hex}`);
        bytes += BigInt(info.size);
        inodes += BigInt(info.entries);
      } catch {
        // a layer being unpacked or removed
      }
    }
  }
  return [{ timestamp: nowNanos(), fs_id: { mountpoint: ctx.images.paths.cas }, used_bytes: { value: bytes.toString() }, inodes_used: { value: inodes.toString() } }];
}

/**
 * A stored image by what the kubelet calls it: an image ID (`sha256:...`), a name as pulled
 * (`nginx`, `docker.io/library/nginx:1.25`), or a name with a digest (`nginx@sha256:...`, found by
 * its manifest or index digest even when it was pulled by tag).
 */
export function findCriImage(ctx: CriContext, name: string): ImageRecord | undefined {
  let found: ImageRecord | undefined;
  try {
    found = tryFindImage(ctx.images, name);
  } catch (err) {
    if (!(err instanceof RktError) || err.kind !== "invalid-argument") throw err;
  }
  if (found !== undefined) return found;
  const at = name.lastIndexOf("@");
  if (at < 0) return undefined;
  const digest = name.slice(at + 1);
  return ctx.images.listImages().find((r) => r.id === digest || r.indexDigest === digest);
}

function criImage(ctx: CriContext, record: ImageRecord): CriImage {
  const names = ctx.images.namesOf(record.id);
  const tags = names.filter((n) => !n.includes("@")).map(displayName);
  const repos = [...new Set(names.map((n) => displayName(n).replace(/@.*$/, "").replace(/:[^:/]*$/, "")))];
  const user = record.format === "aci" ? "" : ((imageConfig(ctx, record) as { config?: { User?: string } } | undefined)?.config?.User ?? "");
  const userPart = user.split(":")[0] ?? "";
  return {
    id: record.id,
    repo_tags: tags,
    repo_digests: repos.map((r) => `${r}@${record.indexDigest ?? record.id}`),
    size: String(Math.max(record.size, 1)),
    uid: /^\d+$/.test(userPart) ? { value: userPart } : null,
    username: /^\d+$/.test(userPart) ? "" : userPart,
    spec: { image: record.id, annotations: {} },
    pinned: false,
  };
}

function imageConfig(ctx: CriContext, record: ImageRecord): unknown {
  try {
    return record.format === "aci" ? JSON.parse(ctx.images.readBlob(record.configDigest).toString("utf8")) : parseImageConfig(ctx.images.readBlob(record.configDigest));
  } catch {
    return undefined;
  }
}

/** Names as the kubelet and crictl show them: Docker Hub as `docker.io`. */
function displayName(name: string): string {
  return name.startsWith(`${DOCKER_HUB_REGISTRY}/`) ? `docker.io/${name.slice(DOCKER_HUB_REGISTRY.length + 1)}` : name;
}

/**
 * The kubelet's credentials for this pull (from the pod's image pull secrets) before rkt's own
 * auth.d. They go only to the image's registry: a mirror gets its own from auth.d.
 */
function withKubeletAuth(base: AuthConfig, registry: string, auth: CriAuthConfig | null): AuthConfig {
  const creds = kubeletCredentials(auth);
  if (creds === undefined) return base;
  return {
    dockerCredentials: (host) => (host === registry ? creds : base.dockerCredentials(host)),
    domainAuth: (host) => base.domainAuth(host),
  };
}

function kubeletCredentials(auth: CriAuthConfig | null): BasicCredentials | undefined {
  if (auth === null) return undefined;
  if (auth.username !== "" || auth.password !== "") return { username: auth.username, password: auth.password };
  if (auth.auth !== "") {
    const text = Buffer.from(auth.auth, "base64").toString("utf8");
    const colon = text.indexOf(":");
    if (colon > 0) return { username: text.slice(0, colon), password: text.slice(colon + 1) };
    throw new RktError("invalid-argument", "the pull's auth is not base64 of username:password");
  }
  if (auth.identity_token !== "" || auth.registry_token !== "") {
    throw new RktError("unimplemented", "identity and registry tokens are not supported for pulls", { hint: "give the pull secret as a username and password" });
  }
  return undefined;
}

function isLoopback(registry: string): boolean {
  const host = registry.startsWith("[") ? registry.slice(1, registry.indexOf("]")) : registry.replace(/:\d+$/, "");
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

function list(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
