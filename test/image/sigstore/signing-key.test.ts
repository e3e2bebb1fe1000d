/**
 * Signing keys in the forms users have them (cosign's encrypted key, openssl's PEM keys), public
 * key fingerprints, and the signature scheme, cross-checked with openssl: keys openssl made are
 * read, signatures rkt made verify with `openssl dgst -verify`, and the other way round.
 */
import assert from "node:assert/strict";
import { createPrivateKey, generateKeyPairSync } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { openPassphraseEnvelope, sealPassphraseEnvelope } from "../../../src/image/verify/sigstore/passphrase-envelope.js";
import { signPayload, verifyPayload } from "../../../src/image/verify/sigstore/payload-signature.js";
import { parsePublicKey, publicKeyFingerprint, publicKeyPem } from "../../../src/image/verify/sigstore/public-key.js";
import { COSIGN_PRIVATE_KEY_PEM_TYPE, encryptSigningKey, generateSigningKey, readSigningKey, SIGSTORE_PRIVATE_KEY_PEM_TYPE } from "../../../src/image/verify/sigstore/signing-key.js";
import { execTool } from "../../support/exec-tool.js";
import { tempDir } from "../../support/tmp.js";

const PASS = Buffer.from("correct horse");

function isRktError(kind: string, pattern: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

test("generateSigningKey writes cosign's encrypted PEM that readSigningKey opens with the passphrase", async () => {
  const { privateKeyPem, publicKeyPem: pub } = await generateSigningKey(PASS);
  assert.match(privateKeyPem, new RegExp(`^-----BEGIN ${COSIGN_PRIVATE_KEY_PEM_TYPE}-----\n`));
  assert.match(pub, /^-----BEGIN PUBLIC KEY-----\n/);
  const body = privateKeyPem.split("\n").slice(1, -2).join("");
  const envelope = JSON.parse(Buffer.from(body, "base64").toString("utf8")) as Record<string, unknown>;
  // go-tuf's `encrypted` layout, with the parameters older readers insist on.
  assert.deepEqual(envelope.kdf && (envelope.kdf as { params: unknown }).params, { N: 32768, r: 8, p: 1 });
  assert.equal((envelope.cipher as { name: string }).name, "nacl/secretbox");
  const key = await readSigningKey(privateKeyPem, PASS, "cosign.key");
  assert.equal(key.asymmetricKeyType, "ec");
  assert.equal(publicKeyPem(key), pub);
});

test("readSigningKey refuses a wrong passphrase and a missing one, naming the file", async () => {
  const { privateKeyPem } = await generateSigningKey(PASS);
  await assert.rejects(readSigningKey(privateKeyPem, Buffer.from("wrong"), "my.key"), isRktError("permission-denied", /my\.key: wrong passphrase/));
  await assert.rejects(readSigningKey(privateKeyPem, undefined, "my.key"), (err) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "failed-precondition");
    assert.match(err.hint ?? "", /--sign-passphrase-file/);
    return true;
  });
});

test("readSigningKey reads cosign 2's PEM type and refuses a tampered envelope", async () => {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const pem = await encryptSigningKey(privateKey, PASS, { pemType: SIGSTORE_PRIVATE_KEY_PEM_TYPE });
  assert.match(pem, /BEGIN ENCRYPTED SIGSTORE PRIVATE KEY/);
  assert.equal(publicKeyFingerprint(await readSigningKey(pem, PASS, "k")), publicKeyFingerprint(privateKey));

  const json = await sealPassphraseEnvelope(Buffer.from("secret"), PASS);
  const doc = JSON.parse(json.toString("utf8")) as { kdf: { params: { N: number } }; ciphertext: string };
  doc.kdf.params.N = 1 << 22;
  await assert.rejects(openPassphraseEnvelope(Buffer.from(JSON.stringify(doc)), PASS, "k"), isRktError("invalid-argument", /unsupported scrypt parameters N=4194304/));
  const flipped = JSON.parse(json.toString("utf8")) as { ciphertext: string };
  const box = Buffer.from(flipped.ciphertext, "base64");
  box[box.length - 1] = (box[box.length - 1] ?? 0) ^ 1;
  flipped.ciphertext = box.toString("base64");
  await assert.rejects(openPassphraseEnvelope(Buffer.from(JSON.stringify(flipped)), PASS, "k"), isRktError("permission-denied", /wrong passphrase/));
  assert.deepEqual(await openPassphraseEnvelope(json, PASS, "k"), Buffer.from("secret"));
});

