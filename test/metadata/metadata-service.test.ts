/**
 * The metadata service over HTTP on 127.0.0.1 and its registration socket: the appc endpoints
 * answer each pod from its own registration only (a token is a pod's whole identity), HMAC
 * signatures verify for their pod and no other, an exited pod's token stops working, and bad
 * requests get 400/401/404/405 while the service keeps serving.
 */
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { startMetadataService, type RunningMetadataService } from "../../src/metadata/metadata-service.js";
import { registerPod } from "../../src/metadata/register-pod.js";
import type { PodManifest } from "../../src/pod/pod-manifest.js";
import { FileLock } from "../../src/sys/file-lock.js";
import { tempDir } from "../support/tmp.js";

interface Reply {
  readonly status: number;
  readonly body: string;
}

function http(options: { port?: number; socketPath?: string; method: string; path: string; body?: string; type?: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port: options.port, socketPath: options.socketPath, method: options.method, path: options.path, headers: options.body === undefined ? {} : { "Content-Type": options.type ?? "application/x-www-form-urlencoded", "Content-Length": Buffer.byteLength(options.body) } },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(options.body);
  });
}

function manifest(apps: readonly string[], annotations: readonly [string, string][] = []): PodManifest {
  return {
    acVersion: "0.8.11",
    acKind: "PodManifest",
    apps: apps.map((name) => ({ name, image: { id: `sha256:${"d".repeat(64)}` }, app: { exec: ["/bin/sh"], user: "0", group: "0" }, annotations: [{ name: "role", value: `${name}-role` }] })),
    annotations: annotations.map(([name, value]) => ({ name, value })),
  };
}

interface Fixture {
  readonly mds: RunningMetadataService;
  readonly socket: string;
  readonly get: (token: string, path: string) => Promise<Reply>;
  readonly post: (token: string, path: string, form: Record<string, string>) => Promise<Reply>;
}

async function fixture(t: TestContext): Promise<Fixture & { dir: string }> {
  const dir = await tempDir(t, "rkt-mds-");
  const socket = join(dir, "run", "metadata-svc.sock");
  const mds = await startMetadataService({ registrationSocket: socket, listenAddress: "127.0.0.1", listenPort: 0 });
  t.after(() => mds.close());
  return {
    dir,
    mds,
    socket,
    get: (token, path) => http({ port: mds.port, method: "GET", path: `/${token}/acMetadata/v1${path}` }),
    post: (token, path, form) => http({ port: mds.port, method: "POST", path: `/${token}/acMetadata/v1${path}`, body: new URLSearchParams(form).toString() }),
  };
}

/** A pod directory whose lock this test holds: a running pod as the service sees it. */
function runningPodDir(t: TestContext, dir: string, uuid: string): FileLock {
  const path = join(dir, "pods", "run", uuid);
  mkdirSync(path, { recursive: true });
  const lock = FileLock.tryAcquire(path, "exclusive");
  assert.ok(lock !== undefined);
  t.after(() => lock.release());
  return lock;
}

const A = "aaaaaaaa-0000-4000-8000-00000000000a";
const B = "bbbbbbbb-0000-4000-8000-00000000000b";
const TOKEN_A = "token-of-pod-a-0123456789abcdef";
const TOKEN_B = "token-of-pod-b-0123456789abcdef";

