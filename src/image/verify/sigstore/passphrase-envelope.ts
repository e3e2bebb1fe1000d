/**
 * The passphrase envelope cosign and skopeo put around private keys: the format of
 * theupdateframework/go-tuf's `encrypted` package, a JSON object
 *
 * ```json
 * {"kdf": {"name": "scrypt", "params": {"N": 32768, "r": 8, "p": 1}, "salt": "<base64, 32 bytes>"},
 *  "cipher": {"name": "nacl/secretbox", "nonce": "<base64, 24 bytes>"},
 *  "ciphertext": "<base64: Poly1305 tag || XSalsa20 ciphertext>"}
 * ```
 *
 * The 32-byte secretbox key is scrypt(passphrase, salt, N, r, p). Base64 is the standard alphabet
 * with padding (Go's encoding of []byte in JSON).
 *
 * Writing uses N=32768, r=8, p=1, the only parameters older readers (go-tuf before v0.6, so
 * skopeo 1.9 and cosign 1.x) accept; reading also accepts the stronger parameters newer cosign
 * writes, within a memory bound, so a tampered file cannot make rkt allocate gigabytes.
 */
import { randomBytes, scrypt, type ScryptOptions } from "node:crypto";
import { RktError } from "../../../lib/errors.js";
import * as z from "../../../lib/schema.js";
import { parseDocument } from "../../formats/parse-document.js";
import { SECRETBOX_KEY_BYTES, SECRETBOX_NONCE_BYTES, secretboxOpen, secretboxSeal } from "./secretbox.js";

/** scrypt parameters of a passphrase envelope. */
export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** What go-tuf's `encrypted.Encrypt` writes and every reader accepts. */
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 32768, r: 8, p: 1 };

const SALT_BYTES = 32;
/** N up to 2^18 with r=8: at most 256 MiB for scrypt's table (128 * N * r bytes). */
const MAX_SCRYPT_N = 1 << 18;

const base64Schema = z.string().check(z.regex(/^[A-Za-z0-9+/]*={0,2}$/, { error: "not base64" }));

const envelopeSchema = z.object({
  kdf: z.object({
    name: z.literal("scrypt"),
    params: z.object({ N: z.int(), r: z.int(), p: z.int() }),
    salt: base64Schema,
  }),
  cipher: z.object({ name: z.literal("nacl/secretbox"), nonce: base64Schema }),
  ciphertext: base64Schema,
});

function deriveKey(passphrase: Uint8Array, salt: Uint8Array, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 128 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scrypt(passphrase, salt, SECRETBOX_KEY_BYTES, options, (err, key) => (err === null ? resolve(key) : reject(err)));
  });
}

/**
 * Encrypts `plaintext` with a key derived from `passphrase`; returns the envelope's JSON bytes.
 *
 * @example
 * const json = await sealPassphraseEnvelope(pkcs8Der, Buffer.from("secret"));
 */
export async function sealPassphraseEnvelope(plaintext: Uint8Array, passphrase: Uint8Array, params: ScryptParams = DEFAULT_SCRYPT_PARAMS): Promise<Buffer> {
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(SECRETBOX_NONCE_BYTES);
  const key = await deriveKey(passphrase, salt, params);
  const box = secretboxSeal(plaintext, nonce, key);
  const envelope = {
    kdf: { name: "scrypt", params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString("base64") },
    cipher: { name: "nacl/secretbox", nonce: nonce.toString("base64") },
    ciphertext: box.toString("base64"),
  };
  return Buffer.from(JSON.stringify(envelope));
}

/**
 * Decrypts an envelope made by sealPassphraseEnvelope, go-tuf, cosign or skopeo. `what` names the
 * file in errors. Throws RktError "invalid-argument" for a malformed envelope and
 * "permission-denied" for a wrong passphrase (or a modified file: the two cannot be told apart).
 *
 * @example
 * const pkcs8Der = await openPassphraseEnvelope(json, Buffer.from("secret"), "key cosign.key");
 */
export async function openPassphraseEnvelope(json: Uint8Array, passphrase: Uint8Array, what: string): Promise<Buffer> {
  const envelope = parseDocument(json, envelopeSchema, `encrypted ${what}`);
  const { N, r, p } = envelope.kdf.params;
  // A power of two (scrypt requires it), r and p as every known writer sets them, and a bound on
  // memory: these numbers come from the file.
  if (N < 2 || N > MAX_SCRYPT_N || (N & (N - 1)) !== 0 || r !== 8 || p < 1 || p > 16) {
    throw new RktError("invalid-argument", `encrypted ${what}: unsupported scrypt parameters N=${N}, r=${r}, p=${p}`, {
      hint: `rkt reads keys encrypted with scrypt N up to ${MAX_SCRYPT_N}, r=8 (what cosign and skopeo write)`,
    });
  }
  const salt = Buffer.from(envelope.kdf.salt, "base64");
  const nonce = Buffer.from(envelope.cipher.nonce, "base64");
  if (nonce.length !== SECRETBOX_NONCE_BYTES) {
    throw new RktError("invalid-argument", `encrypted ${what}: the secretbox nonce is ${nonce.length} bytes, not ${SECRETBOX_NONCE_BYTES}`);
  }
  const key = await deriveKey(passphrase, salt, { N, r, p });
  const plaintext = secretboxOpen(Buffer.from(envelope.ciphertext, "base64"), nonce, key);
  if (plaintext === undefined) {
    throw new RktError("permission-denied", `cannot decrypt ${what}: wrong passphrase, or the file was modified`, {
      hint: "check the passphrase file given with --sign-passphrase-file (its first line is the passphrase)",
    });
  }
  return plaintext;
}
