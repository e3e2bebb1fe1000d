/**
 * `rkt fetch docker://...` end to end: the built CLI against a real docker-registry on 127.0.0.1,
 * with images built by code and pushed byte for byte.
 */
import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { busyboxImage, MULTI_LAYER_VIEW, multiLayerImage, multiPlatformIndex, PLATFORM_MARKER } from "../support/image-fixtures.js";
import { pushImage } from "../support/push.js";
import { sharedRegistry, startRegistry } from "../support/registry.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";
import { checkView } from "../support/tree-view.js";
import { readFileSync } from "node:fs";

const INSECURE = "--insecure-options=image,http";

function idOf(digest: string, digits = 32): string {
  return `sha256-${digest.slice("sha256:".length, "sha256:".length + digits)}`;
}

test("fetch of a one-layer OCI image prints its ID and image list shows its name", async (t) => {
  const reg = await sharedRegistry();
  const built = await busyboxImage({ dir: await tempDir(t) });
  const pushed = await pushImage(built.dir, reg, "fetch/busybox");
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", INSECURE, `docker://${reg.host}/fetch/busybox:latest`], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, `${idOf(pushed.digest)}\n`);
  const full = await runRkt(["fetch", INSECURE, "--full", "--pull-policy=new", `docker://${reg.host}/fetch/busybox:latest`], { dir });
  assert.equal(full.stdout, `${idOf(pushed.digest, 64)}\n`);
  const list = await runRkt(["image", "list", "--format=json"], { dir });
  const images = JSON.parse(list.stdout) as { id: string; name: string }[];
  assert.deepEqual(images.map((i) => [i.id, i.name]), [[idOf(pushed.digest, 64), `${reg.host}/fetch/busybox:latest`]]);
  const table = await runRkt(["image", "list"], { dir });
  assert.match(table.stdout, /^ID\s+NAME\s+SIZE\s+IMPORT TIME\s+LAST USED\n/);
  assert.match(table.stdout, new RegExp(`${idOf(pushed.digest, 12)}\\s+${reg.host}/fetch/busybox:latest\\s+\\d`));
});

for (const format of ["oci", "docker"] as const) {
  test(`fetch of a multi-layer ${format} image applies whiteouts and opaque dirs`, async (t) => {
    const reg = await sharedRegistry();
    const built = await multiLayerImage({ dir: await tempDir(t), format });
    await pushImage(built.dir, reg, `fetch/multi-${format}`);
    const dir = await tempDir(t);
    const r = await runRkt(["fetch", INSECURE, `docker://${reg.host}/fetch/multi-${format}`], { dir });
    assert.equal(r.code, 0, r.stderr);
    const out = join(await tempDir(t), "render");
    const render = await runRkt(["image", "render", "--rootfs-only", r.stdout.trim(), out], { dir });
    assert.equal(render.code, 0, render.stderr);
    assert.deepEqual(await checkView(out, MULTI_LAYER_VIEW), []);
    const manifest = await runRkt(["image", "cat-manifest", `${reg.host}/fetch/multi-${format}:latest`], { dir });
    assert.equal(manifest.code, 0, manifest.stderr);
    assert.equal((JSON.parse(manifest.stdout) as { layers: unknown[] }).layers.length, 3);
  });
}

for (const compression of ["zstd", "none"] as const) {
  test(`fetch unpacks ${compression} layers`, async (t) => {
    const reg = await sharedRegistry();
    const built = await multiLayerImage({ dir: await tempDir(t), compression });
    await pushImage(built.dir, reg, `fetch/multi-${compression}`);
    const dir = await tempDir(t);
    const r = await runRkt(["fetch", INSECURE, `docker://${reg.host}/fetch/multi-${compression}`], { dir });
    assert.equal(r.code, 0, r.stderr);
    const out = join(await tempDir(t), "render");
    assert.equal((await runRkt(["image", "render", "--rootfs-only", r.stdout.trim(), out], { dir })).code, 0);
    assert.deepEqual(await checkView(out, MULTI_LAYER_VIEW), []);
  });
}

for (const format of ["oci", "docker"] as const) {
  test(`fetch of a multi-platform ${format} index picks the host's platform`, async (t) => {
    const reg = await sharedRegistry();
    const built = await multiPlatformIndex({ dir: await tempDir(t), format });
    await pushImage(built.dir, reg, `fetch/multiarch-${format}`);
    const dir = await tempDir(t);
    const r = await runRkt(["fetch", INSECURE, `docker://${reg.host}/fetch/multiarch-${format}`], { dir });
    assert.equal(r.code, 0, r.stderr);
    const host = process.arch === "x64" ? "amd64" : process.arch;
    const chosen = built.images.find((i) => i.platform.architecture === host);
    assert.ok(chosen !== undefined);
    assert.equal(r.stdout.trim(), idOf(chosen.descriptor.digest));
    const out = join(await tempDir(t), "render");
    assert.equal((await runRkt(["image", "render", "--rootfs-only", r.stdout.trim(), out], { dir })).code, 0);
    assert.equal(readFileSync(join(out, PLATFORM_MARKER), "utf8"), `${host}\n`);
  });
}

test("fetch by digest gets exactly that manifest", async (t) => {
  const reg = await sharedRegistry();
  const built = await busyboxImage({ dir: await tempDir(t) });
  const pushed = await pushImage(built.dir, reg, "fetch/bydigest");
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", INSECURE, `docker://${reg.host}/fetch/bydigest@${pushed.digest}`], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), idOf(pushed.digest));
});

test("docker images need --insecure-options=image: without it fetch fails with 254 and a hint", async (t) => {
  const reg = await sharedRegistry();
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", "--insecure-options=http", `docker://${reg.host}/fetch/busybox`], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /signature/);
  assert.match(r.stderr, /--insecure-options=image/);
  assert.equal(r.stdout, "");
});

