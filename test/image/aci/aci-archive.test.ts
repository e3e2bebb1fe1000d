import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { applyLayer } from "../../../src/image/layer/apply-layer.js";
import { ACI_COMPRESSIONS, decompress, sniffCompression } from "../../../src/image/layer/decompress.js";
import { RktError } from "../../../src/lib/errors.js";
import { layerTar } from "../../support/layer-tar.js";
import { tempDir } from "../../support/tmp.js";
import { aciTar, compressAci, manifestFor } from "./aci-fixture.js";

async function decompressed(data: Buffer, options: Parameters<typeof decompress>[0]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await pipeline(
    Readable.from([data]),
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

test("sniffCompression finds bzip2 and xz only when asked, so layers keep their reading", async () => {
  const tar = await aciTar(manifestFor("example.com/x", "1"), []);
  const bz = await compressAci(tar, "bzip2");
  const xz = await compressAci(tar, "xz");
  assert.equal(sniffCompression(bz, ACI_COMPRESSIONS), "bzip2");
  assert.equal(sniffCompression(xz, ACI_COMPRESSIONS), "xz");
  assert.equal(sniffCompression(bz), "none");
  assert.equal(sniffCompression(xz), "none");
  assert.equal(sniffCompression(Buffer.from("BZh0abc"), ACI_COMPRESSIONS), "none", "'BZh' needs a block size digit 1-9");
  assert.equal(sniffCompression(tar, ACI_COMPRESSIONS), "none");
});

test("decompress reads bzip2 and xz through the real tools, and [] passes everything through", async () => {
  const tar = await aciTar(manifestFor("example.com/x", "1"), [{ type: "file", path: "f", content: Buffer.alloc(300_000, 3) }]);
  for (const c of ["gzip", "bzip2", "xz"] as const) {
    assert.deepEqual(await decompressed(await compressAci(tar, c), { compressions: ACI_COMPRESSIONS }), tar, c);
  }
  const gz = await compressAci(tar, "gzip");
  assert.deepEqual(await decompressed(gz, { compressions: [] }), gz, "no compressions: bytes as they are");
});

test("decompress names the ACI and the tool when bzip2 data is corrupt or the tool is missing", async () => {
  const bz = await compressAci(await aciTar(manifestFor("example.com/x", "1"), [{ type: "file", path: "f", content: "x".repeat(10_000) }]), "bzip2");
  const corrupt = Buffer.from(bz);
  corrupt.fill(0x11, 20, corrupt.length - 10);
  await assert.rejects(
    decompressed(corrupt, { compressions: ACI_COMPRESSIONS, what: "ACI" }),
    (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /^decompressing bzip2 ACI: bzip2 failed \(exit status \d+\)/.test(err.message),
  );
  await assert.rejects(
    decompressed(await compressAci(Buffer.from("data"), "xz"), { compressions: ACI_COMPRESSIONS, what: "ACI", xzPath: "/nonexistent/xz" }),
    (err: unknown) => err instanceof RktError && err.kind === "failed-precondition" && /apt-get install xz-utils/.test(err.hint ?? ""),
  );
});

test("applyLayer with archive aci unpacks rootfs/ only and hands back the manifest", async (t) => {
  const dir = await tempDir(t);
  const root = join(dir, "root");
  mkdirSync(root);
  const manifest = manifestFor("example.com/x", "1");
  const tar = await aciTar(manifest, [
    { type: "file", path: "etc/hostname", content: "x\n" },
    { type: "file", path: ".wh.etc", content: "a file, not a whiteout" },
    { type: "hardlink", path: "etc/name", target: "etc/hostname" },
  ]);
  const result = await applyLayer(Readable.from([tar]), { root, mode: "overlay", archive: "aci" });
  assert.deepEqual(result.aci, { manifest: Buffer.from(JSON.stringify(manifest)), rootfs: true });
  assert.deepEqual(readdirSync(root).sort(), [".wh.etc", "etc"]);
  assert.equal(readFileSync(join(root, "etc/name"), "utf8"), "x\n");
  assert.equal(readFileSync(join(root, ".wh.etc"), "utf8"), "a file, not a whiteout");

  // The same tar as an OCI layer: "manifest" is a file, rootfs/ a directory, .wh.etc a whiteout.
  const asLayer = join(dir, "layer");
  mkdirSync(asLayer);
  const plain = await applyLayer(Readable.from([tar]), { root: asLayer, mode: "flatten" });
  assert.equal(plain.aci, undefined);
  assert.deepEqual(readdirSync(asLayer).sort(), ["manifest", "rootfs"]);
});

test("applyLayer with archive aci refuses what an ACI may not hold", async (t) => {
  const dir = await tempDir(t);
  const cases: { name: string; entries: Parameters<typeof layerTar>[0]; message: RegExp }[] = [
    { name: "rootfs as a file", entries: [{ type: "file", path: "rootfs", content: "x" }], message: /"rootfs" must be a directory/ },
    { name: "manifest as a directory", entries: [{ type: "dir", path: "manifest" }], message: /"manifest\/" must be a regular file/ },
    { name: "a third top-level name", entries: [{ type: "dir", path: "rootfs" }, { type: "file", path: "README", content: "x" }], message: /"README" is outside "rootfs\/"/ },
    { name: "a link to the manifest", entries: [{ type: "file", path: "manifest", content: "{}" }, { type: "hardlink", path: "rootfs/m", target: "manifest" }], message: /links to "manifest", which is outside "rootfs\/"/ },
    { name: "compressed content", entries: [], message: /ACI is not a valid tar|bad header checksum|malformed/ },
  ];
  for (const [i, c] of cases.entries()) {
    const root = join(dir, `root-${i}`);
    mkdirSync(root);
    const tar = c.entries.length === 0 ? await compressAci(await aciTar(manifestFor("example.com/x", "1"), []), "gzip") : await layerTar(c.entries);
    await assert.rejects(
      applyLayer(Readable.from([tar]), { root, mode: "overlay", archive: "aci" }),
      (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && c.message.test(err.message),
      c.name,
    );
  }
});
