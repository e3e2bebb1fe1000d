/**
 * Detached signatures made by GnuPG, checked by our code against the key store: good, tampered,
 * untrusted, expired and masked keys, subkeys, binary and malformed signatures.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { Keystore } from "../../../src/image/verify/keystore.js";
import { verifyDetachedSignature } from "../../../src/image/verify/openpgp-signature.js";
import { RktError } from "../../../src/lib/errors.js";
import { createGpgKey, gpg, gpgDetachSign } from "../../support/gpg.js";
import { tempDir } from "../../support/tmp.js";
import { keyExpiredBeforeSigning, keyWithSigningSubkey } from "./fixture-keys.js";

const NAME = "example.com/app";

function keystore(dir: string): { ks: Keystore; system: string; local: string } {
  const system = join(dir, "system");
  const local = join(dir, "local");
  return { ks: new Keystore({ systemConfigDir: system, localConfigDir: local }), system, local };
}

/** A 3 MiB "image": big enough to go through the stream in several chunks. */
function writeImage(dir: string): string {
  const file = join(dir, "app.aci");
  writeFileSync(file, randomBytes(3 << 20));
  return file;
}

function isDenied(pattern: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof RktError && err.kind === "permission-denied" && pattern.test(err.message);
}

test("verifyDetachedSignature accepts a gpg signature by a key trusted for the name, streaming the file", async (t) => {
  const dir = await tempDir(t);
  const { ks } = keystore(dir);
  const gpgKey = await createGpgKey(dir, { userId: "Carly Container <carly@example.com>" });
  await ks.addKey(gpgKey.armoredPublicKey, { prefix: "example.com" });
  const image = writeImage(dir);
  const asc = await gpgDetachSign(gpgKey, image);
  const signer = await verifyDetachedSignature({ data: image, signature: readFileSync(asc, "utf8"), keys: ks.keysFor(NAME), imageName: NAME });
  assert.equal(signer.fingerprint, gpgKey.fingerprint);
  assert.deepEqual(signer.userIds, ["Carly Container <carly@example.com>"]);
  assert.equal(signer.key.prefix, "example.com");
});

test("verifyDetachedSignature accepts in-memory data, a binary signature and an RSA key", async (t) => {
  const dir = await tempDir(t);
  const { ks } = keystore(dir);
  const gpgKey = await createGpgKey(dir, { algorithm: "rsa2048" });
  await ks.addKey(gpgKey.armoredPublicKey, { root: true });
  const image = writeImage(dir);
  const sig = join(dir, "app.aci.sig");
  await gpg(gpgKey.home, ["--yes", "--local-user", gpgKey.fingerprint, "--output", sig, "--detach-sign", image]);
  const signer = await verifyDetachedSignature({ data: readFileSync(image), signature: readFileSync(sig), keys: ks.keysFor(NAME), imageName: NAME });
  assert.equal(signer.fingerprint, gpgKey.fingerprint);
});

test("verifyDetachedSignature accepts a signature made by a signing subkey and names the primary key", async (t) => {
  const dir = await tempDir(t);
  const { ks } = keystore(dir);
  const gpgKey = await keyWithSigningSubkey(dir);
  await ks.addKey(gpgKey.armoredPublicKey, { prefix: NAME });
  const image = writeImage(dir);
  const asc = await gpgDetachSign(gpgKey, image);
  const signer = await verifyDetachedSignature({ data: image, signature: readFileSync(asc), keys: ks.keysFor(NAME), imageName: NAME });
  assert.equal(signer.fingerprint, gpgKey.fingerprint);
});

test("verifyDetachedSignature reports a BAD signature when one byte of the data changed", async (t) => {
  const dir = await tempDir(t);
  const { ks } = keystore(dir);
  const gpgKey = await createGpgKey(dir);
  await ks.addKey(gpgKey.armoredPublicKey, { prefix: NAME });
  const image = writeImage(dir);
  const asc = await gpgDetachSign(gpgKey, image);
  const bytes = readFileSync(image);
  bytes[2_000_000] = (bytes[2_000_000] ?? 0) ^ 1;
  writeFileSync(image, bytes);
  await assert.rejects(
    verifyDetachedSignature({ data: image, signature: readFileSync(asc), keys: ks.keysFor(NAME), imageName: NAME }),
    isDenied(/^BAD signature: example\.com\/app does not match its signature by key [0-9a-f]{40} \(rkt test <test@example\.com>\): the image may have been tampered with$/),
  );
});

test("verifyDetachedSignature refuses a signature by a key that is not trusted, with the rkt trust hint", async (t) => {
  const dir = await tempDir(t);
  const { ks } = keystore(dir);
  const trusted = await createGpgKey(dir);
  const stranger = await createGpgKey(dir, { userId: "stranger <s@example.com>" });
  await ks.addKey(trusted.armoredPublicKey, { prefix: NAME });
  const image = writeImage(dir);
  const asc = await gpgDetachSign(stranger, image);
  await assert.rejects(verifyDetachedSignature({ data: image, signature: readFileSync(asc), keys: ks.keysFor(NAME), imageName: NAME }), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "permission-denied");
    assert.match(err.message, new RegExp(`signed by OpenPGP key ${stranger.fingerprint.slice(-16).toUpperCase()}, which is not trusted for "example.com/app"$`));
    assert.match(err.hint ?? "", /rkt trust --prefix "example\.com\/app"/);
    return true;
  });
});

