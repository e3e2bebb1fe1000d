import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { ImageStore } from "../../../src/image/store/image-store.js";
import { RktError } from "../../../src/lib/errors.js";
import { tempDir } from "../../support/tmp.js";

function digestOf(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

test("ingestBlob stores content under its digest after verifying it", async (t) => {
  const store = ImageStore.open(await tempDir(t));
  const data = Buffer.from("hello layer");
  const digest = digestOf(data);
  await store.ingestBlob({ digest, size: data.length }, () => Promise.resolve(Readable.from([data])));
  assert.ok(store.hasBlob(digest));
  assert.deepEqual(store.readBlob(digest), data);
});

test("ingestBlob refuses content whose digest differs and leaves nothing behind", async (t) => {
  const store = ImageStore.open(await tempDir(t));
  const data = Buffer.from("tampered");
  const digest = digestOf(Buffer.from("original"));
  await assert.rejects(
    store.ingestBlob({ digest, size: data.length }, () => Promise.resolve(Readable.from([data]))),
    (err: unknown) => err instanceof RktError && err.kind === "data-loss",
  );
  assert.equal(store.hasBlob(digest), false);
  assert.deepEqual(readdirSync(store.paths.tmp).filter((n) => !n.endsWith(".lck")), []);
});

test("ingestBlob stops a body that runs past the promised size", async (t) => {
  const store = ImageStore.open(await tempDir(t));
  const data = Buffer.alloc(1024, 1);
  await assert.rejects(store.ingestBlob({ digest: digestOf(data.subarray(0, 10)), size: 10 }, () => Promise.resolve(Readable.from([data]))));
  assert.equal(store.hasBlob(digestOf(data.subarray(0, 10))), false);
});

test("ingestBlob of a truncated body fails and the blob does not count as present", async (t) => {
  const store = ImageStore.open(await tempDir(t));
  const data = Buffer.alloc(4096, 7);
  const digest = digestOf(data);
  const truncated = (): Promise<Readable> =>
    Promise.resolve(
      new Readable({
        read() {
          this.push(data.subarray(0, 1000));
          this.destroy(new Error("connection reset"));
        },
      }),
    );
  await assert.rejects(store.ingestBlob({ digest, size: data.length }, truncated));
  assert.equal(store.hasBlob(digest), false);
});

test("two concurrent ingests of the same blob both succeed", async (t) => {
  const store = ImageStore.open(await tempDir(t));
  const data = Buffer.alloc(1 << 20, 3);
  const digest = digestOf(data);
  const open = (): Promise<Readable> => Promise.resolve(Readable.from([data.subarray(0, 1 << 19), data.subarray(1 << 19)]));
  await Promise.all([store.ingestBlob({ digest, size: data.length }, open), store.ingestBlob({ digest, size: data.length }, open)]);
  assert.deepEqual(store.readBlob(digest), data);
});

test("sweepTmp removes work whose owner is gone and keeps live work", async (t) => {
  const store = ImageStore.open(await tempDir(t));
  const live = store.tmpEntry("live");
  const dead = store.tmpEntry("dead");
  // Simulate a process that died mid-write: its lock is released but the entry stays.
  await import("node:fs/promises").then((fs) => fs.writeFile(dead.path, "partial"));
  await import("node:fs/promises").then((fs) => fs.writeFile(live.path, "in progress"));
  dead.release();
  // release() removes the lock file; recreate the dead entry's unlocked lock file as a crash would leave it
  await import("node:fs/promises").then((fs) => fs.writeFile(`${dead.path}.lck`, ""));
  assert.equal(store.sweepTmp(), 1);
  assert.equal(existsSync(dead.path), false);
  assert.equal(existsSync(live.path), true);
  live.dispose();
  assert.equal(existsSync(live.path), false);
});

test("names point at one image each and move when re-set", async (t) => {
  const store = ImageStore.open(await tempDir(t));
  const a = `sha256:${"a".repeat(64)}`;
  const b = `sha256:${"b".repeat(64)}`;
  store.setRef("example.com/app:1", a);
  store.setRef("example.com/app:latest", a);
  assert.deepEqual(store.namesOf(a), ["example.com/app:1", "example.com/app:latest"]);
  store.setRef("example.com/app:latest", b);
  assert.deepEqual(store.namesOf(a), ["example.com/app:1"]);
  assert.equal(store.getRef("example.com/app:latest")?.id, b);
});

test("a damaged image record is reported as data loss with a hint", async (t) => {
  const dir = await tempDir(t);
  const store = ImageStore.open(dir);
  const id = `sha256:${"c".repeat(64)}`;
  await import("node:fs/promises").then(async (fs) => {
    await fs.mkdir(join(dir, "cas", "images"), { recursive: true });
    await fs.writeFile(store.paths.image(id), "{not json");
  });
  assert.throws(() => store.getImage(id), (err: unknown) => err instanceof RktError && err.kind === "data-loss" && err.hint !== undefined);
  assert.deepEqual(store.listImages(), []);
});
