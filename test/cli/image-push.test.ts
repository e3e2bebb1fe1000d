/**
 * `rkt image push` end to end: the built CLI pushes an image from its store to a real
 * docker-registry on 127.0.0.1, `rkt fetch` pulls it back, and with --sign-key the cosign
 * signature it stores is checked by rkt's verifier and, through skopeo and openssl, by other tools.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { RegistryClient } from "../../src/image/fetch/registry/registry-client.js";
import { publicKeyFingerprint, parsePublicKey } from "../../src/image/verify/sigstore/public-key.js";
import { generateSigningKey } from "../../src/image/verify/sigstore/signing-key.js";
import { verifyCosignSignatures } from "../../src/image/verify/sigstore/verify-cosign-signatures.js";
import { execTool } from "../support/exec-tool.js";
import { busyboxImage } from "../support/image-fixtures.js";
import { sharedRegistry, startRegistry, type TestRegistry } from "../support/registry.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

const PASSPHRASE = "push and sign";

/** A store holding the busybox fixture (fetched from an OCI layout), and its image ID. */
async function storeWithImage(t: TestContext): Promise<{ dir: string; id: string }> {
  const built = await busyboxImage({ dir: await tempDir(t) });
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", "--insecure-options=image", "--full", `oci:${built.dir}:latest`], { dir });
  assert.equal(r.code, 0, r.stderr);
  return { dir, id: r.stdout.trim() };
}

/** A cosign key pair (encrypted private key, passphrase file, public key) in a temp dir. */
async function signingKey(t: TestContext): Promise<{ key: string; pass: string; pub: string; pubPem: string }> {
  const dir = await tempDir(t);
  const { privateKeyPem, publicKeyPem } = await generateSigningKey(Buffer.from(PASSPHRASE));
  const files = { key: join(dir, "cosign.key"), pass: join(dir, "passphrase"), pub: join(dir, "cosign.pub"), pubPem: publicKeyPem };
  await writeFile(files.key, privateKeyPem, { mode: 0o600 });
  await writeFile(files.pass, `${PASSPHRASE}\n`);
  await writeFile(files.pub, publicKeyPem);
  return files;
}

function clientFor(reg: TestRegistry): RegistryClient {
  return new RegistryClient({ registry: reg.host, insecureHttp: true, insecureTls: false, userAgent: "rkt-test" });
}

test("image push uploads a stored image, prints its digest, and rkt fetch gets the same image back", async (t) => {
  const reg = await sharedRegistry();
  const { dir, id } = await storeWithImage(t);
  const push = await runRkt(["image", "push", "--insecure-options=http", id, `docker://${reg.host}/push/plain:1.0`], { dir });
  assert.equal(push.code, 0, push.stderr);
  const digest = `sha256:${id.slice("sha256-".length)}`;
  assert.equal(push.stdout, `${digest}\n`);
  assert.match(push.stderr, /Pushed blob sha256:[0-9a-f]{64}/);
  assert.match(push.stderr, new RegExp(`Pushed manifest ${digest} to ${reg.host}/push/plain:1.0`));

  const other = await tempDir(t);
  const fetched = await runRkt(["fetch", "--insecure-options=image,http", "--full", `docker://${reg.host}/push/plain:1.0`], { dir: other });
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.equal(fetched.stdout.trim(), id);

  // Again, by name, to another tag: every blob is already there and nothing is uploaded twice.
  const again = await runRkt(["image", "push", "--insecure-options=http", `${reg.host}/push/plain:1.0`, `docker://${reg.host}/push/plain:latest`], { dir: other });
  assert.equal(again.code, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /Pushed blob/);
  assert.match(again.stderr, /Blob exists/);
  assert.equal((await clientFor(reg).getManifest("push/plain", "latest")).digest, digest);
});

