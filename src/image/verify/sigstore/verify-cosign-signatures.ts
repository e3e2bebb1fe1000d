/**
 * Verification of cosign's key-based image signatures (cosign specs/SIGNATURE_SPEC.md) against the
 * sigstore keys trusted for an image name:
 *
 * 1. the signatures of manifest `sha256:<hex>` are the layers of the manifest tagged
 *    `sha256-<hex>.sig` in the same repository (signature-manifest.ts);
 * 2. each layer of type application/vnd.dev.cosign.simplesigning.v1+json is a payload blob, fetched
 *    by its digest and checked against it, and its `dev.cosignproject.cosign/signature` annotation
 *    a base64 signature over the payload bytes, checked with each trusted key;
 * 3. a payload signed by a trusted key must then say `critical.type` "cosign container image
 *    signature", name the manifest being fetched in `critical.image.docker-manifest-digest`, and
 *    name this repository in `critical.identity.docker-reference`.
 *
 * One signature that passes all three is enough (any other layer may be by someone else).
 *
 * The identity rule. cosign's spec says "The critical.identity.docker-reference field is
 * ignored"; containers/image's `sigstoreSigned` policy checks it with `signedIdentity`, by default
 * `matchRepoDigestOrExact`: when pulling by tag the reference must be exactly `repo:tag`, when
 * pulling by digest only the repository must match. rkt requires the repository to match (registry
 * and path, after Docker's normalization: `docker.io/x` is `registry-1.docker.io/library/x`) and
 * ignores any tag or digest in it, which is containers/image's `matchRepository`:
 * - the digest in the payload already binds the signature to the exact content, so the tag adds
 *   nothing to what is being vouched for, and tags move;
 * - cosign writes the repository without a tag, so an exact-tag rule would refuse every
 *   cosign-made signature;
 * - but the repository is checked, because keys are trusted per name prefix: a key trusted for
 *   `example.com` signs both `example.com/app` and `example.com/app-debug`, and a signature made
 *   for one must not pass for the other if someone copies manifest and signature across.
 * The price: an image copied with its signature to another repository (a mirror) does not verify
 * there; the signer has to sign the copy.
 */
