/**
 * Bad input and hostile registries: each failure is one clear error naming the image and the
 * cause, exit 254, and nothing half-written left visible in the store.
 */
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { busyboxImage, multiLayerImage } from "../support/image-fixtures.js";
import { pushImage } from "../support/push.js";
import { sharedRegistry } from "../support/registry.js";
import { RKT_BIN, runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

const INSECURE = "--insecure-options=image,http";

/** A registry that serves one manifest and one config, misbehaving as told. */
async function fakeRegistry(t: TestContext, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function sha256(b: Buffer | string): string {
  return `sha256:${createHash("sha256").update(b).digest("hex")}`;
}

/** The store must hold no image, and no blob or layer outside tmp/. */
function assertStoreEmpty(dir: string): void {
  const list = (p: string): string[] => {
    try {
      return readdirSync(p);
    } catch {
      return [];
    }
  };
  assert.deepEqual(list(join(dir, "cas", "images")), []);
  assert.deepEqual(list(join(dir, "cas", "refs")), []);
  assert.deepEqual(list(join(dir, "cas", "layers", "sha256")), []);
  assert.deepEqual(list(join(dir, "cas", "tmp")).filter((n) => !n.endsWith(".lck")), [], "tmp/ is cleaned up");
}

const config = Buffer.from(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256("layer")] } }));
function manifestFor(layerDigest: string, layerSize: number, layerType = "application/vnd.oci.image.layer.v1.tar"): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.length },
      layers: [{ mediaType: layerType, digest: layerDigest, size: layerSize }],
    }),
  );
}

function serveManifest(res: ServerResponse, body: Buffer, type = "application/vnd.oci.image.manifest.v1+json"): void {
  res.writeHead(200, { "content-type": type, "docker-content-digest": sha256(body), "content-length": body.length });
  res.end(body);
}

test("a missing tag is a not-found error naming the tag", async (t) => {
  const reg = await sharedRegistry();
  const built = await busyboxImage({ dir: await tempDir(t) });
  await pushImage(built.dir, reg, "fail/tagged");
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", INSECURE, `docker://${reg.host}/fail/tagged:nope`], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /nope/);
  assert.match(r.stderr, /not found/i);
  assertStoreEmpty(dir);
});

test("connection refused names the registry", async (t) => {
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", INSECURE, "docker://127.0.0.1:9/fail/x"], { dir, timeoutMs: 60_000 });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /127\.0\.0\.1:9/);
  assert.match(r.stderr, /refused|connect/i);
});

test("a layer whose bytes do not match its digest is refused and nothing is stored", async (t) => {
  const layer = Buffer.from("this is not the layer you are looking for");
  const claimed = sha256("the real layer");
  const manifest = manifestFor(claimed, layer.length);
  const host = await fakeRegistry(t, (req, res) => {
    if (req.url === "/v2/") return void res.writeHead(200).end("{}");
    if (req.url?.includes("/manifests/")) return serveManifest(res, manifest);
    if (req.url?.endsWith(sha256(config))) return void res.writeHead(200).end(config);
    if (req.url?.endsWith(claimed)) return void res.writeHead(200, { "content-length": layer.length }).end(layer);
    res.writeHead(404).end();
  });
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", INSECURE, `docker://${host}/evil/img`], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /digest/i);
  assert.match(r.stderr, new RegExp(claimed.slice(0, 20)));
  assertStoreEmpty(dir);
});

test("a truncated layer body is an error after retries, and nothing is stored", async (t) => {
  const layer = Buffer.alloc(64 * 1024, 1);
  const manifest = manifestFor(sha256(layer), layer.length);
  let attempts = 0;
  const host = await fakeRegistry(t, (req, res) => {
    if (req.url === "/v2/") return void res.writeHead(200).end("{}");
    if (req.url?.includes("/manifests/")) return serveManifest(res, manifest);
    if (req.url?.endsWith(sha256(config))) return void res.writeHead(200).end(config);
    if (req.url?.endsWith(sha256(layer))) {
      attempts++;
      res.writeHead(200, { "content-length": layer.length });
      res.write(layer.subarray(0, 1000));
      setTimeout(() => res.destroy(), 20);
      return;
    }
    res.writeHead(404).end();
  });
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", INSECURE, `docker://${host}/evil/truncated`], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /evil\/truncated/);
  assert.ok(attempts >= 1);
  assertStoreEmpty(dir);
});

