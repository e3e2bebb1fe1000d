/**
 * Uploads a stored OCI or Docker image to a registry (distribution-spec spec.md, "Push"): the
 * config and layer blobs the registry does not have yet (a HEAD per blob first), each in one
 * monolithic upload, streamed from the store; then the manifest, byte for byte as stored, under the
 * tag. Blobs go before the manifest because a registry may refuse a manifest whose blobs it lacks
 * ("the registry MAY reject a manifest of any type uploaded to the manifest endpoint if it
 * references manifests or blobs that do not exist in the registry").
 *
 * Only the platform manifest an image record stands for is pushed, not the index it may have come
 * from: the store keeps one platform per record.
 */
import { createReadStream } from "node:fs";
import { RktError } from "../../lib/errors.js";
import { digestOf } from "../formats/digest.js";
import { isImageManifestMediaType } from "../formats/media-types.js";
import type { RegistryClient } from "../fetch/registry/registry-client.js";
import type { ImageRecord } from "../store/image-record.js";
import type { ImageStore } from "../store/image-store.js";

/** One step of an upload, for progress output. */
export interface UploadEvent {
  readonly digest: string;
  readonly size: number;
  /** "exists": the registry already had it; "uploaded": sent now. */
  readonly action: "exists" | "uploaded";
}

/** Options of uploadImage. */
export interface UploadImageOptions {
  readonly signal?: AbortSignal | undefined;
  /** Called after each blob. */
  readonly onBlob?: ((event: UploadEvent) => void) | undefined;
}

/** What the registry now serves. */
export interface UploadedImage {
  /** Digest of the pushed manifest (the record's ID). */
  readonly digest: string;
  readonly mediaType: string;
  /** Blobs sent / blobs the registry already had. */
  readonly uploaded: number;
  readonly existing: number;
}

/**
 * Pushes `record` from `store` to `repository:tag` through `client`.
 *
 * Errors: unimplemented for image formats other than OCI and Docker schema 2 (ACI), data-loss
 * when the store lacks a blob or holds one that does not match, and the client's errors (with
 * permission-denied and a hint about auth.d when the registry refuses).
 *
 * @example
 * const { digest } = await uploadImage(store, record, client, "team/app", "1.0");
 */
export async function uploadImage(
  store: ImageStore,
  record: ImageRecord,
  client: RegistryClient,
  repository: string,
  tag: string,
  options: UploadImageOptions = {},
): Promise<UploadedImage> {
  if (!isImageManifestMediaType(record.manifestMediaType)) {
    throw new RktError("unimplemented", `image ${record.id} is stored as "${record.manifestMediaType}", which rkt cannot push to a registry yet`, {
      hint: "only OCI and Docker images can be pushed; ACI images are distributed as files (rkt image export)",
    });
  }
  const manifest = store.readBlob(record.id);
  if (digestOf(manifest, record.id.startsWith("sha512:") ? "sha512" : "sha256") !== record.id) {
    throw new RktError("data-loss", `the stored manifest of image ${record.id} does not match its digest`, { hint: "remove the image and fetch it again" });
  }
  // The record keeps layer sizes (from the manifest); the config's is whatever the store holds.
  const blobs: { readonly digest: string; readonly size: number | undefined }[] = [
    { digest: record.configDigest, size: undefined },
    ...record.layers.map((l) => ({ digest: l.digest, size: l.size })),
  ];
  let uploaded = 0;
  let existing = 0;
  const seen = new Set<string>();
  for (const blob of blobs) {
    if (seen.has(blob.digest)) continue;
    seen.add(blob.digest);
    const size = store.blobSize(blob.digest);
    if (size === undefined || (blob.size !== undefined && size !== blob.size)) {
      throw new RktError("data-loss", `blob ${blob.digest} of image ${record.id} is ${size === undefined ? "missing from" : "damaged in"} the store`, {
        hint: "fetch the image again before pushing it",
      });
    }
    if (await client.hasBlob(repository, blob.digest, { signal: options.signal })) {
      existing++;
      options.onBlob?.({ digest: blob.digest, size, action: "exists" });
      continue;
    }
    const path = store.blobPath(blob.digest);
    await client.putBlob(repository, { digest: blob.digest, size, open: () => createReadStream(path) }, { signal: options.signal });
    uploaded++;
    options.onBlob?.({ digest: blob.digest, size, action: "uploaded" });
  }
  const digest = await client.putManifest(repository, tag, manifest, record.manifestMediaType, { signal: options.signal });
  if (digest !== record.id) throw new RktError("internal", `pushed manifest digest ${digest} differs from image ID ${record.id}`);
  return { digest, mediaType: record.manifestMediaType, uploaded, existing };
}
