import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { test } from "node:test";
import { gzipSync } from "node:zlib";
import { applyLayer, type ApplyLayerOptions } from "../../../src/image/layer/apply-layer.js";
import { treeDigest } from "../../../src/image/layer/tree-digest.js";
import { RktError } from "../../../src/lib/errors.js";
import { lgetxattr } from "../../../src/sys/libc.js";
import { buildLayer, FIXED_MTIME, type LayerEntry, streamOf } from "./build-layer.js";
import { withTempDir } from "./temp-dir.js";

const T = FIXED_MTIME.getTime();

async function apply(root: string, entries: readonly LayerEntry[], options: Partial<ApplyLayerOptions> = {}) {
  return applyLayer(streamOf(await buildLayer(entries)), { root, mode: "flatten", ...options });
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

function isInvalid(pattern: RegExp) {
  return (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && pattern.test(err.message);
}

test("applyLayer writes files and directories with their modes, owners and times", async () => {
  await withTempDir(async (root) => {
    await apply(root, [
      { name: "etc/", type: "directory", mode: 0o750, uid: 10, gid: 20, mtime: new Date(T - 5000) },
      { name: "etc/app.conf", content: "key=value\n", mode: 0o640, uid: 1000, gid: 1001, mtime: new Date(T - 1000) },
      { name: "bin/", type: "directory", mode: 0o2755 },
      { name: "bin/su", content: "#!/bin/sh\n", mode: 0o4755 },
      { name: "tmp/", type: "directory", mode: 0o1777 },
    ]);
    const conf = await stat(join(root, "etc/app.conf"));
    assert.equal(await readFile(join(root, "etc/app.conf"), "utf8"), "key=value\n");
    assert.equal(conf.mode & 0o7777, 0o640);
    assert.deepEqual([conf.uid, conf.gid], [1000, 1001]);
    assert.equal(conf.mtimeMs, T - 1000);
    const etc = await stat(join(root, "etc"));
    assert.equal(etc.mode & 0o7777, 0o750);
    assert.deepEqual([etc.uid, etc.gid], [10, 20]);
    assert.equal((await stat(join(root, "bin/su"))).mode & 0o7777, 0o4755);
    assert.equal((await stat(join(root, "bin"))).mode & 0o7777, 0o2755);
    assert.equal((await stat(join(root, "tmp"))).mode & 0o7777, 0o1777);
  });
});

test("applyLayer sets directory times after their children are written", async () => {
  await withTempDir(async (root) => {
    await apply(root, [
      { name: "d/", type: "directory", mtime: new Date(T - 86_400_000) },
      { name: "d/a", content: "a" },
      { name: "d/sub/", type: "directory", mtime: new Date(T - 2 * 86_400_000) },
      { name: "d/sub/b", content: "b" },
    ]);
    assert.equal((await stat(join(root, "d"))).mtimeMs, T - 86_400_000);
    assert.equal((await stat(join(root, "d/sub"))).mtimeMs, T - 2 * 86_400_000);
  });
});

test("applyLayer creates missing parent directories with mode 0755", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "usr/local/bin/tool", content: "x", mode: 0o755 }]);
    assert.equal((await stat(join(root, "usr/local"))).mode & 0o7777, 0o755);
    assert.equal(await readFile(join(root, "usr/local/bin/tool"), "utf8"), "x");
  });
});

test("applyLayer honours PAX uid, gid and mtime over the ustar fields", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "f", content: "x", uid: 1, gid: 2, pax: { uid: "3000000", gid: "3000001", mtime: "1600000000.5" } }]);
    const st = await lstat(join(root, "f"));
    assert.deepEqual([st.uid, st.gid], [3000000, 3000001]);
    assert.equal(st.mtimeMs, 1600000000500);
  });
});

