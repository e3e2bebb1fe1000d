/**
 * Applying one OCI layer changeset (image-spec layer.md, "Applying Changesets") to a directory,
 * treating the tar as hostile: nothing it says can create, change or delete anything outside the
 * root.
 */
import {
  chmodSync,
  closeSync,
  fchmodSync,
  fchownSync,
  constants as fsConstants,
  futimesSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { lstat, readdir, realpath, rm } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, errnoCode, RktError, wrap } from "../../lib/errors.js";
import * as z from "../../lib/schema.js";
import { lsetxattr, mknod, S_IFBLK, S_IFCHR, S_IFIFO } from "../../sys/libc.js";
import { TarHeaderScanner } from "./_tar-header-scanner.js";
import { decompress } from "./decompress.js";
import { MAX_PATH_BYTES, parseEntryPath, quoteName } from "./entry-path.js";
import { secureJoin } from "./secure-join.js";
import { OVERLAY_OPAQUE_XATTR, parseWhiteout, type Whiteout } from "./whiteout.js";

/** The largest PAX extended header rkt reads (tar-stream alone would take 4 MiB). */
export const MAX_PAX_HEADER_BYTES = 1024 * 1024;
/** The largest ACI `manifest` entry rkt reads: real image manifests are a few KiB. */
export const MAX_ACI_MANIFEST_BYTES = 1024 * 1024;
/** Linux XATTR_NAME_MAX and XATTR_SIZE_MAX. */
const MAX_XATTR_NAME_BYTES = 255;
const MAX_XATTR_VALUE_BYTES = 64 * 1024;

export interface ApplyLayerOptions {
  /** The directory to apply the layer to. Must exist; in "overlay" mode it must be empty. */
  readonly root: string;
  /**
   * "flatten": apply onto a tree that already holds the lower layers; whiteouts delete from it.
   * "overlay": unpack this layer alone into an empty directory that will be an overlayfs lowerdir
   * above the lower layers' directories; whiteouts become overlayfs whiteouts (a 0/0 character
   * device, the `trusted.overlay.opaque=y` xattr).
   */
  readonly mode: "overlay" | "flatten";
  /** The layer's media type, if known: a hint for decompression (see `decompress`). */
  readonly mediaType?: string;
  /**
   * What the tar is. "layer" (the default): an OCI/Docker layer changeset. "aci": an appc image
   * archive, uncompressed (appc aci.md, "Image Layout" and "Image Archives"): only `rootfs/` is
   * applied, with that prefix taken off (hard link targets too); the `manifest` entry (a regular
   * file, at most `MAX_ACI_MANIFEST_BYTES`) is returned in the result instead; any other
   * top-level name is refused ("Image archives with additional files outside of rootfs are not
   * valid"); and `.wh.` names are ordinary files, since appc has no whiteouts.
   */
  readonly archive?: "layer" | "aci";
  readonly signal?: AbortSignal;
  /** Told about things skipped that a user may want to know (xattrs the file system refused). */
  readonly onWarning?: (message: string) => void;
}

export interface ApplyLayerResult {
  /** Tar entries applied, whiteouts included. */
  readonly entries: number;
  /** Bytes of regular file content written. */
  readonly bytes: number;
  /** With `archive: "aci"`: the `manifest` entry's bytes and whether the archive had `rootfs/`. */
  readonly aci?: { readonly manifest: Buffer | undefined; readonly rootfs: boolean };
}

