/**
 * Importing an ACI file (appc 0.8.11 image archive) into the image store.
 *
 * One pass over the file: decompress (gzip, bzip2 or xz, found by magic bytes; aci.md "Image
 * Archives"), hash the uncompressed tar with sha512 (its digest is the image ID, aci.md "Image
 * ID") while copying it into a temp blob, and unpack `rootfs/` into a temp layer tree with the
 * same hostile-content rules as OCI layers (applyLayer), catching the `manifest` on the way.
 * Nothing is in the store until the manifest has parsed and every dependency has resolved; then
 * the blob and the tree move into place under the image ID, the manifest is stored as the
 * record's config blob, and the record is written last (as pullImage does), so a failure or a
 * crash leaves no record and no blob of the refused image (only temp work, which the store
 * sweeps).
 *
 * Dependencies (aci.md "dependencies", ace.md "Filesystem Setup"): each is resolved through the
 * caller, in manifest order, and their layers go below this image's: later dependencies above
 * earlier ones, each with its own dependencies below it (what appc's reference renderer does).
 * A layer that appears twice keeps only its topmost place (overlayfs refuses a lowerdir twice,
 * and the topmost copy is the one whose files win anyway). A `pathWhitelist` becomes one more
 * layer on top (see pathWhitelistLayer).
 *
 * Locking: call with the store lock held shared, as for pullImage.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { createHash, type Hash } from "node:crypto";
import { closeSync, createReadStream, fsyncSync, mkdirSync, openSync, writeSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { RktError, wrap } from "../../../lib/errors.js";
import {
  ACI_MEDIA_TYPE,
  aciImageIdMatches,
  aciLabel,
  parseAciManifest,
  type AciDependency,
  type AciManifest,
} from "../../formats/appc/image-manifest.js";
import { OCI_LAYER_TAR } from "../../formats/media-types.js";
import { applyLayer } from "../../layer/apply-layer.js";
import { ACI_COMPRESSIONS, decompress } from "../../layer/decompress.js";
import { treeDigest } from "../../layer/tree-digest.js";
import type { ImageRecord, LayerRecord } from "../../store/image-record.js";
import type { ImageStore } from "../../store/image-store.js";
import { pathWhitelistLayer } from "./path-whitelist-layer.js";

export type { AciDependency };

/** How deep dependencies may nest: deeper is certainly a loop the IDs did not catch. */
const MAX_DEPENDENCY_DEPTH = 32;

export interface ImportAciOptions {
  /** Names the image in errors and in the record's `source` (the file path or URL it came from). */
  readonly label: string;
  /**
   * Finds the image a dependency names (by `imageName` and `labels`, or by `imageID`), fetching it
   * if need be, and returns its complete record. Called once per dependency, in manifest order.
   * The record's ID must match the dependency's `imageID` when there is one, and its name and
   * labels the ones asked for.
   */
  readonly resolveDependency: (dep: AciDependency) => Promise<ImageRecord>;
  readonly signal?: AbortSignal;
}

/** The image IDs being imported in this async call chain: a dependency loop shows up here. */
const importChain = new AsyncLocalStorage<readonly string[]>();

/**
 * Imports the ACI at `aciFile` and returns its record: `id` = `sha512:<hex>` of the uncompressed
 * tar (stored as a blob under that digest: what `rkt image export` writes back), `format` "aci",
 * `configDigest` = the sha256 blob of the manifest bytes as the archive holds them, layers = the
 * dependencies' layers, this image's tree (`ACI_MEDIA_TYPE`, digest = diffId = the image ID) and
 * the pathWhitelist layer if any; `platform` from the `os`/`arch` labels (appc names mapped to
 * OCI's: aarch64 -> arm64, i386 -> 386, armv7l -> arm/v7; empty strings when the image is
 * OS/architecture independent). Also points the store name `<name>:<version label or latest>`
 * at it.
 *
 * Errors are RktErrors prefixed with the label: "invalid-argument" for content that is not a
 * valid ACI (no manifest, a manifest over 1 MiB or not valid, entries outside `rootfs/`,
 * hostile paths, corrupt compression), "failed-precondition"/"data-loss" for a dependency that
 * does not match what the manifest asks for, "invalid-argument" for a dependency loop.
 *
 * @example
 * const rec = await importAci(store, "/tmp/app.aci", {
 *   label: "https://example.com/app-1.0.0-linux-amd64.aci",
 *   resolveDependency: (dep) => fetchAciByName(dep.imageName, dep.labels),
 * });
 * formatImageId(rec.id, 32); // "sha512-..."
 */
