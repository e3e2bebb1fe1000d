/**
 * Signs a pushed manifest the way `cosign sign --key` does and stores the signature next to it
 * (cosign specs/SIGNATURE_SPEC.md): a simple-signing payload naming the manifest digest and the
 * image, signed with the private key, uploaded as a blob and listed as a layer, with the signature
 * annotation, of the manifest tagged `sha256-<hex>.sig`.
 *
 * Signatures already there are kept (cosign and containers/image append too: several parties may
 * sign one image); a layer identical to one already listed is not added twice. The signature
 * manifest is rewritten as a whole, so two signers racing may lose one signature; the registry API
 * offers no compare-and-swap.
 */
import type { KeyObject } from "node:crypto";
import { RktError } from "../../lib/errors.js";
import type { Descriptor } from "../formats/descriptor.js";
import { digestOf } from "../formats/digest.js";
import { DOCKER_MANIFEST_V2, OCI_IMAGE_MANIFEST } from "../formats/media-types.js";
import { parseManifest } from "../formats/parse-manifest.js";
import type { RegistryClient } from "../fetch/registry/registry-client.js";
import { signPayload } from "../verify/sigstore/payload-signature.js";
import { publicKeyFingerprint } from "../verify/sigstore/public-key.js";
import { buildSignatureManifest, COSIGN_SIGNATURE_ANNOTATION, cosignSignatureTag } from "../verify/sigstore/signature-manifest.js";
import { buildSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from "../verify/sigstore/simple-signing-payload.js";

/** What to sign and with what. */
export interface CosignSignatureInput {
  /** The pushed manifest. */
  readonly manifestDigest: string;
  /** The identity to sign for, `registry/repository:tag` (critical.identity.docker-reference). */
  readonly dockerReference: string;
  /** The private key (readSigningKey). */
  readonly key: KeyObject;
  /** `optional.creator`, e.g. "rkt 0.1.0". */
  readonly creator: string;
  /** `optional.timestamp`: seconds since the epoch. */
  readonly timestamp: number;
  readonly signal?: AbortSignal | undefined;
}

/** Where the signature went. */
export interface PushedSignature {
  /** `sha256-<hex>.sig`. */
  readonly tag: string;
  /** Digest of the signature manifest. */
  readonly digest: string;
  /** Fingerprint of the signing key's public half (what `rkt trust` stores it as). */
  readonly fingerprint: string;
  /** Signatures in the manifest now, this one included. */
  readonly signatures: number;
}

/**
 * Signs `input.manifestDigest` and pushes the signature to `repository` on `client`'s registry.
 *
 * @example
 * const sig = await pushCosignSignature(client, "team/app", { manifestDigest, key,
 *   dockerReference: "registry.example/team/app:1.0", creator: "rkt", timestamp: now });
 */
export async function pushCosignSignature(client: RegistryClient, repository: string, input: CosignSignatureInput): Promise<PushedSignature> {
  const tag = cosignSignatureTag(input.manifestDigest);
  const options = { signal: input.signal };
  const payload = buildSimpleSigningPayload(input);
  const layer: Descriptor = {
    mediaType: SIMPLE_SIGNING_MEDIA_TYPE,
    digest: digestOf(payload),
    size: payload.length,
    annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signPayload(payload, input.key) },
  };
  const existing = await existingSignatureLayers(client, repository, tag, input.signal);
  const layers = existing.some((l) => l.digest === layer.digest && l.annotations?.[COSIGN_SIGNATURE_ANNOTATION] === layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION])
    ? existing
    : [...existing, layer];
  const sig = buildSignatureManifest(layers);
  if (!(await client.hasBlob(repository, layer.digest, options))) {
    await client.putBlob(repository, { digest: layer.digest, size: payload.length, open: () => payload }, options);
  }
  if (!(await client.hasBlob(repository, sig.configDigest, options))) {
    await client.putBlob(repository, { digest: sig.configDigest, size: sig.config.length, open: () => sig.config }, options);
  }
  const digest = await client.putManifest(repository, tag, sig.manifest, OCI_IMAGE_MANIFEST, options);
  return { tag, digest, fingerprint: publicKeyFingerprint(input.key), signatures: layers.length };
}

/** The layers of the current signature manifest, or none when there is none yet. */
async function existingSignatureLayers(client: RegistryClient, repository: string, tag: string, signal: AbortSignal | undefined): Promise<readonly Descriptor[]> {
  let fetched;
  try {
    fetched = await client.getManifest(repository, tag, [OCI_IMAGE_MANIFEST, DOCKER_MANIFEST_V2], { signal });
  } catch (err) {
    if (err instanceof RktError && err.kind === "not-found") return [];
    throw err;
  }
  const parsed = parseManifest(fetched.bytes, fetched.mediaType, `${client.registry}/${repository}:${tag}`);
  if (parsed.kind !== "manifest") {
    throw new RktError("failed-precondition", `${client.registry}/${repository}:${tag} is an image index, not a cosign signature manifest`, {
      hint: "something other than signatures uses this tag; remove it from the registry before signing",
    });
  }
  return parsed.manifest.layers;
}
