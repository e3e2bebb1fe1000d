/**
 * Images of the store as v1alpha `Image` messages. What never changes for an image ID (format,
 * manifest bytes, labels, annotations) is read from its blobs once and kept; names, size and
 * times come from the records on every request, so renames and removals show at once.
 *
 * IDs are given in appc's form, `sha256-<hex>` (what `rkt image list` prints; rkt's were
 * `sha512-<hex>`); both that and the digest form `sha256:<hex>` are accepted as input.
 */
import { statSync } from "node:fs";
import { AC_VERSION } from "../pod/pod-manifest.js";
import * as z from "../lib/schema.js";
import type { ImageRecord, RefRecord } from "../image/store/image-record.js";
import type { ImageStore } from "../image/store/image-store.js";
import type { Image, ImageTypeName, KeyValue } from "./v1alpha-messages.js";

/** What is read from an image's blobs once. */
interface StaticImage {
  readonly type: ImageTypeName;
  readonly version: string;
  readonly manifest: Buffer;
  readonly annotations: KeyValue[];
  readonly labels: KeyValue[];
}

/** The store's images and names at one moment: one request's view. */
export interface ImageSnapshot {
  readonly records: readonly ImageRecord[];
  readonly byId: ReadonlyMap<string, ImageRecord>;
  readonly namesById: ReadonlyMap<string, readonly string[]>;
  /** App images built from this snapshot (appImage), kept with it. */
  readonly appImages: Map<string, Image>;
}

/** How old a directory's mtime must be before a snapshot of it is reused (see snapshot()). */
const SETTLE_NS = 50_000_000n;

const manifestFields = z.looseObject({ annotations: z.optional(z.record(z.string(), z.string())) });
const configFields = z.looseObject({ config: z.optional(z.nullable(z.looseObject({ Labels: z.optional(z.nullable(z.record(z.string(), z.string()))) }))) });
const aciFields = z.looseObject({
  annotations: z.optional(z.array(z.object({ name: z.string(), value: z.string() }))),
  labels: z.optional(z.array(z.object({ name: z.string(), value: z.string() }))),
});

/** Builds Image messages for one store, keeping each image's immutable parts. */
export class ImageCatalog {
  private readonly cache = new Map<string, StaticImage>();
  private last: { readonly stamp: string; readonly snapshot: ImageSnapshot } | undefined;

  constructor(private readonly store: ImageStore) {}

  /**
   * Every image record and name as they are now. Records and names are files replaced by
   * rename, so a directory whose mtime has not moved holds the same files: the last snapshot is
   * reused then, as long as that mtime was already settled when it was taken (file times tick
   * coarsely; a change within the same tick would not move it).
   */
  snapshot(): ImageSnapshot {
    const stamp = [this.store.paths.imagesDir(), this.store.paths.refsDir()].map((d) => statSync(d, { bigint: true, throwIfNoEntry: false })?.mtimeNs ?? 0n).join(":");
    if (this.last !== undefined && this.last.stamp === stamp) return this.last.snapshot;
    const snapshot = this.read();
    const newest = stamp.split(":").reduce((a, b) => (BigInt(b) > a ? BigInt(b) : a), 0n);
    this.last = BigInt(Date.now()) * 1_000_000n - newest > SETTLE_NS ? { stamp, snapshot } : undefined;
    return snapshot;
  }

  private read(): ImageSnapshot {
    const records = this.store.listImages();
    const namesById = new Map<string, string[]>();
    for (const ref of this.store.listRefs() as readonly RefRecord[]) namesById.set(ref.id, [...(namesById.get(ref.id) ?? []), ref.name]);
    for (const names of namesById.values()) names.sort();
    // Images removed since the last request leave the cache with them.
    const ids = new Set(records.map((r) => r.id));
    for (const id of this.cache.keys()) if (!ids.has(id)) this.cache.delete(id);
    return { records, byId: new Map(records.map((r) => [r.id, r])), namesById, appImages: new Map() };
  }

  /**
   * The Image message of `record`; the manifest only with `detail`.
   *
   * @example
   * const snap = catalog.snapshot();
   * const images = snap.records.map((r) => catalog.image(snap, r, false));
   */
  image(snapshot: ImageSnapshot, record: ImageRecord, detail: boolean): Image {
    const s = this.staticOf(record);
    const { name, version } = imageNameOf(record, snapshot.namesById.get(record.id) ?? []);
    return {
      base_format: { type: s.type, version: s.version },
      id: apiImageId(record.id),
      name,
      // rkt's default for an image without a version label; an image without a name has neither.
      version: name === "" ? "" : version === "" ? "latest" : version,
      import_timestamp: String(Math.floor(Date.parse(record.importTime) / 1000) || 0),
      manifest: detail ? s.manifest : Buffer.alloc(0),
      size: String(record.size),
      annotations: s.annotations,
      labels: s.labels,
    };
  }

