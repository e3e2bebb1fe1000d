/**
 * Where and how cosign stores signatures in a registry (cosign specs/SIGNATURE_SPEC.md,
 * "Tag-based Discovery" and "OCI Image Manifest V1"): in the image's own repository, under the tag
 * made from the signed manifest's digest (`sha256:abc...` -> `sha256-abc....sig`), as an OCI image
 * manifest with one layer per signature. Each layer is a simple-signing payload blob; its
 * `dev.cosignproject.cosign/signature` annotation holds the base64 signature. The config is an
 * OCI image config listing the payload digests as diff_ids (what cosign and containers/image
 * write; nothing reads it).
 */
import { RktError } from "../../../lib/errors.js";
import type { Descriptor } from "../../formats/descriptor.js";
import { digestOf, parseDigest } from "../../formats/digest.js";
import { OCI_IMAGE_CONFIG, OCI_IMAGE_MANIFEST } from "../../formats/media-types.js";

/** The layer annotation holding a signature (SIGNATURE_SPEC.md, "Signature"). */
export const COSIGN_SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature";

/**
 * The tag under which the signatures of `manifestDigest` are stored.
 *
 * @example
 * cosignSignatureTag("sha256:97fc22..."); // "sha256-97fc22....sig"
 */
export function cosignSignatureTag(manifestDigest: string): string {
  const parsed = parseDigest(manifestDigest);
  if (parsed === undefined) throw new RktError("invalid-argument", `invalid manifest digest "${manifestDigest}"`);
  return `${parsed.algorithm}-${parsed.hex}.sig`;
}

/** A signature manifest ready to upload: its config blob and the manifest bytes. */
export interface SignatureManifest {
  /** The config blob (upload before the manifest). */
  readonly config: Buffer;
  readonly configDigest: string;
  /** The manifest, media type OCI_IMAGE_MANIFEST. */
  readonly manifest: Buffer;
  readonly digest: string;
}

/**
 * Builds the signature manifest whose layers are `layers` (payload descriptors with their
 * signature annotations), in order.
 *
 * @example
 * const sig = buildSignatureManifest([{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest, size,
 *   annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signature } }]);
 */
export function buildSignatureManifest(layers: readonly Descriptor[]): SignatureManifest {
  const config = Buffer.from(
    JSON.stringify({ architecture: "", os: "", config: {}, rootfs: { type: "layers", diff_ids: layers.map((l) => l.digest) } }),
  );
  const configDigest = digestOf(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_IMAGE_MANIFEST,
      config: { mediaType: OCI_IMAGE_CONFIG, digest: configDigest, size: config.length },
      layers: layers.map((l) => ({
        mediaType: l.mediaType,
        digest: l.digest,
        size: l.size,
        ...(l.annotations === undefined ? {} : { annotations: l.annotations }),
      })),
    }),
  );
  return { config, configDigest, manifest, digest: digestOf(manifest) };
}
