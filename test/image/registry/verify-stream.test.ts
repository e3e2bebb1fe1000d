import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { VerifyStream } from "../../../src/image/fetch/verify-stream.js";

const content = Buffer.from("the quick brown fox jumps over the lazy dog\n".repeat(1000));
const sha256 = `sha256:${createHash("sha256").update(content).digest("hex")}`;
const sha512 = `sha512:${createHash("sha512").update(content).digest("hex")}`;

/** Streams `bytes` in small chunks through a VerifyStream; resolves with what came out. */
async function run(bytes: Buffer, verify: VerifyStream): Promise<Buffer> {
  const out: Buffer[] = [];
  const chunks = Array.from({ length: Math.ceil(bytes.length / 1000) }, (_, i) => bytes.subarray(i * 1000, (i + 1) * 1000));
  await pipeline(
    Readable.from(chunks),
    verify,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        out.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

async function rejectsDataLoss(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, "data-loss");
    assert.match(err.message, message);
    return true;
  });
}

test("VerifyStream passes content through when size and digest match", async () => {
  const verify = new VerifyStream({ digest: sha256, size: content.length });
  assert.deepEqual(await run(content, verify), content);
  assert.equal(verify.bytes, content.length);
});

test("VerifyStream hashes with sha512 when the digest says so", async () => {
  assert.deepEqual(await run(content, new VerifyStream({ digest: sha512, size: content.length })), content);
});

test("VerifyStream checks only the digest when no size is given", async () => {
  assert.deepEqual(await run(content, new VerifyStream({ digest: sha256 })), content);
});

test("VerifyStream fails on short content, naming the digest and counts", async () => {
  await rejectsDataLoss(run(content.subarray(0, 100), new VerifyStream({ digest: sha256, size: content.length })), new RegExp(`${sha256}.*truncated: got 100 of ${content.length}`));
});

test("VerifyStream fails as soon as content exceeds the size", async () => {
  const verify = new VerifyStream({ digest: sha256, size: 1500 });
  await rejectsDataLoss(run(content, verify), new RegExp(`${sha256} is longer than the expected 1500 bytes`));
  assert.ok(verify.bytes <= 2000, "stopped at the first chunk past the size");
});

test("VerifyStream fails when the digest differs", async () => {
  const tampered = Buffer.from(content);
  tampered[10] = 0x58;
  await rejectsDataLoss(run(tampered, new VerifyStream({ digest: sha256, size: content.length })), /does not match its digest: expected sha256:/);
});

test("VerifyStream refuses a digest it cannot verify", () => {
  assert.throws(() => new VerifyStream({ digest: "md5:abcd", size: 1 }), /cannot verify/);
  assert.throws(() => new VerifyStream({ digest: sha256, size: -1 }), /non-negative integer/);
});

test("VerifyStream accepts empty content of size zero", async () => {
  const empty = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  assert.equal((await run(Buffer.alloc(0), new VerifyStream({ digest: empty, size: 0 }))).length, 0);
});
