import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { RktError } from "../../../src/lib/errors.js";
import { readImageFile } from "../../../src/pod/app/read-image-file.js";
import { withTempDir } from "../../image/layer/temp-dir.js";

const run = promisify(execFile);

test("readImageFile reads a file inside the rootfs and returns undefined for a missing one", async () => {
  await withTempDir(async (root) => {
    await mkdir(join(root, "etc"));
    await writeFile(join(root, "etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    assert.equal(await readImageFile(root, "/etc/passwd"), "root:x:0:0::/root:/bin/sh\n");
    assert.equal(await readImageFile(root, "/etc/group"), undefined);
    assert.equal(await readImageFile(root, "/etc/passwd/x"), undefined);
    assert.equal(await readImageFile(root, "/nope/passwd"), undefined);
  });
});

test("readImageFile resolves a symlink to a host path inside the rootfs", async () => {
  await withTempDir(async (dir) => {
    const root = join(dir, "root");
    await mkdir(join(root, "etc"), { recursive: true });
    await writeFile(join(dir, "host-secret"), "secret\n");
    await symlink(join(dir, "host-secret"), join(root, "etc/passwd"));
    await symlink("../../../../../../host-secret", join(root, "etc/group"));
    assert.equal(await readImageFile(root, "/etc/passwd"), undefined);
    assert.equal(await readImageFile(root, "/etc/group"), undefined);
    // The same name inside the root is what is read.
    await writeFile(join(root, "host-secret"), "image's own\n");
    assert.equal(await readImageFile(root, "/etc/group"), "image's own\n");
  });
});

test("readImageFile refuses a FIFO without blocking, and directories", async () => {
  await withTempDir(async (root) => {
    await mkdir(join(root, "etc"));
    await run("mkfifo", [join(root, "etc/passwd")]);
    await assert.rejects(readImageFile(root, "/etc/passwd", { imageName: "evil" }), (err: unknown) => err instanceof RktError && err.message.includes("not a regular file") && err.message.includes("image evil"));
    await assert.rejects(readImageFile(root, "/etc"), /not a regular file/);
  });
});

test("readImageFile refuses files larger than maxBytes", async () => {
  await withTempDir(async (root) => {
    await writeFile(join(root, "big"), "x".repeat(100));
    await assert.rejects(readImageFile(root, "/big", { maxBytes: 99 }), /100 bytes is more than the 99/);
    assert.equal((await readImageFile(root, "/big", { maxBytes: 100 }))?.length, 100);
  });
});

test("readImageFile fails on a symlink loop instead of following it forever", async () => {
  await withTempDir(async (root) => {
    await symlink("/etc", join(root, "etc")); // etc -> /etc is, inside the root, itself
    await assert.rejects(readImageFile(root, "/etc/passwd"), (err: unknown) => err instanceof RktError && /too many levels of symbolic links/.test(err.message));
  });
});
