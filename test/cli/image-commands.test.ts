/** `rkt image rm|gc|verify|extract|render|cat-manifest` on images fetched from local layouts. */
import assert from "node:assert/strict";
import { readdirSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { busyboxImage, multiLayerImage } from "../support/image-fixtures.js";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

const UNSIGNED = "--insecure-options=image";

async function fetched(t: import("node:test").TestContext, dir: string, kind: "busybox" | "multi"): Promise<string> {
  const layout = join(await tempDir(t), kind);
  if (kind === "busybox") await busyboxImage({ dir: layout });
  else await multiLayerImage({ dir: layout });
  const r = await runRkt(["fetch", UNSIGNED, layout], { dir });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

function countEntries(path: string): number {
  try {
    return readdirSync(path).length;
  } catch {
    return 0;
  }
}

test("image rm removes the image and content no other image uses, keeping shared content", async (t) => {
  const dir = await tempDir(t);
  const busybox = await fetched(t, dir, "busybox");
  const multi = await fetched(t, dir, "multi");
  const layersBefore = countEntries(join(dir, "cas", "layers", "sha256"));
  assert.equal(layersBefore, 4);
  const rm = await runRkt(["image", "rm", multi.slice(0, 16)], { dir });
  assert.equal(rm.code, 0, rm.stderr);
  assert.match(rm.stderr, /1 image\(s\) successfully removed/);
  assert.equal(countEntries(join(dir, "cas", "layers", "sha256")), 1);
  const list = JSON.parse((await runRkt(["image", "list", "--format=json"], { dir })).stdout) as { id: string }[];
  assert.deepEqual(list.map((i) => i.id.slice(0, 39)), [busybox]);
  const verify = await runRkt(["image", "verify", busybox], { dir });
  assert.equal(verify.code, 0, verify.stderr);
});

test("image rm of an unknown image fails with 254 and names it", async (t) => {
  const dir = await tempDir(t);
  const r = await runRkt(["image", "rm", "example.com/nothing:1"], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /example\.com\/nothing:1/);
});

test("image gc removes images unused for the grace period and keeps recent ones", async (t) => {
  const dir = await tempDir(t);
  await fetched(t, dir, "busybox");
  const keep = await runRkt(["image", "gc"], { dir });
  assert.equal(keep.code, 0, keep.stderr);
  assert.equal((JSON.parse((await runRkt(["image", "list", "--format=json"], { dir })).stdout) as unknown[]).length, 1);
  const gc = await runRkt(["image", "gc", "--grace-period=0s"], { dir });
  assert.equal(gc.code, 0, gc.stderr);
  assert.equal((JSON.parse((await runRkt(["image", "list", "--format=json"], { dir })).stdout) as unknown[]).length, 0);
  assert.equal(countEntries(join(dir, "cas", "blobs", "sha256")), 0);
  assert.equal(countEntries(join(dir, "cas", "layers", "sha256")), 0);
});

test("image verify detects a modified layer tree and a corrupt blob", async (t) => {
  const dir = await tempDir(t);
  const id = await fetched(t, dir, "multi");
  assert.equal((await runRkt(["image", "verify", id], { dir })).code, 0);
  const layers = join(dir, "cas", "layers", "sha256");
  const first = readdirSync(layers)[0] ?? "";
  writeFileSync(join(layers, first, "rootfs", "planted"), "x");
  const bad = await runRkt(["image", "verify", id], { dir });
  assert.equal(bad.code, 254);
  assert.match(bad.stderr, /modified/);
  const blobs = join(dir, "cas", "blobs", "sha256");
  const blob = readdirSync(blobs)[0] ?? "";
  writeFileSync(join(blobs, blob), "corrupt");
  const bad2 = await runRkt(["image", "verify", id], { dir });
  assert.match(bad2.stderr, /corrupt|missing/);
});

test("image extract writes manifest, config and rootfs; refuses a non-empty target without --overwrite", async (t) => {
  const dir = await tempDir(t);
  const id = await fetched(t, dir, "busybox");
  const out = join(await tempDir(t), "x");
  const r = await runRkt(["image", "extract", id, out], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.ok(existsSync(join(out, "manifest")));
  assert.ok(existsSync(join(out, "config")));
  assert.ok(existsSync(join(out, "rootfs", "bin", "busybox")));
  const again = await runRkt(["image", "extract", id, out], { dir });
  assert.equal(again.code, 254);
  assert.match(again.stderr, /--overwrite/);
  assert.equal((await runRkt(["image", "extract", "--overwrite", id, out], { dir })).code, 0);
});

test("cat-manifest prints the stored manifest; an ambiguous or unknown ID is an error", async (t) => {
  const dir = await tempDir(t);
  const id = await fetched(t, dir, "busybox");
  const m = await runRkt(["image", "cat-manifest", id], { dir });
  assert.equal(m.code, 0, m.stderr);
  assert.equal((JSON.parse(m.stdout) as { schemaVersion: number }).schemaVersion, 2);
  const unknown = await runRkt(["image", "cat-manifest", "sha256-ffffffffffff"], { dir });
  assert.equal(unknown.code, 254);
  assert.match(unknown.stderr, /sha256-ffffffffffff/);
});

test("unknown commands and flags fail with 254 and say what to do", async (t) => {
  const dir = await tempDir(t);
  const cmd = await runRkt(["imagez"], { dir });
  assert.equal(cmd.code, 254);
  assert.match(cmd.stderr, /unknown command/);
  const flag = await runRkt(["image", "list", "--colour"], { dir });
  assert.equal(flag.code, 254);
  assert.match(flag.stderr, /--colour/);
  const help = await runRkt(["help", "fetch"], { dir });
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--pull-policy/);
});
