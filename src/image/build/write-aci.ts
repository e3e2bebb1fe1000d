/**
 * Writes an ACI (appc aci.md "Image Archives"): a tar with the `manifest` first and the image's
 * files under `rootfs/`, gzip-compressed unless asked not to (aci.md: implementations "SHOULD
 * include an option to disable compression"). Node's gzip header carries no file name and a zero
 * mtime, so compression adds nothing that varies between builds.
 */
import { createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { AciManifestDocument } from "./aci-manifest-document.js";
import { DigestStream } from "./digest-stream.js";
import { packRootfs } from "./pack-rootfs.js";
import type { RootfsEntry } from "./rootfs-entries.js";

/** How {@link writeAci} writes. */
export interface WriteAciOptions {
  readonly mtime: Date;
  readonly compression: "gzip" | "none";
  readonly signal?: AbortSignal;
}

/**
 * Writes the ACI to `file` (a temporary name the caller renames) and returns its image ID: the
 * sha512 of the uncompressed archive, as `sha512-<hex>` (aci.md "Image ID").
 *
 * @example
 * const { imageId } = await writeAci(entries, manifest, pending.path, { mtime: new Date(0), compression: "gzip" });
 */
export async function writeAci(entries: readonly RootfsEntry[], manifest: AciManifestDocument, file: string, options: WriteAciOptions): Promise<{ imageId: string; size: number }> {
  const tarDigest = new DigestStream("sha512");
  const source = packRootfs(entries, { mtime: options.mtime, prefix: "rootfs", leading: [{ name: "manifest", data: Buffer.from(JSON.stringify(manifest)) }] });
  const out = createWriteStream(file, { flags: "wx", mode: 0o644 });
  const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
  if (options.compression === "gzip") await pipeline(source, tarDigest, createGzip({ level: 9 }), out, signalOpt);
  else await pipeline(source, tarDigest, out, signalOpt);
  return { imageId: tarDigest.digest().replace(":", "-"), size: tarDigest.size };
}
