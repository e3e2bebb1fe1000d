/**
 * verifyCosignSignatures against a real docker-registry on 127.0.0.1: signatures pushed by rkt's
 * own signer, hand-made bad ones (tampered, untrusted, for another digest or repository), and
 * signatures skopeo wrote with a key rkt generated in cosign's encrypted format.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { RegistryClient } from "../../../src/image/fetch/registry/registry-client.js";
import { digestOf } from "../../../src/image/formats/digest.js";
import { OCI_IMAGE_MANIFEST } from "../../../src/image/formats/media-types.js";
import { pushCosignSignature } from "../../../src/image/push/push-cosign-signature.js";
import { signPayload } from "../../../src/image/verify/sigstore/payload-signature.js";
import { publicKeyFingerprint, publicKeyPem } from "../../../src/image/verify/sigstore/public-key.js";
import { buildSignatureManifest, COSIGN_SIGNATURE_ANNOTATION, cosignSignatureTag } from "../../../src/image/verify/sigstore/signature-manifest.js";
import { buildSimpleSigningPayload, SIMPLE_SIGNING_MEDIA_TYPE } from "../../../src/image/verify/sigstore/simple-signing-payload.js";
import { verifyCosignSignatures, type SigstoreTrustedKey } from "../../../src/image/verify/sigstore/verify-cosign-signatures.js";
import { RktError } from "../../../src/lib/errors.js";
import { execTool } from "../../support/exec-tool.js";
import { busyboxImage, multiLayerImage } from "../../support/image-fixtures.js";
import { pushImage } from "../../support/push.js";
import { sharedRegistry, type TestRegistry } from "../../support/registry.js";
import { tempDir } from "../../support/tmp.js";

interface Signer {
  readonly key: KeyObject;
  readonly trusted: SigstoreTrustedKey;
}

function newSigner(): Signer {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  return { key: privateKey, trusted: { kind: "sigstore", fingerprint: publicKeyFingerprint(privateKey), text: publicKeyPem(privateKey) } };
}

function clientFor(reg: TestRegistry): RegistryClient {
  return new RegistryClient({ registry: reg.host, insecureHttp: true, insecureTls: false, userAgent: "rkt-test" });
}

/** An image pushed to `repo:latest`, and a client for its registry. */
async function pushedImage(t: TestContext, repo: string): Promise<{ reg: TestRegistry; client: RegistryClient; digest: string }> {
  const reg = await sharedRegistry();
  const built = await busyboxImage({ dir: await tempDir(t) });
  const pushed = await pushImage(built.dir, reg, repo);
  return { reg, client: clientFor(reg), digest: pushed.digest };
}

/** Stores `payload` with `signature` as the only signature under the .sig tag of `tagDigest`. */
async function pushRawSignature(client: RegistryClient, repo: string, tagDigest: string, payload: Buffer, signature: string): Promise<void> {
  const digest = digestOf(payload);
  await client.putBlob(repo, { digest, size: payload.length, open: () => payload });
  const sig = buildSignatureManifest([{ mediaType: SIMPLE_SIGNING_MEDIA_TYPE, digest, size: payload.length, annotations: { [COSIGN_SIGNATURE_ANNOTATION]: signature } }]);
  await client.putBlob(repo, { digest: sig.configDigest, size: sig.config.length, open: () => sig.config });
  await client.putManifest(repo, cosignSignatureTag(tagDigest), sig.manifest, OCI_IMAGE_MANIFEST);
}

function permissionDenied(pattern: RegExp, hint?: RegExp): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, "permission-denied", err.message);
    assert.match(err.message, pattern);
    if (hint !== undefined) assert.match(err.hint ?? "", hint);
    return true;
  };
}

test("verifyCosignSignatures accepts a signature pushed by pushCosignSignature and names the key", async (t) => {
  const repo = "sig/accepted";
  const { reg, client, digest } = await pushedImage(t, repo);
  const signer = newSigner();
  const pushed = await pushCosignSignature(client, repo, { manifestDigest: digest, dockerReference: `${reg.host}/${repo}:latest`, key: signer.key, creator: "test", timestamp: 1 });
  assert.equal(pushed.tag, `sha256-${digest.slice(7)}.sig`);
  assert.equal(pushed.fingerprint, signer.trusted.fingerprint);
  const result = await verifyCosignSignatures(client, repo, "latest", digest, [newSigner().trusted, signer.trusted]);
  assert.deepEqual(result, { fingerprint: signer.trusted.fingerprint, dockerReference: `${reg.host}/${repo}:latest` });
});