test("each pod's token reaches its own manifest, UUID, annotations and app data, and nothing else", async (t) => {
  const f = await fixture(t);
  runningPodDir(t, f.dir, A);
  runningPodDir(t, f.dir, B);
  const imageManifest = (name: string): Buffer => Buffer.from(JSON.stringify({ acKind: "ImageManifest", name, annotations: [{ name: "authors", value: `${name} team` }, { name: "role", value: "from-image" }] }));
  const port = await registerPod(f.socket, { uuid: A, token: TOKEN_A, manifest: manifest(["web"], [["env", "prod"]]), podDir: join(f.dir, "pods", "run", A), apps: [{ name: "web", imageManifest: imageManifest("example.com/web") }] });
  assert.equal(port.port, f.mds.port, "the registration answer names the public port");
  await registerPod(f.socket, { uuid: B, token: TOKEN_B, manifest: manifest(["db"], [["env", "test"]]), podDir: join(f.dir, "pods", "run", B), apps: [{ name: "db", imageManifest: imageManifest("example.com/db") }] });

  assert.deepEqual(await f.get(TOKEN_A, "/pod/uuid"), { status: 200, body: A });
  assert.deepEqual(await f.get(TOKEN_B, "/pod/uuid"), { status: 200, body: B });
  assert.deepEqual(JSON.parse((await f.get(TOKEN_A, "/pod/annotations")).body), [{ name: "env", value: "prod" }]);
  assert.deepEqual(await f.get(TOKEN_A, "/pod/annotations/env"), { status: 200, body: "prod" });
  assert.deepEqual(await f.get(TOKEN_B, "/pod/annotations/env"), { status: 200, body: "test" });
  assert.equal(((await f.get(TOKEN_A, "/pod/annotations/nope")).status), 404);
  assert.deepEqual((JSON.parse((await f.get(TOKEN_A, "/pod/manifest")).body) as PodManifest).apps.map((a) => a.name), ["web"]);
  assert.deepEqual(await f.get(TOKEN_A, "/apps/web/image/id"), { status: 200, body: `sha256:${"d".repeat(64)}` });
  assert.equal((JSON.parse((await f.get(TOKEN_A, "/apps/web/image/manifest")).body) as { name: string }).name, "example.com/web");
  // The app's pod annotations win over the image's.
  assert.deepEqual(JSON.parse((await f.get(TOKEN_A, "/apps/web/annotations")).body), [{ name: "authors", value: "example.com/web team" }, { name: "role", value: "web-role" }]);
  assert.deepEqual(await f.get(TOKEN_A, "/apps/web/annotations/authors"), { status: 200, body: "example.com/web team" });

  // Pod A's token cannot see pod B's app, and no token can name another pod.
  assert.equal((await f.get(TOKEN_A, "/apps/db/image/id")).status, 404);
  assert.equal((await f.get(TOKEN_B, "/apps/web/annotations")).status, 404);
  assert.equal((await f.get("not-a-registered-token-000000", "/pod/uuid")).status, 401);
  assert.equal((await f.get(`${TOKEN_A}x`, "/pod/manifest")).status, 401);

  // Malformed names, methods and paths.
  assert.equal((await f.get(TOKEN_A, "/apps/Web!/image/id")).status, 400);
  assert.equal((await f.get(TOKEN_A, "/pod/annotations/Not..Valid")).status, 400);
  assert.equal((await f.get(TOKEN_A, "/pod/nothing")).status, 404);
  assert.equal((await http({ port: f.mds.port, method: "DELETE", path: `/${TOKEN_A}/acMetadata/v1/pod/uuid` })).status, 405);
  assert.equal((await http({ port: f.mds.port, method: "GET", path: "/" })).status, 404);
  assert.deepEqual(await f.get(TOKEN_A, "/pod/uuid"), { status: 200, body: A }, "still serving");
});

test("a pod's HMAC signature verifies for that pod only; tampering and malformed input are refused", async (t) => {
  const f = await fixture(t);
  runningPodDir(t, f.dir, A);
  runningPodDir(t, f.dir, B);
  await registerPod(f.socket, { uuid: A, token: TOKEN_A, manifest: manifest(["web"]), podDir: join(f.dir, "pods", "run", A), apps: [] });
  await registerPod(f.socket, { uuid: B, token: TOKEN_B, manifest: manifest(["db"]), podDir: join(f.dir, "pods", "run", B), apps: [] });
  const signed = await f.post(TOKEN_A, "/pod/hmac/sign", { content: "I am pod A" });
  assert.equal(signed.status, 200);
  assert.equal(Buffer.from(signed.body, "base64").length, 64, "HMAC-SHA512");
  // Anyone registered may ask the service to verify.
  assert.equal((await f.post(TOKEN_B, "/pod/hmac/verify", { uuid: A, content: "I am pod A", signature: signed.body })).status, 200);
  assert.equal((await f.post(TOKEN_B, "/pod/hmac/verify", { uuid: B, content: "I am pod A", signature: signed.body })).status, 403, "not B's signature");
  assert.equal((await f.post(TOKEN_B, "/pod/hmac/verify", { uuid: A, content: "I am pod B", signature: signed.body })).status, 403, "other content");
  const other = await f.post(TOKEN_B, "/pod/hmac/sign", { content: "I am pod A" });
  assert.notEqual(other.body, signed.body, "B cannot produce A's signature");
  assert.equal((await f.post(TOKEN_A, "/pod/hmac/sign", {})).status, 400);
  assert.equal((await f.post(TOKEN_A, "/pod/hmac/verify", { uuid: "nope", content: "x", signature: signed.body })).status, 400);
  assert.equal((await f.post(TOKEN_A, "/pod/hmac/verify", { uuid: A, content: "x", signature: "@@@" })).status, 400);
  assert.equal((await f.post("unknown-token-0000000000000", "/pod/hmac/sign", { content: "x" })).status, 401);
  assert.equal((await f.get(TOKEN_A, "/pod/hmac/sign")).status, 405);
});