/**
 * Applies a layer blob (plain tar, tar+gzip or tar+zstd, sniffed; see `decompress`) to
 * `options.root`.
 *
 * Semantics (image-spec layer.md):
 * - "Changeset over existing files": a directory entry over an existing directory merges into it
 *   and replaces its attributes; any other entry first removes whatever is at its path (a whole
 *   subtree if that was a directory), then creates itself. Existing files are never written to:
 *   a later entry cannot write through a hard link, a device node or a symlink.
 * - Regular files, directories, symlinks, hard links, character and block devices and FIFOs keep
 *   mode (setuid, setgid and sticky included), uid/gid (PAX `uid`/`gid` win over the header),
 *   mtime (PAX `mtime` too; atime is set to it) and `SCHILY.xattr.*` extended attributes, except
 *   `security.*` other than `security.capability` (labels are host policy) and overlayfs's own
 *   `trusted.overlay.*` / `user.overlay.*` (a layer could otherwise forge opaque dirs or
 *   redirects). Directory times are set once the whole layer is in, since adding children
 *   changes them. Hard links carry no attributes of their own.
 * - "Whiteouts": `.wh.NAME` and `.wh..wh..opq` only ever apply to lower layers, wherever they
 *   appear in the tar. In "flatten" mode the applier remembers every path this layer created (and
 *   their parents) and deletes only what it did not create: an opaque marker that comes after this
 *   layer's own children of the directory leaves those children alone. In "overlay" mode nothing
 *   is deleted: `.wh.NAME` becomes a 0/0 character device (or, when this layer itself has a
 *   directory NAME, makes it opaque), and `.wh..wh..opq` sets `trusted.overlay.opaque=y`. No
 *   `.wh.*` file is ever created. Docker's AUFS bookkeeping (`.wh..wh.*`) is ignored.
 *
 * Hostile content. Rejected with an "invalid-argument" RktError naming the entry (the layer is
 * refused; the caller discards the partly applied root):
 * - names or hard link targets with a `..` component, NUL bytes, more than 4096 bytes, or a
 *   component over 255 bytes; whiteouts named `.wh.`, `.wh..` or `.wh...`;
 * - a non-directory entry for the root itself; a hard link to the root, to a directory, to itself
 *   or to a path that does not exist inside the root (in "overlay" mode: in this layer);
 * - a path whose parent exists but is not a directory, symlink loops, symlinks without target;
 * - PAX headers over 1 MiB, GNU long names over 4096 bytes, empty or malformed ones, sizes past
 *   2^53, unknown entry types (GNU sparse, volume labels), xattr names over 255 or values over
 *   64 KiB bytes.
 * Neutralized (applied, but kept inside the root):
 * - leading `/` on names (taken relative to the root);
 * - symlinks anywhere in a path, planted by this layer or a lower one (including absolute ones
 *   and `../../..`): resolved inside the root as if it were `/` (see `secureJoin`); a symlink as
 *   the last component is replaced, never followed;
 * - hard links through symlinked parents: resolved the same way;
 * - device nodes: created inside the root (as any tar would) but never opened, and replaced, not
 *   written through, by later entries.
 *
 * ACIs (`archive: "aci"`): the same rules inside `rootfs/`, plus the appc layout (see
 * `ApplyLayerOptions.archive`); the result carries the manifest.
 *
 * Speed: file system calls are synchronous (the promise API's per-call cost dominated: ~4x the
 * CPU time on a 477 MB / 21k-entry image), creations are tried before looking for something to
 * replace, regular files get their attributes through their descriptor, and parents the applier
 * already checked or made are not resolved again (see `realDirs`).
 *
 * The tree must not change under the applier while it runs (no container uses it). On any error
 * or abort the input stream is destroyed (never left paused half-read) and no work is left
 * running when the promise settles; the root is then partly applied and should be removed.
 *
 * @example
 * const { entries, bytes } = await applyLayer(createReadStream(blobPath), {
 *   root: "/var/lib/rkt/layers/sha256-abc/rootfs",
 *   mode: "overlay",
 *   mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
 *   signal,
 * });
 */
export async function applyLayer(tarStream: Readable, options: ApplyLayerOptions): Promise<ApplyLayerResult> {
  try {
    options.signal?.throwIfAborted();
  } catch (err) {
    tarStream.destroy();
    throw err;
  }
  let root: string;
  let tar: typeof import("tar-stream");
  try {
    root = await checkRoot(options.root, options.mode);
    // Loaded here, not at the top: the image store imports this module, and store commands that
    // unpack nothing (`image list`, a cached `fetch`) should not load tar-stream at start-up.
    // `.default`: tar-stream is CommonJS, and its exports object is all that a bundled chunk offers.
    tar = (await import("tar-stream")).default;
  } catch (err) {
    tarStream.destroy();
    throw err;
  }
  const scanner = new TarHeaderScanner({ maxPaxBytes: MAX_PAX_HEADER_BYTES, maxNameBytes: MAX_PATH_BYTES });
  const aci = options.archive === "aci" ? { manifest: undefined, rootfs: false } : undefined;
  const applier = new LayerApplier(root, options.mode, scanner, options.onWarning ?? (() => undefined), aci);
  const extract = tar.extract();
  let inFlight: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  extract.on("entry", (header: unknown, entry: EntrySource, next: (error?: Error | null) => void) => {
    // When the tar ends mid-entry, tar-stream destroys the entry with an error: reading it then
    // fails (and that failure is reported), but an 'error' event with no listener would crash
    // the process first. tar-stream's own iterator does the same.
    entry.on("error", () => undefined);
    inFlight = applier.apply(header, entry, options.signal).then(
      () => next(),
      (err: unknown) => {
        const error = err instanceof Error ? err : new RktError("internal", String(err));
        // If the tar reader already failed (a truncated tar), this entry failed because of it:
        // report the reader's error, not "stream destroyed".
        if (!extract.destroying) failure ??= error;
        // Destroys the extract, and with it the pipeline and the input.
        next(error);
      },
    );
  });
  try {
    // An ACI comes here as the plain tar its image ID is the digest of (the caller decompressed it).
    const plain = aci === undefined ? decompress({ mediaType: options.mediaType }) : decompress({ compressions: [], what: "ACI" });
    const stages = [tarStream, plain, scanner, extract] as const;
    await (options.signal === undefined ? pipeline(stages) : pipeline(stages, { signal: options.signal }));
  } catch (err) {
    tarStream.destroy();
    // Settle the entry being applied before reporting, so nothing touches the tree afterwards.
    await inFlight;
    // An abort makes the entry being applied fail too; report the abort, not that.
    if (options.signal?.aborted === true) throw err;
    throw failure ?? readError(err, aci === undefined ? "layer" : "ACI");
  }
  await inFlight;
  if (failure !== undefined) throw failure;
  applier.finish();
  return { entries: applier.entries, bytes: applier.bytes, ...(aci === undefined ? {} : { aci: { manifest: aci.manifest, rootfs: aci.rootfs } }) };
}

