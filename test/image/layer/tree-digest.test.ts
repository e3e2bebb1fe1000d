import assert from "node:assert/strict";
import { appendFile, chmod, chown, lutimes, mkdir, open, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { treeDigest } from "../../../src/image/layer/tree-digest.js";
import { lsetxattr, mknod, S_IFCHR, S_IFIFO } from "../../../src/sys/libc.js";
import { withTempDir } from "./temp-dir.js";

/** A small tree with every kind of entry; `order` changes the order things are created in. */
async function makeTree(root: string, order: "forward" | "reverse" = "forward"): Promise<void> {
  const steps: (() => Promise<void>)[] = [
    async () => {
      await mkdir(join(root, "etc/conf.d"), { recursive: true });
      await writeFile(join(root, "etc/conf.d/a.conf"), "a=1\n");
    },
    async () => {
      await mkdir(join(root, "bin"), { recursive: true });
      await writeFile(join(root, "bin/tool"), Buffer.alloc(300_000, 9), { mode: 0o755 });
      await chmod(join(root, "bin/tool"), 0o4755);
    },
    async () => {
      await symlink("/etc/conf.d", join(root, "confs"));
      await lutimes(join(root, "confs"), 1000, 1000);
    },
    async () => {
      await mkdir(join(root, "dev"), { recursive: true });
      mknod(join(root, "dev/null"), S_IFCHR | 0o666, 1, 3);
      mknod(join(root, "dev/fifo"), S_IFIFO | 0o600);
    },
    async () => {
      // Over 1 MiB: streamed rather than read in one go.
      await mkdir(join(root, "lib"), { recursive: true });
      await writeFile(join(root, "lib/big.so"), Buffer.alloc(3 * 1024 * 1024 + 17, 3));
    },
    async () => {
      await mkdir(join(root, "opaque"), { recursive: true });
      lsetxattr(join(root, "opaque"), "trusted.overlay.opaque", Buffer.from("y"));
    },
  ];
  for (const step of order === "forward" ? steps : [...steps].reverse()) await step();
  await utimes(join(root, "etc/conf.d/a.conf"), 2000, 2000);
  await utimes(join(root, "bin/tool"), 3000, 3000);
  await utimes(join(root, "lib/big.so"), 4000, 4000);
}

test("treeDigest is a sha256 digest, stable across calls and creation orders", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    await mkdir(a);
    await mkdir(b);
    await makeTree(a, "forward");
    await makeTree(b, "reverse");
    const digest = await treeDigest(a);
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await treeDigest(a), digest);
    assert.equal(await treeDigest(b, { concurrency: 1 }), digest);
  });
});

test("treeDigest ignores directory times", async () => {
  await withTempDir(async (root) => {
    await makeTree(root);
    const before = await treeDigest(root);
    await utimes(join(root, "etc"), 12345, 12345);
    await utimes(root, 999, 999);
    assert.equal(await treeDigest(root), before);
  });
});

const TAMPERING: readonly [string, (root: string) => Promise<void>][] = [
  ["a file's content", (root) => appendFile(join(root, "etc/conf.d/a.conf"), "b=2\n").then(() => utimes(join(root, "etc/conf.d/a.conf"), 2000, 2000))],
  ["a file's mode", (root) => chmod(join(root, "bin/tool"), 0o755)],
  ["a file's owner", (root) => chown(join(root, "bin/tool"), 1000, 0)],
  ["a directory's group", (root) => chown(join(root, "etc"), 0, 5)],
  ["a file's mtime", (root) => utimes(join(root, "bin/tool"), 3001, 3001)],
  ["a symlink's target", async (root) => {
    await rm(join(root, "confs"));
    await symlink("/etc/conf.e", join(root, "confs"));
    await lutimes(join(root, "confs"), 1000, 1000);
  }],
  ["a device's numbers", async (root) => {
    await rm(join(root, "dev/null"));
    mknod(join(root, "dev/null"), S_IFCHR | 0o666, 1, 5);
  }],
  ["an added xattr", (root) => Promise.resolve(lsetxattr(join(root, "bin/tool"), "user.x", Buffer.from("1")))],
  ["an overlay opaque marker", (root) => Promise.resolve(lsetxattr(join(root, "opaque"), "trusted.overlay.opaque", Buffer.from("n")))],
  ["one byte in the middle of a large file", async (root) => {
    const fh = await open(join(root, "lib/big.so"), "r+");
    try {
      await fh.write(Buffer.from([0xff]), 0, 1, 2_000_000);
    } finally {
      await fh.close();
    }
    await utimes(join(root, "lib/big.so"), 4000, 4000);
  }],
  ["an added empty file", (root) => writeFile(join(root, "etc/new"), "")],
  ["a removed file", (root) => rm(join(root, "etc/conf.d/a.conf"))],
  ["an added empty directory", (root) => mkdir(join(root, "newdir"))],
  ["a file renamed", async (root) => {
    await rm(join(root, "etc/conf.d/a.conf"));
    await writeFile(join(root, "etc/conf.d/b.conf"), "a=1\n");
    await utimes(join(root, "etc/conf.d/b.conf"), 2000, 2000);
  }],
];

for (const [what, tamper] of TAMPERING) {
  test(`treeDigest changes with ${what}`, async () => {
    await withTempDir(async (root) => {
      await makeTree(root);
      const before = await treeDigest(root);
      await tamper(root);
      assert.notEqual(await treeDigest(root), before);
    });
  });
}

test("treeDigest tells apart names that would run together without length prefixes", async () => {
  await withTempDir(async (dir) => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    await mkdir(join(a, "x"), { recursive: true });
    await writeFile(join(a, "x/y"), "");
    await mkdir(b);
    await writeFile(join(b, "x"), "");
    await utimes(join(a, "x/y"), 1, 1);
    await utimes(join(b, "x"), 1, 1);
    assert.notEqual(await treeDigest(a), await treeDigest(b));
  });
});

test("treeDigest stops when the signal aborts", async () => {
  await withTempDir(async (root) => {
    await makeTree(root);
    await assert.rejects(treeDigest(root, { signal: AbortSignal.abort() }), (err: unknown) => err instanceof Error && err.name === "AbortError");
  });
});

test("treeDigest hashes a few thousand files totalling 40 MB in seconds", async () => {
  await withTempDir(async (root) => {
    const chunk = Buffer.alloc(20_000, 1);
    for (let d = 0; d < 20; d++) {
      await mkdir(join(root, `d${d}`));
      for (let f = 0; f < 100; f++) await writeFile(join(root, `d${d}`, `f${f}`), chunk);
    }
    const started = performance.now();
    await treeDigest(root);
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 10, `took ${seconds.toFixed(1)} s`);
  });
});