import type { KeyObject } from "node:crypto";
import { RktError, describe } from "../../../lib/errors.js";
import type { Descriptor } from "../../formats/descriptor.js";
import { digestOf } from "../../formats/digest.js";
import { DOCKER_MANIFEST_V2, OCI_IMAGE_MANIFEST } from "../../formats/media-types.js";
import { parseManifest } from "../../formats/parse-manifest.js";
import type { RegistryClient } from "../../fetch/registry/registry-client.js";
import { parseDockerReference } from "../../reference.js";
import { verifyPayload } from "./payload-signature.js";
import { parsePublicKey } from "./public-key.js";
import { COSIGN_SIGNATURE_ANNOTATION, cosignSignatureTag } from "./signature-manifest.js";
import { COSIGN_SIGNATURE_TYPE, parseSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from "./simple-signing-payload.js";

/**
 * What this verifier reads of a trusted key: the shape of the key store's TrustedKey
 * (src/image/verify/keystore.ts), so a TrustedKey can be passed as it is. Keys of another kind
 * (OpenPGP) are ignored.
 */
export interface SigstoreTrustedKey {
  /** Only "sigstore" keys are used. */
  readonly kind: string;
  /** 64 hex digits: SHA-256 of the DER SubjectPublicKeyInfo. */
  readonly fingerprint: string;
  /** The PEM public key. */
  readonly text: string;
}

/** A signature that verified. */
export interface CosignVerification {
  /** Fingerprint of the trusted key that made the signature. */
  readonly fingerprint: string;
  /** The payload's `critical.identity.docker-reference`. */
  readonly dockerReference: string;
}

/** Payloads are ~250 bytes; anything much larger is not a simple-signing payload. */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
/** Signatures examined per image: a signature manifest with more layers is cut off there. */
export const MAX_SIGNATURES = 64;

/**
 * Verifies that manifest `manifestDigest` of `client.registry`/`repository` carries a cosign
 * signature by one of `keys` (see the file comment for every check). `reference` is the tag or
 * digest the user asked for, for messages.
 *
 * Throws RktError "permission-denied" when there is no signature, no signature by a trusted key,
 * or a trusted signature for another digest, type or repository; other kinds when the registry
 * fails (unavailable, ...).
 *
 * @example
 * const { fingerprint } = await verifyCosignSignatures(client, "team/app", "1.0", resolved.digest,
 *   keystore.keysFor("registry.example/team/app", "sigstore"));
 */
export async function verifyCosignSignatures(
  client: RegistryClient,
  repository: string,
  reference: string,
  manifestDigest: string,
  keys: readonly SigstoreTrustedKey[],
): Promise<CosignVerification> {
  const name = `${client.registry}/${repository}`;
  const image = `${name}${reference.includes(":") ? "@" : ":"}${reference}`;
  const trustHint = `trust the signer's public key for this name: rkt trust --prefix "${name}" KEY.pub`;
  const trusted = keys.filter((k) => k.kind === "sigstore").map((k) => ({ fingerprint: k.fingerprint, key: parseTrustedKey(k) }));
  if (trusted.length === 0) {
    throw new RktError("permission-denied", `${image}: no sigstore public key is trusted for ${name}, so its signature cannot be verified`, {
      hint: trustHint,
    });
  }

  const tag = cosignSignatureTag(manifestDigest);
  const layers = await signatureLayers(client, repository, tag, image, manifestDigest);
  const candidates = layers
    .filter((l) => l.mediaType === SIMPLE_SIGNING_MEDIA_TYPE && typeof l.annotations?.[COSIGN_SIGNATURE_ANNOTATION] === "string")
    .slice(0, MAX_SIGNATURES);
  if (candidates.length === 0) {
    throw new RktError("permission-denied", `${image}: the signature manifest ${name}:${tag} holds no cosign signature`, { hint: trustHint });
  }

  /** Why signatures by trusted keys were still refused, most telling first. */
  const refusals: string[] = [];
  /** Signatures whose payload could not be fetched. */
  const unreadable: string[] = [];
  for (const layer of candidates) {
    const signature = layer.annotations?.[COSIGN_SIGNATURE_ANNOTATION] ?? "";
    let payload: Buffer;
    try {
      payload = await fetchPayload(client, repository, layer);
    } catch (err) {
      if (err instanceof RktError && (err.kind === "unavailable" || err.kind === "internal")) throw err;
      unreadable.push(`${layer.digest}: ${describe(err)}`);
      continue;
    }
    const signer = trusted.find((t) => verifyPayload(payload, signature, t.key));
    if (signer === undefined) continue;
    const refusal = checkPayload(payload, layer.digest, manifestDigest, client.registry, repository);
    if (typeof refusal === "string") {
      refusals.push(`the signature by key ${signer.fingerprint} ${refusal}`);
      continue;
    }
    return { fingerprint: signer.fingerprint, dockerReference: refusal.dockerReference };
  }

  if (refusals.length > 0) {
    throw new RktError("permission-denied", `${image}: no valid cosign signature: ${refusals.slice(0, 3).join("; ")}`, {
      hint: `the image at ${manifestDigest} was not signed as ${name}; fetch it by the name it was signed for, or have it signed again`,
    });
  }
  const keyList = trusted.map((t) => t.fingerprint).join(", ");
  const skipped = unreadable.length === 0 ? "" : ` (${unreadable.length} could not be read: ${unreadable.slice(0, 2).join("; ")})`;
  throw new RktError(
    "permission-denied",
    `${image}: none of the ${candidates.length} cosign signature(s) in ${name}:${tag} is by a key trusted for ${name} (trusted: ${keyList})${skipped}`,
    { hint: trustHint },
  );
}

function parseTrustedKey(key: SigstoreTrustedKey): KeyObject {
  try {
    return parsePublicKey(key.text, `trusted key ${key.fingerprint}`);
  } catch (err) {
    throw new RktError("failed-precondition", `the key store holds an unreadable sigstore key ${key.fingerprint}: ${describe(err)}`, {
      hint: "remove it from trustedkeys and trust the key again with rkt trust",
    });
  }
}

/** The layers of the signature manifest; no tag means no signature. */
async function signatureLayers(client: RegistryClient, repository: string, tag: string, image: string, manifestDigest: string): Promise<readonly Descriptor[]> {
  let fetched;
  try {
    fetched = await client.getManifest(repository, tag, [OCI_IMAGE_MANIFEST, DOCKER_MANIFEST_V2]);
  } catch (err) {
    if (err instanceof RktError && err.kind === "not-found") {
      throw new RktError("permission-denied", `${image} is not signed: no cosign signature for ${manifestDigest} (tag ${tag}) in ${client.registry}/${repository}`, {
        hint: "sign it with `rkt image push --sign-key=KEY` or `cosign sign --key KEY`; to fetch it unverified, pass --insecure-options=image",
        cause: err,
      });
    }
    throw err;
  }
  let parsed;
  try {
    parsed = parseManifest(fetched.bytes, fetched.mediaType, `${client.registry}/${repository}:${tag}`);
  } catch (err) {
    throw new RktError("permission-denied", `${image}: the signature manifest ${tag} is unreadable: ${describe(err)}`, { cause: err });
  }
  if (parsed.kind !== "manifest") {
    throw new RktError("permission-denied", `${image}: ${tag} is an image index, not a cosign signature manifest`);
  }
  return parsed.manifest.layers;
}

/** A payload blob, read whole (it is small) and checked against its descriptor. */
async function fetchPayload(client: RegistryClient, repository: string, layer: Descriptor): Promise<Buffer> {
  if (layer.size > MAX_PAYLOAD_BYTES) {
    throw new RktError("permission-denied", `payload of ${layer.size} bytes is larger than the ${MAX_PAYLOAD_BYTES}-byte limit`);
  }
  const stream = await client.getBlob(repository, layer);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > layer.size) {
      stream.destroy();
      throw new RktError("permission-denied", `the registry sent more than the ${layer.size} bytes the descriptor says`);
    }
    chunks.push(chunk);
  }
  const payload = Buffer.concat(chunks, total);
  if (payload.length !== layer.size || digestOf(payload, layer.digest.startsWith("sha512:") ? "sha512" : "sha256") !== layer.digest) {
    throw new RktError("permission-denied", "the registry sent a payload that does not match its digest");
  }
  return payload;
}

