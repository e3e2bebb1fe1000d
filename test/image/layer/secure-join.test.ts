import assert from "node:assert/strict";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { secureJoin } from "../../../src/image/layer/secure-join.js";
import { withTempDir } from "./temp-dir.js";

test("secureJoin strips a leading slash and joins plain paths", async () => {
  await withTempDir(async (root) => {
    assert.equal(await secureJoin(root, "/etc/passwd"), join(root, "etc/passwd"));
    assert.equal(await secureJoin(root, "./usr//bin/./env"), join(root, "usr/bin/env"));
    assert.equal(await secureJoin(root, ""), root);
    assert.equal(await secureJoin(root, "/"), root);
  });
});

test("secureJoin never lets .. climb above the root", async () => {
  await withTempDir(async (root) => {
    assert.equal(await secureJoin(root, "../../etc/shadow"), join(root, "etc/shadow"));
    assert.equal(await secureJoin(root, "a/../../../b"), join(root, "b"));
    assert.equal(await secureJoin(root, ".."), root);
  });
});

test("secureJoin resolves an absolute symlink relative to the root, not the host", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    await mkdir(join(root, "usr/etc"), { recursive: true });
    await symlink("/usr/etc", join(root, "etc"));
    await symlink("/etc", join(root, "hostetc"));
    assert.equal(await secureJoin(root, "etc/passwd"), join(root, "usr/etc/passwd"));
    // The host's /etc exists, but the lookup stays in the root.
    assert.equal(await secureJoin(root, "hostetc/passwd"), join(root, "usr/etc/passwd"));
  });
});

test("secureJoin resolves relative symlinks from the link's directory and clamps their ..", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    await mkdir(join(root, "a/b"), { recursive: true });
    await mkdir(join(root, "c"));
    await symlink("../../c", join(root, "a/b/up"));
    await symlink("../../../../..", join(root, "a/escape"));
    await symlink(dir, join(root, "abs")); // the sandbox's own absolute path
    assert.equal(await secureJoin(root, "a/b/up/x"), join(root, "c/x"));
    assert.equal(await secureJoin(root, "a/escape/etc/passwd"), join(root, "etc/passwd"));
    assert.equal(await secureJoin(root, "abs/root/x"), join(root, dir.slice(1), "root/x"));
  });
});

test("secureJoin follows chains of symlinks", async () => {
  await withTempDir(async (root) => {
    await mkdir(join(root, "target"));
    await symlink("l2", join(root, "l1"));
    await symlink("/l3", join(root, "l2"));
    await symlink("target", join(root, "l3"));
    assert.equal(await secureJoin(root, "l1/file"), join(root, "target/file"));
    assert.equal(await secureJoin(root, "l1"), join(root, "target"));
  });
});

test("secureJoin leaves a final symlink alone when asked not to follow it", async () => {
  await withTempDir(async (root) => {
    await symlink("/etc", join(root, "link"));
    assert.equal(await secureJoin(root, "link", { followFinalSymlink: false }), join(root, "link"));
    assert.equal(await secureJoin(root, "link"), join(root, "etc"));
  });
});

test("secureJoin fails on a symlink loop instead of spinning", async () => {
  await withTempDir(async (root) => {
    await symlink("b", join(root, "a"));
    await symlink("a", join(root, "b"));
    await assert.rejects(secureJoin(root, "a/x"), (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /too many levels/.test(err.message));
  });
});

test("secureJoin appends missing components and components under a file as they are", async () => {
  await withTempDir(async (root) => {
    await writeFile(join(root, "file"), "x");
    assert.equal(await secureJoin(root, "new/dir/x"), join(root, "new/dir/x"));
    assert.equal(await secureJoin(root, "file/below"), join(root, "file/below"));
    assert.equal(await secureJoin(root, "new/../x"), join(root, "x"));
  });
});

test("secureJoin refuses a relative root", async () => {
  await assert.rejects(secureJoin("relative/root", "x"), (err: unknown) => err instanceof RktError && err.kind === "invalid-argument");
});
