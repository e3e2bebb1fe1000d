/**
 * The signature schemes of cosign's key-based signatures (cosign specs/SIGNATURE_SPEC.md,
 * "Signature Schemes"): the signature is over the payload bytes exactly as stored, "No information
 * about the signature scheme is included in the object", so the key decides: ECDSA with SHA-256
 * and an ASN.1 DER signature (P-256 is the required scheme), RSA PKCS #1 v1.5 with SHA-256, or
 * Ed25519 (sigstore's LoadSignerVerifier, which cosign and containers/image use). The signature
 * travels base64-encoded (standard alphabet) in the layer annotation.
 */
import { sign, verify, type KeyObject } from "node:crypto";

/** The digest algorithm for a key: SHA-256 for ECDSA and RSA, none (built in) for Ed25519. */
function hashFor(key: KeyObject): string | null {
  return key.asymmetricKeyType === "ed25519" ? null : "sha256";
}

/**
 * Signs `payload` with a private key; returns the base64 signature for the
 * `dev.cosignproject.cosign/signature` annotation.
 *
 * @example
 * const signature = signPayload(payload, privateKey);
 */
export function signPayload(payload: Uint8Array, key: KeyObject): string {
  return sign(hashFor(key), payload, { key, dsaEncoding: "der" }).toString("base64");
}

/**
 * Whether `signatureBase64` is a valid signature of `payload` by `key`. Malformed base64 or DER
 * is simply not a valid signature.
 *
 * @example
 * if (verifyPayload(payload, layer.annotations[COSIGN_SIGNATURE_ANNOTATION], publicKey)) ...
 */
export function verifyPayload(payload: Uint8Array, signatureBase64: string, key: KeyObject): boolean {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(signatureBase64.trim())) return false;
  const signature = Buffer.from(signatureBase64.trim(), "base64");
  try {
    return verify(hashFor(key), payload, { key, dsaEncoding: "der" }, signature);
  } catch {
    return false;
  }
}