test("image push --sign-key stores a cosign signature that rkt verifies with the public key", async (t) => {
  const reg = await sharedRegistry();
  const { dir, id } = await storeWithImage(t);
  const key = await signingKey(t);
  const push = await runRkt(
    ["image", "push", "--insecure-options=http", `--sign-key=${key.key}`, `--sign-passphrase-file=${key.pass}`, id, `docker://${reg.host}/push/signed:1.0`],
    { dir },
  );
  assert.equal(push.code, 0, push.stderr);
  const digest = push.stdout.trim();
  const fingerprint = publicKeyFingerprint(parsePublicKey(key.pubPem, "cosign.pub"));
  assert.match(push.stderr, new RegExp(`Pushed signature by key ${fingerprint} to ${reg.host}/push/signed:sha256-${digest.slice(7)}\\.sig`));
  const result = await verifyCosignSignatures(clientFor(reg), "push/signed", "1.0", digest, [{ kind: "sigstore", fingerprint, text: key.pubPem }]);
  assert.deepEqual(result, { fingerprint, dockerReference: `${reg.host}/push/signed:1.0` });
});

test("skopeo reads the signature image push stored, and openssl verifies it over the payload for that manifest", async (t) => {
  // Debian's skopeo has sigstore verification compiled out ("Debian-local change: sigstore
  // disabled"), so it cannot judge the signature itself; it does find and read it (containers/image's
  // sigstore attachment reader), and openssl checks the ECDSA P-256 / SHA-256 signature.
  const reg = await sharedRegistry();
  const { dir, id } = await storeWithImage(t);
  const key = await signingKey(t);
  const push = await runRkt(
    ["image", "push", "--insecure-options=http", `--sign-key=${key.key}`, `--sign-passphrase-file=${key.pass}`, id, `docker://${reg.host}/push/skopeo:v1`],
    { dir },
  );
  assert.equal(push.code, 0, push.stderr);
  const work = await tempDir(t);
  const registriesD = join(work, "registries.d");
  await mkdir(registriesD);
  await writeFile(join(registriesD, "sigstore.yaml"), "default-docker:\n  use-sigstore-attachments: true\n");
  const out = join(work, "copy");
  await execTool("skopeo", ["--insecure-policy", "--registries.d", registriesD, "copy", "--quiet", "--src-tls-verify=false", `docker://${reg.host}/push/skopeo:v1`, `dir:${out}`], {
    env: { HOME: work },
  });
  // containers/image's dir: transport stores a sigstore signature as "\0sigstore-json\n" + JSON.
  const stored = await readFile(join(out, "signature-1"));
  const newline = stored.indexOf(0x0a);
  assert.equal(stored.subarray(0, newline).toString("latin1"), "\0sigstore-json");
  const signature = JSON.parse(stored.subarray(newline + 1).toString("utf8")) as { mimeType: string; payload: string; annotations: Record<string, string> };
  assert.equal(signature.mimeType, "application/vnd.dev.cosign.simplesigning.v1+json");
  const payload = Buffer.from(signature.payload, "base64");
  const manifest = await readFile(join(out, "manifest.json"));
  const claims = JSON.parse(payload.toString("utf8")) as { critical: { image: { "docker-manifest-digest": string }; identity: { "docker-reference": string }; type: string } };
  assert.equal(claims.critical.image["docker-manifest-digest"], `sha256:${createHash("sha256").update(manifest).digest("hex")}`);
  assert.equal(claims.critical.image["docker-manifest-digest"], push.stdout.trim());
  assert.equal(claims.critical.identity["docker-reference"], `${reg.host}/push/skopeo:v1`);
  assert.equal(claims.critical.type, "cosign container image signature");
  const files = { payload: join(work, "payload"), sig: join(work, "sig") };
  await writeFile(files.payload, payload);
  await writeFile(files.sig, Buffer.from(signature.annotations["dev.cosignproject.cosign/signature"] ?? "", "base64"));
  const verified = await execTool("openssl", ["dgst", "-sha256", "-verify", key.pub, "-signature", files.sig, files.payload]);
  assert.match(verified.toString("utf8"), /Verified OK/);
});

test("a wrong or missing passphrase fails before anything is pushed", async (t) => {
  const reg = await sharedRegistry();
  const { dir, id } = await storeWithImage(t);
  const key = await signingKey(t);
  const wrong = join(await tempDir(t), "wrong");
  await writeFile(wrong, "not it\n");
  const bad = await runRkt(["image", "push", "--insecure-options=http", `--sign-key=${key.key}`, `--sign-passphrase-file=${wrong}`, id, `docker://${reg.host}/push/nopass:1.0`], { dir });
  assert.equal(bad.code, 254);
  assert.match(bad.stderr, /cannot decrypt .*cosign\.key: wrong passphrase/);
  assert.equal(bad.stdout, "");
  const missing = await runRkt(["image", "push", "--insecure-options=http", `--sign-key=${key.key}`, id, `docker://${reg.host}/push/nopass:1.0`], { dir });
  assert.equal(missing.code, 254);
  assert.match(missing.stderr, /is encrypted and no passphrase was given/);
  assert.match(missing.stderr, /--sign-passphrase-file/);
  await assert.rejects(clientFor(reg).headManifest("push/nopass", "1.0"), /not found/);
});

