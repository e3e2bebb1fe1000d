/**
 * Turns any ImageSource into store content: resolve the manifest (choosing this host's platform
 * from an index), store manifest and config, download every layer in parallel and unpack each into
 * its shared tree, then write the image record. The record is written last: until then the image
 * does not exist for any other command, so an interrupted pull leaves nothing half-visible.
 */
import { setMaxListeners } from "node:events";
import { RktError, wrap } from "../../lib/errors.js";
import type { Descriptor, Platform } from "../formats/descriptor.js";
import { parseImageConfig } from "../formats/image-config.js";
import { layerEncoding } from "../formats/media-types.js";
import { parseManifest } from "../formats/parse-manifest.js";
import { hostPlatform, selectPlatform } from "../formats/select-platform.js";
import type { ImageRecord, LayerRecord } from "../store/image-record.js";
import type { ImageStore } from "../store/image-store.js";
import type { ImageSource, ManifestBytes } from "./image-source.js";

export interface PullProgress {
  readonly id: string;
  readonly phase: "waiting" | "downloading" | "unpacking" | "exists" | "done";
  readonly done: number;
  readonly total: number;
}

export interface PullOptions {
  /** Defaults to the host's platform. */
  readonly platform?: Platform;
  readonly onProgress?: (p: PullProgress) => void;
  readonly signal?: AbortSignal;
  /** Layers fetched at once. */
  readonly concurrency?: number;
}

/** The manifest a source's name resolves to on this platform, with the index it came from. */
export interface ResolvedManifest {
  readonly manifest: ManifestBytes;
  readonly index: ManifestBytes | undefined;
}

export async function resolveManifest(source: ImageSource, platform: Platform | undefined, signal?: AbortSignal): Promise<ResolvedManifest> {
  const root = await source.rootManifest(signal);
  const parsed = parseManifest(root.bytes, root.mediaType, source.label);
  if (parsed.kind === "manifest") return { manifest: root, index: undefined };
  const chosen = selectPlatform(parsed.index, platform ?? hostPlatform(), source.label);
  const child = await source.manifest(chosen.digest, signal);
  return { manifest: { ...child, mediaType: child.mediaType || chosen.mediaType }, index: root };
}

export async function pullImage(store: ImageStore, source: ImageSource, resolved: ResolvedManifest, options: PullOptions = {}): Promise<ImageRecord> {
  const { signal } = options;
  const progress = options.onProgress ?? (() => undefined);
  const parsed = parseManifest(resolved.manifest.bytes, resolved.manifest.mediaType, source.label);
  if (parsed.kind !== "manifest") {
    throw new RktError("invalid-argument", `${source.label}: an index points at another index; nested indexes are not supported`);
  }
  const manifest = parsed.manifest;
  for (const layer of manifest.layers) {
    const enc = layerEncoding(layer.mediaType);
    if (enc === undefined) {
      throw new RktError("invalid-argument", `${source.label}: layer ${layer.digest} has media type "${layer.mediaType}", which is not an image layer rkt can unpack`, {
        hint: "this may be an artifact (e.g. a Helm chart or signature), not a runnable image",
      });
    }
    if (!enc.distributable) {
      throw new RktError("unimplemented", `${source.label}: layer ${layer.digest} is non-distributable (its content lives outside the registry); rkt does not fetch such layers`);
    }
  }

  if (resolved.index !== undefined) store.putBlob(resolved.index.bytes, resolved.index.digest);
  store.putBlob(resolved.manifest.bytes, resolved.manifest.digest);

  await store.ingestBlob(manifest.config, () => source.openBlob(manifest.config, signal), signal === undefined ? {} : { signal });
  const config = parseImageConfig(store.readBlob(manifest.config.digest), `${source.label}: image config`);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new RktError("invalid-argument", `${source.label}: the manifest lists ${manifest.layers.length} layers but the config has ${diffIds.length} diff_ids`);
  }
  const layers: LayerRecord[] = manifest.layers.map((l, i) => ({ digest: l.digest, mediaType: l.mediaType, size: l.size, diffId: diffIds[i] ?? "" }));

  let unpackedBytes = 0;
  await forEachLimited(layers, options.concurrency ?? 4, signal, async (layer, i, layerSignal) => {
    const desc = manifest.layers[i] as Descriptor;
    const id = shortDigest(layer.digest);
    if (store.hasLayer(layer.diffId) && store.hasBlob(layer.digest)) {
      progress({ id, phase: "exists", done: layer.size, total: layer.size });
      unpackedBytes += store.layerInfo(layer.diffId).size;
      return;
    }
    progress({ id, phase: "downloading", done: 0, total: layer.size });
    try {
      await store.ingestBlob(desc, () => source.openBlob(desc, layerSignal), {
        onProgress: (done) => progress({ id, phase: "downloading", done, total: layer.size }),
        signal: layerSignal,
      });
      progress({ id, phase: "unpacking", done: 0, total: layer.size });
      const info = await store.unpackLayer(layer, {
        onProgress: (done) => progress({ id, phase: "unpacking", done, total: layer.size }),
        signal: layerSignal,
      });
      unpackedBytes += info.size;
    } catch (err) {
      throw wrap(`${source.label}: layer ${layer.digest}`, err);
    }
    progress({ id, phase: "done", done: layer.size, total: layer.size });
  });

  const now = new Date().toISOString();
  const blobBytes = resolved.manifest.bytes.length + manifest.config.size + layers.reduce((n, l) => n + l.size, 0);
  const record: ImageRecord = {
    schemaVersion: 1,
    id: resolved.manifest.digest,
    format: parsed.format,
    manifestMediaType: parsed.mediaType,
    configDigest: manifest.config.digest,
    ...(resolved.index === undefined ? {} : { indexDigest: resolved.index.digest }),
    layers,
    platform: { os: config.os, architecture: config.architecture, ...(config.variant === undefined ? {} : { variant: config.variant }) },
    source: source.label,
    importTime: store.getImage(resolved.manifest.digest)?.importTime ?? now,
    lastUsed: now,
    size: blobBytes + unpackedBytes,
  };
  store.putImage(record);
  return record;
}

export function shortDigest(digest: string): string {
  const colon = digest.indexOf(":");
  return digest.slice(0, colon + 13);
}

/**
 * Runs `fn` over items with at most `limit` at once. The first failure aborts the others (their
 * downloads stop and their temp files go) and is the one thrown.
 */
async function forEachLimited<T>(items: readonly T[], limit: number, outer: AbortSignal | undefined, fn: (item: T, index: number, signal: AbortSignal) => Promise<void>): Promise<void> {
  const inner = new AbortController();
  const signal = outer === undefined ? inner.signal : AbortSignal.any([outer, inner.signal]);
  // Every stream of every layer listens on this one signal; dozens of listeners are expected,
  // not a leak, and Node's warning about them would only alarm users.
  setMaxListeners(0, signal);
  let next = 0;
  let failed: Error | undefined;
  const worker = async (): Promise<void> => {
    while (failed === undefined && next < items.length) {
      const i = next++;
      try {
        await fn(items[i] as T, i, signal);
      } catch (err) {
        if (failed === undefined) {
          failed = err instanceof Error ? err : new Error(String(err));
          inner.abort(failed);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failed !== undefined) throw failed;
}
