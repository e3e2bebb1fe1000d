/**
 * Where an image comes from: a registry (`docker://`), an OCI image layout directory, an OCI
 * archive. rkt called this a Distribution; every source answers the same three questions, and
 * one pull routine (pull-image.ts) turns any of them into store content.
 */
import type { Readable } from "node:stream";

export interface ManifestBytes {
  readonly bytes: Buffer;
  /** The media type the source declared (Content-Type, or the descriptor's mediaType). */
  readonly mediaType: string;
  readonly digest: string;
}

export interface BlobRef {
  readonly digest: string;
  readonly size: number;
  readonly mediaType: string;
}

export interface ImageSource {
  /** How the user named it: `docker://127.0.0.1:5000/busybox:latest`, `oci:/tmp/img:latest`. */
  readonly label: string;
  /** The name the store records for it (`registry-1.docker.io/library/busybox:latest`). */
  readonly name: string;
  /** The manifest or index the name points at. */
  rootManifest(signal?: AbortSignal): Promise<ManifestBytes>;
  /** A manifest by digest (an index's child). */
  manifest(digest: string, signal?: AbortSignal): Promise<ManifestBytes>;
  /** A blob's bytes; verification is the caller's job. */
  openBlob(blob: BlobRef, signal?: AbortSignal): Promise<Readable>;
  /**
   * Registries only: checks that manifest `digest` carries a cosign signature by one of `keys`
   * (sigstore keys of the key store); throws "permission-denied" when it does not.
   */
  verifyCosign?(digest: string, keys: readonly { readonly kind: string; readonly fingerprint: string; readonly text: string }[], signal?: AbortSignal): Promise<unknown>;
  /** Releases temporary resources (an unpacked archive). */
  close(): void;
}