test("applyLayer creates symlinks as stored, with their owner and time", async () => {
  await withTempDir(async (root) => {
    await apply(root, [
      { name: "etc/localtime", type: "symlink", linkname: "/usr/share/zoneinfo/UTC", uid: 5, gid: 6 },
      { name: "lib", type: "symlink", linkname: "usr/lib" },
    ]);
    assert.equal(await readlink(join(root, "etc/localtime")), "/usr/share/zoneinfo/UTC");
    assert.equal(await readlink(join(root, "lib")), "usr/lib");
    const st = await lstat(join(root, "etc/localtime"));
    assert.deepEqual([st.uid, st.gid, st.mtimeMs], [5, 6, T]);
  });
});

test("applyLayer creates hard links to files already in the tree", async () => {
  await withTempDir(async (root) => {
    await apply(root, [
      { name: "usr/bin/python3.11", content: "py", mode: 0o755 },
      { name: "usr/bin/python3", type: "link", linkname: "usr/bin/python3.11" },
      { name: "/usr/bin/python", type: "link", linkname: "/usr/bin/python3.11" },
    ]);
    const a = await stat(join(root, "usr/bin/python3.11"));
    const b = await stat(join(root, "usr/bin/python3"));
    const c = await stat(join(root, "usr/bin/python"));
    assert.equal(a.ino, b.ino);
    assert.equal(a.ino, c.ino);
    assert.equal(a.nlink, 3);
  });
});

test("applyLayer hard-links to a file from a lower layer in flatten mode", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "lower", content: "lower" }]);
    await apply(root, [{ name: "upper", type: "link", linkname: "lower" }]);
    assert.equal((await stat(join(root, "upper"))).ino, (await stat(join(root, "lower"))).ino);
  });
});

test("applyLayer rejects a hard link to a missing file or a directory", async () => {
  await withTempDir(async (root) => {
    await assert.rejects(apply(root, [{ name: "l", type: "link", linkname: "missing" }]), isInvalid(/"l" links to "missing", which does not exist/));
    await assert.rejects(
      apply(root, [{ name: "d/", type: "directory" }, { name: "l2", type: "link", linkname: "d" }]),
      isInvalid(/which is a directory/),
    );
  });
});

test("applyLayer creates character and block devices and fifos", async () => {
  await withTempDir(async (root) => {
    await apply(root, [
      { name: "dev/null", type: "character-device", devmajor: 1, devminor: 3, mode: 0o666 },
      { name: "dev/loop9", type: "block-device", devmajor: 7, devminor: 9, mode: 0o660, gid: 6 },
      { name: "run/fifo", type: "fifo", mode: 0o620 },
    ]);
    const n = await lstat(join(root, "dev/null"));
    assert.ok(n.isCharacterDevice());
    assert.equal(n.rdev, (1 << 8) | 3);
    assert.equal(n.mode & 0o7777, 0o666);
    const b = await lstat(join(root, "dev/loop9"));
    assert.ok(b.isBlockDevice());
    assert.equal(b.rdev, (7 << 8) | 9);
    assert.equal(b.gid, 6);
    const f = await lstat(join(root, "run/fifo"));
    assert.ok(f.isFIFO());
    assert.equal(f.mode & 0o7777, 0o620);
  });
});

test("applyLayer applies PAX xattrs with binary values intact and skips security labels and overlay attributes", async () => {
  await withTempDir(async (root) => {
    const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]);
    const binary = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x3d, 0xc3]);
    await apply(root, [
      { name: "text", content: "t", pax: { "SCHILY.xattr.user.comment": "hello wörld" } },
      {
        name: "bin/ping",
        content: "elf",
        mode: 0o755,
        rawPax: {
          "SCHILY.xattr.security.capability": capability,
          "SCHILY.xattr.trusted.blob": binary,
          "SCHILY.xattr.security.selinux": "system_u:object_r:bin_t:s0",
          "SCHILY.xattr.trusted.overlay.opaque": "y",
        },
      },
      { name: "dir/", type: "directory", rawPax: { "SCHILY.xattr.user.dir": "d", "SCHILY.xattr.user.overlay.redirect": "/x" } },
    ]);
    assert.equal(lgetxattr(join(root, "text"), "user.comment")?.toString("utf8"), "hello wörld");
    assert.deepEqual(lgetxattr(join(root, "bin/ping"), "security.capability"), capability);
    assert.deepEqual(lgetxattr(join(root, "bin/ping"), "trusted.blob"), binary);
    assert.equal(lgetxattr(join(root, "bin/ping"), "security.selinux"), undefined);
    assert.equal(lgetxattr(join(root, "bin/ping"), "trusted.overlay.opaque"), undefined);
    assert.equal(lgetxattr(join(root, "dir"), "user.dir")?.toString(), "d");
    assert.equal(lgetxattr(join(root, "dir"), "user.overlay.redirect"), undefined);
  });
});

