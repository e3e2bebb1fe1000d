/**
 * The key store: rkt's layout, which keys apply to which names, masking of vendor keys, what is
 * refused (bad prefixes, secret, expired and revoked keys) and how files are written.
 */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { checkKeyPrefix, Keystore, type TrustedKey } from "../../../src/image/verify/keystore.js";
import { inspectPemPublicKey } from "../../../src/image/verify/inspect-public-key.js";
import { RktError } from "../../../src/lib/errors.js";
import { createGpgKey, gpg } from "../../support/gpg.js";
import { tempDir } from "../../support/tmp.js";
import { expiredKey, pemKeyPair, revokedKey } from "./fixture-keys.js";

function stores(dir: string): { ks: Keystore; system: string; local: string } {
  const system = join(dir, "usr-lib-rkt");
  const local = join(dir, "etc-rkt");
  return { ks: new Keystore({ systemConfigDir: system, localConfigDir: local }), system, local };
}

/** Writes a PEM key into a key store directory by hand, as a vendor package would. */
function placeKey(configDir: string, rel: readonly string[], pem: string): string {
  const fingerprint = inspectPemPublicKey(pem, "test key").fingerprint;
  const dir = join(configDir, "trustedkeys", ...rel);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, fingerprint), pem);
  return fingerprint;
}

const prefixesOf = (keys: readonly TrustedKey[]): (string | undefined)[] => keys.map((k) => k.prefix);

test("keysFor returns root.d keys and the prefix.d keys along the name's path, component by component", async (t) => {
  const { ks } = stores(await tempDir(t));
  for (const where of [{ root: true } as const, { prefix: "a.com" }, { prefix: "a.com/b" }, { prefix: "a.com/bc" }, { prefix: "a.com/b/c/d" }, { prefix: "b.com" }]) {
    await ks.addKey(pemKeyPair().publicPem, where);
  }
  assert.deepEqual(prefixesOf(ks.keysFor("a.com/b/c")), [undefined, "a.com", "a.com/b"]);
  assert.deepEqual(prefixesOf(ks.keysFor("a.com/bc")), [undefined, "a.com", "a.com/bc"]);
  assert.deepEqual(prefixesOf(ks.keysFor("a.com/b/c/d/e")), [undefined, "a.com", "a.com/b", "a.com/b/c/d"]);
  assert.deepEqual(prefixesOf(ks.keysFor("c.com/x")), [undefined]);
  assert.deepEqual(ks.keysFor("a.com/b", "openpgp"), [], "kind filters");
  assert.equal(ks.keysFor("a.com/b", "sigstore").length, 3);
});

test("keysFor handles Docker repository names with a port", async (t) => {
  const { ks, local } = stores(await tempDir(t));
  const added = await ks.addKey(pemKeyPair().publicPem, { prefix: "127.0.0.1:5000/team" });
  assert.equal(added.path, join(local, "trustedkeys", "prefix.d", "127.0.0.1:5000", "team", added.fingerprint));
  assert.deepEqual(ks.keysFor("127.0.0.1:5000/team/busybox").map((k) => k.fingerprint), [added.fingerprint]);
  assert.deepEqual(ks.keysFor("127.0.0.1:5001/team/busybox"), []);
});

test("addKey writes 0644 files in 0755 directories, named by fingerprint, whatever the umask", async (t) => {
  const { ks, local } = stores(await tempDir(t));
  const old = process.umask(0o077);
  let key: TrustedKey;
  try {
    key = await ks.addKey(pemKeyPair().publicPem, { prefix: "example.com/app" });
  } finally {
    process.umask(old);
  }
  assert.match(key.fingerprint, /^[0-9a-f]{64}$/);
  assert.equal(statSync(key.path).mode & 0o777, 0o644);
  for (const d of ["", "trustedkeys", "trustedkeys/prefix.d", "trustedkeys/prefix.d/example.com", "trustedkeys/prefix.d/example.com/app"]) {
    assert.equal(statSync(join(local, d)).mode & 0o777, 0o755, d);
  }
  assert.deepEqual(readdirSync(join(local, "trustedkeys/prefix.d/example.com/app")), [key.fingerprint], "no temp file left");
});

