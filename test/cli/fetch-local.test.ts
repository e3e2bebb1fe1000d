/**
 * Images without a registry: OCI layouts and OCI archives, written by our fixtures and by
 * third-party tools (umoci, skopeo), and the round trip through `rkt image export`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { busyboxImage, MULTI_LAYER_VIEW, multiLayerImage } from "../support/image-fixtures.js";
import { runRkt } from "../support/run-rkt.js";
import { skopeoArchive, umociImage } from "../support/third-party.js";
import { tempDir } from "../support/tmp.js";
import { checkView } from "../support/tree-view.js";
import { existsSync, readFileSync } from "node:fs";

const UNSIGNED = "--insecure-options=image";

test("fetch of an OCI layout directory stores the image under a localhost/ name", async (t) => {
  const built = await busyboxImage({ dir: join(await tempDir(t), "busybox") });
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", UNSIGNED, `oci:${built.dir}:latest`], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), `sha256-${built.descriptor.digest.slice(7, 39)}`);
  const list = JSON.parse((await runRkt(["image", "list", "--format=json"], { dir })).stdout) as { name: string }[];
  assert.deepEqual(list.map((i) => i.name), ["localhost/busybox:latest"]);
  // a plain path works too
  const again = await runRkt(["fetch", UNSIGNED, built.dir], { dir });
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, r.stdout);
});

test("an unsigned local image needs --insecure-options=image", async (t) => {
  const built = await busyboxImage({ dir: join(await tempDir(t), "busybox") });
  const r = await runRkt(["fetch", `oci:${built.dir}`], { dir: await tempDir(t) });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /--insecure-options=image/);
});

test("fetch of an image made by umoci", async (t) => {
  const image = await umociImage(join(await tempDir(t), "umoci"));
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", UNSIGNED, `oci:${image.dir}:${image.ref}`], { dir });
  assert.equal(r.code, 0, r.stderr);
  const out = join(await tempDir(t), "render");
  assert.equal((await runRkt(["image", "render", "--rootfs-only", r.stdout.trim(), out], { dir })).code, 0);
  assert.ok(existsSync(join(out, "bin", "busybox")));
  assert.ok(readFileSync(join(out, "etc", "passwd"), "utf8").startsWith("root:"));
});

test("fetch of an OCI archive written by skopeo", async (t) => {
  const built = await multiLayerImage({ dir: join(await tempDir(t), "multi") });
  const archive = join(await tempDir(t), "multi.tar");
  await skopeoArchive(built.dir, archive);
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", UNSIGNED, `oci-archive:${archive}`], { dir });
  assert.equal(r.code, 0, r.stderr);
  const out = join(await tempDir(t), "render");
  assert.equal((await runRkt(["image", "render", "--rootfs-only", r.stdout.trim(), out], { dir })).code, 0);
  assert.deepEqual(await checkView(out, MULTI_LAYER_VIEW), []);
});

test("image export writes an OCI archive that skopeo reads and rkt fetches back to the same ID", async (t) => {
  const built = await multiLayerImage({ dir: join(await tempDir(t), "multi") });
  const dir = await tempDir(t);
  const id = (await runRkt(["fetch", UNSIGNED, built.dir], { dir })).stdout.trim();
  const archive = join(await tempDir(t), "out.tar");
  const exp = await runRkt(["image", "export", id, archive], { dir });
  assert.equal(exp.code, 0, exp.stderr);
  const again = await runRkt(["image", "export", id, archive], { dir });
  assert.equal(again.code, 254, "refuses to overwrite without --overwrite");
  const other = await tempDir(t);
  const back = await runRkt(["fetch", UNSIGNED, `oci-archive:${archive}`], { dir: other });
  assert.equal(back.code, 0, back.stderr);
  assert.equal(back.stdout.trim(), id);
  const { execTool } = await import("../support/exec-tool.js");
  const inspect = JSON.parse((await execTool("skopeo", ["inspect", "--raw", `oci-archive:${archive}`])).toString()) as { layers: unknown[] };
  assert.equal(inspect.layers.length, 3);
});

test("a file that is not an OCI archive gets a clear error", async (t) => {
  const file = join(await tempDir(t), "notes.tar");
  const { writeFileSync } = await import("node:fs");
  writeFileSync(file, "this is not a tar file at all".repeat(40));
  const dir = await tempDir(t);
  const r = await runRkt(["fetch", UNSIGNED, file], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /notes\.tar/);
  assert.match(r.stderr, /OCI archive/);
  const list = JSON.parse((await runRkt(["image", "list", "--format=json"], { dir })).stdout) as unknown[];
  assert.deepEqual(list, []);
});
