import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { compressionOfMediaType, decompress, sniffCompression } from "../../../src/image/layer/decompress.js";
import { RktError } from "../../../src/lib/errors.js";
import { buildLayer, streamOf } from "./build-layer.js";
import { withTempDir } from "./temp-dir.js";

function zstdCompress(data: Buffer): Buffer {
  const r = spawnSync("zstd", ["-c", "-q"], { input: data, maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `zstd failed: ${r.stderr.toString()}`);
  return r.stdout;
}

async function collect(input: Readable, options: Parameters<typeof decompress>[0] = {}): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    input,
    decompress(options),
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk);
        cb();
      },
    }),
  );
  return Buffer.concat(chunks);
}

async function sampleTar(): Promise<Buffer> {
  return buildLayer([
    { name: "hello.txt", content: "hello world\n" },
    { name: "big.bin", content: Buffer.alloc(300_000, 7) },
  ]);
}

test("compressionOfMediaType knows the OCI and Docker layer media types", () => {
  assert.equal(compressionOfMediaType("application/vnd.oci.image.layer.v1.tar"), "none");
  assert.equal(compressionOfMediaType("application/vnd.oci.image.layer.v1.tar+gzip"), "gzip");
  assert.equal(compressionOfMediaType("application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"), "zstd");
  assert.equal(compressionOfMediaType("application/vnd.docker.image.rootfs.diff.tar.gzip"), "gzip");
  assert.equal(compressionOfMediaType("application/vnd.oci.image.layer.v1.tar+bzip2"), undefined);
});

test("sniffCompression reads the gzip and zstd magic numbers", () => {
  assert.equal(sniffCompression(Buffer.from([0x1f, 0x8b, 0x08, 0x00])), "gzip");
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5, 0x2f, 0xfd])), "zstd");
  assert.equal(sniffCompression(Buffer.from("etc/")), "none");
  assert.equal(sniffCompression(Buffer.from([0x28, 0xb5])), "none");
});

test("decompress passes a plain tar through unchanged", async () => {
  const tar = await sampleTar();
  assert.deepEqual(await collect(streamOf(tar, 1000)), tar);
});

test("decompress passes inputs shorter than a magic number through", async () => {
  assert.deepEqual(await collect(Readable.from([Buffer.from([0x1f])])), Buffer.from([0x1f]));
  assert.deepEqual(await collect(Readable.from([])), Buffer.alloc(0));
});

test("decompress gunzips gzip content found by its magic bytes, even split into tiny chunks", async () => {
  const tar = await sampleTar();
  assert.deepEqual(await collect(streamOf(gzipSync(tar), 1)), tar);
});

test("decompress decompresses zstd through the zstd binary", async () => {
  const tar = await sampleTar();
  assert.deepEqual(await collect(streamOf(zstdCompress(tar), 3000), { mediaType: "application/vnd.oci.image.layer.v1.tar+zstd" }), tar);
});

test("decompress trusts the content's magic bytes over the media type", async () => {
  const tar = await sampleTar();
  assert.deepEqual(await collect(streamOf(tar), { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip" }), tar);
  assert.deepEqual(await collect(streamOf(gzipSync(tar)), { mediaType: "application/vnd.oci.image.layer.v1.tar" }), tar);
});

test("decompress refuses a media type it cannot read", () => {
  assert.throws(
    () => decompress({ mediaType: "application/vnd.oci.image.layer.v1.tar+bzip2" }),
    (err: unknown) => err instanceof RktError && err.kind === "unimplemented",
  );
});

test("decompress fails with a clear error on corrupt gzip data", async () => {
  const gz = gzipSync(await sampleTar());
  gz.fill(0x55, 20, 200);
  await assert.rejects(collect(streamOf(gz)), (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /gzip/.test(err.message));
});

test("decompress fails with zstd's exit status on corrupt or truncated zstd data", async () => {
  const zst = zstdCompress(await sampleTar());
  await assert.rejects(
    collect(streamOf(zst.subarray(0, Math.floor(zst.length / 2)))),
    (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /zstd failed \(exit status \d+\)/.test(err.message),
  );
  const corrupt = Buffer.from(zst);
  corrupt.fill(0xaa, 8, corrupt.length);
  await assert.rejects(collect(streamOf(corrupt)), (err: unknown) => err instanceof RktError && /zstd failed/.test(err.message));
});

test("decompress says how to install zstd when it is missing", async () => {
  const zst = zstdCompress(await sampleTar());
  await assert.rejects(
    collect(streamOf(zst), { zstdPath: "/nonexistent/zstd" }),
    (err: unknown) => err instanceof RktError && err.kind === "failed-precondition" && err.hint !== undefined && /apt-get install zstd/.test(err.hint),
  );
});

test("decompress kills the zstd child when the signal aborts", async () => {
  await withTempDir(async (dir) => {
    // A stand-in for zstd that records its pid and never finishes.
    const fake = join(dir, "fake-zstd");
    const pidFile = join(dir, "pid");
    await writeFile(fake, `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 600\n`);
    await chmod(fake, 0o755);
    const controller = new AbortController();
    const input = new PassThrough();
    input.write(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0])); // zstd magic, then nothing
    const done = collect(input, { zstdPath: fake, signal: controller.signal });
    let pid = 0;
    for (let i = 0; i < 200 && pid === 0; i++) {
      await sleep(10);
      pid = Number((await readFile(pidFile, "utf8").catch(() => "0")).trim());
    }
    assert.ok(pid > 0, "the fake zstd never started");
    controller.abort();
    await assert.rejects(done, (err: unknown) => err instanceof Error && err.name === "AbortError");
    let alive = true;
    for (let i = 0; i < 200 && alive; i++) {
      await sleep(10);
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
    }
    if (alive) process.kill(pid, "SIGKILL");
    assert.equal(alive, false, "zstd child still running after abort");
  });
});

test("decompress kills the zstd child when the stream is destroyed", async () => {
  await withTempDir(async (dir) => {
    const fake = join(dir, "fake-zstd");
    const pidFile = join(dir, "pid");
    await writeFile(fake, `#!/bin/sh\necho $$ > ${pidFile}\nexec sleep 600\n`);
    await chmod(fake, 0o755);
    const stream = decompress({ zstdPath: fake });
    stream.on("error", () => undefined);
    stream.write(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]));
    let pid = 0;
    for (let i = 0; i < 200 && pid === 0; i++) {
      await sleep(10);
      pid = Number((await readFile(pidFile, "utf8").catch(() => "0")).trim());
    }
    assert.ok(pid > 0, "the fake zstd never started");
    stream.destroy();
    let alive = true;
    for (let i = 0; i < 200 && alive; i++) {
      await sleep(10);
      try {
        process.kill(pid, 0);
      } catch {
        alive = false;
      }
    }
    if (alive) process.kill(pid, "SIGKILL");
    assert.equal(alive, false, "zstd child still running after destroy");
  });
});
