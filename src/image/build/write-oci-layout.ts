/**
 * Puts a built image into an OCI image layout directory (image-spec image-layout.md), creating the
 * layout when the directory is new or empty and adding to it otherwise: blobs go to
 * `blobs/sha256/<hex>` (each one renamed into place whole; a blob already there is checked
 * against its digest and kept), then `index.json` is rewritten atomically with the image under
 * its tag (`org.opencontainers.image.ref.name`, annotations.md), replacing an entry that had the
 * same tag and keeping every other entry as it was. The index is written last, so a failed build
 * leaves the layout as it was, plus at most some unreferenced blobs.
 *
 * Also the layout half of an OCI archive: {@link ociIndexDocument} is what both write.
 */
import { createHash } from "node:crypto";
import { copyFileSync, createReadStream, mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import * as z from "../../lib/schema.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { OCI_IMAGE_INDEX } from "../formats/media-types.js";
import { parseDocument } from "../formats/parse-document.js";
import { splitDigest } from "../store/store-paths.js";
import { descriptor, type OciImage } from "./build-oci-image.js";
import { PendingFile } from "./pending-file.js";

/** The annotation naming an image in a layout's index (image-spec annotations.md). */
export const REF_NAME_ANNOTATION = "org.opencontainers.image.ref.name";

/** The `oci-layout` file's content (image-layout.md "oci-layout file"). */
export const OCI_LAYOUT_FILE = JSON.stringify({ imageLayoutVersion: "1.0.0" });

/** An existing index.json: only what rewriting it needs; every other field is kept as it was. */
const existingIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  manifests: z.array(z.looseObject({ annotations: z.optional(z.record(z.string(), z.string())) })),
});

/**
 * The index entry of `image` tagged `tag`, as a layout's index.json lists it.
 *
 * @example
 * ociIndexEntry(image, "1.0"); // { mediaType, digest, size, platform, annotations: { "org.opencontainers.image.ref.name": "1.0" } }
 */
export function ociIndexEntry(image: OciImage, tag: string): Record<string, unknown> {
  return { ...descriptor(image.manifest), platform: image.platform, annotations: { [REF_NAME_ANNOTATION]: tag } };
}

/** A new index.json listing just `image` under `tag`. */
export function ociIndexDocument(image: OciImage, tag: string): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: OCI_IMAGE_INDEX, manifests: [ociIndexEntry(image, tag)] };
}

/**
 * Writes `image` into the layout at `dir` under `tag`.
 *
 * @example
 * await writeOciLayout(image, "/out/layout", "example.com/app:1.0");
 */
export async function writeOciLayout(image: OciImage, dir: string, tag: string): Promise<void> {
  const index = prepareLayout(dir);
  for (const blob of [...image.layers, image.config, image.manifest]) {
    const { algorithm, hex } = splitDigest(blob.digest);
    mkdirSync(join(dir, "blobs", algorithm), { recursive: true, mode: 0o755 });
    const dest = join(dir, "blobs", algorithm, hex);
    if (statSync(dest, { throwIfNoEntry: false }) !== undefined && (await fileDigest(dest, algorithm)) === blob.digest) continue;
    const pending = PendingFile.beside(dest);
    try {
      copyFileSync(blob.path, pending.path);
      pending.commit();
    } finally {
      pending.discard();
    }
  }
  const kept = (index?.manifests ?? []).filter((m) => m.annotations?.[REF_NAME_ANNOTATION] !== tag);
  const next = index === undefined ? ociIndexDocument(image, tag) : { ...index, manifests: [...kept, ociIndexEntry(image, tag)] };
  atomicWriteFileSync(join(dir, "index.json"), JSON.stringify(next));
}

/**
 * Throws unless `dir` can take a built image: a new or empty directory, or an OCI layout (version
 * 1.0.0) whose index.json parses. Writes nothing, so a build can check every output first.
 */
export function checkOciLayoutTarget(dir: string): void {
  readLayout(dir);
}

/** Makes `dir` a layout if it is not one yet; returns its current index, if any. */
function prepareLayout(dir: string): z.infer<typeof existingIndexSchema> | undefined {
  const current = readLayout(dir);
  if (current.layout) return current.index;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  atomicWriteFileSync(join(dir, "oci-layout"), OCI_LAYOUT_FILE);
  return undefined;
}

function readLayout(dir: string): { layout: boolean; index: z.infer<typeof existingIndexSchema> | undefined } {
  const st = statSync(dir, { throwIfNoEntry: false });
  if (st === undefined) return { layout: false, index: undefined };
  if (!st.isDirectory()) {
    throw new RktError("already-exists", `${dir} exists and is not a directory`, { hint: "an oci: output is an OCI layout directory; use oci-archive: for a file" });
  }
  const layoutFile = join(dir, "oci-layout");
  if (statSync(layoutFile, { throwIfNoEntry: false }) === undefined) {
    if (readdirSync(dir).length > 0) {
      throw new RktError("already-exists", `${dir} is not empty and not an OCI image layout (no oci-layout file)`, { hint: "give a new or empty directory, or an existing OCI layout" });
    }
    return { layout: false, index: undefined };
  }
  const version = parseDocument(readFileSync(layoutFile), z.object({ imageLayoutVersion: z.string() }), `oci-layout file of ${dir}`);
  if (version.imageLayoutVersion !== "1.0.0") {
    throw new RktError("failed-precondition", `${dir}: OCI layout version ${version.imageLayoutVersion} is not 1.0.0`);
  }
  const indexPath = join(dir, "index.json");
  if (statSync(indexPath, { throwIfNoEntry: false }) === undefined) return { layout: true, index: undefined };
  return { layout: true, index: parseDocument(readFileSync(indexPath), existingIndexSchema, `index.json of ${dir}`) };
}

async function fileDigest(path: string, algorithm: string): Promise<string> {
  const hash = createHash(algorithm);
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `${algorithm}:${hash.digest("hex")}`;
}
