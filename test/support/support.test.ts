/**
 * Self-tests of the test infrastructure: registries answer as configured, fixtures are
 * deterministic and mean what their expectations say (checked against umoci's own unpacking),
 * pushes keep digests, third-party producers give sound layouts, and cleanup cleans.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { checkLayout } from "./check-layout.js";
import { execTool } from "./exec-tool.js";
import {
  BUSYBOX_APPLETS,
  busyboxImage,
  MULTI_LAYER_VIEW,
  MULTI_PLATFORMS,
  multiLayerImage,
  multiPlatformIndex,
  PLATFORM_MARKER,
} from "./image-fixtures.js";
import { decompress, tarHeaders } from "./layer-tar.js";
import { MEDIA_TYPES } from "./media-types.js";
import type { BuiltImage, BuiltIndex } from "./oci-builder.js";
import { findInLayout, parseIndex, parseManifest, readBlob, readIndexJson } from "./oci-layout.js";
import { pushImage, pushWithSkopeo } from "./push.js";
import { RegistryClient, httpRequest } from "./registry-client.js";
import { sharedRegistry, startRegistry, TEST_REGISTRY_PASSWORD, TEST_REGISTRY_USERNAME, type TestRegistry } from "./registry.js";
import { RKT_BIN, runRkt } from "./run-rkt.js";
import { skopeoArchive, skopeoDockerArchive, umociImage } from "./third-party.js";
import { makeTempDir, removeTempDir, tempDir, withTempDir } from "./tmp.js";
import { checkView } from "./tree-view.js";

async function v2Status(registry: TestRegistry, headers: Record<string, string> = {}): Promise<{ status: number; challenge: string }> {
  const ca = registry.caFile === undefined ? undefined : await readFile(registry.caFile);
  const res = await httpRequest(`${registry.url}/v2/`, { headers, ...(ca === undefined ? {} : { ca }) });
  return { status: res.status, challenge: res.headers["www-authenticate"] ?? "" };
}

function basic(user: string, password: string): Record<string, string> {
  return { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}` };
}

/** Fetches an image back by tag and checks manifest, config and layers byte for byte. */
async function assertServed(registry: TestRegistry, name: string, tag: string, image: BuiltImage): Promise<void> {
  const client = new RegistryClient(registry);
  const m = await client.getManifest(name, tag);
  assert.equal(m.digest, image.descriptor.digest);
  assert.equal(m.mediaType, image.descriptor.mediaType);
  assert.deepEqual(m.bytes, image.manifestBytes);
  assert.deepEqual(await client.getBlob(name, image.config.descriptor.digest), image.config.bytes);
  for (const layer of image.layers) await client.getBlob(name, layer.descriptor.digest);
}

async function assertIndexServed(registry: TestRegistry, name: string, tag: string, index: BuiltIndex): Promise<void> {
  const client = new RegistryClient(registry);
  const m = await client.getManifest(name, tag);
  assert.equal(m.digest, index.descriptor.digest);
  assert.equal(m.mediaType, index.descriptor.mediaType);
  assert.deepEqual(m.bytes, index.indexBytes);
  for (const image of index.images) await assertServed(registry, name, image.descriptor.digest, image);
}