  /**
   * The short Image of an app in a pod: format, id, name and version (rkt's ListPods gave no
   * more). An image no longer in the store keeps just its ID.
   */
  appImage(snapshot: ImageSnapshot, id: string): Image {
    const hit = snapshot.appImages.get(id);
    if (hit !== undefined) return hit;
    const record = snapshot.byId.get(digestForm(id) ?? id);
    const base = record === undefined ? undefined : this.image(snapshot, record, false);
    const image: Image = {
      base_format: base?.base_format ?? { type: "IMAGE_TYPE_UNDEFINED", version: "" },
      id: apiImageId(id),
      name: base?.name ?? "",
      version: base?.version ?? "",
      import_timestamp: "0",
      manifest: Buffer.alloc(0),
      size: "0",
      annotations: [],
      labels: [],
    };
    snapshot.appImages.set(id, image);
    return image;
  }

  private staticOf(record: ImageRecord): StaticImage {
    const hit = this.cache.get(record.id);
    if (hit !== undefined) return hit;
    const s = record.format === "aci" ? this.aciStatic(record) : this.ociStatic(record);
    this.cache.set(record.id, s);
    return s;
  }

  private aciStatic(record: ImageRecord): StaticImage {
    const manifest = this.blobOrEmpty(record.configDigest);
    const fields = parseOr(aciFields, manifest);
    const labels = fields?.labels ?? Object.entries(record.aci?.labels ?? {}).map(([name, value]) => ({ name, value }));
    return {
      type: "IMAGE_TYPE_APPC",
      version: AC_VERSION,
      manifest,
      annotations: (fields?.annotations ?? []).map((a) => ({ Key: a.name, value: a.value })),
      labels: labels.map((l) => ({ Key: l.name, value: l.value })),
    };
  }

  private ociStatic(record: ImageRecord): StaticImage {
    const manifest = this.blobOrEmpty(record.id);
    const annotations = parseOr(manifestFields, manifest)?.annotations ?? {};
    const configLabels = parseOr(configFields, this.blobOrEmpty(record.configDigest))?.config?.Labels ?? {};
    const labels: KeyValue[] = Object.entries(configLabels).map(([Key, value]) => ({ Key, value }));
    labels.push({ Key: "os", value: record.platform.os }, { Key: "arch", value: record.platform.architecture });
    return {
      type: record.format === "docker" ? "IMAGE_TYPE_DOCKER" : "IMAGE_TYPE_OCI",
      // Docker: Image Manifest V2, Schema 2; OCI: image-spec 1.x.
      version: record.format === "docker" ? "2.2" : "1.0",
      manifest,
      annotations: Object.entries(annotations).map(([Key, value]) => ({ Key, value })),
      labels,
    };
  }

  private blobOrEmpty(digest: string): Buffer {
    try {
      return this.store.readBlob(digest);
    } catch {
      return Buffer.alloc(0);
    }
  }
}

function parseOr<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }, bytes: Buffer): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(bytes.toString("utf8")));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An image's name and version: for an ACI its manifest name and `version` label; otherwise its
 * first store name split at the tag (`localhost/busybox:latest` -> `localhost/busybox`, `latest`).
 */
export function imageNameOf(record: ImageRecord, names: readonly string[]): { name: string; version: string } {
  if (record.aci !== undefined) return { name: record.aci.name, version: record.aci.labels.version ?? "" };
  const first = names[0];
  return first === undefined ? { name: "", version: "" } : splitTag(first);
}

/** `name:tag` -> name and tag; `name@sha256:…` -> name and the digest. */
export function splitTag(ref: string): { name: string; version: string } {
  const at = ref.indexOf("@");
  if (at >= 0) return { name: ref.slice(0, at), version: ref.slice(at + 1) };
  const colon = ref.lastIndexOf(":");
  if (colon > ref.lastIndexOf("/")) return { name: ref.slice(0, colon), version: ref.slice(colon + 1) };
  return { name: ref, version: "" };
}

/** `sha256:<hex>` -> `sha256-<hex>`; anything else unchanged. */
export function apiImageId(digest: string): string {
  return /^sha(256|512):/.test(digest) ? digest.replace(":", "-") : digest;
}

/** An image ID in either form -> `sha256:<hex>`; undefined when it is not a full ID. */
export function digestForm(id: string): string | undefined {
  const m = /^(sha256|sha512)[-:]([a-f0-9]+)$/.exec(id);
  if (m === null) return undefined;
  const hex = m[2] ?? "";
  if ((m[1] === "sha256" && hex.length !== 64) || (m[1] === "sha512" && hex.length !== 128)) return undefined;
  return `${m[1] ?? ""}:${hex}`;
}