test("addKey stores an OpenPGP key armored under gpg's fingerprint, in root.d for --root", async (t) => {
  const dir = await tempDir(t);
  const { ks, local } = stores(dir);
  const gpgKey = await createGpgKey(dir);
  const key = await ks.addKey(gpgKey.armoredPublicKey, { root: true });
  assert.equal(key.kind, "openpgp");
  assert.equal(key.fingerprint, gpgKey.fingerprint);
  assert.equal(key.prefix, undefined);
  assert.equal(key.path, join(local, "trustedkeys", "root.d", gpgKey.fingerprint));
  assert.match(key.text, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
  assert.deepEqual(ks.keysFor("anything.example/x").map((k) => k.fingerprint), [gpgKey.fingerprint]);
});

test("addKey accepts a binary OpenPGP key (gpg --export without --armor) and stores it armored", async (t) => {
  const dir = await tempDir(t);
  const { ks } = stores(dir);
  const gpgKey = await createGpgKey(dir);
  const binary = await gpg(gpgKey.home, ["--export", gpgKey.fingerprint]);
  const key = await ks.addKey(binary, { prefix: "example.com" });
  assert.equal(key.fingerprint, gpgKey.fingerprint);
  assert.match(key.text, /^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
});

test("an empty local file masks the vendor key with that fingerprint, and only that one", async (t) => {
  const { ks, system, local } = stores(await tempDir(t));
  const vendorRoot = placeKey(system, ["root.d"], pemKeyPair().publicPem);
  const vendorPrefix = placeKey(system, ["prefix.d", "example.com"], pemKeyPair().publicPem);
  const kept = placeKey(system, ["prefix.d", "example.com", "app"], pemKeyPair().publicPem);
  assert.equal(ks.keysFor("example.com/app").length, 3);

  mkdirSync(join(local, "trustedkeys", "root.d"), { recursive: true });
  writeFileSync(join(local, "trustedkeys", "root.d", vendorRoot), "");
  mkdirSync(join(local, "trustedkeys", "prefix.d", "example.com"), { recursive: true });
  writeFileSync(join(local, "trustedkeys", "prefix.d", "example.com", vendorPrefix), "");
  assert.deepEqual(ks.keysFor("example.com/app").map((k) => k.fingerprint), [kept]);
  // The vendor file itself is untouched.
  assert.ok(statSync(join(system, "trustedkeys", "root.d", vendorRoot)).size > 0);
});

test("checkKeyPrefix refuses what could escape the key store or is not an image name", () => {
  for (const ok of ["example.com", "example.com/app", "127.0.0.1:5000/team/x", "a_b.c~d-e/f"]) checkKeyPrefix(ok);
  const bad: [string, RegExp][] = [
    ["", /empty/],
    ["..", /"\.\." is not allowed/],
    ["example.com/../../etc", /"\.\." is not allowed/],
    ["example.com//app", /empty path component/],
    ["example.com/", /ends with \//],
    ["/etc/passwd", /absolute path/],
    ["https://example.com/app", /URL scheme/],
    ["Example.com", /lowercase/],
    ["example.com/app:1.0", /without a version or tag/],
    ["example.com/.hidden", /may only contain/],
    ["exa mple.com", /may only contain/],
  ];
  for (const [prefix, message] of bad) {
    assert.throws(() => checkKeyPrefix(prefix), (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && message.test(err.message), prefix);
  }
});

test("keysFor and addKey refuse a name that would leave the key store", async (t) => {
  const { ks, local } = stores(await tempDir(t));
  assert.throws(() => ks.keysFor("../../etc"), /"\.\." is not allowed/);
  await assert.rejects(ks.addKey(pemKeyPair().publicPem, { prefix: "a.com/../../x" }), /"\.\." is not allowed/);
  assert.throws(() => statSync(join(local, "trustedkeys")), /ENOENT/, "nothing written");
});

test("addKey refuses secret keys, private PEM keys, expired and revoked keys, writing nothing", async (t) => {
  const dir = await tempDir(t);
  const { ks, local } = stores(dir);
  const good = await createGpgKey(dir);
  const secret = (await gpg(good.home, ["--armor", "--export-secret-keys", good.fingerprint])).toString("utf8");
  await assert.rejects(ks.addKey(secret, { prefix: "a.com" }), (err: unknown) => err instanceof RktError && /secret key, not a public key/.test(err.message));
  await assert.rejects(ks.addKey(pemKeyPair().privatePem, { prefix: "a.com" }), /is a private key, not a public key/);
  const expired = await expiredKey(dir);
  await assert.rejects(ks.addKey(expired.armoredPublicKey, { prefix: "a.com" }, "old.asc"), (err: unknown) => err instanceof RktError && err.kind === "failed-precondition" && new RegExp(`${expired.fingerprint} \\(old\\.asc\\) expired on 2020-01-02`).test(err.message));
  const revoked = await revokedKey(dir);
  await assert.rejects(ks.addKey(revoked.armoredPublicKey, { prefix: "a.com" }), /has been revoked by its owner/);
  await assert.rejects(ks.addKey("hello", { prefix: "a.com" }), /is not a public key/);
  assert.throws(() => statSync(join(local, "trustedkeys", "prefix.d")), /ENOENT/, "nothing written");
});

test("keysFor refuses key files it cannot trust: a stray name, a PEM key filed under another fingerprint", async (t) => {
  const { ks, local } = stores(await tempDir(t));
  const dir = join(local, "trustedkeys", "prefix.d", "example.com");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "notes.txt"), "hello");
  assert.throws(() => ks.keysFor("example.com/app"), (err: unknown) => err instanceof RktError && err.kind === "failed-precondition" && err.message.includes(join(dir, "notes.txt")));
  // Dot files (temp files of an interrupted write) are ignored.
  writeFileSync(join(dir, "notes.txt"), "");
  assert.throws(() => ks.keysFor("example.com/app"), /not named after a key fingerprint/);
  const { rmSync } = await import("node:fs");
  rmSync(join(dir, "notes.txt"));
  writeFileSync(join(dir, ".0123.tmp-abc"), "partial");
  assert.deepEqual(ks.keysFor("example.com/app"), []);
  writeFileSync(join(dir, "a".repeat(64)), pemKeyPair().publicPem);
  assert.throws(() => ks.keysFor("example.com/app"), /holds the key with fingerprint [0-9a-f]{64}, not a{64}/);
});