/**
 * Checks a payload signed by a trusted key: type, digest, identity. Returns the reason for
 * refusing it, or the accepted identity.
 */
function checkPayload(
  payload: Buffer,
  layerDigest: string,
  manifestDigest: string,
  registry: string,
  repository: string,
): string | { readonly dockerReference: string } {
  let content;
  try {
    content = parseSimpleSigningPayload(payload, `simple-signing payload ${layerDigest}`);
  } catch (err) {
    return `has an unreadable payload (${describe(err)})`;
  }
  if (content.type !== COSIGN_SIGNATURE_TYPE) return `has type "${printable(content.type)}", not "${COSIGN_SIGNATURE_TYPE}"`;
  if (content.manifestDigest !== manifestDigest) return `is for manifest ${content.manifestDigest}, not ${manifestDigest}`;
  if (!sameRepository(content.dockerReference, registry, repository)) {
    return `was made for "${printable(content.dockerReference)}", not for ${registry}/${repository}`;
  }
  return { dockerReference: content.dockerReference };
}

/** Whether a docker-reference names `registry`/`repository` (tag and digest ignored). */
function sameRepository(dockerReference: string, registry: string, repository: string): boolean {
  try {
    const ref = parseDockerReference(dockerReference);
    return ref.registry === registry && ref.repository === repository;
  } catch {
    return false;
  }
}

function printable(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, "?");
  return clean.length > 200 ? `${clean.slice(0, 200)}...` : clean;
}