export async function importAci(store: ImageStore, aciFile: string, options: ImportAciOptions): Promise<ImageRecord> {
  const { label, signal } = options;
  try {
    return await importUnlabelled(store, aciFile, options);
  } catch (err) {
    if (signal?.aborted === true) throw err;
    throw wrap(label, err);
  }
}

async function importUnlabelled(store: ImageStore, aciFile: string, options: ImportAciOptions): Promise<ImageRecord> {
  const { label, signal } = options;
  // Opened here for a plain "cannot open" error; the read stream then owns (and closes) it.
  let input: number | undefined;
  try {
    input = openSync(aciFile, "r");
  } catch (err) {
    throw wrap(`opening ${aciFile}`, err);
  }
  const entry = store.tmpEntry("aci");
  try {
    mkdirSync(entry.path, { mode: 0o700 });
    const blobFile = join(entry.path, "aci.tar");
    const layerDir = join(entry.path, "layer");
    const rootfs = join(layerDir, "rootfs");
    mkdirSync(rootfs, { recursive: true, mode: 0o755 });

    const fd = input;
    input = undefined;
    const unpacked = await unpackAci(fd, blobFile, rootfs, signal);
    const id = unpacked.digest;
    const manifestBytes = unpacked.manifest;
    if (manifestBytes === undefined) {
      throw new RktError("invalid-argument", 'not an ACI: it has no "manifest" file (appc aci.md, "Image Layout")', {
        hint: "an ACI is a tar holding manifest and rootfs/; build one with `rkt image build`",
      });
    }
    if (!unpacked.rootfs) throw new RktError("invalid-argument", 'not an ACI: it has no "rootfs/" directory (appc aci.md, "Image Layout")');
    // Errors get the label in front (importAci), so the manifest is just "the archive's" here.
    const manifest = parseAciManifest(manifestBytes, "the archive");

    const dependencies = await resolveDependencies(id, manifest, options);
    const ownLayer: LayerRecord = { digest: id, mediaType: ACI_MEDIA_TYPE, size: unpacked.size, diffId: id };
    const layers = topmostOnly([...dependencies.flatMap((d) => d.layers), ownLayer]);
    const whitelistTar = await whitelistLayerTar(store, layers, { id, rootfs }, manifest);

    // Everything checked: from here on content goes into the store, the record last.
    const ownInfo = { diffId: id, blobDigest: id, size: unpacked.bytes, entries: unpacked.entries, treeDigest: await treeDigest(rootfs, signal === undefined ? {} : { signal }) };
    store.adoptBlob(blobFile, id);
    store.adoptLayer(layerDir, ownInfo);
    const configDigest = store.putBlob(manifestBytes);
    let size = unpacked.size + manifestBytes.length + ownInfo.size;
    if (whitelistTar !== undefined) {
      const digest = store.putBlob(whitelistTar);
      const layer: LayerRecord = { digest, mediaType: OCI_LAYER_TAR, size: whitelistTar.length, diffId: digest };
      const info = await store.unpackLayer(layer, signal === undefined ? {} : { signal });
      layers.push(layer);
      size += layer.size + info.size;
    }

    const now = new Date().toISOString();
    const labels = Object.fromEntries(manifest.labels.map((l) => [l.name, l.value]));
    const record: ImageRecord = {
      schemaVersion: 1,
      id,
      format: "aci",
      manifestMediaType: ACI_MEDIA_TYPE,
      configDigest,
      layers,
      platform: aciPlatform(manifest),
      source: label,
      importTime: store.getImage(id)?.importTime ?? now,
      lastUsed: now,
      size,
      aci: { name: manifest.name, labels, dependencies: dependencies.map((d) => d.id) },
    };
    store.putImage(record);
    store.setRef(aciStoreName(record), id);
    return record;
  } finally {
    entry.dispose();
    if (input !== undefined) closeSync(input);
  }
}