describe("startRegistry", () => {
  test("startRegistry serves /v2/ in plain HTTP and stop() kills it and removes its dir", async (t) => {
    const started = Date.now();
    const registry = await startRegistry();
    t.diagnostic(`plain registry ready in ${Date.now() - started} ms`);
    try {
      assert.match(registry.host, /^127\.0\.0\.1:\d+$/);
      assert.equal(registry.url, `http://${registry.host}`);
      assert.equal((await v2Status(registry)).status, 200);
      assert.ok(existsSync(join(registry.storageDir, "..", "config.yml")));
    } finally {
      await registry.stop();
    }
    await registry.stop(); // idempotent
    await assert.rejects(httpRequest(`${registry.url}/v2/`, { timeoutMs: 2000 }));
    assert.equal(existsSync(join(registry.storageDir, "..")), false);
  });

  test("startRegistry with tls serves HTTPS with a cert for 127.0.0.1 that only the test CA validates", async (t) => {
    const started = Date.now();
    const registry = await startRegistry({ tls: true });
    t.diagnostic(`TLS registry ready in ${Date.now() - started} ms`);
    t.after(() => registry.stop());
    assert.equal(registry.url, `https://${registry.host}`);
    assert.ok(registry.caFile !== undefined && registry.caDir !== undefined);
    assert.equal((await v2Status(registry)).status, 200);
    await assert.rejects(httpRequest(`${registry.url}/v2/`), /self[- ]signed|unable to verify|certificate/i);
  });

  test("startRegistry with basic auth answers 401 without or with wrong credentials and 200 with them", async (t) => {
    const registry = await startRegistry({ auth: "basic" });
    t.after(() => registry.stop());
    assert.equal(registry.username, TEST_REGISTRY_USERNAME);
    assert.equal(registry.password, TEST_REGISTRY_PASSWORD);
    const anonymous = await v2Status(registry);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.challenge, /^Basic /);
    assert.equal((await v2Status(registry, basic("rkt", "wrong"))).status, 401);
    assert.equal((await v2Status(registry, basic(TEST_REGISTRY_USERNAME, TEST_REGISTRY_PASSWORD))).status, 200);
  });

  test("startRegistry with token auth challenges with a Bearer realm whose tokens it accepts", async (t) => {
    const started = Date.now();
    const registry = await startRegistry({ tls: true, auth: "token" });
    t.diagnostic(`TLS + token registry ready in ${Date.now() - started} ms`);
    t.after(() => registry.stop());
    const anonymous = await v2Status(registry);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.challenge, /^Bearer realm="http:\/\/127\.0\.0\.1:\d+\/token",service="rkt-test-registry"/);
    // Basic credentials straight to the registry do not work; only tokens do.
    assert.equal((await v2Status(registry, basic(TEST_REGISTRY_USERNAME, TEST_REGISTRY_PASSWORD))).status, 401);

    const denied = await new RegistryClient(registry, { username: "rkt", password: "wrong" }).request("GET", "/v2/");
    assert.equal(denied.status, 401);
    const ok = await new RegistryClient(registry).request("GET", "/v2/");
    assert.equal(ok.status, 200);
    assert.deepEqual(
      registry.tokenRequests.map((r) => [r.account, r.granted]),
      [["rkt", false], ["rkt", true]],
    );
  });

  test("sharedRegistry returns one plain registry per process and ignores stop()", async () => {
    const a = await sharedRegistry();
    const b = await sharedRegistry();
    assert.equal(a, b);
    await a.stop();
    assert.equal((await v2Status(a)).status, 200);
  });
});

