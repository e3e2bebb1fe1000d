/**
 * The image store: content-addressed blobs, layers unpacked once into shared read-only trees,
 * image records and name references, under `<dir>/cas`. See store-paths.ts for the layout.
 *
 * Crash safety (the pnpm/containerd recipe): content is written into `tmp/`, verified against its
 * digest while it streams, fsynced, then renamed to its final name. Presence of a final name is
 * the only "complete" flag, so an interrupted fetch never leaves a partial blob that later counts
 * as present. Concurrency: writers of one blob or layer serialize on a per-digest flock and the
 * second one finds the work done; `gc` takes the store lock exclusively while fetches hold it
 * shared, so it never deletes content an ingest is about to reference.
 *
 * @example
 * const store = ImageStore.open("/var/lib/rkt");
 * const rec = store.resolve("registry-1.docker.io/library/busybox:latest");
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  createReadStream,
  createWriteStream,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { errnoCode, RktError, wrap } from "../../lib/errors.js";
import { atomicWriteFileSync, fsyncDirSync } from "../../sys/atomic-write.js";
import { FileLock } from "../../sys/file-lock.js";
import { VerifyStream } from "../fetch/verify-stream.js";
import { ACI_MEDIA_TYPE } from "../formats/appc/image-manifest.js";
import {
  imageRecordSchema,
  layerInfoSchema,
  refRecordSchema,
  type ImageRecord,
  type LayerInfo,
  type LayerRecord,
  type RefRecord,
} from "./image-record.js";
import { splitDigest, StorePaths } from "./store-paths.js";
import { TmpArea, type TmpEntry } from "./tmp-area.js";

/** Bytes moved so far, for progress output. */
export type ProgressFn = (done: number) => void;

export interface BlobDescriptor {
  readonly digest: string;
  readonly size: number;
}

export class ImageStore {
  readonly paths: StorePaths;
  private readonly tmpArea: TmpArea;

  private constructor(dataDir: string) {
    this.paths = new StorePaths(dataDir);
    this.tmpArea = new TmpArea(this.paths.tmp);
  }