test("a second signer's signature is added next to the first, and each verifies with its own key", async (t) => {
  const repo = "sig/two-signers";
  const { reg, client, digest } = await pushedImage(t, repo);
  const [alice, bob] = [newSigner(), newSigner()];
  const input = { manifestDigest: digest, dockerReference: `${reg.host}/${repo}:latest`, creator: "test", timestamp: 1 };
  await pushCosignSignature(client, repo, { ...input, key: alice.key });
  const second = await pushCosignSignature(client, repo, { ...input, key: bob.key });
  assert.equal(second.signatures, 2);
  assert.equal((await verifyCosignSignatures(client, repo, "latest", digest, [alice.trusted])).fingerprint, alice.trusted.fingerprint);
  assert.equal((await verifyCosignSignatures(client, repo, digest, digest, [bob.trusted])).fingerprint, bob.trusted.fingerprint);
});

test("an image without a .sig tag is refused as not signed", async (t) => {
  const repo = "sig/unsigned";
  const { reg, client, digest } = await pushedImage(t, repo);
  await assert.rejects(
    verifyCosignSignatures(client, repo, "latest", digest, [newSigner().trusted]),
    permissionDenied(new RegExp(`${reg.host}/sig/unsigned:latest is not signed: no cosign signature for ${digest} \\(tag sha256-[0-9a-f]{64}\\.sig\\)`), /--insecure-options=image/),
  );
});

test("a signature by a key not trusted for the name is refused with the rkt trust hint", async (t) => {
  const repo = "sig/untrusted";
  const { reg, client, digest } = await pushedImage(t, repo);
  const stranger = newSigner();
  const mine = newSigner();
  await pushCosignSignature(client, repo, { manifestDigest: digest, dockerReference: `${reg.host}/${repo}:latest`, key: stranger.key, creator: "test", timestamp: 1 });
  await assert.rejects(
    verifyCosignSignatures(client, repo, "latest", digest, [mine.trusted]),
    permissionDenied(new RegExp(`none of the 1 cosign signature\\(s\\) .* is by a key trusted for ${reg.host}/sig/untrusted \\(trusted: ${mine.trusted.fingerprint}\\)`), new RegExp(`rkt trust --prefix "${reg.host}/sig/untrusted" KEY.pub`)),
  );
  await assert.rejects(verifyCosignSignatures(client, repo, "latest", digest, []), permissionDenied(/no sigstore public key is trusted for/, /rkt trust --prefix/));
});

test("a tampered signature or a tampered payload does not verify", async (t) => {
  const repo = "sig/tampered";
  const { reg, client, digest } = await pushedImage(t, repo);
  const signer = newSigner();
  const payload = buildSimpleSigningPayload({ dockerReference: `${reg.host}/${repo}:latest`, manifestDigest: digest, creator: "test", timestamp: 1 });
  const signature = Buffer.from(signPayload(payload, signer.key), "base64");
  signature[signature.length - 1] = (signature[signature.length - 1] ?? 0) ^ 1;
  await pushRawSignature(client, repo, digest, payload, signature.toString("base64"));
  await assert.rejects(verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted]), permissionDenied(/none of the 1 cosign signature/));

  const other = Buffer.from(payload.toString("utf8").replace('"timestamp":1', '"timestamp":2'));
  await pushRawSignature(client, repo, digest, other, signPayload(payload, signer.key));
  await assert.rejects(verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted]), permissionDenied(/none of the 1 cosign signature/));
});

test("a trusted signature for another manifest digest, stored under this one's tag, is refused", async (t) => {
  const repo = "sig/other-digest";
  const { reg, client, digest } = await pushedImage(t, repo);
  const otherImage = await multiLayerImage({ dir: await tempDir(t) });
  const otherDigest = (await pushImage(otherImage.dir, reg, repo, { tag: "other" })).digest;
  const signer = newSigner();
  const payload = buildSimpleSigningPayload({ dockerReference: `${reg.host}/${repo}:other`, manifestDigest: otherDigest, creator: "test", timestamp: 1 });
  await pushRawSignature(client, repo, digest, payload, signPayload(payload, signer.key));
  await assert.rejects(
    verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted]),
    permissionDenied(new RegExp(`the signature by key ${signer.trusted.fingerprint} is for manifest ${otherDigest}, not ${digest}`)),
  );
});

