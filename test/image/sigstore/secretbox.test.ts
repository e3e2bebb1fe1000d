/**
 * XSalsa20-Poly1305 (NaCl's secretbox) against published known answers: the HSalsa20, XSalsa20
 * and secretbox examples of "Cryptography in NaCl" (D. J. Bernstein; NaCl's tests core1, stream3
 * and secretbox, which libsodium ships too) and the Poly1305 vectors of RFC 8439 (2.5.2, A.3).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { poly1305 } from "../../../src/image/verify/sigstore/poly1305.js";
import { secretboxOpen, secretboxSeal } from "../../../src/image/verify/sigstore/secretbox.js";
import { hsalsa20, xsalsa20Xor } from "../../../src/image/verify/sigstore/xsalsa20.js";

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s+/g, ""), "hex");

// "Cryptography in NaCl", section 7-9: Alice and Bob's shared secret, the first HSalsa20 key,
// and the nonce and message of the secretbox example.
const SHARED = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
const FIRSTKEY = hex("1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389");
const NONCE = hex("69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37");
const MESSAGE = hex(`
  be075fc53c81f2d5cf141316ebeb0c7b5228c52a4c62cbd44b66849b64244ffc
  e5ecbaaf33bd751a1ac728d45e6c61296cdc3c01233561f41db66cce314adb31
  0e3be8250c46f06dceea3a7fa1348057e2f6556ad6b1318a024a838f21af1fde
  048977eb48f59ffd4924ca1c60902e52f0a089bc76897040e082f93776384864
  5e0705`);
const BOX = hex(`
  f3ffc7703f9400e52a7dfb4b3d3305d98e993b9f48681273c29650ba32fc76ce
  48332ea7164d96a4476fb8c531a1186ac0dfc17c98dce87b4da7f011ec48c972
  71d2c20f9b928fe2270d6fb863d51738b48eeee314a7cc8ab932164548e526ae
  90224368517acfeabd6bb3732bc0e9da99832b61ca01b6de56244a9e88d5f9b3
  7973f622a43d14a6599b1f654cb45a74e355a5`);

test("hsalsa20 turns the NaCl shared secret into the published first key (core1)", () => {
  assert.equal(hsalsa20(SHARED, Buffer.alloc(16)).toString("hex"), FIRSTKEY.toString("hex"));
});

test("xsalsa20Xor gives the published first 32 key-stream bytes (stream3)", () => {
  assert.equal(xsalsa20Xor(FIRSTKEY, NONCE, Buffer.alloc(32)).toString("hex"), "eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880");
});

test("xsalsa20Xor is its own inverse across block boundaries", () => {
  const data = randomBytes(200);
  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const once = xsalsa20Xor(key, nonce, data);
  assert.notDeepEqual(once, data);
  assert.deepEqual(xsalsa20Xor(key, nonce, once), data);
  // The stream of a longer message starts with the stream of a shorter one.
  assert.deepEqual(xsalsa20Xor(key, nonce, data.subarray(0, 70)), once.subarray(0, 70));
});

test("poly1305 matches RFC 8439 section 2.5.2", () => {
  const key = hex("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b");
  assert.equal(poly1305(Buffer.from("Cryptographic Forum Research Group"), key).toString("hex"), "a8061dc1305136c6c22b8baf0c0127a9");
});

test("poly1305 matches RFC 8439 appendix A.3 vectors 1 and 2", () => {
  assert.equal(poly1305(Buffer.alloc(64), Buffer.alloc(32)).toString("hex"), "00000000000000000000000000000000");
  const text =
    'Any submission to the IETF intended by the Contributor for publication as all or part of an IETF Internet-Draft or RFC and any statement made within the context of an IETF activity is considered an "IETF Contribution". Such statements include oral statements in IETF sessions, as well as written and electronic communications made at any time or place, which are addressed to';
  const key = Buffer.concat([Buffer.alloc(16), hex("36e5f6b5c5e06070f0efca96227a863e")]);
  assert.equal(poly1305(Buffer.from(text), key).toString("hex"), "36e5f6b5c5e06070f0efca96227a863e");
});

test("secretboxSeal gives the published NaCl secretbox ciphertext", () => {
  assert.equal(secretboxSeal(MESSAGE, NONCE, FIRSTKEY).toString("hex"), BOX.toString("hex"));
});

test("secretboxOpen recovers the published message and refuses any change", () => {
  assert.deepEqual(secretboxOpen(BOX, NONCE, FIRSTKEY), MESSAGE);
  for (const index of [0, 15, 16, BOX.length - 1]) {
    const tampered = Buffer.from(BOX);
    tampered[index] = (tampered[index] ?? 0) ^ 1;
    assert.equal(secretboxOpen(tampered, NONCE, FIRSTKEY), undefined, `byte ${index} flipped`);
  }
  const otherKey = Buffer.from(FIRSTKEY);
  otherKey[0] = (otherKey[0] ?? 0) ^ 1;
  assert.equal(secretboxOpen(BOX, NONCE, otherKey), undefined);
  assert.equal(secretboxOpen(BOX.subarray(0, 15), NONCE, FIRSTKEY), undefined);
});

test("secretbox seals and opens an empty message", () => {
  const key = randomBytes(32);
  const nonce = randomBytes(24);
  const box = secretboxSeal(Buffer.alloc(0), nonce, key);
  assert.equal(box.length, 16);
  assert.deepEqual(secretboxOpen(box, nonce, key), Buffer.alloc(0));
});
