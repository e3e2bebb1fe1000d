/**
 * The media types rkt reads from registries and layouts. OCI types come from the OCI image spec
 * (media-types.md); the Docker ones from "Image Manifest Version 2, Schema 2" (docker/distribution
 * docs/spec/manifest-v2-2.md), which the OCI types were derived from (media-types.md,
 * "Compatibility Matrix").
 */

/** OCI image manifest (image-spec manifest.md). */
export const OCI_IMAGE_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
/** OCI image index, the multi-platform "fat manifest" (image-spec image-index.md). */
export const OCI_IMAGE_INDEX = "application/vnd.oci.image.index.v1+json";
/** OCI image configuration (image-spec config.md). */
export const OCI_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json";
/** OCI layer, an uncompressed tar changeset (image-spec layer.md). */
export const OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
/** OCI layer compressed with gzip (layer.md, "gzip Media Types"). */
export const OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
/** OCI layer compressed with zstd (layer.md, "Zstd Media Types"). */
export const OCI_LAYER_TAR_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd";
/**
 * OCI non-distributable layers (layer.md, "Non-distributable layers"; deprecated in image-spec
 * 1.1 but still found in Windows base images). Registries may not serve them.
 */
export const OCI_NONDISTRIBUTABLE_LAYER_TAR = "application/vnd.oci.image.layer.nondistributable.v1.tar";
/** Non-distributable OCI layer compressed with gzip. */
export const OCI_NONDISTRIBUTABLE_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
/** Non-distributable OCI layer compressed with zstd. */
export const OCI_NONDISTRIBUTABLE_LAYER_TAR_ZSTD = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";

/** Docker image manifest, schema 2 (manifest-v2-2.md, "Image Manifest"). */
export const DOCKER_MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json";
/** Docker manifest list, the Docker predecessor of the OCI index (manifest-v2-2.md, "Manifest List"). */
export const DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
/** Docker image configuration (same shape as the OCI config; media-types.md compatibility matrix). */
export const DOCKER_IMAGE_CONFIG = "application/vnd.docker.container.image.v1+json";
/** Docker layer: a gzipped tar, interchangeable with OCI_LAYER_TAR_GZIP (media-types.md). */
export const DOCKER_LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";
/**
 * Docker "foreign" layer, fetched from the descriptor's `urls` rather than the registry
 * (manifest-v2-2.md). Used only by Windows base images.
 */
export const DOCKER_FOREIGN_LAYER_TAR_GZIP = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";

/** Docker manifest schema 1, unsigned. Deprecated and refused by rkt (see parseManifest). */
export const DOCKER_MANIFEST_V1 = "application/vnd.docker.distribution.manifest.v1+json";
/** Docker manifest schema 1 with a JWS signature. Deprecated and refused by rkt. */
export const DOCKER_MANIFEST_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/**
 * Every manifest and index type rkt can use, most capable first. This is the `Accept` header of a
 * manifest request: a registry picks the first it has (distribution-spec, "Pulling manifests": the
 * client SHOULD include an Accept header listing the types it supports). Without the index types a
 * registry would down-convert or refuse multi-platform images.
 */
export const SUPPORTED_MANIFEST_MEDIA_TYPES: readonly string[] = [
  OCI_IMAGE_INDEX,
  DOCKER_MANIFEST_LIST,
  OCI_IMAGE_MANIFEST,
  DOCKER_MANIFEST_V2,
];

/** Whether a media type names a multi-platform index (OCI index or Docker manifest list). */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === OCI_IMAGE_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

/** Whether a media type names a single-platform image manifest (OCI or Docker schema 2). */
export function isImageManifestMediaType(mediaType: string): boolean {
  return mediaType === OCI_IMAGE_MANIFEST || mediaType === DOCKER_MANIFEST_V2;
}

/** Whether a media type names a Docker schema 1 manifest, which rkt refuses. */
export function isSchema1MediaType(mediaType: string): boolean {
  return mediaType === DOCKER_MANIFEST_V1 || mediaType === DOCKER_MANIFEST_V1_SIGNED;
}

/**
 * Whether a manifest's config descriptor points at a container image configuration. An OCI
 * manifest with any other config type is an artifact (a Helm chart, a signature, ...), not
 * something rkt can run (image-spec manifest.md, `config.mediaType`).
 */
export function isImageConfigMediaType(mediaType: string): boolean {
  return mediaType === OCI_IMAGE_CONFIG || mediaType === DOCKER_IMAGE_CONFIG;
}

/** How a layer blob is encoded, as far as unpacking it is concerned. */
export interface LayerEncoding {
  /** The compression wrapped around the tar stream. */
  readonly compression: "none" | "gzip" | "zstd";
  /**
   * False for non-distributable and foreign layers: their content lives outside the registry
   * (descriptor `urls`), and rkt does not fetch it by default.
   */
  readonly distributable: boolean;
}

const LAYER_ENCODINGS: ReadonlyMap<string, LayerEncoding> = new Map<string, LayerEncoding>([
  [OCI_LAYER_TAR, { compression: "none", distributable: true }],
  [OCI_LAYER_TAR_GZIP, { compression: "gzip", distributable: true }],
  [OCI_LAYER_TAR_ZSTD, { compression: "zstd", distributable: true }],
  [OCI_NONDISTRIBUTABLE_LAYER_TAR, { compression: "none", distributable: false }],
  [OCI_NONDISTRIBUTABLE_LAYER_TAR_GZIP, { compression: "gzip", distributable: false }],
  [OCI_NONDISTRIBUTABLE_LAYER_TAR_ZSTD, { compression: "zstd", distributable: false }],
  [DOCKER_LAYER_TAR_GZIP, { compression: "gzip", distributable: true }],
  [DOCKER_FOREIGN_LAYER_TAR_GZIP, { compression: "gzip", distributable: false }],
]);

/**
 * The encoding of a layer media type, or undefined when it is not a layer type rkt knows. The
 * caller decides what unknown means: the OCI manifest spec says an unknown layer `mediaType` MUST
 * be ignored by the parser, but an image whose layers cannot be unpacked cannot be run.
 *
 * @example
 * layerEncoding("application/vnd.oci.image.layer.v1.tar+zstd"); // { compression: "zstd", distributable: true }
 */
export function layerEncoding(mediaType: string): LayerEncoding | undefined {
  return LAYER_ENCODINGS.get(mediaType);
}