test("a pod's token stops working once its pod exits (lock released) or is unregistered", async (t) => {
  const f = await fixture(t);
  const lockA = runningPodDir(t, f.dir, A);
  await registerPod(f.socket, { uuid: A, token: TOKEN_A, manifest: manifest(["web"]), podDir: join(f.dir, "pods", "run", A), apps: [] });
  assert.equal((await f.get(TOKEN_A, "/pod/uuid")).status, 200);
  lockA.release();
  assert.equal((await f.get(TOKEN_A, "/pod/uuid")).status, 401);
  assert.equal(f.mds.registry.size, 0);

  // Without a pod directory (rkt's own registrations), DELETE unregisters.
  const put = await http({ socketPath: f.socket, method: "PUT", path: `/pods/${B}?token=${TOKEN_B}`, body: JSON.stringify(manifest(["db"])), type: "application/json" });
  assert.equal(put.status, 200);
  assert.equal((await f.get(TOKEN_B, "/pod/uuid")).status, 200);
  assert.equal((await http({ socketPath: f.socket, method: "DELETE", path: `/pods/${B}` })).status, 200);
  assert.equal((await f.get(TOKEN_B, "/pod/uuid")).status, 401);
  assert.equal((await http({ socketPath: f.socket, method: "DELETE", path: `/pods/${B}` })).status, 404);
});

test("the registration API refuses malformed UUIDs, tokens and manifests, and apps of unknown pods", async (t) => {
  const f = await fixture(t);
  const put = (path: string, body: string): Promise<Reply> => http({ socketPath: f.socket, method: "PUT", path, body, type: "application/json" });
  const good = JSON.stringify(manifest(["web"]));
  assert.equal((await put(`/pods/not-a-uuid?token=${TOKEN_A}`, good)).status, 400);
  assert.equal((await put(`/pods/${A}`, good)).status, 400, "no token");
  assert.equal((await put(`/pods/${A}?token=short`, good)).status, 400);
  assert.equal((await put(`/pods/${A}?token=${TOKEN_A}`, "{not json")).status, 400);
  assert.equal((await put(`/pods/${A}?token=${TOKEN_A}`, JSON.stringify({ acKind: "ImageManifest" }))).status, 400);
  assert.equal((await put(`/pods/${A}?token=${TOKEN_A}&pod-dir=relative`, good)).status, 400);
  assert.equal((await put(`/pods/${A}/web`, "{}")).status, 404, "app of an unregistered pod");
  assert.equal((await put(`/pods/${A}?token=${TOKEN_A}`, good)).status, 200);
  assert.equal((await put(`/pods/${A}/Bad_Name`, "{}")).status, 400);
  assert.equal((await put(`/pods/${A}/web`, "[1]")).status, 400);
  assert.equal((await put(`/pods/${A}/web`, "{}")).status, 200);
  await assert.rejects(registerPod(join(f.dir, "nothing.sock"), { uuid: A, token: TOKEN_A, manifest: manifest(["web"]), podDir: "/x", apps: [] }), /cannot reach the metadata service/);
});
