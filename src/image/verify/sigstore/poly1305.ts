/**
 * The Poly1305 one-time authenticator, written from RFC 8439 section 2.5 (the same function as in
 * D. J. Bernstein's "The Poly1305-AES message-authentication code" and NaCl's
 * crypto_onetimeauth_poly1305): a 32-byte one-time key (r, s); r clamped; every 16-byte block,
 * with a 0x01 byte appended, added to the accumulator, which is then multiplied by r modulo
 * 2^130 - 5; the tag is (accumulator + s) mod 2^128, little-endian.
 *
 * BigInt arithmetic keeps this short and obviously right; it is not constant-time, which is
 * acceptable here: rkt authenticates only the user's own private-key file, with a key that is
 * used once (derived from a fresh nonce), on the user's own machine.
 */

const P = (1n << 130n) - 5n;
/** RFC 8439 2.5.1: "r[3], r[7], r[11], and r[15] are required to have their top four bits clear; r[4], r[8], and r[12] are required to have their bottom two bits clear". */
const CLAMP = 0x0ffffffc0ffffffc0ffffffc0fffffffn;
const MASK128 = (1n << 128n) - 1n;

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i] ?? 0);
  return n;
}

/**
 * The 16-byte Poly1305 tag of `message` under the one-time `key` (32 bytes).
 *
 * @example
 * const tag = poly1305(ciphertext, oneTimeKey);
 */
export function poly1305(message: Uint8Array, key: Uint8Array): Buffer {
  if (key.length !== 32) throw new RangeError(`Poly1305 key must be 32 bytes, got ${key.length}`);
  const r = littleEndian(key.subarray(0, 16)) & CLAMP;
  const s = littleEndian(key.subarray(16, 32));
  let acc = 0n;
  for (let offset = 0; offset < message.length; offset += 16) {
    const block = message.subarray(offset, Math.min(offset + 16, message.length));
    // The appended 0x01 byte: 2^(8 * block length) added to the block's value.
    acc = ((acc + littleEndian(block) + (1n << BigInt(8 * block.length))) * r) % P;
  }
  let tag = (acc + s) & MASK128;
  const out = Buffer.alloc(16);
  for (let i = 0; i < 16; i++) {
    out[i] = Number(tag & 0xffn);
    tag >>= 8n;
  }
  return out;
}