test("applyLayer warns instead of failing when the file system refuses an xattr", async () => {
  await withTempDir(async (root) => {
    const warnings: string[] = [];
    // user.* xattrs are not allowed on symlinks (EPERM).
    await apply(root, [{ name: "s", type: "symlink", linkname: "t", pax: { "SCHILY.xattr.user.x": "1" } }], {
      onWarning: (m) => warnings.push(m),
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /user\.x not set/);
  });
});

test("applyLayer replaces a file with a directory and a directory tree with a file", async () => {
  await withTempDir(async (root) => {
    await apply(root, [
      { name: "a", content: "file" },
      { name: "b/", type: "directory" },
      { name: "b/deep/x", content: "x" },
    ]);
    await apply(root, [
      { name: "a/", type: "directory", mode: 0o700 },
      { name: "b", content: "now a file" },
    ]);
    assert.ok((await lstat(join(root, "a"))).isDirectory());
    assert.equal((await lstat(join(root, "a"))).mode & 0o7777, 0o700);
    assert.equal(await readFile(join(root, "b"), "utf8"), "now a file");
  });
});

test("applyLayer merges a directory entry into an existing directory and replaces its attributes", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "d/", type: "directory", mode: 0o755 }, { name: "d/keep", content: "k" }]);
    await apply(root, [{ name: "d/", type: "directory", mode: 0o711, uid: 7 }]);
    const d = await stat(join(root, "d"));
    assert.equal(d.mode & 0o7777, 0o711);
    assert.equal(d.uid, 7);
    assert.equal(await readFile(join(root, "d/keep"), "utf8"), "k");
  });
});

test("applyLayer replaces a hard-linked file instead of writing through the link", async () => {
  await withTempDir(async (root) => {
    await apply(root, [
      { name: "original", content: "original" },
      { name: "alias", type: "link", linkname: "original" },
      { name: "alias", content: "replaced" },
    ]);
    assert.equal(await readFile(join(root, "original"), "utf8"), "original");
    assert.equal(await readFile(join(root, "alias"), "utf8"), "replaced");
  });
});

test("applyLayer applies metadata of a ./ entry to the root itself", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "./", type: "directory", mode: 0o751 }]);
    assert.equal((await stat(root)).mode & 0o7777, 0o751);
  });
});

test("applyLayer removes a file named by a whiteout", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "etc/" , type: "directory" }, { name: "etc/my-app-config", content: "c" }, { name: "etc/other", content: "o" }]);
    await apply(root, [{ name: "etc/.wh.my-app-config", content: "" }]);
    assert.equal(await exists(join(root, "etc/my-app-config")), false);
    assert.equal(await exists(join(root, "etc/other")), true);
    assert.equal(await exists(join(root, "etc/.wh.my-app-config")), false);
  });
});

test("applyLayer removes a whole directory named by a whiteout", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "a/b/c/bar", content: "bar" }, { name: "a/keep", content: "k" }]);
    await apply(root, [{ name: "a/.wh.b" }]);
    assert.deepEqual(await readdir(join(root, "a")), ["keep"]);
  });
});

test("applyLayer removes a whited-out symlink itself, not its target", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "target/file", content: "t" }, { name: "link", type: "symlink", linkname: "/target" }]);
    await apply(root, [{ name: ".wh.link" }]);
    assert.equal(await exists(join(root, "link")), false);
    assert.equal(await readFile(join(root, "target/file"), "utf8"), "t");
  });
});

