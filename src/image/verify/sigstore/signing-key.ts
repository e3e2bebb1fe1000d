/**
 * Private keys for signing images, in the forms people have them:
 *
 * - cosign's encrypted key (`cosign generate-key-pair`): PEM type "ENCRYPTED COSIGN PRIVATE KEY"
 *   (cosign 1.x, what skopeo 1.9 reads) or "ENCRYPTED SIGSTORE PRIVATE KEY" (cosign 2.x), whose
 *   body is a passphrase envelope (passphrase-envelope.ts) around a DER PKCS #8 private key;
 * - plain PEM: PKCS #8 "PRIVATE KEY", SEC 1 "EC PRIVATE KEY", PKCS #1 "RSA PRIVATE KEY" (openssl's
 *   output), and PKCS #8 "ENCRYPTED PRIVATE KEY" with a passphrase.
 *
 * rkt writes keys only in cosign's format, with the 1.x PEM type, so that cosign (both versions)
 * and skopeo can sign with a key rkt generated.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { RktError } from "../../../lib/errors.js";
import { sealPassphraseEnvelope, openPassphraseEnvelope, type ScryptParams } from "./passphrase-envelope.js";
import { checkKeyType, publicKeyPem } from "./public-key.js";

/** The PEM type cosign 1.x writes and skopeo 1.9 requires. */
export const COSIGN_PRIVATE_KEY_PEM_TYPE = "ENCRYPTED COSIGN PRIVATE KEY";
/** The PEM type cosign 2.x writes. */
export const SIGSTORE_PRIVATE_KEY_PEM_TYPE = "ENCRYPTED SIGSTORE PRIVATE KEY";

const PLAIN_TYPES = new Set(["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]);

/** A PEM block's type and base64-decoded body. */
interface PemBlock {
  readonly type: string;
  readonly der: Buffer;
}

function firstPemBlock(text: string): PemBlock | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/.exec(text);
  if (m === null) return undefined;
  const body = (m[2] ?? "").split(/\r?\n/).filter((line) => line !== "" && !line.includes(":")).join("");
  return { type: m[1] ?? "", der: Buffer.from(body, "base64") };
}

/**
 * Reads a private key from PEM `text`. `passphrase` is needed for the encrypted forms; `what`
 * names the file in errors. Throws RktError "invalid-argument" for unreadable keys and key types
 * cosign does not sign with, "failed-precondition" when an encrypted key comes without a
 * passphrase, and "permission-denied" for a wrong passphrase.
 *
 * @example
 * const key = await readSigningKey(readFileSync("cosign.key", "utf8"), Buffer.from("pw"), "cosign.key");
 */
export async function readSigningKey(text: string, passphrase: Uint8Array | undefined, what: string): Promise<KeyObject> {
  const block = firstPemBlock(text);
  if (block === undefined) {
    throw new RktError("invalid-argument", `${what} is not a PEM private key`, {
      hint: "use the .key file of `cosign generate-key-pair`, or a PEM private key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)",
    });
  }
  let key: KeyObject;
  if (block.type === COSIGN_PRIVATE_KEY_PEM_TYPE || block.type === SIGSTORE_PRIVATE_KEY_PEM_TYPE) {
    const der = await openPassphraseEnvelope(block.der, requirePassphrase(passphrase, what), `key ${what}`);
    key = loadKey(() => createPrivateKey({ key: der, format: "der", type: "pkcs8" }), what);
  } else if (block.type === "ENCRYPTED PRIVATE KEY") {
    const pass = Buffer.from(requirePassphrase(passphrase, what));
    try {
      key = createPrivateKey({ key: text, format: "pem", passphrase: pass });
    } catch (err) {
      throw new RktError("permission-denied", `cannot decrypt ${what}: wrong passphrase, or the file was modified`, { cause: err });
    }
  } else if (PLAIN_TYPES.has(block.type)) {
    key = loadKey(() => createPrivateKey({ key: text, format: "pem" }), what);
  } else {
    throw new RktError("invalid-argument", `${what}: a PEM "${block.type}" block is not a private key rkt can sign with`, {
      hint: `expected "${COSIGN_PRIVATE_KEY_PEM_TYPE}", "${SIGSTORE_PRIVATE_KEY_PEM_TYPE}", "PRIVATE KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY"`,
    });
  }
  checkKeyType(key, what);
  return key;
}

function requirePassphrase(passphrase: Uint8Array | undefined, what: string): Uint8Array {
  if (passphrase === undefined) {
    throw new RktError("failed-precondition", `${what} is encrypted and no passphrase was given`, {
      hint: "pass --sign-passphrase-file=FILE (the passphrase is its first line)",
    });
  }
  return passphrase;
}

function loadKey(load: () => KeyObject, what: string): KeyObject {
  try {
    return load();
  } catch (err) {
    throw new RktError("invalid-argument", `${what}: cannot read the private key`, { cause: err });
  }
}

/**
 * Writes `key` in cosign's encrypted format (PEM "ENCRYPTED COSIGN PRIVATE KEY" by default).
 *
 * @example
 * writeFileSync("cosign.key", await encryptSigningKey(key, Buffer.from("pw")), { mode: 0o600 });
 */
export async function encryptSigningKey(
  key: KeyObject,
  passphrase: Uint8Array,
  options: { readonly pemType?: string; readonly scrypt?: ScryptParams } = {},
): Promise<string> {
  const der = key.export({ type: "pkcs8", format: "der" });
  const envelope = await sealPassphraseEnvelope(der, passphrase, options.scrypt);
  const type = options.pemType ?? COSIGN_PRIVATE_KEY_PEM_TYPE;
  const lines = envelope.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join("\n")}\n-----END ${type}-----\n`;
}

/** A fresh key pair in cosign's file formats. */
export interface GeneratedSigningKey {
  /** The encrypted private key (cosign.key). */
  readonly privateKeyPem: string;
  /** The public key (cosign.pub), PEM SubjectPublicKeyInfo. */
  readonly publicKeyPem: string;
}

/**
 * Generates an ECDSA P-256 key pair, as `cosign generate-key-pair` does, encrypted with
 * `passphrase`.
 *
 * @example
 * const { privateKeyPem, publicKeyPem } = await generateSigningKey(Buffer.from("pw"));
 */
export async function generateSigningKey(passphrase: Uint8Array): Promise<GeneratedSigningKey> {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { privateKeyPem: await encryptSigningKey(privateKey, passphrase), publicKeyPem: publicKeyPem(privateKey) };
}
