import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { collectRootfsEntries, type RootfsEntry } from "../../../src/image/build/rootfs-entries.js";
import { RktError } from "../../../src/lib/errors.js";
import { tempDir } from "../../support/tmp.js";

function summary(entries: readonly RootfsEntry[]): string[] {
  return entries.map((e) => `${e.type} ${e.path} ${e.mode.toString(8)} ${e.uid}:${e.gid}${e.type === "symlink" ? ` -> ${e.target}` : ""}`);
}

function isKind(kind: RktError["kind"], pattern: RegExp): (err: unknown) => boolean {
  return (err) => err instanceof RktError && err.kind === kind && pattern.test(err.message);
}

test("collectRootfsEntries normalizes modes, adds parents once and sorts", async (t) => {
  const ctx = await tempDir(t);
  mkdirSync(join(ctx, "bin"), { mode: 0o700 });
  writeFileSync(join(ctx, "bin", "app"), "#!/bin/sh\n", { mode: 0o700 });
  writeFileSync(join(ctx, "bin", "notes"), "x", { mode: 0o600 });
  symlinkSync("app", join(ctx, "bin", "run"));
  writeFileSync(join(ctx, "conf"), "c", { mode: 0o640 });
  const entries = collectRootfsEntries(ctx, [
    { from: "bin", to: "/usr/local/bin" },
    { from: "conf", to: "/etc/app/", uid: 10, gid: 20 },
    { from: "conf", to: "/etc/app/setuid", mode: 0o4750 },
  ]);
  assert.deepEqual(summary(entries), [
    "directory etc 755 0:0",
    "directory etc/app 755 0:0",
    "file etc/app/conf 644 10:20",
    "file etc/app/setuid 4750 0:0",
    "directory usr 755 0:0",
    "directory usr/local 755 0:0",
    "directory usr/local/bin 755 0:0",
    "file usr/local/bin/app 755 0:0",
    "file usr/local/bin/notes 644 0:0",
    "symlink usr/local/bin/run 777 0:0 -> app",
  ]);
});

test("collectRootfsEntries keeps symlinks as symlinks, even ones pointing outside the context", async (t) => {
  const ctx = await tempDir(t);
  mkdirSync(join(ctx, "d"));
  symlinkSync("/etc", join(ctx, "d", "etc-link"));
  symlinkSync("/etc/passwd", join(ctx, "passwd-link"));
  const entries = collectRootfsEntries(ctx, [
    { from: "d", to: "/d" },
    { from: "passwd-link", to: "/p" },
  ]);
  assert.deepEqual(summary(entries), ["directory d 755 0:0", "symlink d/etc-link 777 0:0 -> /etc", "symlink p 777 0:0 -> /etc/passwd"]);
});

test("collectRootfsEntries refuses sources that leave the context directory", async (t) => {
  const root = await tempDir(t);
  const ctx = join(root, "ctx");
  mkdirSync(ctx);
  writeFileSync(join(root, "secret"), "s");
  mkdirSync(join(root, "outside"));
  writeFileSync(join(root, "outside", "file"), "o");
  symlinkSync(join(root, "outside"), join(ctx, "linkdir"));
  const escapes = isKind("permission-denied", /outside the context directory/);
  assert.throws(() => collectRootfsEntries(ctx, [{ from: "../secret", to: "/s" }]), escapes);
  assert.throws(() => collectRootfsEntries(ctx, [{ from: "sub/../../secret", to: "/s" }]), escapes);
  assert.throws(() => collectRootfsEntries(ctx, [{ from: join(root, "secret"), to: "/s" }]), escapes);
  assert.throws(() => collectRootfsEntries(ctx, [{ from: "linkdir/file", to: "/s" }]), escapes);
});

test("collectRootfsEntries names a missing source and the context directory", async (t) => {
  const ctx = await tempDir(t);
  assert.throws(() => collectRootfsEntries(ctx, [{ from: "nope.txt", to: "/x" }]), isKind("not-found", /copy source "nope\.txt" does not exist/));
  assert.throws(() => collectRootfsEntries(join(ctx, "missing"), []), isKind("not-found", /context directory/));
});

test("collectRootfsEntries refuses FIFOs and conflicting steps", async (t) => {
  const ctx = await tempDir(t);
  execFileSync("mkfifo", [join(ctx, "pipe")]);
  assert.throws(() => collectRootfsEntries(ctx, [{ from: "pipe", to: "/pipe" }]), isKind("invalid-argument", /FIFO/));
  writeFileSync(join(ctx, "f"), "f");
  assert.throws(
    () => collectRootfsEntries(ctx, [{ from: "f", to: "/a" }, { from: "f", to: "/a/b" }]),
    isKind("invalid-argument", /\/a is a file but \/a\/b needs it to be a directory/),
  );
});

test("collectRootfsEntries lets a later step replace a file", async (t) => {
  const ctx = await tempDir(t);
  writeFileSync(join(ctx, "one"), "1");
  writeFileSync(join(ctx, "two"), "22");
  chmodSync(join(ctx, "two"), 0o755);
  const entries = collectRootfsEntries(ctx, [{ from: "one", to: "/x" }, { from: "two", to: "/x" }]);
  assert.equal(entries.length, 1);
  const [x] = entries;
  assert.ok(x?.type === "file" && x.size === 2 && x.mode === 0o755 && x.source.endsWith("/two"));
});
