/**
 * Writes rootfs entries as a tar stream whose bytes depend only on the entries: the order is the
 * entries' (sorted), every header carries the one `mtime` given, owners are numeric with empty
 * user and group names, and nothing else from the host (atime, ctime, device numbers, PAX
 * extras) is written. Names that fit ustar stay plain ustar headers; only longer or non-ASCII
 * names get a PAX `path` record, which again depends on the name alone.
 *
 * The same entries serve both formats: an OCI layer (paths at the root of the tar, image-spec
 * layer.md) and an ACI (`manifest` first, then everything under `rootfs/`, appc aci.md "Image
 * Layout").
 */
import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { pack, type Header, type Pack } from "tar-stream";
import { RktError } from "../../lib/errors.js";
import type { RootfsEntry } from "./rootfs-entries.js";

/** How {@link packRootfs} lays out the archive. */
export interface PackRootfsOptions {
  /** The timestamp of every entry (SOURCE_DATE_EPOCH, or the epoch). */
  readonly mtime: Date;
  /** A directory all entries go under (`rootfs` for an ACI); it gets an entry of its own. */
  readonly prefix?: string;
  /** Regular files written before the entries (an ACI's `manifest`), mode 0644, root-owned. */
  readonly leading?: readonly { readonly name: string; readonly data: Buffer }[];
}

/**
 * A tar stream of `entries`. Errors (a source file that vanished or changed size since it was
 * collected) destroy the stream, so a pipeline reading it fails instead of ending early.
 *
 * @example
 * await pipeline(packRootfs(entries, { mtime: new Date(0) }), createWriteStream("layer.tar"));
 */
export function packRootfs(entries: readonly RootfsEntry[], options: PackRootfsOptions): Readable {
  const tar = pack();
  feed(tar, entries, options).catch((err: unknown) => tar.destroy(err instanceof Error ? err : new Error(String(err))));
  return tar as unknown as Readable;
}

async function feed(tar: Pack, entries: readonly RootfsEntry[], options: PackRootfsOptions): Promise<void> {
  const base = { mtime: options.mtime, uname: "", gname: "" };
  for (const file of options.leading ?? []) {
    await add(tar, { ...base, name: file.name, type: "file", mode: 0o644, uid: 0, gid: 0, size: file.data.length }, file.data);
  }
  const prefix = options.prefix === undefined ? "" : `${options.prefix}/`;
  if (options.prefix !== undefined) await add(tar, { ...base, name: prefix, type: "directory", mode: 0o755, uid: 0, gid: 0 });
  for (const e of entries) {
    const header = { ...base, mode: e.mode, uid: e.uid, gid: e.gid };
    switch (e.type) {
      case "directory":
        await add(tar, { ...header, name: `${prefix}${e.path}/`, type: "directory" });
        break;
      case "symlink":
        await add(tar, { ...header, name: `${prefix}${e.path}`, type: "symlink", linkname: e.target });
        break;
      case "file":
        try {
          await add(tar, { ...header, name: `${prefix}${e.path}`, type: "file", size: e.size }, e.size === 0 ? Buffer.alloc(0) : createReadStream(e.source));
        } catch (err) {
          throw new RktError("failed-precondition", `copying ${e.source} to /${e.path}: the file changed or vanished while the image was built`, {
            hint: "build again once nothing writes to the context directory",
            cause: err,
          });
        }
        break;
    }
  }
  tar.finalize();
}

/** Adds one entry and resolves once its bytes are in the archive. */
function add(tar: Pack, header: Partial<Header> & Pick<Header, "name">, body?: Buffer | Readable): Promise<void> {
  return new Promise((resolve, reject) => {
    if (body === undefined) {
      tar.entry(header, (err) => (err ? reject(err) : resolve()));
      return;
    }
    if (Buffer.isBuffer(body)) {
      tar.entry(header, body, (err) => (err ? reject(err) : resolve()));
      return;
    }
    const sink = tar.entry(header, (err) => (err ? reject(err) : resolve()));
    body.on("error", (err) => {
      sink.destroy(err);
      reject(err);
    });
    body.pipe(sink);
  });
}
