/**
 * The Salsa20 stream cipher with XSalsa20's extended nonce, written from D. J. Bernstein's papers:
 * "Salsa20 specification" (the core: quarterround, rowround, columnround, doubleround, and the
 * expansion of a 32-byte key with the constants "expand 32-byte k") and "Extending the Salsa20
 * nonce" (HSalsa20: the core without the final addition, its output words 0, 5, 10, 15, 6, 7, 8, 9;
 * XSalsa20: Salsa20 keyed with HSalsa20(key, nonce[0..16]) and the last 8 nonce bytes).
 *
 * rkt needs it for one thing: NaCl's secretbox (XSalsa20-Poly1305), which cosign and skopeo use to
 * encrypt private keys, and which node:crypto does not offer. It processes a few hundred bytes per
 * key file; speed does not matter, clarity does.
 */

/** "expand 32-byte k" as four little-endian words (Salsa20 spec, section 9, the σ constants). */
const SIGMA = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574] as const;

function rotl(value: number, shift: number): number {
  return ((value << shift) | (value >>> (32 - shift))) >>> 0;
}

/**
 * quarterround(y0, y1, y2, y3) of the spec, in place on the words at indices a, b, c, d:
 * z1 = y1 ^ ((y0 + y3) <<< 7), z2 = y2 ^ ((z1 + y0) <<< 9), z3 = y3 ^ ((z2 + z1) <<< 13),
 * z0 = y0 ^ ((z3 + z2) <<< 18).
 */
function quarterRound(x: Uint32Array, a: number, b: number, c: number, d: number): void {
  const y0 = word(x, a);
  const y3 = word(x, d);
  const z1 = (word(x, b) ^ rotl((y0 + y3) >>> 0, 7)) >>> 0;
  const z2 = (word(x, c) ^ rotl((z1 + y0) >>> 0, 9)) >>> 0;
  const z3 = (y3 ^ rotl((z2 + z1) >>> 0, 13)) >>> 0;
  const z0 = (y0 ^ rotl((z3 + z2) >>> 0, 18)) >>> 0;
  x[a] = z0;
  x[b] = z1;
  x[c] = z2;
  x[d] = z3;
}

/** A state word (the state always has 16; the fallback only satisfies the type checker). */
function word(x: Uint32Array, i: number): number {
  return x[i] ?? 0;
}

/** Ten doublerounds (= 20 rounds): a columnround then a rowround, each four quarterrounds. */
function twentyRounds(x: Uint32Array): void {
  for (let i = 0; i < 10; i++) {
    quarterRound(x, 0, 4, 8, 12);
    quarterRound(x, 5, 9, 13, 1);
    quarterRound(x, 10, 14, 2, 6);
    quarterRound(x, 15, 3, 7, 11);
    quarterRound(x, 0, 1, 2, 3);
    quarterRound(x, 5, 6, 7, 4);
    quarterRound(x, 10, 11, 8, 9);
    quarterRound(x, 15, 12, 13, 14);
  }
}

/**
 * The initial state of the 32-byte-key expansion: σ0, k[0..16], σ1, the 16 input bytes (nonce and
 * block counter for Salsa20, the first 16 nonce bytes for HSalsa20), σ2, k[16..32], σ3.
 */
function initialState(key: Uint8Array, input: Uint8Array): Uint32Array {
  const k = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  const n = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  const x = new Uint32Array(16);
  x[0] = SIGMA[0];
  for (let i = 0; i < 4; i++) x[1 + i] = k.readUInt32LE(4 * i);
  x[5] = SIGMA[1];
  for (let i = 0; i < 4; i++) x[6 + i] = n.readUInt32LE(4 * i);
  x[10] = SIGMA[2];
  for (let i = 0; i < 4; i++) x[11 + i] = k.readUInt32LE(16 + 4 * i);
  x[15] = SIGMA[3];
  return x;
}

function checkLength(what: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) throw new RangeError(`${what} must be ${length} bytes, got ${bytes.length}`);
}

/**
 * HSalsa20 ("Extending the Salsa20 nonce", section 2): 32-byte key, 16-byte input, 32-byte output.
 *
 * @example
 * const subkey = hsalsa20(key, nonce.subarray(0, 16));
 */
export function hsalsa20(key: Uint8Array, input: Uint8Array): Buffer {
  checkLength("HSalsa20 key", key, 32);
  checkLength("HSalsa20 input", input, 16);
  const x = initialState(key, input);
  twentyRounds(x);
  const out = Buffer.alloc(32);
  [0, 5, 10, 15, 6, 7, 8, 9].forEach((index, i) => out.writeUInt32LE(word(x, index), 4 * i));
  return out;
}

/**
 * XORs `data` with the XSalsa20 key stream for `key` (32 bytes) and `nonce` (24 bytes), starting at
 * block 0 (encryption and decryption are the same operation). With all-zero `data` it returns the
 * key stream itself.
 *
 * @example
 * const stream = xsalsa20Xor(key, nonce, Buffer.alloc(32)); // the first 32 key-stream bytes
 */
export function xsalsa20Xor(key: Uint8Array, nonce: Uint8Array, data: Uint8Array): Buffer {
  checkLength("XSalsa20 key", key, 32);
  checkLength("XSalsa20 nonce", nonce, 24);
  const subkey = hsalsa20(key, nonce.subarray(0, 16));
  const input = Buffer.alloc(16);
  input.set(nonce.subarray(16, 24), 0);
  const out = Buffer.alloc(data.length);
  const block = Buffer.alloc(64);
  for (let offset = 0, counter = 0; offset < data.length; offset += 64, counter++) {
    // Salsa20 spec, section 10: input words 8 and 9 are the 64-bit little-endian block number.
    input.writeUInt32LE(counter >>> 0, 8);
    input.writeUInt32LE(Math.floor(counter / 0x1_0000_0000), 12);
    const initial = initialState(subkey, input);
    const x = Uint32Array.from(initial);
    twentyRounds(x);
    for (let i = 0; i < 16; i++) block.writeUInt32LE((word(x, i) + word(initial, i)) >>> 0, 4 * i);
    const end = Math.min(64, data.length - offset);
    for (let i = 0; i < end; i++) out[offset + i] = (data[offset + i] ?? 0) ^ (block[i] ?? 0);
  }
  return out;
}