describe("buildImage", () => {
  test("buildImage is deterministic: the same fixture in two layouts has the same digests", async (t) => {
    const [d1, d2] = [await tempDir(t), await tempDir(t)];
    for (const build of [busyboxImage, multiLayerImage]) {
      for (const format of ["oci", "docker"] as const) {
        const [a, b] = [await build({ dir: d1, format }), await build({ dir: d2, format })];
        assert.equal(a.descriptor.digest, b.descriptor.digest);
      }
    }
    const [i1, i2] = [await multiPlatformIndex({ dir: d1, ref: "multi" }), await multiPlatformIndex({ dir: d2, ref: "multi" })];
    assert.equal(i1.descriptor.digest, i2.descriptor.digest);
  });

  test("buildImage writes a sound layout with the media types of the chosen format and compression", async (t) => {
    const dir = await tempDir(t);
    const cases = [
      { format: "oci", compression: "gzip", manifest: MEDIA_TYPES.ociManifest, config: MEDIA_TYPES.ociConfig, layer: MEDIA_TYPES.ociLayerGzip },
      { format: "oci", compression: "zstd", manifest: MEDIA_TYPES.ociManifest, config: MEDIA_TYPES.ociConfig, layer: MEDIA_TYPES.ociLayerZstd },
      { format: "oci", compression: "none", manifest: MEDIA_TYPES.ociManifest, config: MEDIA_TYPES.ociConfig, layer: MEDIA_TYPES.ociLayer },
      { format: "docker", compression: "gzip", manifest: MEDIA_TYPES.dockerManifest, config: MEDIA_TYPES.dockerConfig, layer: MEDIA_TYPES.dockerLayerGzip },
      { format: "docker", compression: "none", manifest: MEDIA_TYPES.dockerManifest, config: MEDIA_TYPES.dockerConfig, layer: MEDIA_TYPES.dockerLayer },
    ] as const;
    for (const c of cases) {
      const ref = `${c.format}-${c.compression}`;
      const image = await multiLayerImage({ dir, ref, format: c.format, compression: c.compression });
      const manifest = parseManifest(image.manifestBytes);
      assert.equal(manifest.mediaType, c.manifest);
      assert.equal(manifest.config.mediaType, c.config);
      assert.deepEqual(manifest.layers.map((l) => l.mediaType), [c.layer, c.layer, c.layer]);
      assert.equal((await findInLayout(dir, ref)).digest, image.descriptor.digest);
    }
    assert.equal((await readIndexJson(dir)).length, cases.length);
    await assert.rejects(multiLayerImage({ dir, ref: "bad", format: "docker", compression: "zstd" }), /no zstd/);
    assert.deepEqual(await checkLayout(dir), []);
  });

  test("multiLayerImage layers hold whiteouts, an opaque marker and a hard link as tar entries", async (t) => {
    const dir = await tempDir(t);
    const image = await multiLayerImage({ dir, compression: "zstd" });
    const names: string[][] = [];
    const headers = [];
    for (const layer of image.layers) {
      const tarBytes = await decompress(await readBlob(dir, layer.descriptor.digest), "zstd");
      const h = await tarHeaders(tarBytes);
      headers.push(...h);
      names.push(h.map((x) => x.name));
    }
    assert.ok(names[1]!.includes("data/.wh.b.txt"));
    assert.ok(names[1]!.includes("data/.wh.gone-dir"));
    assert.ok(names[1]!.includes("opaque-dir/.wh..wh..opq"));
    const hard = headers.find((h) => h.name === "data/hard.txt");
    assert.equal(hard?.type, "link");
    assert.equal(hard.linkname, "data/orig.txt");
    assert.ok(headers.every((h) => h.mtime.getTime() === Date.parse("2020-01-01T00:00:00Z")));
  });

  test("MULTI_LAYER_VIEW is what umoci makes of multiLayerImage", async (t) => {
    const dir = await tempDir(t);
    await multiLayerImage({ dir, ref: "latest" });
    const bundle = join(dir, "bundle");
    await execTool("umoci", ["unpack", "--image", `${dir}:latest`, bundle]);
    assert.deepEqual(await checkView(join(bundle, "rootfs"), MULTI_LAYER_VIEW), []);
  });

  test("busyboxImage runs: umoci unpacks it and its sh runs in the rootfs under chroot", async (t) => {
    const dir = await tempDir(t);
    const image = await busyboxImage({ dir });
    const config = JSON.parse(image.config.bytes.toString("utf8")) as { config: { Cmd: string[] } };
    assert.deepEqual(config.config.Cmd, ["sh"]);
    const bundle = join(dir, "bundle");
    await execTool("umoci", ["unpack", "--image", `${dir}:latest`, bundle]);
    const rootfs = join(bundle, "rootfs");
    for (const applet of BUSYBOX_APPLETS) assert.ok(existsSync(join(rootfs, "bin", applet)), applet);
    assert.match(await readFile(join(rootfs, "etc", "passwd"), "utf8"), /^app:x:1000:1000:/m);
    assert.equal((await stat(join(rootfs, "home", "app"))).uid, 1000);
    if (process.getuid?.() === 0) {
      const out = execFileSync("chroot", [rootfs, "/bin/sh", "-c", "echo hello from $(id -un)"], { encoding: "utf8" });
      assert.equal(out, "hello from root\n");
    }
  });

  test("multiPlatformIndex lists amd64 and arm64 images, each with its /platform marker", async (t) => {
    const dir = await tempDir(t);
    for (const format of ["oci", "docker"] as const) {
      const index = await multiPlatformIndex({ dir, ref: format, format });
      const parsed = parseIndex(index.indexBytes);
      assert.equal(parsed.mediaType, format === "oci" ? MEDIA_TYPES.ociIndex : MEDIA_TYPES.dockerManifestList);
      assert.deepEqual(parsed.manifests.map((m) => m.platform), MULTI_PLATFORMS);
      for (const [i, image] of index.images.entries()) {
          const tarBytes = await decompress(await readBlob(dir, image.layers[0]!.descriptor.digest), "gzip");
        const headers = await tarHeaders(tarBytes);
        assert.deepEqual(headers.map((h) => h.name), [PLATFORM_MARKER]);
        const config = JSON.parse(image.config.bytes.toString("utf8")) as { architecture: string };
        assert.equal(config.architecture, MULTI_PLATFORMS[i]!.architecture);
      }
    }
    assert.deepEqual(await checkLayout(dir), []);
  });
});