for (const order of ["before", "after"] as const) {
  test(`applyLayer opaque whiteout (${order} the new children) removes lower children but keeps this layer's`, async () => {
    await withTempDir(async (root) => {
      // layer.md "Whiteouts": a/b is deleted and recreated with a/b/c/foo.
      await apply(root, [{ name: "a/", type: "directory" }, { name: "a/b/c/bar", content: "bar" }, { name: "a/lower", content: "l" }]);
      const opq: LayerEntry = { name: "a/.wh..wh..opq" };
      const rest: LayerEntry[] = [{ name: "a/b/", type: "directory" }, { name: "a/b/c/", type: "directory" }, { name: "a/b/c/foo", content: "foo" }];
      await apply(root, order === "before" ? [{ name: "a/", type: "directory" }, opq, ...rest] : [{ name: "a/", type: "directory" }, ...rest, opq]);
      assert.deepEqual(await readdir(join(root, "a")), ["b"]);
      assert.deepEqual(await readdir(join(root, "a/b/c")), ["foo"]);
      assert.equal(await exists(join(root, "a/.wh..wh..opq")), false);
    });
  });
}

test("applyLayer opaque whiteout at the end keeps files this layer put below an implicit directory", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "bin/old", content: "o" }, { name: "bin/tools/one", content: "1" }]);
    await apply(root, [{ name: "bin/tools/two", content: "2" }, { name: "bin/.wh..wh..opq" }]);
    assert.deepEqual(await readdir(join(root, "bin")), ["tools"]);
    assert.deepEqual(await readdir(join(root, "bin/tools")), ["two"]);
  });
});

test("applyLayer whiteout does not remove a file the same layer adds, whatever the order", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "x", content: "lower" }, { name: "d/lower", content: "l" }]);
    await apply(root, [
      { name: "x", content: "upper" },
      { name: ".wh.x" },
      { name: "d/", type: "directory" },
      { name: "d/mine", content: "m" },
      { name: ".wh.d" },
    ]);
    assert.equal(await readFile(join(root, "x"), "utf8"), "upper");
    // The lower d is gone; this layer's d and its child stay.
    assert.deepEqual(await readdir(join(root, "d")), ["mine"]);
  });
});

test("applyLayer creates the directory a whiteout lives in", async () => {
  await withTempDir(async (root) => {
    await apply(root, [{ name: "new/dir/.wh.nothing" }]);
    assert.deepEqual(await readdir(join(root, "new/dir")), []);
  });
});

test("applyLayer ignores AUFS metadata whiteouts", async () => {
  await withTempDir(async (root) => {
    const warnings: string[] = [];
    await apply(root, [{ name: ".wh..wh.plnk/", type: "directory" }, { name: ".wh..wh.aufs", content: "" }, { name: "f", content: "f" }], {
      onWarning: (m) => warnings.push(m),
    });
    assert.deepEqual(await readdir(root), ["f"]);
    assert.equal(warnings.length, 2);
  });
});

test("applyLayer counts entries and bytes of file content", async () => {
  await withTempDir(async (root) => {
    const result = await apply(root, [
      { name: "d/", type: "directory" },
      { name: "d/a", content: Buffer.alloc(1000) },
      { name: "d/b", content: Buffer.alloc(234) },
      { name: "d/.wh.c" },
    ]);
    assert.deepEqual(result, { entries: 4, bytes: 1234 });
  });
});

