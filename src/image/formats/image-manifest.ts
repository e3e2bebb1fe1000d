/**
 * Single-platform image manifests: the OCI image manifest (image-spec manifest.md) and its
 * ancestor, the Docker image manifest schema 2 (docker/distribution manifest-v2-2.md, "Image
 * Manifest Field Descriptions"). Both are a config descriptor plus an ordered list of layer
 * descriptors, so rkt reads them into one type.
 */
import * as z from "../../lib/schema.js";
import { descriptorSchema, mediaTypeSchema, type Descriptor } from "./descriptor.js";
import { DOCKER_MANIFEST_V2, OCI_IMAGE_MANIFEST } from "./media-types.js";

/** An image manifest, OCI or Docker schema 2. */
export interface ImageManifest {
  /** Always 2 (manifest.md, "schemaVersion": MUST be 2 for backward compatibility with Docker). */
  readonly schemaVersion: 2;
  /**
   * The manifest's own `mediaType` field. Optional in OCI manifests (manifest.md: SHOULD be used),
   * required in Docker schema 2.
   */
  readonly mediaType?: string | undefined;
  /** OCI 1.1: the type of an artifact whose config is empty. */
  readonly artifactType?: string | undefined;
  /** The image configuration blob. */
  readonly config: Descriptor;
  /** Layers in stack order, base layer first (manifest.md, "layers"). */
  readonly layers: readonly Descriptor[];
  /** OCI 1.1: the manifest this one refers to (a signature, an SBOM, ...). */
  readonly subject?: Descriptor | undefined;
  readonly annotations?: Readonly<Record<string, string>> | undefined;
}

/**
 * Schema for `application/vnd.oci.image.manifest.v1+json`. When `mediaType` is present it MUST be
 * the manifest type (manifest.md). Layer media types are not checked here: "An encountered
 * mediaType that is unknown to the implementation MUST be ignored"; see layerEncoding().
 */
export const ociManifestSchema: z.ZodMiniType<ImageManifest> = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.optional(z.literal(OCI_IMAGE_MANIFEST)),
  artifactType: z.optional(mediaTypeSchema),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
  subject: z.optional(descriptorSchema),
  annotations: z.optional(z.record(z.string(), z.string())),
});

/**
 * Schema for `application/vnd.docker.distribution.manifest.v2+json`: `mediaType` is required and
 * fixed (manifest-v2-2.md, "mediaType").
 */
export const dockerManifestSchema: z.ZodMiniType<ImageManifest> = z.object({
  schemaVersion: z.literal(2),
  mediaType: z.literal(DOCKER_MANIFEST_V2),
  config: descriptorSchema,
  layers: z.array(descriptorSchema),
});
