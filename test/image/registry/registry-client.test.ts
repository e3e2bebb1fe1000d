import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { RegistryClient, type RegistryClientOptions } from "../../../src/image/fetch/registry/registry-client.js";
import { DOCKER_MANIFEST_V1_SIGNED, OCI_IMAGE_MANIFEST, SUPPORTED_MANIFEST_MEDIA_TYPES } from "../../../src/image/formats/media-types.js";
import { send, sendError, startFakeServer, type FakeServer, type Handler } from "./fake-server.js";

const REPO = "team/app";
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_IMAGE_MANIFEST, config: {}, layers: [] }));
const manifestDigest = sha256(manifest);
const blob = Buffer.from("blob content ".repeat(5000));
const blobDigest = sha256(blob);
const CREDENTIALS = { username: "alice", password: "s3cret-pw" };
const basicHeader = `Basic ${Buffer.from("alice:s3cret-pw").toString("base64")}`;
const MAX = 4 * 1024 * 1024;

function sha256(bytes: Buffer): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Servers started by a test, closed after it however it ends. */
const servers: FakeServer[] = [];
async function serve(handler: Handler, tls?: { key: string; cert: string }): Promise<FakeServer> {
  const s = await startFakeServer(handler, tls);
  servers.push(s);
  return s;
}
async function closeAll(): Promise<void> {
  await Promise.all(servers.splice(0).map((s) => s.close()));
}

function client(server: { host: string }, extra: Partial<RegistryClientOptions> = {}): RegistryClient {
  return new RegistryClient({
    registry: server.host,
    insecureHttp: true,
    insecureTls: false,
    userAgent: "rkt-test/1",
    retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    ...extra,
  });
}