  /** Opens (creating if needed) the store under `dataDir`. Cheap: no scan, no lock. */
  static open(dataDir: string): ImageStore {
    const store = new ImageStore(dataDir);
    try {
      mkdirSync(store.paths.cas, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw wrap(`opening the image store at ${dataDir}`, err);
    }
    return store;
  }

  // ---- locks -------------------------------------------------------------------------------

  /** Held shared by everything that adds content; exclusively by gc and rm. */
  async lockStore(mode: "shared" | "exclusive", signal?: AbortSignal): Promise<FileLock> {
    return FileLock.acquire(this.paths.lock("store"), mode, signal);
  }

  /** A fresh, locked work area in tmp/ (see TmpArea). */
  tmpEntry(label: string): TmpEntry {
    return this.tmpArea.create(label);
  }

  /** Removes work left in tmp/ by processes that died. */
  sweepTmp(): number {
    return this.tmpArea.sweep();
  }

  // ---- blobs -------------------------------------------------------------------------------

  hasBlob(digest: string): boolean {
    return statSync(this.paths.blob(digest), { throwIfNoEntry: false }) !== undefined;
  }

  blobPath(digest: string): string {
    return this.paths.blob(digest);
  }

  blobSize(digest: string): number | undefined {
    return statSync(this.paths.blob(digest), { throwIfNoEntry: false })?.size;
  }

  /** Reads a stored blob (manifests, configs). Not for layers: they can be large. */
  readBlob(digest: string): Buffer {
    try {
      return readFileSync(this.paths.blob(digest));
    } catch (err) {
      if (errnoCode(err) === "ENOENT") throw new RktError("not-found", `blob ${digest} is not in the store`);
      throw wrap(`reading blob ${digest}`, err);
    }
  }

  /** Stores small content already in memory (manifests, configs), verifying it when `digest` is given. */
  putBlob(data: Buffer, digest?: string): string {
    const algorithm = digest === undefined ? "sha256" : splitDigest(digest).algorithm;
    const actual = `${algorithm}:${createHash(algorithm).update(data).digest("hex")}`;
    if (digest !== undefined && actual !== digest) {
      throw new RktError("data-loss", `content does not match its digest: expected ${digest}, got ${actual}`);
    }
    if (!this.hasBlob(actual)) {
      const entry = this.tmpArea.create("blob");
      try {
        atomicWriteFileSync(entry.path, data, 0o644);
        this.commit(entry.path, this.paths.blob(actual));
      } finally {
        entry.dispose();
      }
    }
    return actual;
  }

  /**
   * Moves `file` (written in this store's tmp/ area, see `tmpEntry`) into the blobs as `digest`,
   * which the caller computed from the very bytes it wrote: for content whose digest is known only
   * once it has streamed by (an ACI, whose ID is the sha512 of its uncompressed tar). When the
   * blob is already present, `file` is left for the caller to dispose.
   */
  adoptBlob(file: string, digest: string): void {
    if (this.hasBlob(digest)) return;
    fsyncPath(file);
    this.commit(file, this.paths.blob(digest));
  }

  /**
   * Streams a blob into the store, verifying digest and size as bytes arrive. `open` is called
   * with the offset to resume from (0 for now; a retry starts over). Two processes ingesting the
   * same digest serialize on its lock; the second returns as soon as it sees the blob present.
   */
  async ingestBlob(
    desc: BlobDescriptor,
    open: () => Promise<Readable>,
    options: { onProgress?: ProgressFn; signal?: AbortSignal } = {},
  ): Promise<void> {
    if (this.hasBlob(desc.digest)) return;
    const lock = await FileLock.acquire(this.paths.lock(`blob-${splitDigest(desc.digest).hex}`), "exclusive", options.signal);
    try {
      if (this.hasBlob(desc.digest)) return;
      const entry = this.tmpArea.create("blob");
      try {
        const source = await open();
        const verify = new VerifyStream({ digest: desc.digest, size: desc.size });
        let done = 0;
        const onProgress = options.onProgress;
        if (onProgress !== undefined) {
          verify.on("data", (chunk: Buffer) => {
            done += chunk.length;
            onProgress(done);
          });
        }
        // Opened synchronously: an asynchronous open could still be creating the file when a
        // failed pipeline's cleanup removes the temp entry, leaving a stray file behind.
        const out = createWriteStream("", { fd: openSync(entry.path, "wx", 0o644) });
        await pipeline(source, verify, out, options.signal === undefined ? {} : { signal: options.signal });
        fsyncPath(entry.path);
        this.commit(entry.path, this.paths.blob(desc.digest));
      } finally {
        entry.dispose();
      }
    } finally {
      lock.release();
    }
  }

  // ---- layers ------------------------------------------------------------------------------

  hasLayer(diffId: string): boolean {
    return statSync(join(this.paths.layerDir(diffId), "info.json"), { throwIfNoEntry: false }) !== undefined;
  }

  /** The unpacked tree of a layer: an overlayfs lowerdir. */
  layerRootfs(diffId: string): string {
    return join(this.paths.layerDir(diffId), "rootfs");
  }

  layerInfo(diffId: string): LayerInfo {
    const path = join(this.paths.layerDir(diffId), "info.json");
    return parseJsonFile(path, layerInfoSchema, `layer ${diffId}`);
  }

  /**
   * Moves a layer tree unpacked in tmp/ (`dir` holds `rootfs/` and nothing else) into place as the
   * tree of `info.diffId`, with its info.json: for trees unpacked while their digest was still
   * being computed (an ACI's rootfs). When the layer is already present, `dir` is left for the
   * caller to dispose.
   */
  adoptLayer(dir: string, info: LayerInfo): void {
    if (this.hasLayer(info.diffId)) return;
    atomicWriteFileSync(join(dir, "info.json"), JSON.stringify(info));
    this.commit(dir, this.paths.layerDir(info.diffId));
  }

  /**
   * Unpacks a stored layer blob once into its shared tree, keyed by diff_id, in overlay form
   * (whiteouts as overlayfs whiteouts) so pods can stack the trees as lowerdirs without copying.
   * The uncompressed stream is verified against the diff_id the image config promised (OCI image
   * spec, config.md `rootfs.diff_ids`). An ACI (media type `ACI_MEDIA_TYPE`, stored uncompressed,
   * diff_id = digest) unpacks its `rootfs/` only.
   */
  async unpackLayer(layer: LayerRecord, options: { signal?: AbortSignal; onProgress?: ProgressFn } = {}): Promise<LayerInfo> {
    if (this.hasLayer(layer.diffId)) return this.layerInfo(layer.diffId);
    const lock = await FileLock.acquire(this.paths.lock(`layer-${splitDigest(layer.diffId).hex}`), "exclusive", options.signal);
    try {
      if (this.hasLayer(layer.diffId)) return this.layerInfo(layer.diffId);
      // Loaded here, not at the top: every store command (image list, a cached fetch) opens the
      // store, and only unpacking needs zlib, child_process and the tar parser.
      const [{ applyLayer }, { decompress }, { treeDigest }] = await Promise.all([
        import("../layer/apply-layer.js"),
        import("../layer/decompress.js"),
        import("../layer/tree-digest.js"),
      ]);
      const entry = this.tmpArea.create("layer");
      try {
        const rootfs = join(entry.path, "rootfs");
        mkdirSync(rootfs, { recursive: true, mode: 0o755 });
        const blob = createReadStream(this.paths.blob(layer.digest));
        if (options.onProgress !== undefined) {
          let done = 0;
          const onProgress = options.onProgress;
          blob.on("data", (chunk) => {
            done += chunk.length;
            onProgress(done);
          });
        }
        const tar = new PassThrough();
        const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
        const aci = layer.mediaType === ACI_MEDIA_TYPE;
        // Both sides must succeed: the pipeline verifies the diff_id (OCI image spec, config.md
        // `rootfs.diff_ids`) only at its end, possibly after the tar parser saw the last entry.
        const [, result] = await Promise.all([
          pipeline(
            blob,
            decompress(aci ? { compressions: [], what: "ACI", ...signalOpt } : { mediaType: layer.mediaType, ...signalOpt }),
            new VerifyStream({ digest: layer.diffId }),
            tar,
            signalOpt,
          ),
          applyLayer(tar, { root: rootfs, mode: "overlay", ...(aci ? { archive: "aci" as const } : {}), ...signalOpt }),
        ]);
        const info: LayerInfo = {
          diffId: layer.diffId,
          blobDigest: layer.digest,
          size: result.bytes,
          entries: result.entries,
          treeDigest: await treeDigest(rootfs),
        };
        atomicWriteFileSync(join(entry.path, "info.json"), JSON.stringify(info));
        this.commit(entry.path, this.paths.layerDir(layer.diffId));
        return info;
      } catch (err) {
        throw wrap(`unpacking layer ${layer.digest}`, err);
      } finally {
        entry.dispose();
      }
    } finally {
      lock.release();
    }
  }

  // ---- images and names --------------------------------------------------------------------

  getImage(id: string): ImageRecord | undefined {
    const path = this.paths.image(id);
    if (statSync(path, { throwIfNoEntry: false }) === undefined) return undefined;
    return parseJsonFile(path, imageRecordSchema, `image ${id}`);
  }

  putImage(record: ImageRecord): void {
    atomicWriteFileSync(this.paths.image(record.id), JSON.stringify(record, null, 2));
  }

  /** Every image record. Records that do not parse are skipped: `image list` must still work. */
  listImages(): ImageRecord[] {
    return readRecords(this.paths.imagesDir(), imageRecordSchema, "image record");
  }

  getRef(name: string): RefRecord | undefined {
    const path = this.refPath(name);
    if (statSync(path, { throwIfNoEntry: false }) === undefined) return undefined;
    return parseJsonFile(path, refRecordSchema, `name "${name}"`);
  }

  setRef(name: string, id: string): void {
    const rec: RefRecord = { name, id, updated: new Date().toISOString() };
    atomicWriteFileSync(this.refPath(name), JSON.stringify(rec));
  }

  removeRef(name: string): void {
    rmSync(this.refPath(name), { force: true });
  }

  /** Every name record, damaged ones skipped like damaged image records. */
  listRefs(): RefRecord[] {
    return readRecords(this.paths.refsDir(), refRecordSchema, "name record");
  }

  /** Names that point at `id`, sorted. */
  namesOf(id: string, refs: readonly RefRecord[] = this.listRefs()): string[] {
    return refs.filter((r) => r.id === id).map((r) => r.name).sort();
  }

  /** Removes an image record and every name pointing at it. Content stays until `gc`. */
  removeImage(id: string): void {
    for (const ref of this.listRefs()) if (ref.id === id) this.removeRef(ref.name);
    rmSync(this.paths.image(id), { force: true });
  }

  touch(id: string): void {
    const rec = this.getImage(id);
    if (rec !== undefined) this.putImage({ ...rec, lastUsed: new Date().toISOString() });
  }

  // ---- garbage ----------------------------------------------------------------------------

  /**
   * Deletes blobs and layer trees no image record refers to. `keepLayers` adds diff_ids that are
   * in use elsewhere (pods' overlay mounts). Call with the store lock held exclusively.
   */
  collectGarbage(keepLayers: ReadonlySet<string> = new Set()): { blobs: number; layers: number; bytes: number } {
    const blobs = new Set<string>();
    const layers = new Set<string>(keepLayers);
    for (const rec of this.listImages()) {
      blobs.add(rec.id);
      blobs.add(rec.configDigest);
      if (rec.indexDigest !== undefined) blobs.add(rec.indexDigest);
      for (const l of rec.layers) {
        blobs.add(l.digest);
        layers.add(l.diffId);
      }
    }
    let removedBlobs = 0;
    let removedLayers = 0;
    let bytes = 0;
    for (const algorithm of readdirOrEmpty(this.paths.blobsRoot())) {
      for (const hex of readdirOrEmpty(join(this.paths.blobsRoot(), algorithm))) {
        if (blobs.has(`${algorithm}:${hex}`)) continue;
        const p = join(this.paths.blobsRoot(), algorithm, hex);
        bytes += statSync(p, { throwIfNoEntry: false })?.size ?? 0;
        rmSync(p, { force: true });
        removedBlobs++;
      }
    }
    for (const algorithm of readdirOrEmpty(this.paths.layersRoot())) {
      for (const hex of readdirOrEmpty(join(this.paths.layersRoot(), algorithm))) {
        if (layers.has(`${algorithm}:${hex}`)) continue;
        const p = join(this.paths.layersRoot(), algorithm, hex);
        try {
          bytes += layerInfoSchema.parse(JSON.parse(readFileSync(join(p, "info.json"), "utf8"))).size;
        } catch {
          // size unknown for a damaged entry; still removed
        }
        // Rename first so a half-deleted tree is never seen under its final name.
        const doomed = join(this.paths.tmp, `gc-${hex}-${process.pid}`);
        mkdirSync(this.paths.tmp, { recursive: true });
        renameSync(p, doomed);
        rmSync(doomed, { recursive: true, force: true });
        removedLayers++;
      }
    }
    return { blobs: removedBlobs, layers: removedLayers, bytes };
  }

  // ---- helpers -------------------------------------------------------------------------------

  private refPath(name: string): string {
    return join(this.paths.refsDir(), `${createHash("sha256").update(name).digest("hex")}.json`);
  }

  /** Moves finished work to its final name. Losing a race to an identical writer is fine. */
  private commit(from: string, to: string): void {
    mkdirSync(dirname(to), { recursive: true });
    try {
      renameSync(from, to);
    } catch (err) {
      const code = errnoCode(err);
      if (code !== "ENOTEMPTY" && code !== "EEXIST") throw err;
    }
    fsyncDirSync(dirname(to));
  }
}

function fsyncPath(path: string): void {
  const fd = openSync(path, "r");
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

function readdirOrEmpty(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") return [];
    throw err;
  }
}

/**
 * The records (`*.json`, not temp files) of a directory. A hand-damaged one is skipped so listing
 * still works; it can still be removed by ID.
 */
function readRecords<T>(dir: string, schema: { parse(v: unknown): T }, what: string): T[] {
  const out: T[] = [];
  for (const file of readdirOrEmpty(dir)) {
    if (!file.endsWith(".json") || file.startsWith(".")) continue;
    try {
      out.push(parseJsonFile(join(dir, file), schema, `${what} ${file}`));
    } catch {
      // skipped, see above
    }
  }
  return out;
}

function parseJsonFile<T>(path: string, schema: { parse(v: unknown): T }, what: string): T {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw wrap(`reading ${what}`, err);
  }
  try {
    return schema.parse(JSON.parse(text));
  } catch (err) {
    throw new RktError("data-loss", `the store's record of ${what} is damaged (${path})`, {
      cause: err,
      hint: "remove it with `rkt image rm` and fetch the image again",
    });
  }
}
