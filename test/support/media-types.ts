/**
 * Media types the fixtures write, spelled out here rather than imported from src/ so that the
 * tests check the engine against the specs, not against itself. Sources: OCI image-spec
 * media-types.md, and Docker's "Image Manifest V2, Schema 2" (distribution docs/spec/manifest-v2-2.md).
 */
export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  /** Schema 2 names only the gzip layer type; the uncompressed one is what podman and others write. */
  dockerLayer: "application/vnd.docker.image.rootfs.diff.tar",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
} as const;

/** The `mediaType` of an image manifest or index, whichever family it belongs to. */
export type ManifestMediaType =
  | typeof MEDIA_TYPES.ociManifest
  | typeof MEDIA_TYPES.ociIndex
  | typeof MEDIA_TYPES.dockerManifest
  | typeof MEDIA_TYPES.dockerManifestList;

/** True for the two index types (OCI image index, Docker manifest list). */
export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList;
}
