/**
 * Signed registry images end to end: an image pushed and signed with `rkt image push --sign-key`
 * (cosign format), its public key trusted with `rkt trust --prefix`, is fetched and run without
 * `--insecure-options=image`. Unsigned images, images signed by another key, and keys trusted for
 * another prefix are refused, and nothing is stored.
 */
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { generateSigningKey } from "../../src/image/verify/sigstore/signing-key.js";
import { busyboxImage } from "../support/image-fixtures.js";
import { sharedRegistry } from "../support/registry.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

/** A store with the busybox fixture, pushed to `repo` of the shared registry (signed with `key` when given). */
async function pushed(t: TestContext, repo: string, key?: { key: string; pass: string }): Promise<{ ref: string; id: string }> {
  const reg = await sharedRegistry();
  const built = await busyboxImage({ dir: await tempDir(t) });
  const dir = await tempDir(t);
  const f = await runRkt(["fetch", "--insecure-options=image", "--full", `oci:${built.dir}:latest`], { dir });
  assert.equal(f.code, 0, f.stderr);
  const ref = `${reg.host}/${repo}:1.0`;
  const sign = key === undefined ? [] : [`--sign-key=${key.key}`, `--sign-passphrase-file=${key.pass}`];
  const p = await runRkt(["image", "push", "--insecure-options=http", ...sign, f.stdout.trim(), `docker://${ref}`], { dir });
  assert.equal(p.code, 0, p.stderr);
  return { ref, id: f.stdout.trim() };
}

async function cosignKey(t: TestContext): Promise<{ key: string; pass: string; pub: string }> {
  const dir = await tempDir(t);
  const { privateKeyPem, publicKeyPem } = await generateSigningKey(Buffer.from("pw"));
  const files = { key: join(dir, "cosign.key"), pass: join(dir, "pass"), pub: join(dir, "cosign.pub") };
  await writeFile(files.key, privateKeyPem, { mode: 0o600 });
  await writeFile(files.pass, "pw\n");
  await writeFile(files.pub, publicKeyPem);
  return files;
}

async function trust(dir: string, config: string, prefix: string, pub: string): Promise<void> {
  const r = await runRkt(["trust", `--local-config=${config}`, `--prefix=${prefix}`, "--skip-fingerprint-review", pub], { dir });
  assert.equal(r.code, 0, r.stderr);
}

async function storedImages(dir: string): Promise<string[]> {
  return readdir(join(dir, "cas", "images")).catch(() => []);
}

test("a cosign-signed registry image with a trusted key is fetched without --insecure-options=image", async (t) => {
  const key = await cosignKey(t);
  const { ref, id } = await pushed(t, "signed/app", key);
  const dir = await tempDir(t);
  const config = await tempDir(t);
  const repo = ref.replace(/:1\.0$/, "");
  await trust(dir, config, repo, key.pub);
  const r = await runRkt(["fetch", `--local-config=${config}`, "--insecure-options=http", "--full", `docker://${ref}`], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), id);
  assert.doesNotMatch(r.stderr, /signature verification has been disabled/);
});

test("a key trusted for a parent prefix verifies the images under it", async (t) => {
  const key = await cosignKey(t);
  const { ref } = await pushed(t, "team/signed-child", key);
  const dir = await tempDir(t);
  const config = await tempDir(t);
  await trust(dir, config, ref.split("/")[0]!, key.pub);
  const r = await runRkt(["fetch", `--local-config=${config}`, "--insecure-options=http", `docker://${ref}`], { dir });
  assert.equal(r.code, 0, r.stderr);
});

test("an unsigned image, a signature by an untrusted key, and a key for another prefix are refused and nothing is stored", async (t) => {
  const key = await cosignKey(t);
  const other = await cosignKey(t);
  const unsigned = await pushed(t, "refused/unsigned");
  const signedByOther = await pushed(t, "refused/other-key", other);
  const signed = await pushed(t, "refused/elsewhere", key);
  const dir = await tempDir(t);
  const config = await tempDir(t);
  const host = unsigned.ref.split("/")[0]!;
  await trust(dir, config, `${host}/refused`, key.pub);

  const r1 = await runRkt(["fetch", `--local-config=${config}`, "--insecure-options=http", `docker://${unsigned.ref}`], { dir });
  assert.equal(r1.code, 254);
  assert.match(r1.stderr, /refused\/unsigned/);
  assert.match(r1.stderr, /no cosign signature|no signature|\.sig/i);

  const r2 = await runRkt(["fetch", `--local-config=${config}`, "--insecure-options=http", `docker://${signedByOther.ref}`], { dir });
  assert.equal(r2.code, 254);
  assert.match(r2.stderr, /trusted/);

  // Trusted for refused/, not for a sibling repository.
  const config2 = await tempDir(t);
  await trust(dir, config2, `${host}/refused/unsigned`, key.pub);
  const r3 = await runRkt(["fetch", `--local-config=${config2}`, "--insecure-options=http", `docker://${signed.ref}`], { dir });
  assert.equal(r3.code, 254);
  assert.match(r3.stderr, /rkt trust --prefix/);

  assert.deepEqual(await storedImages(dir), []);
});