test("verifyDetachedSignature refuses a key trusted only for another prefix", async (t) => {
  const dir = await tempDir(t);
  const { ks } = keystore(dir);
  const gpgKey = await createGpgKey(dir);
  await ks.addKey(gpgKey.armoredPublicKey, { prefix: "example.com/other" });
  await ks.addKey(gpgKey.armoredPublicKey, { prefix: "example.com/ap" });
  const image = writeImage(dir);
  const asc = await gpgDetachSign(gpgKey, image);
  assert.deepEqual(ks.keysFor(NAME), []);
  await assert.rejects(
    verifyDetachedSignature({ data: image, signature: readFileSync(asc), keys: ks.keysFor(NAME), imageName: NAME }),
    isDenied(/not trusted for "example\.com\/app" \(no OpenPGP key is trusted for it\)/),
  );
});

test("verifyDetachedSignature refuses a signature made after the key had expired", async (t) => {
  const dir = await tempDir(t);
  const { ks, system } = keystore(dir);
  const image = writeImage(dir);
  const { key, signature } = await keyExpiredBeforeSigning(dir, image);
  // A vendor key file: the store does not judge keys it reads, the verification does.
  mkdirSync(join(system, "trustedkeys", "root.d"), { recursive: true });
  writeFileSync(join(system, "trustedkeys", "root.d", key.fingerprint), key.armoredPublicKey);
  await assert.rejects(
    verifyDetachedSignature({ data: image, signature: readFileSync(signature), keys: ks.keysFor(NAME), imageName: NAME }),
    (err: unknown) => err instanceof RktError && err.kind === "permission-denied" && /is not valid: .*expired/i.test(err.message) && /expired or revoked when the image was signed/.test(err.hint ?? ""),
  );
});

test("a vendor key masked by an empty local file no longer verifies anything", async (t) => {
  const dir = await tempDir(t);
  const { ks, system, local } = keystore(dir);
  const gpgKey = await createGpgKey(dir);
  mkdirSync(join(system, "trustedkeys", "root.d"), { recursive: true });
  writeFileSync(join(system, "trustedkeys", "root.d", gpgKey.fingerprint), gpgKey.armoredPublicKey);
  const image = writeImage(dir);
  const asc = await gpgDetachSign(gpgKey, image);
  const check = (): Promise<unknown> => verifyDetachedSignature({ data: image, signature: readFileSync(asc), keys: ks.keysFor(NAME), imageName: NAME });
  await check();
  mkdirSync(join(local, "trustedkeys", "root.d"), { recursive: true });
  writeFileSync(join(local, "trustedkeys", "root.d", gpgKey.fingerprint), "");
  await assert.rejects(check(), isDenied(/not trusted for "example\.com\/app"/));
});

test("verifyDetachedSignature refuses a malformed signature and a key file holding another key", async (t) => {
  const dir = await tempDir(t);
  const { ks, local } = keystore(dir);
  const gpgKey = await createGpgKey(dir);
  const other = await createGpgKey(dir);
  await ks.addKey(gpgKey.armoredPublicKey, { prefix: NAME });
  const image = writeImage(dir);
  await assert.rejects(
    verifyDetachedSignature({ data: image, signature: "-----BEGIN PGP SIGNATURE-----\n\nnot base64\n-----END PGP SIGNATURE-----\n", keys: ks.keysFor(NAME), imageName: NAME }),
    (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /the signature of example\.com\/app is not an OpenPGP signature/.test(err.message),
  );
  await assert.rejects(verifyDetachedSignature({ data: image, signature: Buffer.from("garbage"), keys: ks.keysFor(NAME), imageName: NAME }), /is not an OpenPGP signature/);
  // Someone swapped the content of a key file.
  writeFileSync(join(local, "trustedkeys", "prefix.d", "example.com", "app", gpgKey.fingerprint), other.armoredPublicKey);
  const asc = await gpgDetachSign(gpgKey, image);
  await assert.rejects(
    verifyDetachedSignature({ data: image, signature: readFileSync(asc), keys: ks.keysFor(NAME), imageName: NAME }),
    (err: unknown) => err instanceof RktError && err.kind === "failed-precondition" && err.message.includes(`holds the key ${other.fingerprint}, not ${gpgKey.fingerprint}`),
  );
});

test("verifyDetachedSignature names a missing data file", async (t) => {
  const dir = await tempDir(t);
  const { ks } = keystore(dir);
  const gpgKey = await createGpgKey(dir);
  await ks.addKey(gpgKey.armoredPublicKey, { prefix: NAME });
  const image = writeImage(dir);
  const asc = await gpgDetachSign(gpgKey, image);
  await assert.rejects(
    verifyDetachedSignature({ data: join(dir, "missing.aci"), signature: readFileSync(asc), keys: ks.keysFor(NAME), imageName: NAME }),
    (err: unknown) => err instanceof RktError && err.kind === "not-found" && err.message.includes("missing.aci"),
  );
});
