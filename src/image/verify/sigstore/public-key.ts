/**
 * Sigstore public keys as cosign writes them (`cosign.pub`): a PEM "PUBLIC KEY" block holding a DER
 * SubjectPublicKeyInfo (RFC 5280 section 4.1.2.7). rkt's key store names such a key by the SHA-256
 * of that DER, the fingerprint printed by
 * `openssl pkey -pubin -in cosign.pub -outform DER | sha256sum`.
 */
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { RktError } from "../../../lib/errors.js";

/** The key types cosign signs with; each has a fixed signature scheme (see payload-signature.ts). */
const SUPPORTED_KEY_TYPES = new Set(["ec", "rsa", "ed25519"]);

/**
 * Parses a PEM public key (SubjectPublicKeyInfo). `what` names the key in errors (a file, a key
 * store entry). Throws RktError "invalid-argument" for anything else, private keys included: a
 * private key given where a public one belongs is a mistake worth stopping.
 *
 * @example
 * const key = parsePublicKey(readFileSync("cosign.pub", "utf8"), "cosign.pub");
 */
export function parsePublicKey(pem: string, what: string): KeyObject {
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem)) {
    throw new RktError("invalid-argument", `${what} is not a PEM public key (no "-----BEGIN PUBLIC KEY-----" block)`, {
      hint: "use the .pub file cosign generate-key-pair wrote, or `openssl pkey -pubout` of the private key",
    });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new RktError("invalid-argument", `${what}: cannot read the public key`, { cause: err });
  }
  checkKeyType(key, what);
  return key;
}

/**
 * The key's fingerprint: lowercase hex SHA-256 of its DER SubjectPublicKeyInfo (64 digits).
 *
 * @example
 * publicKeyFingerprint(parsePublicKey(pem, "cosign.pub")); // "2b20bfe7..."
 */
export function publicKeyFingerprint(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex");
}

/** PEM of the public half of a key (SubjectPublicKeyInfo), as cosign writes `cosign.pub`. */
export function publicKeyPem(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return publicKey.export({ type: "spki", format: "pem" }).toString();
}

/** Refuses key types cosign does not sign with (DSA, X25519, ...). */
export function checkKeyType(key: KeyObject, what: string): void {
  const type = key.asymmetricKeyType ?? "unknown";
  if (!SUPPORTED_KEY_TYPES.has(type)) {
    throw new RktError("invalid-argument", `${what}: a ${type} key cannot make or check cosign signatures`, {
      hint: "use an ECDSA P-256 key (cosign generate-key-pair), or RSA or Ed25519",
    });
  }
}