test("plain HTTP needs --insecure-options=http", async (t) => {
  const reg = await sharedRegistry();
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", "--insecure-options=image", `docker://${reg.host}/fetch/busybox`], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /http/i);
  assert.match(r.stderr, /--insecure-options=http/);
});

test("HTTPS: an unknown CA is refused, a trusted one works, and --insecure-options=tls skips the check", async (t) => {
  const reg = await startRegistry({ tls: true });
  t.after(() => reg.stop());
  const built = await busyboxImage({ dir: await tempDir(t) });
  await pushImage(built.dir, reg, "tls/busybox");
  const image = `docker://${reg.host}/tls/busybox`;
  const dir = await tempDir(t);
  const refused = await runRkt(["fetch", "--insecure-options=image", image], { dir });
  assert.equal(refused.code, 254);
  assert.match(refused.stderr, /certificate|TLS/i);
  assert.match(refused.stderr, /--insecure-options=tls/);
  const trusted = await runRkt(["fetch", "--insecure-options=image", image], { dir, env: { NODE_EXTRA_CA_CERTS: reg.caFile ?? "" } });
  assert.equal(trusted.code, 0, trusted.stderr);
  const skipped = await runRkt(["fetch", "--insecure-options=image,tls", "--pull-policy=update", image], { dir: await tempDir(t) });
  assert.equal(skipped.code, 0, skipped.stderr);
});

for (const auth of ["basic", "token"] as const) {
  test(`${auth} auth: credentials from auth.d are used, and their absence is a clear 401 error`, async (t) => {
    const reg = await startRegistry({ auth });
    t.after(() => reg.stop());
    const built = await busyboxImage({ dir: await tempDir(t) });
    await pushImage(built.dir, reg, "private/busybox");
    const image = `docker://${reg.host}/private/busybox`;
    const dir = await tempDir(t);
    const denied = await runRkt(["fetch", INSECURE, image], { dir });
    assert.equal(denied.code, 254);
    assert.match(denied.stderr, /401|unauthorized|denied/i);
    assert.match(denied.stderr, /auth\.d/);
    const config = await tempDir(t);
    await mkdir(join(config, "auth.d"));
    await writeFile(
      join(config, "auth.d", "test.json"),
      JSON.stringify({ rktKind: "dockerAuth", rktVersion: "v1", registries: [reg.host], credentials: { user: reg.username, password: reg.password } }),
    );
    const ok = await runRkt(["fetch", INSECURE, `--local-config=${config}`, image], { dir });
    assert.equal(ok.code, 0, ok.stderr);
    assert.doesNotMatch(ok.stderr + ok.stdout, new RegExp(reg.password ?? "never"));
  });
}

test("pull policies: new uses the store without the network, never refuses to fetch, update sees a moved tag", async (t) => {
  const reg = await startRegistry();
  t.after(() => reg.stop());
  const first = await busyboxImage({ dir: await tempDir(t) });
  const pushed1 = await pushImage(first.dir, reg, "policy/app");
  const image = `docker://${reg.host}/policy/app:latest`;
  const dir = await tempDir(t);
  const never = await runRkt(["fetch", INSECURE, "--pull-policy=never", image], { dir });
  assert.equal(never.code, 254);
  assert.match(never.stderr, /not in the store/);
  assert.equal((await runRkt(["fetch", INSECURE, image], { dir })).stdout.trim(), idOf(pushed1.digest));
  // The tag moves to a different image.
  const second = await multiLayerImage({ dir: await tempDir(t) });
  const pushed2 = await pushImage(second.dir, reg, "policy/app");
  assert.notEqual(pushed1.digest, pushed2.digest);
  assert.equal((await runRkt(["fetch", INSECURE, "--pull-policy=new", image], { dir })).stdout.trim(), idOf(pushed1.digest));
  assert.equal((await runRkt(["fetch", INSECURE, "--pull-policy=update", image], { dir })).stdout.trim(), idOf(pushed2.digest));
  // With the registry gone, `new` still answers from the store.
  await reg.stop();
  const offline = await runRkt(["fetch", INSECURE, "--pull-policy=new", image], { dir });
  assert.equal(offline.code, 0, offline.stderr);
  assert.equal(offline.stdout.trim(), idOf(pushed2.digest));
});

test("two fetches of the same image at once both succeed", async (t) => {
  const reg = await sharedRegistry();
  const built = await multiLayerImage({ dir: await tempDir(t) });
  const pushed = await pushImage(built.dir, reg, "fetch/concurrent");
  const dir = await tempDir(t);
  const image = `docker://${reg.host}/fetch/concurrent`;
  const results = await Promise.all([runRkt(["fetch", INSECURE, image], { dir }), runRkt(["fetch", INSECURE, image], { dir }), runRkt(["fetch", INSECURE, image], { dir })]);
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), idOf(pushed.digest));
  }
  const verify = await runRkt(["image", "verify", image.slice("docker://".length)], { dir });
  assert.equal(verify.code, 0, verify.stderr);
});

test("on a pipe, fetch prints nothing but the image ID", async (t) => {
  const reg = await sharedRegistry();
  const built = await busyboxImage({ dir: await tempDir(t) });
  await pushImage(built.dir, reg, "fetch/quiet");
  const r = await runRkt(["fetch", INSECURE, `docker://${reg.host}/fetch/quiet`], { dir: await tempDir(t) });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^sha256-[a-f0-9]{32}\n$/);
  // Only the warning that verification is off, as rkt printed it.
  assert.equal(r.stderr.trim().split("\n").filter((l) => !l.startsWith("warning:")).length, 0, r.stderr);
});
