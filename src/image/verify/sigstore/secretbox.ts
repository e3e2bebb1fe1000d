/**
 * NaCl's crypto_secretbox: XSalsa20-Poly1305 authenticated encryption ("Cryptography in NaCl",
 * section 9), in the layout of Go's golang.org/x/crypto/nacl/secretbox, which cosign and skopeo use
 * for private keys: the output is the 16-byte Poly1305 tag followed by the ciphertext.
 *
 * Construction: the first 32 bytes of the XSalsa20 key stream are the Poly1305 one-time key; the
 * message is encrypted with the key stream from byte 32 on; the tag authenticates the ciphertext.
 */
import { timingSafeEqual } from "node:crypto";
import { poly1305 } from "./poly1305.js";
import { xsalsa20Xor } from "./xsalsa20.js";

/** Bytes the box adds to the message: the Poly1305 tag. */
export const SECRETBOX_OVERHEAD = 16;
/** Key length: 32 bytes. */
export const SECRETBOX_KEY_BYTES = 32;
/** Nonce length: 24 bytes (XSalsa20's extended nonce, safe to pick at random). */
export const SECRETBOX_NONCE_BYTES = 24;

/**
 * Encrypts and authenticates `message`; returns tag || ciphertext. A nonce must never be reused
 * with the same key.
 *
 * @example
 * const box = secretboxSeal(Buffer.from("secret"), randomBytes(24), key);
 */
export function secretboxSeal(message: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer {
  const stream = xsalsa20Xor(key, nonce, Buffer.concat([Buffer.alloc(32), message]));
  const ciphertext = stream.subarray(32);
  const tag = poly1305(ciphertext, stream.subarray(0, 32));
  return Buffer.concat([tag, ciphertext]);
}

/**
 * Checks and decrypts a box made by secretboxSeal; undefined when the box was not made with this
 * key and nonce or was modified (the caller decides what that means: usually a wrong passphrase).
 *
 * @example
 * const message = secretboxOpen(box, nonce, key);
 * if (message === undefined) throw new Error("wrong passphrase");
 */
export function secretboxOpen(box: Uint8Array, nonce: Uint8Array, key: Uint8Array): Buffer | undefined {
  if (box.length < SECRETBOX_OVERHEAD) return undefined;
  const tag = box.subarray(0, SECRETBOX_OVERHEAD);
  const ciphertext = box.subarray(SECRETBOX_OVERHEAD);
  // Only the first 32 key-stream bytes are needed to check the tag; nothing is decrypted before.
  const oneTimeKey = xsalsa20Xor(key, nonce, Buffer.alloc(32));
  if (!timingSafeEqual(poly1305(ciphertext, oneTimeKey), tag)) return undefined;
  return xsalsa20Xor(key, nonce, Buffer.concat([Buffer.alloc(32), ciphertext])).subarray(32);
}