function sendManifest(res: ServerResponse, body = manifest, headers: Record<string, string> = {}): void {
  send(res, 200, body, { "content-type": OCI_IMAGE_MANIFEST, "docker-content-digest": sha256(body), ...headers });
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, kind: string, message: RegExp, check?: (err: RktError) => void): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RktError, `expected an RktError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, message);
    check?.(err);
    return true;
  });
}

/** Only registry API requests: the HTTPS probe of insecureHttp clients never reaches the handler. */
const apiRequests = (s: FakeServer) => s.requests.filter((r) => r.url.startsWith("/v2/"));

describe("RegistryClient", { concurrency: false }, () => {
  after(closeAll);

  test("getManifest fetches anonymously and returns bytes, media type and digest", async () => {
    const registry = await serve((req, res) => {
      if (req.url === `/v2/${REPO}/manifests/v1`) sendManifest(res, manifest, { "content-type": `${OCI_IMAGE_MANIFEST}; charset=utf-8` });
      else sendError(res, 404, "NOT_FOUND", "no");
    });
    const got = await client(registry).getManifest(REPO, "v1");
    assert.deepEqual(got, { bytes: manifest, mediaType: OCI_IMAGE_MANIFEST, digest: manifestDigest });
    const [req] = apiRequests(registry);
    assert.equal(req?.headers.accept, SUPPORTED_MANIFEST_MEDIA_TYPES.join(", "));
    assert.equal(req?.headers["user-agent"], "rkt-test/1");
    assert.equal(req?.headers.authorization, undefined);
    await closeAll();
  });

  test("getManifest follows the bearer token flow and caches the token per scope", async () => {
    const tokenServer = await serve((req, res) => {
      if (req.headers.authorization !== basicHeader) return sendError(res, 401, "UNAUTHORIZED", "bad credentials");
      send(res, 200, JSON.stringify({ token: "tok-1", expires_in: 300 }), { "content-type": "application/json" });
    });
    const registry = await serve((req, res) => {
      if (req.headers.authorization !== "Bearer tok-1") {
        return sendError(res, 401, "UNAUTHORIZED", "authentication required", {
          "www-authenticate": `Bearer realm="${tokenServer.url}/token",service="fake-registry",scope="repository:${REPO}:pull"`,
        });
      }
      sendManifest(res);
    });
    const c = client(registry, { credentials: (host) => (host === registry.host ? CREDENTIALS : undefined) });
    await c.getManifest(REPO, "v1");
    await c.getManifest(REPO, "v2");
    assert.equal(tokenServer.requests.length, 1, "one token for both requests");
    const tokenUrl = new URL(tokenServer.requests[0]?.url ?? "", tokenServer.url);
    assert.equal(tokenUrl.pathname, "/token");
    assert.equal(tokenUrl.searchParams.get("service"), "fake-registry");
    assert.deepEqual(tokenUrl.searchParams.getAll("scope"), [`repository:${REPO}:pull`]);
    assert.deepEqual(
      apiRequests(registry).map((r) => r.headers.authorization),
      [undefined, "Bearer tok-1", "Bearer tok-1"],
    );
    await closeAll();
  });

  test("a new repository gets its token without another 401", async () => {
    const tokenServer = await serve((req, res) => {
      const scope = new URL(req.url ?? "", "http://x").searchParams.get("scope") ?? "";
      send(res, 200, JSON.stringify({ access_token: `tok-for-${scope}` }));
    });
    const registry = await serve((req, res) => {
      const repo = /^\/v2\/(.+)\/manifests\//.exec(req.url ?? "")?.[1] ?? "";
      if (req.headers.authorization !== `Bearer tok-for-repository:${repo}:pull`) {
        return sendError(res, 401, "UNAUTHORIZED", "no", { "www-authenticate": `Bearer realm="${tokenServer.url}/token",service="s"` });
      }
      sendManifest(res);
    });
    const c = client(registry);
    await c.getManifest("one/app", "v1");
    await c.getManifest("two/app", "v1");
    assert.equal(apiRequests(registry).length, 3, "401 once, then one request per repository");
    assert.equal(tokenServer.requests.length, 2);
    assert.equal(tokenServer.requests[0]?.headers.authorization, undefined, "anonymous token request");
    await closeAll();
  });

  test("a token server rejecting the credentials is permission-denied without the secret", async () => {
    const tokenServer = await serve((_req, res) => sendError(res, 401, "UNAUTHORIZED", "bad credentials"));
    const registry = await serve((_req, res) =>
      sendError(res, 401, "UNAUTHORIZED", "no", { "www-authenticate": `Bearer realm="${tokenServer.url}/token",service="s"` }),
    );
    await rejectsWith(client(registry, { credentials: () => CREDENTIALS }).getManifest(REPO, "v1"), "permission-denied", /rejected the credentials configured for/, (err) => {
      assert.ok(!err.message.includes("s3cret"), "no password in the message");
      assert.ok(!JSON.stringify(err.hint).includes("s3cret"));
      assert.match(err.hint ?? "", /\/etc\/rkt\/auth\.d/);
    });
    await closeAll();
  });

  test("getManifest answers a Basic challenge with the configured credentials", async () => {
    const registry = await serve((req, res) => {
      if (req.headers.authorization !== basicHeader) {
        return sendError(res, 401, "UNAUTHORIZED", "no", { "www-authenticate": 'Basic realm="fake"' });
      }
      sendManifest(res);
    });
    const c = client(registry, { credentials: () => CREDENTIALS });
    await c.getManifest(REPO, "v1");
    await c.getManifest(REPO, "v2");
    assert.deepEqual(
      apiRequests(registry).map((r) => r.headers.authorization),
      [undefined, basicHeader, basicHeader],
      "Basic is sent up front once the registry asked for it",
    );
    await closeAll();
  });

  test("a Basic challenge without credentials is permission-denied with an auth.d hint", async () => {
    const registry = await serve((_req, res) => sendError(res, 401, "UNAUTHORIZED", "authentication required", { "www-authenticate": 'Basic realm="fake"' }));
    await rejectsWith(client(registry).getManifest(REPO, "v1"), "permission-denied", new RegExp(`${registry.host}/${REPO}:v1: access denied \\(401`), (err) => {
      assert.match(err.hint ?? "", /dockerAuth .*\/etc\/rkt\/auth\.d/);
    });
    assert.equal(apiRequests(registry).length, 1, "nothing new to try, so no second request");
    await closeAll();
  });

  test("wrong Basic credentials fail after one retry, never printing them", async () => {
    const registry = await serve((_req, res) => sendError(res, 401, "UNAUTHORIZED", "no", { "www-authenticate": 'Basic realm="fake"' }));
    await rejectsWith(client(registry, { credentials: () => CREDENTIALS }).getManifest(REPO, "v1"), "permission-denied", /access denied/, (err) => {
      assert.ok(!err.message.includes("s3cret") && !err.message.includes(basicHeader.slice(6)));
      assert.match(err.hint ?? "", /check the dockerAuth credentials/);
    });
    assert.equal(apiRequests(registry).length, 2);
    await closeAll();
  });

  test("getBlob follows a cross-origin redirect without the Authorization header", async () => {
    const cdn = await serve((req, res) => (req.url?.startsWith("/cdn/blob") === true ? send(res, 200, blob) : send(res, 404, "")));
    const registry = await serve((req, res) => {
      if (req.headers.authorization !== basicHeader) return sendError(res, 401, "UNAUTHORIZED", "no", { "www-authenticate": 'Basic realm="r"' });
      if (req.url === `/v2/${REPO}/blobs/${blobDigest}`) {
        res.writeHead(307, { location: `/storage/${blobDigest}` });
        return res.end();
      }
      if (req.url === `/storage/${blobDigest}`) {
        res.writeHead(302, { location: `${cdn.url}/cdn/blob?X-Signature=secret-signature` });
        return res.end();
      }
      send(res, 404, "");
    });
    const stream = await client(registry, { credentials: () => CREDENTIALS }).getBlob(REPO, { digest: blobDigest, size: blob.length });
    assert.deepEqual(await readAll(stream), blob);
    const storage = registry.requests.find((r) => r.url.startsWith("/storage/"));
    assert.equal(storage?.headers.authorization, basicHeader, "same-origin redirect keeps the credentials");
    assert.equal(cdn.requests.length, 1);
    assert.equal(cdn.requests[0]?.headers.authorization, undefined, "cross-origin redirect drops them");
    await closeAll();
  });

  test("redirect loops stop at the limit", async () => {
    const registry = await serve((req, res) => {
      res.writeHead(302, { location: `${req.url ?? "/"}x` });
      res.end();
    });
    await rejectsWith(client(registry).getBlob(REPO, { digest: blobDigest, size: blob.length }), "unavailable", /more than 5 redirects/);
    await closeAll();
  });

  test("getManifest retries a 503 and then succeeds", async () => {
    let calls = 0;
    const registry = await serve((_req, res) => {
      calls++;
      if (calls === 1) return sendError(res, 503, "UNAVAILABLE", "restarting", { "retry-after": "0" });
      sendManifest(res);
    });
    assert.deepEqual((await client(registry).getManifest(REPO, "v1")).bytes, manifest);
    assert.equal(calls, 2);
    await closeAll();
  });

  test("getManifest retries a connection reset", async () => {
    let calls = 0;
    const registry = await serve((req, res) => {
      calls++;
      if (calls === 1) {
        req.socket.destroy();
        return;
      }
      sendManifest(res);
    });
    assert.deepEqual((await client(registry).getManifest(REPO, "v1")).bytes, manifest);
    assert.equal(calls, 2);
    await closeAll();
  });

  test("persistent 5xx gives up after the policy's attempts", async () => {
    const registry = await serve((_req, res) => sendError(res, 502, "BAD_GATEWAY", "upstream down"));
    await rejectsWith(client(registry).getManifest(REPO, "v1"), "unavailable", /answered 502.*gave up after 3 attempts/);
    assert.equal(apiRequests(registry).length, 3);
    await closeAll();
  });

  test("getManifest does not retry a 404 and names the tag and repository", async () => {
    const registry = await serve((_req, res) => sendError(res, 404, "MANIFEST_UNKNOWN", "manifest unknown"));
    await rejectsWith(client(registry).getManifest(REPO, "nope"), "not-found", new RegExp(`tag nope not found in repository ${REPO} on ${registry.host}`));
    assert.equal(apiRequests(registry).length, 1);
    await closeAll();
  });

  test("a 404 with NAME_UNKNOWN says the repository does not exist", async () => {
    const registry = await serve((_req, res) => sendError(res, 404, "NAME_UNKNOWN", "repository name not known to registry"));
    await rejectsWith(client(registry).getManifest(REPO, "v1"), "not-found", /repository not found .*NAME_UNKNOWN/);
    await closeAll();
  });

  test("getManifest refuses an oversized manifest, declared or streamed", async () => {
    const big = Buffer.alloc(MAX + 1, 0x20);
    const registry = await serve((req, res) => {
      if (req.url?.endsWith("/declared") === true) return sendManifest(res, big);
      res.writeHead(200, { "content-type": OCI_IMAGE_MANIFEST });
      res.end(big); // chunked: no Content-Length
    });
    await rejectsWith(client(registry).getManifest(REPO, "declared"), "resource-exhausted", /larger than the 4 MiB limit/);
    await rejectsWith(client(registry).getManifest(REPO, "streamed"), "resource-exhausted", /larger than the 4 MiB limit/);
    await closeAll();
  });

  test("getManifest fails with data-loss when Docker-Content-Digest does not match", async () => {
    const registry = await serve((_req, res) => sendManifest(res, manifest, { "docker-content-digest": blobDigest }));
    await rejectsWith(client(registry).getManifest(REPO, "v1"), "data-loss", /does not match the Docker-Content-Digest/);
    await closeAll();
  });

  test("getManifest by digest verifies the bytes against the requested digest", async () => {
    const other = Buffer.from(JSON.stringify({ schemaVersion: 2, layers: ["tampered"] }));
    const registry = await serve((req, res) => sendManifest(res, req.url?.endsWith(manifestDigest) === true ? manifest : other, { "docker-content-digest": "" }));
    const c = client(registry);
    assert.equal((await c.getManifest(REPO, manifestDigest)).digest, manifestDigest);
    await rejectsWith(c.getManifest(REPO, blobDigest), "data-loss", new RegExp(`not the requested ${blobDigest}`));
    await closeAll();
  });

  test("getManifest refuses schema 1 and media types it did not ask for", async () => {
    const registry = await serve((req, res) =>
      sendManifest(res, manifest, { "content-type": req.url?.endsWith("old") === true ? DOCKER_MANIFEST_V1_SIGNED : "application/vnd.cncf.helm.config.v1+json" }),
    );
    await rejectsWith(client(registry).getManifest(REPO, "old"), "unimplemented", /schema 1 is deprecated/);
    await rejectsWith(client(registry).getManifest(REPO, "chart"), "failed-precondition", /media type "application\/vnd\.cncf\.helm\.config\.v1\+json", which rkt did not ask for/);
    await closeAll();
  });

  test("headManifest returns the digest and media type without a body", async () => {
    const registry = await serve((req, res) => {
      assert.equal(req.method, "HEAD");
      res.writeHead(200, { "content-type": OCI_IMAGE_MANIFEST, "docker-content-digest": manifestDigest, "content-length": String(manifest.length) });
      res.end();
    });
    assert.deepEqual(await client(registry).headManifest(REPO, "v1"), { mediaType: OCI_IMAGE_MANIFEST, digest: manifestDigest, size: manifest.length });
    await closeAll();
  });

  test("getBlob resumes at an offset with a Range request", async () => {
    const registry = await serve((req, res) => {
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      if (req.url?.includes("ignore-range") !== true && m !== null) {
        const start = Number(m[1]);
        res.writeHead(206, { "content-range": `bytes ${start}-${blob.length - 1}/${blob.length}`, "content-length": String(blob.length - start) });
        return res.end(blob.subarray(start));
      }
      send(res, 200, blob);
    });
    const c = client(registry);
    assert.deepEqual(await readAll(await c.getBlob(REPO, { digest: blobDigest, size: blob.length }, { offset: 1000 })), blob.subarray(1000));
    assert.equal(apiRequests(registry)[0]?.headers.range, "bytes=1000-");
    assert.equal((await readAll(await c.getBlob(REPO, { digest: blobDigest, size: blob.length }, { offset: blob.length }))).length, 0);
    await closeAll();
  });

  test("getBlob skips the prefix itself when the server ignores the range", async () => {
    const registry = await serve((_req, res) => send(res, 200, blob));
    const got = await readAll(await client(registry).getBlob(REPO, { digest: blobDigest, size: blob.length }, { offset: 12345 }));
    assert.deepEqual(got, blob.subarray(12345));
    await closeAll();
  });

  test("getBlob fails early when the registry announces another size", async () => {
    const registry = await serve((_req, res) => send(res, 200, blob));
    await rejectsWith(client(registry).getBlob(REPO, { digest: blobDigest, size: 10 }), "data-loss", /announces \d+ bytes, the manifest says 10/);
    await closeAll();
  });

  test("a blob cut off mid-body fails the stream with an RktError", async () => {
    const registry = await serve((req, res) => {
      res.writeHead(200, { "content-length": String(blob.length) });
      res.write(blob.subarray(0, 1000), () => req.socket.destroy());
    });
    const stream = await client(registry).getBlob(REPO, { digest: blobDigest, size: blob.length });
    await rejectsWith(readAll(stream), "unavailable", /download interrupted/);
    await closeAll();
  });

  test("a blob 404 names the digest and repository", async () => {
    const registry = await serve((_req, res) => sendError(res, 404, "BLOB_UNKNOWN", "blob unknown"));
    await rejectsWith(client(registry).getBlob(REPO, { digest: blobDigest, size: 1 }), "not-found", new RegExp(`blob ${blobDigest} not found in repository ${REPO}`));
    await closeAll();
  });

  test("plain HTTP is refused without insecureHttp, with a hint", async () => {
    const registry = await serve((_req, res) => sendManifest(res));
    await rejectsWith(client(registry, { insecureHttp: false }).getManifest(REPO, "v1"), "failed-precondition", /does not speak HTTPS/, (err) => {
      assert.match(err.hint ?? "", /--insecure-options=http/);
    });
    await closeAll();
  });

  test("a refused connection is unavailable and names the registry", async () => {
    const gone = await startFakeServer(() => undefined);
    await gone.close();
    await rejectsWith(client(gone).getManifest(REPO, "v1"), "unavailable", new RegExp(`connection refused by registry ${gone.host}`));
  });

  test("an unresolvable registry host says so", async () => {
    await rejectsWith(client({ host: "registry.nonexistent.invalid" }, { insecureHttp: false }).getManifest(REPO, "v1"), "unavailable", /cannot resolve registry host registry\.nonexistent\.invalid/);
  });

  test("invalid repository names and references never reach the network", async () => {
    const c = client({ host: "127.0.0.1:1" });
    await rejectsWith(c.getManifest("../../etc", "v1"), "invalid-argument", /invalid repository name/);
    await rejectsWith(c.getManifest(REPO, "sha256:abc"), "invalid-argument", /invalid manifest digest/);
    await rejectsWith(c.getManifest(REPO, "a/b"), "invalid-argument", /invalid tag/);
    await rejectsWith(c.getBlob(REPO, { digest: "sha256:zz", size: 1 }), "invalid-argument", /invalid blob digest/);
  });

  test("aborting stops a request waiting to retry", async () => {
    const registry = await serve((_req, res) => sendError(res, 503, "UNAVAILABLE", "busy"));
    const controller = new AbortController();
    const c = client(registry, { signal: controller.signal, retry: { attempts: 5, baseDelayMs: 10_000, maxDelayMs: 10_000 } });
    const pending = c.getManifest(REPO, "v1");
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(pending, (err: unknown) => err instanceof Error && err.name === "AbortError");
    await closeAll();
  });
});

describe("RegistryClient over TLS", { concurrency: false }, () => {
  let dir = "";
  let tls: { key: string; cert: string } | undefined;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "rkt-registry-tls-"));
    try {
      execFileSync(
        "openssl",
        ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
          "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
        { stdio: "ignore" },
      );
      tls = { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
    } catch {
      tls = undefined;
    }
  });
  after(async () => {
    await closeAll();
    rmSync(dir, { recursive: true, force: true });
  });

  test("an untrusted certificate fails with a --insecure-options=tls hint", async (t) => {
    if (tls === undefined) return t.skip("openssl is not available");
    const registry = await serve((_req, res) => sendManifest(res), tls);
    await rejectsWith(client(registry, { insecureHttp: false }).getManifest(REPO, "v1"), "failed-precondition", /TLS certificate of registry 127\.0\.0\.1:\d+ is not trusted/, (err) => {
      assert.match(err.hint ?? "", /--insecure-options=tls/);
    });
    await rejectsWith(client(registry, { insecureHttp: true }).getManifest(REPO, "v1"), "failed-precondition", /not trusted/);
    await closeAll();
  });

  test("insecureTls skips verification for the registry host only", async (t) => {
    if (tls === undefined) return t.skip("openssl is not available");
    const registry = await serve((req, res) => {
      if (req.url?.includes("/blobs/") === true) {
        res.writeHead(307, { location: `https://localhost:${req.socket.localPort ?? 0}/elsewhere` });
        return res.end();
      }
      sendManifest(res);
    }, tls);
    const c = client(registry, { insecureHttp: false, insecureTls: true });
    assert.deepEqual((await c.getManifest(REPO, "v1")).bytes, manifest);
    await rejectsWith(c.getBlob(REPO, { digest: blobDigest, size: blob.length }), "failed-precondition", /TLS certificate of redirect target localhost:\d+ is not trusted/);
    await closeAll();
  });

  test("a redirect from HTTPS to plain HTTP is refused without insecureHttp", async (t) => {
    if (tls === undefined) return t.skip("openssl is not available");
    const plain = await serve((_req, res) => send(res, 200, blob));
    const registry = await serve((_req, res) => {
      res.writeHead(302, { location: `${plain.url}/blob?sig=secret-signature` });
      res.end();
    }, tls);
    await rejectsWith(client(registry, { insecureHttp: false, insecureTls: true }).getBlob(REPO, { digest: blobDigest, size: blob.length }), "failed-precondition", /refusing plain HTTP to redirect target/, (err) => {
      assert.ok(!err.message.includes("secret-signature"), "signed URL query is not printed");
      assert.match(err.hint ?? "", /--insecure-options=http/);
    });
    assert.equal(plain.requests.length, 0);
    await closeAll();
  });
});

test("RegistryClient parallel blob requests share one token", async () => {
  const tokenServer = await startFakeServer((_req, res) => {
    setTimeout(() => send(res, 200, JSON.stringify({ token: "shared" })), 20);
  });
  const registry = await startFakeServer((req, res) => {
    if (req.headers.authorization !== "Bearer shared") {
      return sendError(res, 401, "UNAUTHORIZED", "no", { "www-authenticate": `Bearer realm="${tokenServer.url}/token",service="s"` });
    }
    send(res, 200, blob);
  });
  try {
    const c = client(registry);
    const streams = await Promise.all([1, 2, 3, 4].map(() => c.getBlob(REPO, { digest: blobDigest, size: blob.length })));
    for (const s of streams) assert.deepEqual(await readAll(s), blob);
    assert.equal(tokenServer.requests.length, 1);
  } finally {
    await Promise.all([tokenServer.close(), registry.close()]);
  }
});
