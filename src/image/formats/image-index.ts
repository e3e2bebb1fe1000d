/**
 * Multi-platform indexes: the OCI image index (image-spec image-index.md) and the Docker manifest
 * list (docker/distribution manifest-v2-2.md, "Manifest List"). Both list manifest descriptors with
 * a platform each; rkt reads them into one type and picks an entry with selectPlatform().
 */
import * as z from "../../lib/schema.js";
import { descriptorSchema, mediaTypeSchema, platformSchema, type Descriptor } from "./descriptor.js";
import { DOCKER_MANIFEST_LIST, OCI_IMAGE_INDEX } from "./media-types.js";

/** An OCI image index or Docker manifest list. */
export interface ImageIndex {
  /** Always 2 (image-index.md, "schemaVersion"). */
  readonly schemaVersion: 2;
  /** The index's own `mediaType` field; optional in OCI, required in Docker manifest lists. */
  readonly mediaType?: string | undefined;
  readonly artifactType?: string | undefined;
  /** One descriptor per platform; the array MAY be empty (image-index.md, "manifests"). */
  readonly manifests: readonly Descriptor[];
  readonly subject?: Descriptor | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

/** Schema for `application/vnd.oci.image.index.v1+json`; `platform` is OPTIONAL per entry. */
export const ociIndexSchema: z.ZodMiniType<ImageIndex> = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.literal(OCI_IMAGE_INDEX)),
  artifactType: z.optional(mediaTypeSchema),
  manifests: z.array(descriptorSchema),
  subject: z.optional(descriptorSchema),
  annotations: z.optional(z.record(z.string(), z.string())),
});

/**
 * Schema for `application/vnd.docker.distribution.manifest.list.v2+json`: every entry has a
 * REQUIRED platform (manifest-v2-2.md, "platform").
 */
export const dockerManifestListSchema: z.ZodMiniType<ImageIndex> = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(DOCKER_MANIFEST_LIST),
  manifests: z.array(z.intersection(descriptorSchema, z.object({ platform: platformSchema }))),
});