describe("pushImage", () => {
  test("pushImage puts busybox and multi-layer images in both formats, and indexes, byte for byte", async (t) => {
    const registry = await sharedRegistry();
    const dir = await tempDir(t);
    for (const format of ["oci", "docker"] as const) {
      const busybox = await busyboxImage({ dir, ref: `busybox-${format}`, format });
      const pushedBusybox = await pushImage(dir, registry, `self-test/busybox-${format}`, { ref: `busybox-${format}`, tag: "v1" });
      assert.equal(pushedBusybox.digest, busybox.descriptor.digest);
      assert.equal(pushedBusybox.reference, `${registry.host}/self-test/busybox-${format}:v1`);
      await assertServed(registry, `self-test/busybox-${format}`, "v1", busybox);

      const multi = await multiLayerImage({ dir, ref: `multi-${format}`, format, compression: format === "oci" ? "zstd" : "gzip" });
      await pushImage(dir, registry, `self-test/multi-${format}`, { ref: `multi-${format}` });
      await assertServed(registry, `self-test/multi-${format}`, "latest", multi);

      const index = await multiPlatformIndex({ dir, ref: `index-${format}`, format });
      await pushImage(dir, registry, `self-test/index-${format}`, { ref: `index-${format}` });
      await assertIndexServed(registry, `self-test/index-${format}`, "latest", index);
    }
  });

  test("pushImage authenticates to a TLS registry with token auth, and to one with basic auth", async (t) => {
    const dir = await tempDir(t);
    const image = await busyboxImage({ dir });
    for (const options of [{ tls: true, auth: "token" }, { auth: "basic" }] as const) {
      const registry = await startRegistry(options);
      t.after(() => registry.stop());
      await pushImage(dir, registry, "private/busybox");
      await assertServed(registry, "private/busybox", "latest", image);
      const anonymous = await new RegistryClient(registry, null).request("GET", "/v2/private/busybox/manifests/latest");
      assert.equal(anonymous.status, 401);
    }
  });

  test("pushWithSkopeo copies an image and an index into a TLS registry with basic auth", async (t) => {
    const registry = await startRegistry({ tls: true, auth: "basic" });
    t.after(() => registry.stop());
    const dir = await tempDir(t);
    await busyboxImage({ dir, ref: "busybox" });
    const index = await multiPlatformIndex({ dir, ref: "index" });
    const pushed = await pushWithSkopeo(dir, registry, "skopeo/busybox", { ref: "busybox" });
    assert.equal(pushed.reference, `${registry.host}/skopeo/busybox:latest`);
    const m = parseManifest((await new RegistryClient(registry).getManifest("skopeo/busybox", "latest")).bytes);
    assert.equal(m.layers.length, 1);
    const pushedIndex = await pushWithSkopeo(dir, registry, "skopeo/multi", { ref: "index" });
    const served = parseIndex((await new RegistryClient(registry).getManifest("skopeo/multi", "latest")).bytes);
    assert.deepEqual(served.manifests.map((d) => d.platform?.architecture), ["amd64", "arm64"]);
    assert.equal(pushedIndex.mediaType, index.descriptor.mediaType);
  });
});

describe("third-party producers", () => {
  test("umociImage makes a sound OCI layout with a runnable busybox", async (t) => {
    const dir = await tempDir(t);
    const image = await umociImage(join(dir, "layout"));
    assert.equal(image.descriptor.mediaType, MEDIA_TYPES.ociManifest);
    assert.deepEqual(await checkLayout(image.dir), []);
    const bundle = join(dir, "bundle");
    await execTool("umoci", ["unpack", "--image", `${image.dir}:${image.ref}`, bundle]);
    assert.ok(existsSync(join(bundle, "rootfs", "bin", "sh")));
  });

  test("skopeoArchive and skopeoDockerArchive write the archive formats", async (t) => {
    const dir = await tempDir(t);
    await busyboxImage({ dir });
    const ociTar = join(dir, "image.oci.tar");
    await skopeoArchive(dir, ociTar);
    const ociNames = (await tarHeaders(await readFile(ociTar))).map((h) => h.name);
    assert.ok(ociNames.includes("oci-layout") && ociNames.includes("index.json"), ociNames.join(" "));

    const dockerTar = join(dir, "image.docker.tar");
    await skopeoDockerArchive(dir, dockerTar, { tag: "rkt-test/busybox:1" });
    const dockerEntries = await tarHeaders(await readFile(dockerTar));
    assert.ok(dockerEntries.some((h) => h.name === "manifest.json"));
  });
});

describe("tmp", () => {
  test("tempDir and withTempDir remove their directory afterwards", async (t) => {
    let inner = "";
    await t.test("inner", async (tt) => {
      inner = await tempDir(tt);
      assert.ok(existsSync(inner));
    });
    assert.equal(existsSync(inner), false);
    const seen = await withTempDir((d) => Promise.resolve(d));
    assert.equal(existsSync(seen), false);
  });

  test("removeTempDir refuses to recurse into a directory with a mount inside", { skip: process.getuid?.() !== 0 && "needs root" }, async () => {
    const dir = await makeTempDir();
    const source = await makeTempDir();
    const target = join(dir, "mnt");
    await mkdir(target);
    execFileSync("mount", ["--bind", source, target]);
    try {
      await assert.rejects(removeTempDir(dir), /still mounted/);
      assert.ok(existsSync(target));
    } finally {
      execFileSync("umount", [target]);
      await removeTempDir(dir);
      await removeTempDir(source);
    }
  });
});

describe("runRkt", () => {
  const built = existsSync(join(RKT_BIN, "..", "..", "dist", "rkt.mjs"));
  test("runRkt spawns bin/rkt with --dir and reports its exit code and output", { skip: !built && "CLI not built (npm run build)" }, async (t) => {
    const dir = await tempDir(t);
    const r = await runRkt(["--help"], { dir });
    assert.equal(typeof r.code, "number");
    assert.ok(r.stdout.length + r.stderr.length > 0);
  });
});
