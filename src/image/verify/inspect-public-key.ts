/**
 * What a public key is before anyone trusts it: its kind, fingerprint, user IDs, and whether it
 * can be trusted at all. Both kinds of key the key store holds:
 *
 * - OpenPGP public keys (ACI signatures), ASCII-armored or binary as `gpg --export` writes them.
 *   Fingerprint: the key's own (40 lowercase hex digits for a v4 key, RFC 4880 section 12.2).
 *   A secret key, a revoked or expired key, or a key that cannot sign is refused with the reason.
 * - PEM "PUBLIC KEY" blocks (sigstore/cosign `cosign.pub`). Fingerprint: SHA-256 of the DER
 *   SubjectPublicKeyInfo (sigstore/public-key.ts). Private keys are refused.
 *
 * OpenPGP.js is loaded on first use (dynamic import): only commands that trust or verify keys
 * pay for reading it.
 */
import { describe, RktError } from "../../lib/errors.js";
import { parsePublicKey, publicKeyFingerprint, publicKeyPem } from "./sigstore/public-key.js";
import type { KeyObject } from "node:crypto";

/** The two kinds of trusted key: OpenPGP (ACI signatures) and sigstore (PEM public key, cosign). */
export type KeyKind = "openpgp" | "sigstore";

/** A public key, inspected and found fit to be trusted. */
export interface PublicKeyInfo {
  readonly kind: KeyKind;
  /** openpgp: the key's fingerprint, lowercase hex; sigstore: SHA-256 of the DER SPKI, 64 hex. */
  readonly fingerprint: string;
  /** What the key store writes: the armored OpenPGP public key, or the PEM public key. */
  readonly text: string;
  /** OpenPGP user IDs (`Name <email>`); empty for sigstore keys. */
  readonly userIds: readonly string[];
  /** OpenPGP subkey fingerprints; empty for sigstore keys. */
  readonly subkeyFingerprints: readonly string[];
  /** E.g. "OpenPGP ed25519 key", "ECDSA P-256 public key". */
  readonly description: string;
}

const PGP_PUBLIC = "-----BEGIN PGP PUBLIC KEY BLOCK-----";
const PGP_PRIVATE = "-----BEGIN PGP PRIVATE KEY BLOCK-----";
const PEM_PUBLIC = "-----BEGIN PUBLIC KEY-----";

/**
 * The kind of key `data` holds, from its armor header or first OpenPGP packet. Throws RktError
 * "invalid-argument" for private keys and for anything that is no public key. Cheap and
 * synchronous: the key store uses it for every file it reads.
 *
 * @example
 * detectKeyKind(readFileSync("cosign.pub", "utf8")); // "sigstore"
 */
export function detectKeyKind(data: string | Uint8Array, what: string): KeyKind {
  const text = typeof data === "string" ? data : Buffer.from(data.subarray(0, 64 * 1024)).toString("latin1");
  if (text.includes(PGP_PRIVATE)) {
    throw new RktError("invalid-argument", `${what} is an OpenPGP secret key, not a public key`, {
      hint: "never hand out a secret key: export the public key with `gpg --armor --export FINGERPRINT`",
    });
  }
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    throw new RktError("invalid-argument", `${what} is a private key, not a public key`, {
      hint: "trust the public half: cosign.pub, or `openssl pkey -pubout -in KEY`",
    });
  }
  if (text.includes(PGP_PUBLIC)) return "openpgp";
  if (text.includes(PEM_PUBLIC)) return "sigstore";
  const first = typeof data === "string" ? undefined : data[0];
  if (first !== undefined && isPublicKeyPacketHeader(first)) return "openpgp";
  if (first !== undefined && isSecretKeyPacketHeader(first)) {
    throw new RktError("invalid-argument", `${what} is an OpenPGP secret key, not a public key`, {
      hint: "export the public key with `gpg --armor --export FINGERPRINT`",
    });
  }
  throw new RktError("invalid-argument", `${what} is not a public key: expected an OpenPGP public key ("${PGP_PUBLIC}") or a PEM public key ("${PEM_PUBLIC}")`, {
    hint: "export an OpenPGP key with `gpg --armor --export FINGERPRINT`; cosign writes cosign.pub",
  });
}

/**
 * Inspects a key of either kind (see the module comment). `what` names it in errors (a file
 * path, a URL). `now` is when "expired" is judged (passed in by tests).
 *
 * @example
 * const info = await inspectPublicKey(readFileSync("pubkeys.gpg"), "pubkeys.gpg");
 * info.fingerprint; // "8b86de38890ddb7291867b025210bd8888182190"
 */
export async function inspectPublicKey(data: string | Uint8Array, what: string, now: Date = new Date()): Promise<PublicKeyInfo> {
  const kind = detectKeyKind(data, what);
  if (kind === "sigstore") return inspectPemPublicKey(typeof data === "string" ? data : Buffer.from(data).toString("utf8"), what);
  return inspectOpenPgpKey(data, what, now);
}

/**
 * Inspects a PEM public key, synchronously (the key store writes sigstore keys without waiting
 * on anything). Throws RktError "invalid-argument" for anything else.
 */
