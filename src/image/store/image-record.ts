/**
 * The metadata the store keeps per image, one JSON file each (`cas/images/<hex>.json`), and the
 * name references that point at images (`cas/refs/`). Plain files with atomic rename instead of a
 * database: every record is small, lookups by ID or name are one file read, and a crash leaves
 * either the old file or the new one.
 */
import * as z from "../../lib/schema.js";

const digestSchema = z.string().check(z.regex(/^sha(256:[a-f0-9]{64}|512:[a-f0-9]{128})$/));

export const layerRecordSchema = z.object({
  /** Digest of the blob as distributed (usually compressed). */
  digest: digestSchema,
  mediaType: z.string(),
  size: z.int().check(z.nonnegative()),
  /** Digest of the uncompressed tar: the key of its unpacked tree. */
  diffId: digestSchema,
});
export type LayerRecord = z.infer<typeof layerRecordSchema>;

export const imageRecordSchema = z.object({
  schemaVersion: z.literal(1),
  /**
   * The image ID: the digest of the (platform-specific) manifest; for an ACI the sha512 of the
   * uncompressed image archive (appc aci.md, "Image ID"), stored as a blob under that digest.
   */
  id: digestSchema,
  /** "aci": an appc image; `configDigest` is then its image manifest (JSON, as in the archive). */
  format: z.enum(["oci", "docker", "aci"]),
  manifestMediaType: z.string(),
  configDigest: digestSchema,
  /** When the image came from an index / manifest list: that index's digest. */
  indexDigest: z.optional(digestSchema),
  layers: z.array(layerRecordSchema),
  platform: z.object({ os: z.string(), architecture: z.string(), variant: z.optional(z.string()) }),
  /** Where it was fetched from, e.g. `docker://127.0.0.1:5000/busybox:latest`. */
  source: z.string(),
  importTime: z.string(),
  lastUsed: z.string(),
  /** Bytes of blobs plus unpacked trees, as `rkt image list` reports it. */
  size: z.int().check(z.nonnegative()),
  /**
   * ACIs only: the manifest's name and labels (for finding an image by name and labels, as appc
   * dependency matching and rkt's store do) and the IDs of the images its `dependencies`
   * resolved to, in manifest order. Their layers are already in `layers`, below this image's.
   */
  aci: z.optional(
    z.object({
      name: z.string(),
      labels: z.record(z.string(), z.string()),
      dependencies: z.array(digestSchema),
    }),
  ),
});
export type ImageRecord = z.infer<typeof imageRecordSchema>;

export const refRecordSchema = z.object({
  name: z.string().check(z.minLength(1)),
  id: digestSchema,
  /** When the name was last confirmed against its source (for pull policies). */
  updated: z.string(),
});
export type RefRecord = z.infer<typeof refRecordSchema>;

/** What `info.json` beside an unpacked layer tree records. */
export const layerInfoSchema = z.object({
  diffId: digestSchema,
  blobDigest: digestSchema,
  /** Bytes of regular file content in the tree. */
  size: z.int().check(z.nonnegative()),
  entries: z.int().check(z.nonnegative()),
  /** `treeDigest` of the rootfs right after unpacking, for `rkt image verify`. */
  treeDigest: digestSchema,
});
export type LayerInfo = z.infer<typeof layerInfoSchema>;