test("readSigningKey reads openssl's SEC 1, PKCS #8 and encrypted PKCS #8 keys", async (t) => {
  const dir = await tempDir(t);
  const sec1 = (await execTool("openssl", ["ecparam", "-name", "prime256v1", "-genkey", "-noout"])).toString("utf8");
  assert.match(sec1, /BEGIN EC PRIVATE KEY/);
  const sec1File = join(dir, "sec1.pem");
  await writeFile(sec1File, sec1);
  const pkcs8 = (await execTool("openssl", ["pkcs8", "-topk8", "-nocrypt", "-in", sec1File])).toString("utf8");
  const encrypted = (await execTool("openssl", ["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-passout", "pass:correct horse", "-in", sec1File])).toString("utf8");
  assert.match(encrypted, /BEGIN ENCRYPTED PRIVATE KEY/);
  const fingerprint = publicKeyFingerprint(createPrivateKey(sec1));
  for (const [what, pem, pass] of [["sec1", sec1, undefined], ["pkcs8", pkcs8, undefined], ["encrypted pkcs8", encrypted, PASS]] as const) {
    assert.equal(publicKeyFingerprint(await readSigningKey(pem, pass, what)), fingerprint, what);
  }
});

test("readSigningKey refuses public keys, text that is not PEM, and unsupported key types", async () => {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  await assert.rejects(readSigningKey(publicKeyPem(publicKey), undefined, "cosign.pub"), isRktError("invalid-argument", /"PUBLIC KEY" block is not a private key/));
  await assert.rejects(readSigningKey("hello", undefined, "junk.txt"), isRktError("invalid-argument", /junk\.txt is not a PEM private key/));
  const x25519 = generateKeyPairSync("x25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  await assert.rejects(readSigningKey(x25519, undefined, "x.pem"), isRktError("invalid-argument", /x25519 key cannot make or check cosign signatures/));
  assert.throws(() => parsePublicKey(privateKey.export({ type: "pkcs8", format: "pem" }).toString(), "k.pem"), isRktError("invalid-argument", /not a PEM public key/));
});

test("publicKeyFingerprint is the SHA-256 of the DER SubjectPublicKeyInfo, as openssl computes it", async (t) => {
  const dir = await tempDir(t);
  const { publicKeyPem: pub } = await generateSigningKey(PASS);
  const file = join(dir, "cosign.pub");
  await writeFile(file, pub);
  const der = await execTool("openssl", ["pkey", "-pubin", "-in", file, "-outform", "DER"]);
  const digest = (await execTool("openssl", ["dgst", "-sha256", "-r"], { input: der })).toString("utf8").split(" ")[0];
  assert.equal(publicKeyFingerprint(parsePublicKey(pub, "cosign.pub")), digest);
});

for (const type of ["ec", "rsa", "ed25519"] as const) {
  test(`signPayload (${type}) makes signatures openssl verifies, and verifyPayload checks openssl's`, async (t) => {
    const dir = await tempDir(t);
    const { privateKey, publicKey } =
      type === "ec" ? generateKeyPairSync("ec", { namedCurve: "P-256" }) : type === "rsa" ? generateKeyPairSync("rsa", { modulusLength: 2048 }) : generateKeyPairSync("ed25519");
    const payload = Buffer.from('{"critical":{}}');
    const files = { payload: join(dir, "payload"), sig: join(dir, "sig"), pub: join(dir, "pub.pem"), key: join(dir, "key.pem") };
    await writeFile(files.payload, payload);
    await writeFile(files.pub, publicKeyPem(publicKey));
    await writeFile(files.key, privateKey.export({ type: "pkcs8", format: "pem" }));
    await writeFile(files.sig, Buffer.from(signPayload(payload, privateKey), "base64"));
    const verifyArgs =
      type === "ed25519"
        ? ["pkeyutl", "-verify", "-rawin", "-pubin", "-inkey", files.pub, "-in", files.payload, "-sigfile", files.sig]
        : ["dgst", "-sha256", "-verify", files.pub, "-signature", files.sig, files.payload];
    assert.match((await execTool("openssl", verifyArgs)).toString("utf8"), /Verified OK|Signature Verified Successfully/);

    const signArgs =
      type === "ed25519" ? ["pkeyutl", "-sign", "-rawin", "-inkey", files.key, "-in", files.payload] : ["dgst", "-sha256", "-sign", files.key, files.payload];
    const theirs = (await execTool("openssl", signArgs)).toString("base64");
    assert.equal(verifyPayload(payload, theirs, publicKey), true);
    assert.equal(verifyPayload(Buffer.from('{"critical":{"x":1}}'), theirs, publicKey), false);
    assert.equal(verifyPayload(payload, "not base64!", publicKey), false);
    assert.equal(verifyPayload(payload, Buffer.from("garbage").toString("base64"), publicKey), false);
    assert.deepEqual(await readFile(files.payload), payload);
  });
}