export function inspectPemPublicKey(pem: string, what: string): PublicKeyInfo {
  detectKeyKind(pem, what);
  const key = parsePublicKey(pem, what);
  return {
    kind: "sigstore",
    fingerprint: publicKeyFingerprint(key),
    text: publicKeyPem(key),
    userIds: [],
    subkeyFingerprints: [],
    description: describePemKey(key),
  };
}

/** "ECDSA P-256 public key", "RSA 3072-bit public key", "Ed25519 public key". */
function describePemKey(key: KeyObject): string {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curves: Readonly<Record<string, string>> = { prime256v1: "P-256", secp384r1: "P-384", secp521r1: "P-521" };
      const curve = details.namedCurve ?? "unknown curve";
      return `ECDSA ${curves[curve] ?? curve} public key`;
    }
    case "rsa":
      return `RSA ${details.modulusLength ?? "?"}-bit public key`;
    case "ed25519":
      return "Ed25519 public key";
    default:
      return `${key.asymmetricKeyType ?? "unknown"} public key`;
  }
}

async function inspectOpenPgpKey(data: string | Uint8Array, what: string, now: Date): Promise<PublicKeyInfo> {
  const openpgp = await import("openpgp");
  const armored = typeof data === "string" || Buffer.from(data.subarray(0, 64 * 1024)).toString("latin1").includes(PGP_PUBLIC);
  let keys: Awaited<ReturnType<typeof openpgp.readKeys>>;
  try {
    keys = armored
      ? await openpgp.readKeys({ armoredKeys: typeof data === "string" ? data : Buffer.from(data).toString("utf8") })
      : await openpgp.readKeys({ binaryKeys: data });
  } catch (err) {
    throw new RktError("invalid-argument", `${what} is not a readable OpenPGP public key: ${describe(err)}`, { cause: err });
  }
  if (keys.length !== 1) {
    throw new RktError("invalid-argument", `${what} holds ${keys.length} OpenPGP keys; the key store trusts one key per file`, {
      hint: "export and trust them one at a time: gpg --armor --export FINGERPRINT",
    });
  }
  const key = keys[0];
  if (key === undefined) throw new RktError("internal", `${what}: no key read`);
  const fingerprint = key.getFingerprint().toLowerCase();
  if (key.isPrivate()) {
    throw new RktError("invalid-argument", `${what} is an OpenPGP secret key (${fingerprint}), not a public key`, {
      hint: "never hand out a secret key: export the public key with `gpg --armor --export FINGERPRINT`",
    });
  }
  if (await key.isRevoked(undefined, undefined, now)) {
    throw new RktError("failed-precondition", `OpenPGP key ${fingerprint} (${what}) has been revoked by its owner`, {
      hint: "ask the publisher for their current key",
    });
  }
  const expires = await key.getExpirationTime();
  if (expires instanceof Date && expires.getTime() <= now.getTime()) {
    throw new RktError("failed-precondition", `OpenPGP key ${fingerprint} (${what}) expired on ${expires.toISOString()}`, {
      hint: "ask the publisher for a key with a later expiry date (gpg --quick-set-expire), then trust that",
    });
  }
  try {
    await key.verifyPrimaryKey(now);
  } catch (err) {
    throw new RktError("failed-precondition", `OpenPGP key ${fingerprint} (${what}) is not valid: ${describe(err)}`, { cause: err });
  }
  try {
    await key.getSigningKey(undefined, now);
  } catch (err) {
    throw new RktError("failed-precondition", `OpenPGP key ${fingerprint} (${what}) has no valid signing key, so it cannot have signed an image: ${describe(err)}`, { cause: err });
  }
  const algorithm = key.getAlgorithmInfo();
  const algo = algorithm.curve !== undefined ? algorithm.curve : `${algorithm.algorithm}${algorithm.bits === undefined ? "" : ` ${algorithm.bits}-bit`}`;
  return {
    kind: "openpgp",
    fingerprint,
    text: armored ? armoredText(data) : key.armor(),
    userIds: key.getUserIDs(),
    subkeyFingerprints: key.getSubkeys().map((s) => s.getFingerprint().toLowerCase()),
    description: `OpenPGP ${algo} key`,
  };
}

/** The armored block of an armored key, without whatever surrounds it. */
function armoredText(data: string | Uint8Array): string {
  const text = typeof data === "string" ? data : Buffer.from(data).toString("utf8");
  const start = text.indexOf(PGP_PUBLIC);
  const endMarker = "-----END PGP PUBLIC KEY BLOCK-----";
  const end = text.indexOf(endMarker, start);
  return end < 0 ? text : `${text.slice(start, end + endMarker.length)}\n`;
}

/** An OpenPGP public-key packet header (tag 6), old or new format (RFC 4880 section 4.2). */
function isPublicKeyPacketHeader(b: number): boolean {
  return (b & 0xfc) === 0x98 || b === 0xc6;
}

/** An OpenPGP secret-key packet header (tag 5). */
function isSecretKeyPacketHeader(b: number): boolean {
  return (b & 0xfc) === 0x94 || b === 0xc5;
}