/**
 * An error from the stream stages: tar-stream's own (plain Errors without a code: "Invalid tar
 * header", "Unexpected end of data") mean the layer is not a valid tar; the rest (the input's
 * I/O errors) keep their kind.
 */
function readError(err: unknown, what: string): RktError {
  if (err instanceof RktError) return err;
  if (errnoCode(err) !== undefined) return wrap(`reading ${what}`, err);
  return new RktError("invalid-argument", `${what} is not a valid tar: ${describe(err)}`, { cause: err });
}

async function checkRoot(root: string, mode: ApplyLayerOptions["mode"]): Promise<string> {
  if (!isAbsolute(root)) throw new RktError("invalid-argument", `applying layer: root ${JSON.stringify(root)} is not an absolute path`);
  let real: string;
  try {
    // The root itself is rkt's choice, not the layer's: resolving host symlinks in it is fine.
    real = await realpath(root);
    if (!(await lstat(real)).isDirectory()) throw new RktError("invalid-argument", `applying layer: ${root} is not a directory`);
    if (mode === "overlay" && (await readdir(real)).length > 0) {
      throw new RktError("failed-precondition", `applying layer: ${root} is not empty`, {
        hint: "overlay mode unpacks one layer into a new, empty directory",
      });
    }
  } catch (err) {
    if (err instanceof RktError) throw err;
    throw wrap(`applying layer to ${root}`, err);
  }
  return real;
}

/** tar-stream's header object, parsed at the boundary (its typings omit `pax` and `byteOffset`). */
const TarHeaderSchema = z.object({
  name: z.string(),
  type: z.nullable(z.enum(["file", "link", "symlink", "character-device", "block-device", "directory", "fifo", "contiguous-file"])),
  mode: z.int().check(z.nonnegative()),
  uid: z.int().check(z.nonnegative()),
  gid: z.int().check(z.nonnegative()),
  size: z.int().check(z.nonnegative()),
  mtime: z.date(),
  linkname: z.nullable(z.string()),
  devmajor: z.int().check(z.nonnegative()),
  devminor: z.int().check(z.nonnegative()),
  byteOffset: z.int().check(z.nonnegative()),
  pax: z.nullable(z.record(z.string(), z.string())),
});

type EntryType = NonNullable<z.infer<typeof TarHeaderSchema>["type"]>;

interface Entry {
  readonly name: string;
  readonly type: EntryType | null;
  /** Permission bits including setuid, setgid and sticky. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** Seconds since the epoch, possibly fractional (PAX). */
  readonly mtime: number;
  readonly linkname: string | undefined;
  readonly devmajor: number;
  readonly devminor: number;
  /** Where the entry's data starts in the tar: the key to its raw xattrs. */
  readonly dataOffset: number;
  /** Bytes of data the header announces (PAX `size` applied). */
  readonly size: number;
}

const PAX_ID = /^\d{1,15}$/;
const PAX_TIME = /^-?\d{1,15}(\.\d+)?$/;