test("a trusted signature made for another repository is refused; a tag in it, or none, does not matter", async (t) => {
  const repo = "sig/identity";
  const { reg, client, digest } = await pushedImage(t, repo);
  const signer = newSigner();
  const sign = async (dockerReference: string): Promise<void> => {
    const payload = buildSimpleSigningPayload({ dockerReference, manifestDigest: digest, creator: "test", timestamp: 1 });
    await pushRawSignature(client, repo, digest, payload, signPayload(payload, signer.key));
  };
  await sign(`${reg.host}/sig/identity-debug:latest`);
  await assert.rejects(
    verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted]),
    permissionDenied(new RegExp(`was made for "${reg.host}/sig/identity-debug:latest", not for ${reg.host}/sig/identity`)),
  );
  // cosign writes the repository without a tag; another tag is the same repository.
  await sign(`${reg.host}/sig/identity`);
  assert.equal((await verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted])).dockerReference, `${reg.host}/sig/identity`);
  await sign(`${reg.host}/sig/identity:v2`);
  assert.equal((await verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted])).fingerprint, signer.trusted.fingerprint);
});

test("a cosign-style payload with \"optional\": null verifies; an unknown critical field or type does not", async (t) => {
  const repo = "sig/cosign-style";
  const { reg, client, digest } = await pushedImage(t, repo);
  const signer = newSigner();
  const critical = { identity: { "docker-reference": `${reg.host}/${repo}` }, image: { "docker-manifest-digest": digest }, type: "cosign container image signature" };
  const store = async (doc: unknown): Promise<void> => {
    const payload = Buffer.from(JSON.stringify(doc));
    await pushRawSignature(client, repo, digest, payload, signPayload(payload, signer.key));
  };
  await store({ critical, optional: null });
  assert.equal((await verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted])).fingerprint, signer.trusted.fingerprint);
  await store({ critical: { ...critical, extra: "x" }, optional: null });
  await assert.rejects(verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted]), permissionDenied(/has an unreadable payload/));
  await store({ critical: { ...critical, type: "atomic container signature" }, optional: null });
  await assert.rejects(verifyCosignSignatures(client, repo, "latest", digest, [signer.trusted]), permissionDenied(/has type "atomic container signature"/));
});

test("a signature manifest skopeo wrote (copying a signed image to another repository) verifies", async (t) => {
  // Debian's skopeo cannot create sigstore signatures ("Debian-local change: sigstore disabled"),
  // but it copies them: it reads the signatures rkt stored and writes its own signature manifest,
  // config and payload blob at the destination (containers/image's sigstore attachment writer).
  const repo = "sig/skopeo-source";
  const { reg, client, digest } = await pushedImage(t, repo);
  const dir = await tempDir(t);
  const signer = newSigner();
  const destination = "sig/skopeo-copy";
  await pushCosignSignature(client, repo, { manifestDigest: digest, dockerReference: `${reg.host}/${destination}:v1`, key: signer.key, creator: "test", timestamp: 1 });
  const registriesD = join(dir, "registries.d");
  await mkdir(registriesD);
  // containers-registries.d(5): read and write sigstore signatures as registry attachments.
  await writeFile(join(registriesD, "sigstore.yaml"), "default-docker:\n  use-sigstore-attachments: true\n");
  await execTool(
    "skopeo",
    ["--insecure-policy", "--registries.d", registriesD, "copy", "--quiet", "--src-tls-verify=false", "--dest-tls-verify=false", `docker://${reg.host}/${repo}:latest`, `docker://${reg.host}/${destination}:v1`],
    { env: { HOME: dir } },
  );
  const written = await client.getManifest(destination, cosignSignatureTag(digest));
  assert.equal(written.mediaType, OCI_IMAGE_MANIFEST);
  const result = await verifyCosignSignatures(client, destination, "v1", digest, [signer.trusted]);
  assert.deepEqual(result, { fingerprint: signer.trusted.fingerprint, dockerReference: `${reg.host}/${destination}:v1` });
  await assert.rejects(verifyCosignSignatures(client, destination, "v1", digest, [newSigner().trusted]), permissionDenied(/none of the 1 cosign signature/));
});
