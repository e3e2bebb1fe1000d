/**
 * An OCI archive (a tar of an OCI image layout, what `skopeo copy ... oci-archive:FILE` writes) as
 * a source. The archive is unpacked into a work directory first, taking only the names a layout
 * may have (`oci-layout`, `index.json`, `blobs/<alg>/<hex>`) as regular files: anything else in
 * the tar (links, devices, `../` names) is skipped, so a hostile archive cannot write outside the
 * work directory. Then it is read as a layout.
 */
import { createReadStream, createWriteStream, mkdirSync } from "node:fs";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { extract } from "tar-stream";
import { RktError } from "../../lib/errors.js";
import { decompress } from "../layer/decompress.js";
import type { BlobRef, ImageSource, ManifestBytes } from "./image-source.js";
import { OciLayoutSource } from "./oci-layout-source.js";

const LAYOUT_NAME = /^(?:\.\/)?(oci-layout|index\.json|blobs\/(sha256\/[a-f0-9]{64}|sha512\/[a-f0-9]{128}))$/;

export class OciArchiveSource implements ImageSource {
  readonly label: string;
  private layout: OciLayoutSource | undefined;

  private constructor(
    label: string,
    private readonly workDir: string,
    private readonly onClose: () => void,
  ) {
    this.label = label;
  }

  /**
   * Unpacks `file` into `workDir` (which must not exist; the caller owns and removes it through
   * `onClose`) and opens the layout inside.
   */
  static async open(file: string, tag: string | undefined, label: string, workDir: string, onClose: () => void, signal?: AbortSignal): Promise<OciArchiveSource> {
    const src = new OciArchiveSource(label, workDir, onClose);
    try {
      await unpackLayoutTar(file, workDir, label, signal);
      src.layout = new OciLayoutSource(workDir, tag, label, basename(file));
    } catch (err) {
      onClose();
      throw err;
    }
    return src;
  }

  get name(): string {
    return this.inner().name;
  }

  rootManifest(signal?: AbortSignal): Promise<ManifestBytes> {
    return this.inner().rootManifest(signal);
  }

  manifest(digest: string, signal?: AbortSignal): Promise<ManifestBytes> {
    return this.inner().manifest(digest, signal);
  }

  openBlob(blob: BlobRef, signal?: AbortSignal): Promise<Readable> {
    return this.inner().openBlob(blob, signal);
  }

  close(): void {
    this.onClose();
  }

  private inner(): OciLayoutSource {
    if (this.layout === undefined) throw new RktError("internal", `${this.label}: archive not opened`);
    return this.layout;
  }

  /** For tests: where the archive was unpacked. */
  get directory(): string {
    return this.workDir;
  }
}

async function unpackLayoutTar(file: string, workDir: string, label: string, signal?: AbortSignal): Promise<void> {
  mkdirSync(workDir, { recursive: false, mode: 0o700 });
  const ex = extract();
  let sawLayout = false;
  ex.on("entry", (header, stream, next) => {
    const m = LAYOUT_NAME.exec(header.name);
    if (header.type !== "file" || m === null) {
      stream.resume();
      stream.once("end", next);
      return;
    }
    if (m[1] === "oci-layout") sawLayout = true;
    const rel = m[1] ?? "";
    const dest = join(workDir, rel);
    mkdirSync(join(dest, ".."), { recursive: true });
    pipeline(stream, createWriteStream(dest, { flags: "wx", mode: 0o600 })).then(
      () => next(),
      (err: unknown) => next(err instanceof Error ? err : new Error(String(err))),
    );
  });
  try {
    await pipeline(createReadStream(file), decompress(signal === undefined ? {} : { signal }), ex, signal === undefined ? {} : { signal });
  } catch (err) {
    if (err instanceof RktError) throw err;
    throw new RktError("invalid-argument", `${label}: ${file} is not a readable OCI archive: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  if (!sawLayout) {
    throw new RktError("invalid-argument", `${label}: ${file} is not an OCI archive (no oci-layout file inside)`, {
      hint: "write one with `skopeo copy ... oci-archive:FILE`; Docker's `docker save` format is not supported yet",
    });
  }
}