/**
 * The store name rkt gives an ACI: `<name>:<version>`, with `latest` when the manifest has no
 * version label (what `rkt image list` shows and `example.com/app:1.0` finds).
 *
 * @example
 * aciStoreName(record); // "example.com/app:1.0.0"
 */
export function aciStoreName(record: ImageRecord): string {
  if (record.aci === undefined) throw new RktError("internal", `image ${record.id} is not an ACI`);
  return `${record.aci.name}:${record.aci.labels.version ?? "latest"}`;
}

interface UnpackedAci {
  readonly digest: string;
  /** Bytes of the uncompressed tar. */
  readonly size: number;
  readonly manifest: Buffer | undefined;
  readonly rootfs: boolean;
  readonly entries: number;
  readonly bytes: number;
}

/**
 * The single pass over the file: decompress, hash + copy, unpack rootfs/ (see the top of the
 * file). Takes over `input` (closed by its read stream).
 */
async function unpackAci(input: number, blobFile: string, rootfs: string, signal: AbortSignal | undefined): Promise<UnpackedAci> {
  const signalOpt = signal === undefined ? {} : { signal };
  let blobFd: number;
  try {
    blobFd = openSync(blobFile, "wx", 0o644);
  } catch (err) {
    closeSync(input);
    throw err;
  }
  try {
    const copy = new HashingCopy(blobFd);
    const tar = new PassThrough();
    const [fed, applied] = await Promise.allSettled([
      pipeline(createReadStream("", { fd: input }), decompress({ compressions: ACI_COMPRESSIONS, what: "ACI", ...signalOpt }), copy, tar, signalOpt),
      applyLayer(tar, { root: rootfs, mode: "overlay", archive: "aci", ...signalOpt }),
    ]);
    // Report the cause, not its echo: corrupt compression makes the tar reader fail too (report
    // the decompressor's RktError), and a refused entry makes the reader stop and the feeding
    // pipeline see a premature close (report the refusal).
    if (fed.status === "rejected" && (applied.status === "fulfilled" || fed.reason instanceof RktError || signal?.aborted === true)) throw fed.reason;
    if (applied.status === "rejected") throw applied.reason;
    if (fed.status === "rejected") throw fed.reason;
    fsyncSync(blobFd);
    const aci = applied.value.aci;
    return {
      digest: `sha512:${copy.hex()}`,
      size: copy.bytes,
      manifest: aci?.manifest,
      rootfs: aci?.rootfs ?? false,
      entries: applied.value.entries,
      bytes: applied.value.bytes,
    };
  } finally {
    closeSync(blobFd);
  }
}

/**
 * Resolves the manifest's dependencies in order, inside the import chain (so an import that comes
 * back to an image already being imported is a loop), and checks each against what was asked.
 */
async function resolveDependencies(id: string, manifest: AciManifest, options: ImportAciOptions): Promise<ImageRecord[]> {
  if (manifest.dependencies.length === 0) return [];
  const chain = importChain.getStore() ?? [];
  if (chain.includes(id)) {
    throw new RktError("invalid-argument", `dependency loop: image ${manifest.name} (${id.slice(0, 7 + 32)}) depends on itself through its dependencies`);
  }
  if (chain.length >= MAX_DEPENDENCY_DEPTH) throw new RktError("invalid-argument", `dependencies nest deeper than ${MAX_DEPENDENCY_DEPTH} levels`);
  const out: ImageRecord[] = [];
  for (const [i, dep] of manifest.dependencies.entries()) {
    options.signal?.throwIfAborted();
    const what = `dependency ${i} (${dep.imageName}${dep.labels.map((l) => `,${l.name}=${l.value}`).join("")})`;
    let rec: ImageRecord;
    try {
      rec = await importChain.run([...chain, id], () => options.resolveDependency(dep));
    } catch (err) {
      throw wrap(what, err);
    }
    checkDependency(rec, dep, what);
    out.push(rec);
  }
  return out;
}