function parseEntry(raw: unknown): Entry {
  const parsed = TarHeaderSchema.safeParse(raw);
  if (!parsed.success) {
    const name = typeof raw === "object" && raw !== null && "name" in raw ? String(raw.name) : "?";
    throw new RktError("invalid-argument", `layer entry ${quoteName(name)} has a malformed tar header: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  }
  const h = parsed.data;
  const pax = h.pax ?? {};
  const paxNumber = (key: string, pattern: RegExp): number | undefined => {
    const value = pax[key];
    if (value === undefined) return undefined;
    if (!pattern.test(value)) throw new RktError("invalid-argument", `layer entry ${quoteName(h.name)} has a malformed PAX ${key} ${quoteName(value)}`);
    return Number(value);
  };
  return {
    name: h.name,
    type: h.type,
    mode: h.mode & 0o7777,
    uid: paxNumber("uid", PAX_ID) ?? h.uid,
    gid: paxNumber("gid", PAX_ID) ?? h.gid,
    mtime: paxNumber("mtime", PAX_TIME) ?? h.mtime.getTime() / 1000,
    linkname: h.linkname ?? undefined,
    devmajor: h.devmajor,
    devminor: h.devminor,
    dataOffset: h.byteOffset,
    size: h.size,
  };
}

type Kind = "directory" | "symlink" | "node";

/** What an ACI archive held outside `rootfs/` (see `ApplyLayerOptions.archive`). */
interface AciState {
  manifest: Buffer | undefined;
  rootfs: boolean;
}

/** An entry's content as tar-stream hands it out (a streamx Readable of Buffers). */
type EntryData = AsyncIterable<unknown>;
type EntrySource = EntryData & { on(event: "error", listener: () => void): unknown };

function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new RktError("internal", "tar reader returned a chunk that is not bytes");
}

/** The state of one layer application; one instance per applyLayer call. */
class LayerApplier {
  entries = 0;
  bytes = 0;
  /**
   * Root-relative paths this layer created or replaced, and all their parents: what whiteouts in
   * this same layer must not delete (layer.md: "Whiteout files MUST only apply to resources in
   * lower/parent layers").
   */
  private readonly ours = new Set<string>();
  /** Overlay mode: root-relative paths of the whiteout devices made for `.wh.NAME`. */
  private readonly whiteoutNodes = new Set<string>();
  private readonly dirTimes: { readonly path: string; readonly mtime: number }[] = [];
  /**
   * Root-relative paths that are real directories (lstat says directory: not symlinks), each with
   * every parent a real directory too, as this applier saw or made them. Such a path resolves to
   * itself (secureJoin would lstat every component and find no symlink), so an entry whose parent
   * is in here skips the lookup: most entries of a layer sit in directories the layer itself just
   * created. Only paths the applier checked or created get in; anything that removes a directory
   * empties the set (the tree does not change under the applier otherwise, see applyLayer).
   */
  private readonly realDirs = new Set<string>([""]);

  constructor(
    private readonly root: string,
    private readonly mode: ApplyLayerOptions["mode"],
    private readonly scanner: TarHeaderScanner,
    private readonly warn: (message: string) => void,
    /** Set for an ACI archive (`archive: "aci"`). */
    private readonly aci: AciState | undefined,
  ) {}

  async apply(raw: unknown, data: EntryData, signal: AbortSignal | undefined): Promise<void> {
    signal?.throwIfAborted();
    const entry = parseEntry(raw);
    try {
      await this.applyEntry(entry, data);
    } catch (err) {
      // Rejections already name the entry; other failures get it as context.
      if (err instanceof RktError && err.kind === "invalid-argument") throw err;
      throw wrap(`applying layer entry ${quoteName(entry.name)}`, err);
    }
    this.entries += 1;
  }

  /** Sets directory times, now that no more children will be added (tar and Docker do the same). */
  finish(): void {
    for (const { path, mtime } of this.dirTimes) {
      try {
        lutimesSync(path, mtime, mtime);
      } catch (err) {
        // Deleted or replaced again later in the layer.
        if (errnoCode(err) !== "ENOENT") throw wrap(`applying layer: setting times of ${path}`, err);
      }
    }
  }

  private async applyEntry(entry: Entry, data: EntryData): Promise<void> {
    let parts = parseEntryPath(entry.name);
    if (this.aci !== undefined) {
      const inRootfs = await this.aciEntry(this.aci, entry, parts, data);
      if (inRootfs === undefined) return;
      parts = inRootfs;
    }
    const base = parts.at(-1);
    // appc has no whiteouts: in an ACI, `.wh.NAME` is a file like any other.
    const whiteout = base === undefined || this.aci !== undefined ? undefined : parseWhiteout(base);
    if (whiteout !== undefined) {
      await drain(data);
      await this.applyWhiteout(entry, parts.slice(0, -1), whiteout);
      return;
    }
    switch (entry.type) {
      case "file":
      case "contiguous-file":
        await this.writeFile(entry, parts, data);
        return;
      case "directory":
        await drain(data);
        await this.makeDirectory(entry, parts);
        return;
      case "symlink":
        await drain(data);
        await this.makeSymlink(entry, parts);
        return;
      case "link":
        await drain(data);
        await this.makeHardLink(entry, parts);
        return;
      case "character-device":
      case "block-device":
      case "fifo":
        await drain(data);
        await this.makeNode(entry, parts, entry.type);
        return;
      default:
        throw reject(entry, "has a tar entry type rkt does not apply (GNU sparse files, volume labels, ...)");
    }
  }

  /**
   * The ACI layout (appc aci.md, "Image Archives": "only two top-level pathnames, `manifest` (a
   * regular file) and `rootfs` (a directory)"). Returns the entry's path inside `rootfs/`, or
   * undefined when the entry was consumed here (the manifest, the archive's own `./`).
   */
  private async aciEntry(aci: AciState, entry: Entry, parts: readonly string[], data: EntryData): Promise<readonly string[] | undefined> {
    const [top, ...rest] = parts;
    if (top === undefined) {
      if (entry.type !== "directory") throw reject(entry, "names the archive's root, which only a directory entry may do");
      await drain(data);
      return undefined;
    }
    if (top === "manifest" && rest.length === 0) {
      if (entry.type !== "file" && entry.type !== "contiguous-file") throw reject(entry, "must be a regular file (appc aci.md, \"Image Archives\")");
      if (aci.manifest !== undefined) throw reject(entry, "appears twice (an ACI has one manifest)");
      if (entry.size > MAX_ACI_MANIFEST_BYTES) throw reject(entry, `is ${entry.size} bytes, over the ${MAX_ACI_MANIFEST_BYTES} bytes rkt reads`);
      aci.manifest = await readLimited(entry, data, MAX_ACI_MANIFEST_BYTES);
      return undefined;
    }
    if (top !== "rootfs") {
      throw reject(entry, 'is outside "rootfs/": an ACI holds only "manifest" and "rootfs/" (appc aci.md, "Image Archives")');
    }
    if (rest.length === 0 && entry.type !== "directory") throw reject(entry, "must be a directory (appc aci.md, \"Image Archives\")");
    aci.rootfs = true;
    return rest;
  }

  /*
   * Creating entries. Each creation is tried first, and only if something is already at the path
   * (EEXIST) is that removed ("changeset over existing files") and the creation tried again: in an
   * overlay root most paths are new, and the exclusive creation calls (open O_CREAT|O_EXCL|
   * O_NOFOLLOW, mkdir, symlink, link, mknod) never follow or write through what is there.
   * Metadata calls are synchronous: they are cheap system calls, and the promise API's per-call
   * cost would dominate.
   */

  private async writeFile(entry: Entry, parts: readonly string[], data: EntryData): Promise<void> {
    const { host, rel } = await this.place(entry, parts);
    // O_EXCL | O_NOFOLLOW: if anything is at the path (a symlink, a device, a hard link), fail and
    // remove it, never write through it.
    const flags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    const fd = await this.create(host, rel, () => openSync(host, flags, 0o600));
    try {
      for await (const item of data) {
        const chunk = asBuffer(item);
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
        this.bytes += chunk.length;
      }
      this.markOurs(rel);
      // On the descriptor: it is the file just created, whatever happens to the path.
      fchownSync(fd, entry.uid, entry.gid);
      fchmodSync(fd, entry.mode);
      this.setXattrs(entry, host);
      futimesSync(fd, entry.mtime, entry.mtime);
    } finally {
      closeSync(fd);
    }
  }

  private async makeDirectory(entry: Entry, parts: readonly string[]): Promise<void> {
    const { host, rel } = parts.length === 0 ? { host: this.root, rel: "" } : await this.place(entry, parts);
    if (rel !== "") {
      let made = true;
      try {
        mkdirSync(host, 0o700);
      } catch (err) {
        if (errnoCode(err) !== "EEXIST") throw err;
        made = false;
      }
      if (!made && !lstatSync(host).isDirectory()) {
        // "Changeset over existing files": both directories merge; anything else is replaced.
        const wasWhiteout = await this.removeExisting(host, rel);
        mkdirSync(host, 0o700);
        // A directory replacing this layer's own whiteout must still hide the lower one's content.
        if (wasWhiteout) setOpaque(host);
      }
    }
    this.markOurs(rel);
    // A real directory (made or lstat'ed just now) below the real directories `place` resolved.
    this.realDirs.add(rel);
    this.setAttributes(entry, host, "directory");
  }

  private async makeSymlink(entry: Entry, parts: readonly string[]): Promise<void> {
    const target = entry.linkname;
    if (target === undefined || target === "") throw reject(entry, "is a symlink without a target");
    if (target.includes("\0") || Buffer.byteLength(target) > MAX_PATH_BYTES) throw reject(entry, "has an invalid symlink target");
    const { host, rel } = await this.place(entry, parts);
    // The target is stored as given: it is data, resolved inside the root whenever rkt follows it.
    await this.create(host, rel, () => symlinkSync(target, host));
    this.markOurs(rel);
    this.setAttributes(entry, host, "symlink");
  }

  private async makeHardLink(entry: Entry, parts: readonly string[]): Promise<void> {
    const target = entry.linkname;
    if (target === undefined || target === "") throw reject(entry, "is a hard link without a target");
    let targetParts = parseEntryPath(target, `entry ${quoteName(entry.name)} links to`);
    if (this.aci !== undefined) {
      // In an ACI, link targets name archive paths too: only ones inside rootfs/ exist in the tree.
      if (targetParts[0] !== "rootfs") throw reject(entry, `links to ${quoteName(target)}, which is outside "rootfs/"`);
      targetParts = targetParts.slice(1);
    }
    const targetName = targetParts.at(-1);
    if (targetName === undefined) throw reject(entry, "is a hard link to the root directory");
    const { host, rel } = await this.place(entry, parts);
    // The last component is not followed: link(2) links a symlink itself, and so do we. So the
    // target is its resolved parent plus its name, as secureJoin(..., { followFinalSymlink: false })
    // would return it.
    const targetDir = this.knownDirectory(targetParts.slice(0, -1));
    const targetHost = targetDir === undefined ? await this.resolve(entry, targetParts.join("/"), false) : join(targetDir.host, targetName);
    if (targetHost === host) throw reject(entry, "is a hard link to itself");
    const existing = lstatOrUndefined(targetHost);
    if (existing === undefined) {
      throw reject(entry, `links to ${quoteName(target)}, which does not exist in the tree${this.mode === "overlay" ? " (in overlay mode: in this layer)" : ""}`);
    }
    if (existing.isDirectory()) throw reject(entry, `links to ${quoteName(target)}, which is a directory`);
    await this.create(host, rel, () => linkSync(targetHost, host));
    this.markOurs(rel);
  }

  private async makeNode(entry: Entry, parts: readonly string[], type: "character-device" | "block-device" | "fifo"): Promise<void> {
    const { host, rel } = await this.place(entry, parts);
    const format = type === "character-device" ? S_IFCHR : type === "block-device" ? S_IFBLK : S_IFIFO;
    await this.create(host, rel, () => {
      if (type === "fifo") mknod(host, format | 0o600);
      else mknod(host, format | 0o600, entry.devmajor, entry.devminor);
    });
    this.markOurs(rel);
    this.setAttributes(entry, host, "node");
  }

  /**
   * Runs `make` (an exclusive creation at `host`); if something is in the way (EEXIST; EISDIR for
   * a directory), removes it and runs `make` again.
   */
  private async create<T>(host: string, rel: string, make: () => T): Promise<T> {
    try {
      return make();
    } catch (err) {
      const code = errnoCode(err);
      if (code !== "EEXIST" && code !== "EISDIR") throw err;
    }
    await this.removeExisting(host, rel);
    return make();
  }

  private async applyWhiteout(entry: Entry, dirParts: readonly string[], whiteout: Whiteout): Promise<void> {
    if (whiteout.kind === "aufs-meta") {
      this.warn(`layer entry ${quoteName(entry.name)}: ignoring AUFS metadata`);
      return;
    }
    // The marker lives in a directory, so this layer has that directory (Docker and containerd
    // create it too).
    const dir = await this.directory(entry, dirParts);
    const { host: dirHost, rel: dirRel } = dir;
    this.markOurs(dirRel);

    if (whiteout.kind === "opaque") {
      if (this.mode === "overlay") setOpaque(dirHost);
      // "applied first, before creating the new version ... regardless of the ordering".
      else await this.removeLowerChildren(dirHost, dirRel);
      return;
    }

    const host = join(dirHost, whiteout.name);
    const rel = dirRel === "" ? whiteout.name : `${dirRel}/${whiteout.name}`;
    const existing = lstatOrUndefined(host);
    if (this.mode === "overlay") {
      if (existing === undefined) {
        mknod(host, S_IFCHR, 0, 0);
        this.whiteoutNodes.add(rel);
      } else if (existing.isDirectory() && !this.whiteoutNodes.has(rel)) {
        // This layer has its own NAME/: keep it, hide the lower NAME's children.
        setOpaque(host);
      }
      // This layer's own non-directory NAME already hides the lower one.
      return;
    }
    if (existing === undefined) return;
    if (!this.ours.has(rel)) {
      await rm(host, { recursive: true, force: true });
      this.afterRemoval(rel, true);
    } else if (existing.isDirectory()) {
      await this.removeLowerChildren(host, rel);
    }
  }

  /** Flatten mode: deletes everything under `dirHost` this layer did not create. */
  private async removeLowerChildren(dirHost: string | Buffer, dirRel: string): Promise<void> {
    // Names as bytes: a lower tree may hold names that are not UTF-8.
    for (const name of await readdir(dirHost, { encoding: "buffer" })) {
      const host = Buffer.concat([Buffer.from(dirHost), Buffer.from("/"), name]);
      const nameText = name.toString("utf8");
      const rel = dirRel === "" ? nameText : `${dirRel}/${nameText}`;
      if (!this.ours.has(rel)) {
        await rm(host, { recursive: true, force: true });
        this.afterRemoval(rel, true);
      } else if ((await lstat(host)).isDirectory()) {
        await this.removeLowerChildren(host, rel);
      }
    }
  }

  /** Resolves the entry's parent inside the root, creates missing directories, joins the name. */
  private async place(entry: Entry, parts: readonly string[]): Promise<{ host: string; rel: string }> {
    const name = parts.at(-1);
    if (name === undefined) throw reject(entry, "names the root directory, which only a directory entry may do");
    const parent = await this.directory(entry, parts.slice(0, -1));
    return { host: join(parent.host, name), rel: parent.rel === "" ? name : `${parent.rel}/${name}` };
  }

  /** The directory `dirParts` names, resolved inside the root and made a directory (see ensureDirectory). */
  private async directory(entry: Entry, dirParts: readonly string[]): Promise<{ host: string; rel: string }> {
    const known = this.knownDirectory(dirParts);
    if (known !== undefined) return known;
    const host = await this.resolve(entry, dirParts.join("/"), true);
    return { host, rel: this.ensureDirectory(entry, host) };
  }

  /** `dirParts` when it is a known real directory (see `realDirs`): then it resolves to itself. */
  private knownDirectory(dirParts: readonly string[]): { host: string; rel: string } | undefined {
    const rel = dirParts.join("/");
    if (!this.realDirs.has(rel)) return undefined;
    return { host: rel === "" ? this.root : join(this.root, rel), rel };
  }

  private async resolve(entry: Entry, path: string, followFinalSymlink: boolean): Promise<string> {
    try {
      return await secureJoin(this.root, path, { followFinalSymlink });
    } catch (err) {
      if (err instanceof RktError) throw reject(entry, `cannot be placed: ${err.message}`);
      throw err;
    }
  }

  /**
   * Makes `dirHost` (a path secureJoin returned, so inside the root with no symlinks among its
   * existing components) a directory, creating the missing ones with mode 0755. Every component
   * is lstat'ed (or made) here, so afterwards each is a real directory: all go into `realDirs`.
   * Returns `dirHost` relative to the root.
   */
  private ensureDirectory(entry: Entry, dirHost: string): string {
    const rel = relative(this.root, dirHost);
    if (rel === "") return rel;
    let host = this.root;
    let sofar = "";
    for (const part of rel.split("/")) {
      host = join(host, part);
      sofar = sofar === "" ? part : `${sofar}/${part}`;
      const existing = lstatOrUndefined(host);
      if (existing?.isDirectory()) {
        this.realDirs.add(sofar);
        continue;
      }
      if (existing !== undefined) {
        if (!this.whiteoutNodes.has(sofar)) throw reject(entry, `needs ${quoteName(sofar)} to be a directory, but it is not`);
        // Overlay mode: a path under something this layer whited out. The directory replaces the
        // whiteout and, opaque, still hides the lower one.
        unlinkSync(host);
        this.whiteoutNodes.delete(sofar);
        mkdirSync(host);
        setOpaque(host);
      } else {
        mkdirSync(host);
      }
      chmodSync(host, 0o755);
      this.markOurs(sofar);
      this.realDirs.add(sofar);
    }
    return rel;
  }

  /** Removes whatever is at `host` (a whole tree for a directory). Returns whether it was a whiteout device. */
  private async removeExisting(host: string, rel: string): Promise<boolean> {
    const existing = lstatOrUndefined(host);
    if (existing === undefined) return false;
    // fs.rm never follows symlinks: a link to elsewhere is removed, not what it points to.
    if (existing.isDirectory()) await rm(host, { recursive: true, force: true });
    else unlinkSync(host);
    this.afterRemoval(rel, existing.isDirectory());
    return this.whiteoutNodes.delete(rel);
  }

  /** Keeps `realDirs` true after removing `rel` (a whole tree when `tree`). */
  private afterRemoval(rel: string, tree: boolean): void {
    if (!tree) {
      this.realDirs.delete(rel);
      return;
    }
    // Rare (a layer replacing its own directories, flatten-mode deletions): start over.
    this.realDirs.clear();
    this.realDirs.add("");
  }

  private markOurs(rel: string): void {
    let path = rel;
    while (path !== "" && !this.ours.has(path)) {
      this.ours.add(path);
      const slash = path.lastIndexOf("/");
      path = slash === -1 ? "" : path.slice(0, slash);
    }
  }

  /**
   * Owner, then mode (chown(2) clears setuid/setgid), then xattrs (writing clears
   * security.capability, chown too), then times (last: the others may touch them). Regular files
   * do the same on their descriptor (writeFile).
   */
  private setAttributes(entry: Entry, host: string, kind: Kind): void {
    lchownSync(host, entry.uid, entry.gid);
    // Symlink permissions mean nothing on Linux (and chmod would follow the link).
    if (kind !== "symlink") chmodSync(host, entry.mode);
    this.setXattrs(entry, host);
    if (kind === "directory") this.dirTimes.push({ path: host, mtime: entry.mtime });
    else lutimesSync(host, entry.mtime, entry.mtime);
  }

  private setXattrs(entry: Entry, host: string): void {
    for (const [name, value] of this.scanner.takeXattrs(entry.dataOffset)) {
      if (!xattrAllowed(name)) continue;
      if (name === "" || name.includes("\0") || Buffer.byteLength(name) > MAX_XATTR_NAME_BYTES || value.length > MAX_XATTR_VALUE_BYTES) {
        throw reject(entry, `has an invalid extended attribute ${quoteName(name)}`);
      }
      try {
        lsetxattr(host, name, value);
      } catch (err) {
        const code = errnoCode(err);
        // The file system does not take it (no user.* xattrs on symlinks, no xattrs on some file
        // systems): the content is still right, so go on, as Docker and containerd do.
        if (code !== "EOPNOTSUPP" && code !== "EPERM") throw err;
        this.warn(`layer entry ${quoteName(entry.name)}: extended attribute ${name} not set (${code})`);
      }
    }
  }
}

/**
 * Which `SCHILY.xattr.*` names a layer may set. `security.*` labels (SELinux, SMACK, IMA) belong
 * to the host's policy, except file capabilities, which images legitimately carry. overlayfs's
 * own attributes are rkt's to write (overlay mode) and would let a layer forge whiteouts,
 * redirects or metacopy files.
 */
function xattrAllowed(name: string): boolean {
  if (name === "security.capability") return true;
  if (name.startsWith("security.")) return false;
  if (name.startsWith("trusted.overlay.") || name.startsWith("user.overlay.")) return false;
  return true;
}

function setOpaque(host: string): void {
  lsetxattr(host, OVERLAY_OPAQUE_XATTR, Buffer.from("y"));
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw err;
  }
}

/**
 * Reads an entry's data into memory, refusing more than `limit` bytes. Reads to the end before
 * refusing: leaving the loop early would destroy the entry, and with it the tar reader, and the
 * refusal would be reported as the reader's "premature close".
 */
async function readLimited(entry: Entry, data: EntryData, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const item of data) {
    const chunk = asBuffer(item);
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw reject(entry, `is ${size} bytes, over the ${limit} bytes rkt reads`);
  return Buffer.concat(chunks);
}

/** Reads an entry's data to the end, so tar-stream moves on to the next header. */
async function drain(data: EntryData): Promise<void> {
  for await (const _ of data) {
    // Discarded: directories, links, devices and whiteouts have no content.
  }
}

function reject(entry: Entry, why: string): RktError {
  return new RktError("invalid-argument", `layer entry ${quoteName(entry.name)} ${why}`);
}