test("an unexpected manifest media type and schema 1 are refused clearly", async (t) => {
  const helm = Buffer.from(JSON.stringify({ schemaVersion: 2, config: {}, layers: [] }));
  const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: "x", tag: "latest", fsLayers: [] }));
  const host = await fakeRegistry(t, (req, res) => {
    if (req.url === "/v2/") return void res.writeHead(200).end("{}");
    if (req.url?.includes("/helm/chart/manifests/")) return serveManifest(res, helm, "application/vnd.cncf.helm.chart.v1+json");
    if (req.url?.includes("/old/image/manifests/")) return serveManifest(res, schema1, "application/vnd.docker.distribution.manifest.v1+prettyjws");
    res.writeHead(404).end();
  });
  const dir = await tempDir(t);
  const helmR = await runRkt(["fetch", INSECURE, `docker://${host}/helm/chart`], { dir });
  assert.equal(helmR.code, 254);
  assert.match(helmR.stderr, /helm|media type/i);
  const old = await runRkt(["fetch", INSECURE, `docker://${host}/old/image`], { dir });
  assert.equal(old.code, 254);
  assert.match(old.stderr, /schema 1/);
  assertStoreEmpty(dir);
});

test("an absurdly large manifest is cut off, not read into memory", async (t) => {
  const host = await fakeRegistry(t, (req, res) => {
    if (req.url === "/v2/") return void res.writeHead(200).end("{}");
    if (req.url?.includes("/manifests/")) {
      res.writeHead(200, { "content-type": "application/vnd.oci.image.manifest.v1+json" });
      const chunk = Buffer.alloc(1 << 20, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < 256 && res.write(chunk)) sent++;
        if (sent < 256) res.once("drain", pump);
        else res.end();
      };
      pump();
      return;
    }
    res.writeHead(404).end();
  });
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", INSECURE, `docker://${host}/huge/manifest`], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /manifest/);
  assert.match(r.stderr, /large|exceeds|limit|bytes/i);
  assertStoreEmpty(dir);
});

test("a full disk fails the fetch with a clear error and leaves the store consistent", async (t) => {
  const reg = await sharedRegistry();
  const built = await multiLayerImage({ dir: await tempDir(t) });
  // busybox is ~1-2 MB: does not fit on a 512 KiB tmpfs
  const big = await busyboxImage({ dir: await tempDir(t) });
  await pushImage(built.dir, reg, "disk/small");
  await pushImage(big.dir, reg, "disk/big");
  // Not under tempDir(): its cleanup would run before the unmount and refuse a mounted tree.
  const mnt = mkdtempSync(join(tmpdir(), "rkt-test-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", "size=512k", "tmpfs", mnt]);
  t.after(() => {
    execFileSync("umount", [mnt]);
    rmdirSync(mnt);
  });
  const r = await runRkt(["fetch", INSECURE, `docker://${reg.host}/disk/big`], { dir: mnt });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /disk\/big/);
  assert.match(r.stderr, /no space|ENOSPC|full/i);
  assertStoreEmpty(mnt);
  // The store still works for what fits.
  const ok = await runRkt(["fetch", INSECURE, `docker://${reg.host}/disk/small`], { dir: mnt });
  assert.equal(ok.code, 0, ok.stderr);
});

test("SIGKILL during a fetch leaves a store the next fetch uses, and verify passes", async (t) => {
  const reg = await sharedRegistry();
  const built = await busyboxImage({ dir: await tempDir(t) });
  await pushImage(built.dir, reg, "crash/busybox");
  const image = `docker://${reg.host}/crash/busybox`;
  const dir = await tempDir(t);
  for (const delay of [30, 80, 150, 250, 400]) {
    const child = spawn(RKT_BIN, [`--dir=${dir}`, "fetch", INSECURE, image], { stdio: "ignore" });
    await new Promise((resolve) => setTimeout(resolve, delay));
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
    }
    // Whatever state it died in, no image may be listed unless it is complete.
    const list = JSON.parse((await runRkt(["image", "list", "--format=json"], { dir })).stdout) as { id: string }[];
    for (const img of list) assert.equal((await runRkt(["image", "verify", img.id], { dir })).code, 0);
  }
  const r = await runRkt(["fetch", INSECURE, image], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await runRkt(["image", "verify", r.stdout.trim()], { dir })).code, 0);
  const gc = await runRkt(["image", "gc"], { dir });
  assert.equal(gc.code, 0);
  assert.deepEqual(readdirSync(join(dir, "cas", "tmp")), [], "gc sweeps what killed fetches left in tmp/");
});
