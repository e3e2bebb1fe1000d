/**
 * An OCI image layout directory as a source (OCI image spec, image-layout.md): `oci-layout`,
 * `index.json`, `blobs/<alg>/<hex>`. This is what skopeo (`oci:DIR`) and umoci write, and how a
 * machine without a registry gets images.
 *
 * The layout is as untrusted as a registry: its index is parsed with a schema, digests from it are
 * checked before they become paths, and every blob read is verified by the store against its
 * digest.
 */
import { createReadStream, readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import { errnoCode, RktError } from "../../lib/errors.js";
import * as z from "../../lib/schema.js";
import { splitDigest } from "../store/store-paths.js";
import type { BlobRef, ImageSource, ManifestBytes } from "./image-source.js";

const REF_NAME = "org.opencontainers.image.ref.name";
/** Top-level index files larger than this are refused: a layout lists a handful of images. */
const MAX_INDEX_BYTES = 4 * 1024 * 1024;

const layoutIndexSchema = z.object({
  schemaVersion: z.literal(2),
  manifests: z.array(
    z.object({
      mediaType: z.string(),
      digest: z.string(),
      size: z.int().check(z.nonnegative()),
      annotations: z.optional(z.record(z.string(), z.string())),
    }),
  ),
});

export class OciLayoutSource implements ImageSource {
  readonly label: string;
  readonly name: string;
  private readonly dir: string;
  private readonly tag: string | undefined;

  /**
   * @param dir the layout directory
   * @param tag which image of the layout (its `org.opencontainers.image.ref.name`); optional
   *   when the layout holds exactly one
   * @param label how the user named it, for messages
   * @param nameHint the base of the store name when the layout does not give a full one
   */
  constructor(dir: string, tag: string | undefined, label: string, nameHint?: string) {
    this.dir = resolve(dir);
    this.tag = tag;
    this.label = label;
    const st = statSync(join(this.dir, "oci-layout"), { throwIfNoEntry: false });
    if (st === undefined || !st.isFile()) {
      throw new RktError("invalid-argument", `${label}: ${this.dir} is not an OCI image layout (no oci-layout file)`, {
        hint: "give a directory written by `skopeo copy ... oci:DIR` or `umoci`, or an OCI archive",
      });
    }
    this.name = storeName(nameHint ?? basename(this.dir), this.pickDescriptor().refName ?? tag);
  }

  rootManifest(_signal?: AbortSignal): Promise<ManifestBytes> {
    const d = this.pickDescriptor();
    return Promise.resolve(this.readManifest(d.digest, d.mediaType, d.size));
  }

  manifest(digest: string, _signal?: AbortSignal): Promise<ManifestBytes> {
    return Promise.resolve(this.readManifest(digest, "", undefined));
  }

  openBlob(blob: BlobRef, _signal?: AbortSignal): Promise<Readable> {
    const path = this.blobPath(blob.digest);
    const st = statSync(path, { throwIfNoEntry: false });
    if (st === undefined) return Promise.reject(missing(this.label, blob.digest));
    return Promise.resolve(createReadStream(path));
  }

  close(): void {
    // nothing held
  }

  private blobPath(digest: string): string {
    const { algorithm, hex } = splitDigest(digest);
    return join(this.dir, "blobs", algorithm, hex);
  }

  private readManifest(digest: string, mediaType: string, size: number | undefined): ManifestBytes {
    let bytes: Buffer;
    try {
      const path = this.blobPath(digest);
      const st = statSync(path);
      if (st.size > MAX_INDEX_BYTES || (size !== undefined && st.size !== size)) {
        throw new RktError("data-loss", `${this.label}: manifest ${digest} has ${st.size} bytes, expected ${size ?? `at most ${MAX_INDEX_BYTES}`}`);
      }
      bytes = readFileSync(path);
    } catch (err) {
      if (err instanceof RktError) throw err;
      if (errnoCode(err) === "ENOENT") throw missing(this.label, digest);
      throw new RktError("internal", `${this.label}: reading manifest ${digest}: ${String(err)}`, { cause: err });
    }
    return { bytes, mediaType, digest };
  }

  private pickDescriptor(): { digest: string; mediaType: string; size: number; refName: string | undefined } {
    const path = join(this.dir, "index.json");
    let index: z.infer<typeof layoutIndexSchema>;
    try {
      const st = statSync(path);
      if (st.size > MAX_INDEX_BYTES) throw new RktError("invalid-argument", `${this.label}: index.json is ${st.size} bytes; refusing more than ${MAX_INDEX_BYTES}`);
      index = layoutIndexSchema.parse(JSON.parse(readFileSync(path, "utf8")));
    } catch (err) {
      if (err instanceof RktError) throw err;
      throw new RktError("invalid-argument", `${this.label}: malformed index.json in ${this.dir}`, { cause: err });
    }
    const named = index.manifests.map((m) => ({ ...m, refName: m.annotations?.[REF_NAME] }));
    if (this.tag !== undefined) {
      const hit = named.find((m) => m.refName === this.tag || m.refName?.endsWith(`:${this.tag}`));
      if (hit === undefined) {
        const have = named.map((m) => m.refName).filter((n) => n !== undefined);
        throw new RktError("not-found", `${this.label}: no image tagged "${this.tag}" in the layout`, {
          hint: have.length > 0 ? `it has: ${have.join(", ")}` : "the layout's images carry no ref names; omit the tag",
        });
      }
      return hit;
    }
    const only = named[0];
    if (named.length !== 1 || only === undefined) {
      throw new RktError("invalid-argument", `${this.label}: the layout holds ${named.length} images; say which one`, {
        hint: `append :TAG, one of: ${named.map((m) => m.refName ?? m.digest).join(", ")}`,
      });
    }
    return only;
  }
}

function missing(label: string, digest: string): RktError {
  return new RktError("data-loss", `${label}: blob ${digest} is missing from the layout`, {
    hint: "the layout is incomplete; copy it again with `skopeo copy`",
  });
}

/**
 * The store name of a local image: a ref name that already is a full reference
 * (`docker.io/library/busybox:1.36`) is kept; a bare tag becomes `localhost/<base>:<tag>`, the
 * convention podman uses for images without a registry.
 */
export function storeName(base: string, refName: string | undefined): string {
  if (refName !== undefined && /^[a-z0-9.-]+(:\d+)?\/.+[:@].+$/.test(refName) && /[.:]|^localhost\//.test(refName.split("/")[0] ?? "")) {
    return refName;
  }
  const cleanBase = base.toLowerCase().replace(/\.(tar|oci|ocitar)$/, "").replace(/[^a-z0-9._-]+/g, "-").replace(/^[^a-z0-9]+/, "") || "image";
  const tag = refName !== undefined && /^[\w][\w.-]{0,127}$/.test(refName) ? refName : "latest";
  return `localhost/${cleanBase}:${tag}`;
}