test("applyLayer reads gzip and zstd compressed layers", async () => {
  await withTempDir(async (dir) => {
    const tar = await buildLayer([{ name: "hello", content: "hi" }]);
    const zst = spawnSync("zstd", ["-c", "-q"], { input: tar }).stdout;
    for (const [name, blob, mediaType] of [
      ["gzip", gzipSync(tar), "application/vnd.oci.image.layer.v1.tar+gzip"],
      ["zstd", zst, "application/vnd.oci.image.layer.v1.tar+zstd"],
      ["plain", tar, undefined],
    ] as const) {
      const root = join(dir, name);
      await mkdir(root);
      await applyLayer(streamOf(blob), { root, mode: "flatten", ...(mediaType === undefined ? {} : { mediaType }) });
      assert.equal(await readFile(join(root, "hello"), "utf8"), "hi", name);
    }
  });
});

test("applyLayer gives the same tree whatever the chunk size of the input", async () => {
  await withTempDir(async (dir) => {
    const tar = await buildLayer([
      { name: "a/", type: "directory" },
      { name: "a/long-" + "x".repeat(150), content: Buffer.alloc(777, 1) },
      { name: "a/caps", content: "c", rawPax: { "SCHILY.xattr.trusted.v": Buffer.from([0, 1, 2, 255]) } },
      { name: "a/link", type: "symlink", linkname: "caps", pax: { "SCHILY.xattr.trusted.l": "l" } },
      { name: "b", content: Buffer.alloc(5000, 2), pax: { "SCHILY.xattr.user.b": "b" } },
    ]);
    const digests: string[] = [];
    for (const size of [1, 7, 511, 512, 513, 1 << 20]) {
      const root = join(dir, String(size));
      await mkdir(root);
      await applyLayer(streamOf(tar, size), { root, mode: "flatten" });
      digests.push(await treeDigest(root));
    }
    assert.equal(new Set(digests).size, 1);
    assert.deepEqual(lgetxattr(join(dir, "7", "a/caps"), "trusted.v"), Buffer.from([0, 1, 2, 255]));
  });
});

test("applyLayer rejects an entry outside the root, names it, and destroys the input", async () => {
  await withTempDir(async (root) => {
    const input = streamOf(await buildLayer([{ name: "ok", content: "fine" }, { name: "../escape", content: "x" }, { name: "later", content: "y" }]));
    await assert.rejects(applyLayer(input, { root, mode: "flatten" }), isInvalid(/"\.\.\/escape" contains "\.\."/));
    assert.equal(input.destroyed, true);
    assert.equal(await exists(join(root, "later")), false);
  });
});

test("applyLayer rejects a truncated tar", async () => {
  await withTempDir(async (root) => {
    const tar = await buildLayer([{ name: "big", content: Buffer.alloc(10_000) }]);
    await assert.rejects(applyLayer(streamOf(tar.subarray(0, 3000)), { root, mode: "flatten" }), isInvalid(/not a valid tar: Unexpected end of data/));
  });
});

test("applyLayer stops when the signal aborts and destroys the input", async () => {
  await withTempDir(async (root) => {
    const tar = await buildLayer([{ name: "a", content: Buffer.alloc(100_000) }, { name: "b", content: "b" }]);
    const input = new PassThrough();
    input.write(tar.subarray(0, 20_000)); // never finished
    const controller = new AbortController();
    const done = applyLayer(input, { root, mode: "flatten", signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(done, (err: unknown) => err instanceof Error && err.name === "AbortError");
    assert.equal(input.destroyed, true);
    assert.equal(await exists(join(root, "b")), false);
  });
});

test("applyLayer refuses an already aborted signal without reading", async () => {
  await withTempDir(async (root) => {
    const input = Readable.from([await buildLayer([{ name: "a", content: "a" }])]);
    await assert.rejects(applyLayer(input, { root, mode: "flatten", signal: AbortSignal.abort() }));
    assert.equal(input.destroyed, true);
    assert.deepEqual(await readdir(root), []);
  });
});

test("applyLayer refuses a root that is not empty in overlay mode", async () => {
  await withTempDir(async (root) => {
    await writeFile(join(root, "x"), "x");
    await assert.rejects(
      applyLayer(streamOf(await buildLayer([])), { root, mode: "overlay" }),
      (err: unknown) => err instanceof RktError && err.kind === "failed-precondition",
    );
  });
});
