/**
 * Turns an ACI (an uncompressed image archive from the store) into an OCI layer: the entries
 * under `rootfs/` with that prefix removed, from names and hard link targets alike, and nothing
 * else (the `manifest`, appc aci.md "Image Layout"). Headers are otherwise kept as they are, so
 * the same ACI always gives the same layer. This lets an OCI image be built on an ACI base.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { extract, pack, type Header } from "tar-stream";
import { RktError } from "../../lib/errors.js";
import { DigestStream } from "./digest-stream.js";

/** The layer written: its blob digest and size, and the uncompressed tar's digest (diff_id). */
export interface WrittenLayer {
  readonly digest: string;
  readonly size: number;
  readonly diffId: string;
}

/**
 * Writes the OCI layer of the ACI at `aciPath` to `outPath`, gzip-compressed unless `compression`
 * is "none".
 *
 * @example
 * const layer = await aciToOciLayer(store.blobPath(rec.id), "/tmp/work/layer", { compression: "gzip" });
 */
export async function aciToOciLayer(aciPath: string, outPath: string, options: { readonly compression: "gzip" | "none"; readonly signal?: AbortSignal }): Promise<WrittenLayer> {
  const out = pack();
  const ex = extract();
  ex.on("entry", (header, stream, next) => {
    const name = strip(header.name);
    if (name === undefined) {
      stream.resume();
      stream.on("end", () => next());
      return;
    }
    const copy: Header = { ...header, name, pax: null };
    if (header.type === "link") {
      const target = strip(header.linkname);
      if (target === undefined) {
        next(new RktError("invalid-argument", `ACI entry ${header.name} is a hard link to ${header.linkname}, outside rootfs/`));
        return;
      }
      copy.linkname = target;
    }
    const sink = out.entry(copy, (err) => next(err ?? null));
    stream.pipe(sink);
  });
  const signalOpt = options.signal === undefined ? {} : { signal: options.signal };
  const tarDigest = new DigestStream("sha256");
  const blobDigest = new DigestStream("sha256");
  const reading = pipeline(createReadStream(aciPath), ex, signalOpt).then(() => out.finalize());
  const writing = pipeline(
    out as unknown as Readable,
    tarDigest,
    ...(options.compression === "gzip" ? [createGzip()] : []),
    blobDigest,
    createWriteStream(outPath, { mode: 0o644 }),
    signalOpt,
  );
  try {
    await Promise.all([reading, writing]);
  } catch (err) {
    out.destroy(err instanceof Error ? err : new Error(String(err)));
    await Promise.allSettled([reading, writing]);
    throw err;
  }
  return { digest: blobDigest.digest(), size: blobDigest.size, diffId: tarDigest.digest() };
}

/** `rootfs/usr/bin` -> `usr/bin`; undefined for `rootfs/` itself and names outside it. */
function strip(name: string): string | undefined {
  const clean = name.replace(/^(\.\/)+/, "");
  if (!clean.startsWith("rootfs/")) return undefined;
  const rest = clean.slice("rootfs/".length);
  return rest === "" ? undefined : rest;
}
