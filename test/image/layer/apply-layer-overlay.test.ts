import assert from "node:assert/strict";
import { chmod, lstat, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { applyLayer } from "../../../src/image/layer/apply-layer.js";
import { treeDigest } from "../../../src/image/layer/tree-digest.js";
import { RktError } from "../../../src/lib/errors.js";
import { lgetxattr } from "../../../src/sys/libc.js";
import { buildLayer, type LayerEntry, streamOf } from "./build-layer.js";
import { withOverlayMount, withTempDir } from "./temp-dir.js";

/** Unpacks each layer into its own directory under `dir` (overlay mode); returns them bottom first. */
async function unpackLayers(dir: string, layers: readonly (readonly LayerEntry[])[]): Promise<string[]> {
  const roots: string[] = [];
  for (const [i, entries] of layers.entries()) {
    const root = join(dir, `layer${i}`);
    await mkdir(root);
    await applyLayer(streamOf(await buildLayer(entries)), { root, mode: "overlay" });
    roots.push(root);
  }
  return roots;
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

async function isWhiteout(path: string): Promise<boolean> {
  const st = await lstat(path);
  return st.isCharacterDevice() && st.rdev === 0;
}

function opaque(path: string): string | undefined {
  return lgetxattr(path, "trusted.overlay.opaque")?.toString();
}

test("applyLayer in overlay mode turns .wh.NAME into a 0/0 character device and never creates .wh. files", async () => {
  await withTempDir(async (dir) => {
    const [root] = await unpackLayers(dir, [[{ name: "etc/", type: "directory" }, { name: "etc/.wh.passwd" }, { name: ".wh.tmp" }]]);
    assert.ok(await isWhiteout(join(root!, "etc/passwd")));
    assert.ok(await isWhiteout(join(root!, "tmp")));
    assert.deepEqual((await readdir(root!)).sort(), ["etc", "tmp"]);
  });
});

test("applyLayer in overlay mode marks opaque directories with trusted.overlay.opaque=y", async () => {
  await withTempDir(async (dir) => {
    const [root] = await unpackLayers(dir, [
      [{ name: "a/", type: "directory" }, { name: "a/new", content: "n" }, { name: "a/.wh..wh..opq" }, { name: "implicit/.wh..wh..opq" }],
    ]);
    assert.equal(opaque(join(root!, "a")), "y");
    assert.equal(opaque(join(root!, "implicit")), "y");
    assert.deepEqual(await readdir(join(root!, "a")), ["new"]);
  });
});

test("applyLayer in overlay mode makes a directory recreated after its whiteout opaque", async () => {
  await withTempDir(async (dir) => {
    const [root] = await unpackLayers(dir, [[{ name: ".wh.d" }, { name: "d/", type: "directory" }, { name: ".wh.e" }, { name: "e/child", content: "c" }]]);
    assert.ok((await lstat(join(root!, "d"))).isDirectory());
    assert.equal(opaque(join(root!, "d")), "y");
    assert.equal(opaque(join(root!, "e")), "y");
    assert.equal(await readFile(join(root!, "e/child"), "utf8"), "c");
  });
});

test("applyLayer in overlay mode: a whiteout of this layer's own directory makes it opaque, of its own file does nothing", async () => {
  await withTempDir(async (dir) => {
    const [root] = await unpackLayers(dir, [[{ name: "d/mine", content: "m" }, { name: ".wh.d" }, { name: "f", content: "f" }, { name: ".wh.f" }]]);
    assert.equal(opaque(join(root!, "d")), "y");
    assert.equal(await readFile(join(root!, "d/mine"), "utf8"), "m");
    assert.equal(await readFile(join(root!, "f"), "utf8"), "f");
  });
});

test("applyLayer in overlay mode refuses a hard link to a file of a lower layer", async () => {
  await withTempDir(async (dir) => {
    await assert.rejects(
      unpackLayers(dir, [[{ name: "lower", content: "l" }], [{ name: "l", type: "link", linkname: "lower" }]]),
      (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /in overlay mode: in this layer/.test(err.message),
    );
  });
});

/** Layers exercising every kind of change, with explicit directory entries (see below). */
const STACK: readonly (readonly LayerEntry[])[] = [
  [
    { name: "./", type: "directory", mode: 0o755 },
    { name: "etc/", type: "directory" },
    { name: "etc/my-app-config", content: "old config" },
    { name: "etc/keep", content: "keep" },
    { name: "bin/", type: "directory" },
    { name: "bin/my-app-binary", content: "bin", mode: 0o755 },
    { name: "bin/my-app-tools", content: "tools v1", mode: 0o755 },
    { name: "bin/tools/", type: "directory" },
    { name: "bin/tools/my-app-tool-one", content: "one" },
    { name: "a/", type: "directory" },
    { name: "a/b/", type: "directory" },
    { name: "a/b/c/", type: "directory" },
    { name: "a/b/c/bar", content: "bar" },
    { name: "gone/", type: "directory" },
    { name: "gone/deep", content: "deep" },
    { name: "lib", type: "symlink", linkname: "usr/lib" },
  ],
  [
    { name: "./", type: "directory", mode: 0o755 },
    // layer.md "Representing Changes"
    { name: "etc/", type: "directory" },
    { name: "etc/my-app.d/", type: "directory" },
    { name: "etc/my-app.d/default.cfg", content: "cfg" },
    { name: "bin/", type: "directory" },
    { name: "bin/my-app-tools", content: "tools v2", mode: 0o755 },
    { name: "etc/.wh.my-app-config" },
    // layer.md "Whiteouts": opaque marker after the new children
    { name: "a/", type: "directory" },
    { name: "a/b/", type: "directory" },
    { name: "a/b/c/", type: "directory" },
    { name: "a/b/c/foo", content: "foo" },
    { name: "a/.wh..wh..opq" },
    { name: ".wh.gone" },
    { name: ".wh.lib" },
  ],
  [
    { name: "./", type: "directory", mode: 0o755 },
    // layer.md "Opaque Whiteout": all children of bin/ removed
    { name: "bin/", type: "directory" },
    { name: "bin/.wh..wh..opq" },
    { name: "gone/", type: "directory", mode: 0o700 },
    { name: "gone/again", content: "again" },
  ],
];

test("applyLayer in overlay mode: a merged overlayfs mount shows deletions and opaque directories", async () => {
  await withTempDir(async (dir) => {
    const layers = await unpackLayers(dir, STACK);
    const merged = join(dir, "merged");
    await mkdir(merged);
    await withOverlayMount([...layers].reverse(), merged, async () => {
      assert.deepEqual((await readdir(merged)).sort(), ["a", "bin", "etc", "gone"]);
      assert.deepEqual((await readdir(join(merged, "etc"))).sort(), ["keep", "my-app.d"]);
      assert.deepEqual(await readdir(join(merged, "bin")), []);
      assert.deepEqual(await readdir(join(merged, "a")), ["b"]);
      assert.deepEqual(await readdir(join(merged, "a/b/c")), ["foo"]);
      assert.deepEqual(await readdir(join(merged, "gone")), ["again"]);
      assert.equal(await exists(join(merged, "lib")), false);
    });
  });
});

test("applyLayer gives the same tree flattened as overlay-mounted", async () => {
  await withTempDir(async (dir) => {
    const layers = await unpackLayers(dir, STACK);
    const flat = join(dir, "flat");
    await mkdir(flat);
    for (const entries of STACK) await applyLayer(streamOf(await buildLayer(entries)), { root: flat, mode: "flatten" });
    const merged = join(dir, "merged");
    await mkdir(merged);
    await chmod(merged, 0o755);
    const mergedDigest = await withOverlayMount([...layers].reverse(), merged, () => treeDigest(merged));
    assert.equal(await treeDigest(flat), mergedDigest);
  });
});