/** aci.md "Dependency Matching": the image ID MUST match when given; name and labels are what was asked. */
function checkDependency(rec: ImageRecord, dep: AciDependency, what: string): void {
  if (dep.imageID !== undefined && !aciImageIdMatches(rec.id, dep.imageID)) {
    throw new RktError("data-loss", `${what}: the image found is ${rec.id.replace(":", "-")}, not ${dep.imageID} as the manifest requires`);
  }
  if (rec.aci === undefined) return;
  if (rec.aci.name !== dep.imageName) {
    throw new RktError("failed-precondition", `${what}: the image found is named ${rec.aci.name}`);
  }
  for (const l of dep.labels) {
    const value = rec.aci.labels[l.name];
    if (value !== undefined && value !== l.value) {
      throw new RktError("failed-precondition", `${what}: the image found has label ${l.name}=${value}`);
    }
  }
}

/** Keeps each diffId once, at its last (topmost) place. */
function topmostOnly(layers: readonly LayerRecord[]): LayerRecord[] {
  const seen = new Set<string>();
  const out: LayerRecord[] = [];
  for (let i = layers.length - 1; i >= 0; i--) {
    const l = layers[i];
    if (l === undefined || seen.has(l.diffId)) continue;
    seen.add(l.diffId);
    out.unshift(l);
  }
  return out;
}

/**
 * The pathWhitelist layer's tar over `layers` (bottom first; this image's own tree still in its
 * temp place `own.rootfs`), or undefined when there is no whitelist or nothing to hide.
 */
async function whitelistLayerTar(store: ImageStore, layers: readonly LayerRecord[], own: { id: string; rootfs: string }, manifest: AciManifest): Promise<Buffer | undefined> {
  // aci.md: "An empty list is equivalent to an absent value".
  if (manifest.pathWhitelist.length === 0) return undefined;
  const trees = [...layers].reverse().map((l) => {
    if (l.diffId === own.id) return { rootfs: own.rootfs, own: true };
    if (!store.hasLayer(l.diffId)) {
      throw new RktError("failed-precondition", `layer ${l.diffId} of a dependency is not unpacked in the store`, { hint: "fetch the dependency again" });
    }
    return { rootfs: store.layerRootfs(l.diffId), own: false };
  });
  return pathWhitelistLayer(trees, manifest.pathWhitelist);
}

/** appc `arch` label values -> OCI `architecture` (and `variant`), as select-platform compares them. */
const APPC_ARCH_TO_OCI: ReadonlyMap<string, { architecture: string; variant?: string }> = new Map([
  ["amd64", { architecture: "amd64" }],
  ["x86_64", { architecture: "amd64" }],
  ["i386", { architecture: "386" }],
  ["aarch64", { architecture: "arm64" }],
  ["aarch64_be", { architecture: "arm64be" }],
  ["armv6l", { architecture: "arm", variant: "v6" }],
  ["armv7l", { architecture: "arm", variant: "v7" }],
  ["armv7b", { architecture: "armbe", variant: "v7" }],
  ["arm", { architecture: "arm" }],
]);

function aciPlatform(manifest: AciManifest): ImageRecord["platform"] {
  const os = aciLabel(manifest.labels, "os") ?? "";
  const arch = aciLabel(manifest.labels, "arch");
  if (arch === undefined) return { os, architecture: "" };
  const oci = APPC_ARCH_TO_OCI.get(arch) ?? { architecture: arch };
  return { os, architecture: oci.architecture, ...(oci.variant === undefined ? {} : { variant: oci.variant }) };
}

/**
 * A pass-through that hashes every byte with sha512 and writes it to `fd` (synchronously: the
 * stream waits for the disk, which is the backpressure wanted).
 */
class HashingCopy extends Transform {
  bytes = 0;
  private readonly hash: Hash = createHash("sha512");

  constructor(private readonly fd: number) {
    super();
  }

  hex(): string {
    return this.hash.digest("hex");
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      let off = 0;
      while (off < chunk.length) off += writeSync(this.fd, chunk, off, chunk.length - off);
    } catch (err) {
      callback(wrap("writing the ACI into the store", err));
      return;
    }
    this.hash.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}