test("image push refuses a digest destination, plain HTTP without the option, and unknown images", async (t) => {
  const reg = await sharedRegistry();
  const { dir, id } = await storeWithImage(t);
  const digest = await runRkt(["image", "push", "--insecure-options=http", id, `docker://${reg.host}/push/x@sha256:${"0".repeat(64)}`], { dir });
  assert.equal(digest.code, 254);
  assert.match(digest.stderr, /names a digest; an image is pushed under a tag/);
  const http = await runRkt(["image", "push", id, `docker://${reg.host}/push/x:1`], { dir });
  assert.equal(http.code, 254);
  assert.match(http.stderr, /--insecure-options=http/);
  const unknown = await runRkt(["image", "push", "--insecure-options=http", "sha256-00000000", `docker://${reg.host}/push/x:1`], { dir });
  assert.equal(unknown.code, 254);
  assert.match(unknown.stderr, /no image with ID "sha256-00000000" in the store/);
  const transport = await runRkt(["image", "push", id, "oci:/tmp/somewhere"], { dir });
  assert.equal(transport.code, 254);
  assert.match(transport.stderr, /unsupported destination "oci:\/tmp\/somewhere"/);
});

test("image push to a token-auth registry uses auth.d credentials and asks for pull,push scope", async (t) => {
  const reg = await startRegistry({ auth: "token" });
  t.after(() => reg.stop());
  const { dir, id } = await storeWithImage(t);
  const denied = await runRkt(["image", "push", "--insecure-options=http", id, `docker://${reg.host}/team/app:1`], { dir });
  assert.equal(denied.code, 254);
  assert.match(denied.stderr, /auth\.d/);
  const config = await tempDir(t);
  await mkdir(join(config, "auth.d"));
  await writeFile(
    join(config, "auth.d", "registry.json"),
    JSON.stringify({ rktKind: "dockerAuth", rktVersion: "v1", registries: [reg.host], credentials: { user: reg.username, password: reg.password } }),
  );
  const key = await signingKey(t);
  const push = await runRkt(
    ["image", "push", "--insecure-options=http", `--local-config=${config}`, `--sign-key=${key.key}`, `--sign-passphrase-file=${key.pass}`, id, `docker://${reg.host}/team/app:1`],
    { dir },
  );
  assert.equal(push.code, 0, push.stderr);
  assert.ok(reg.tokenRequests.some((r) => r.granted && r.scopes.includes("repository:team/app:pull,push")), JSON.stringify(reg.tokenRequests));
  const other = await tempDir(t);
  const fetched = await runRkt(["fetch", "--insecure-options=image,http", `--local-config=${config}`, "--full", `docker://${reg.host}/team/app:1`], { dir: other });
  assert.equal(fetched.code, 0, fetched.stderr);
  assert.equal(fetched.stdout.trim(), id);
});

test("image push over HTTPS checks the certificate unless --insecure-options=tls", async (t) => {
  const reg = await startRegistry({ tls: true });
  t.after(() => reg.stop());
  const { dir, id } = await storeWithImage(t);
  const refused = await runRkt(["image", "push", id, `docker://${reg.host}/tls/app:1`], { dir });
  assert.equal(refused.code, 254);
  assert.match(refused.stderr, /certificate/i);
  const push = await runRkt(["image", "push", "--insecure-options=tls", id, `docker://${reg.host}/tls/app:1`], { dir });
  assert.equal(push.code, 0, push.stderr);
  assert.match(push.stderr, /warning: TLS has been disabled/);
  const trusted = await runRkt(["fetch", "--insecure-options=image", "--full", `docker://${reg.host}/tls/app:1`], { dir: await tempDir(t), env: { NODE_EXTRA_CA_CERTS: reg.caFile ?? "" } });
  assert.equal(trusted.code, 0, trusted.stderr);
  assert.equal(trusted.stdout.trim(), id);
});
