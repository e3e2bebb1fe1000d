import assert from "node:assert/strict";
import { chown, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { resolveAppUser, type ResolveAppUserOptions } from "../../../src/pod/app/app-user.js";
import { withTempDir } from "../../image/layer/temp-dir.js";

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnginx:x:101:101:nginx:/var/cache/nginx:/sbin/nologin\nbob:x:1000:1000::/home/bob:/bin/sh\nnohome:x:1002:1002:::\n";
const GROUP = "root:x:0:\nnginx:x:101:\nbob:x:1000:\nwheel:x:10:root,bob\ndocker:x:999:bob,nginx\nstaff:x:50:\n";

async function withImage<T>(files: Record<string, string>, fn: (rootfs: string) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const rootfs = join(dir, "rootfs");
    await mkdir(join(rootfs, "etc"), { recursive: true });
    for (const [path, content] of Object.entries(files)) await writeFile(join(rootfs, path), content);
    return fn(rootfs);
  });
}

const resolve = (rootfs: string, o: Partial<ResolveAppUserOptions>) => resolveAppUser({ rootfs, imageName: "docker://example", ...o });

function notFound(...fragments: string[]) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, "not-found");
    for (const f of fragments) assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    assert.ok(err.hint !== undefined && err.hint.length > 0);
    return true;
  };
}

test("resolveAppUser runs as root by default", async () => {
  await withImage({ "etc/passwd": PASSWD, "etc/group": GROUP }, async (rootfs) => {
    assert.deepEqual(await resolve(rootfs, {}), { uid: 0, gid: 0, additionalGids: [0, 10], name: "root", home: "/root" });
  });
});

test("resolveAppUser resolves a user name to its uid, primary gid, groups and home", async () => {
  await withImage({ "etc/passwd": PASSWD, "etc/group": GROUP }, async (rootfs) => {
    assert.deepEqual(await resolve(rootfs, { user: "bob" }), { uid: 1000, gid: 1000, additionalGids: [1000, 10, 999], name: "bob", home: "/home/bob" });
    assert.deepEqual(await resolve(rootfs, { imageUser: "nginx" }), { uid: 101, gid: 101, additionalGids: [101, 999], name: "nginx", home: "/var/cache/nginx" });
  });
});

test("resolveAppUser reads the image's User forms uid, uid:gid, name and name:group", async () => {
  await withImage({ "etc/passwd": PASSWD, "etc/group": GROUP }, async (rootfs) => {
    assert.equal((await resolve(rootfs, { imageUser: "1000" })).gid, 1000);
    const ids = await resolve(rootfs, { imageUser: "1000:50" });
    assert.deepEqual([ids.uid, ids.gid, ids.name], [1000, 50, "bob"]);
    const named = await resolve(rootfs, { imageUser: "bob:staff" });
    assert.deepEqual([named.uid, named.gid], [1000, 50]);
    const mixed = await resolve(rootfs, { imageUser: "nginx:10" });
    assert.deepEqual([mixed.uid, mixed.gid], [101, 10]);
  });
});

test("resolveAppUser lets --user replace the image's User, group included, and --group replace the group", async () => {
  await withImage({ "etc/passwd": PASSWD, "etc/group": GROUP }, async (rootfs) => {
    const u = await resolve(rootfs, { imageUser: "nginx:staff", user: "bob" });
    assert.deepEqual([u.uid, u.gid], [1000, 1000]);
    const g = await resolve(rootfs, { imageUser: "nginx:staff", group: "wheel" });
    assert.deepEqual([g.uid, g.gid], [101, 10]);
    const both = await resolve(rootfs, { user: "bob:docker" });
    assert.deepEqual([both.uid, both.gid], [1000, 999]);
    await assert.rejects(resolve(rootfs, { user: "bob:docker", group: "wheel" }), /--user=bob:docker names a group and --group=wheel/);
  });
});

test("resolveAppUser lists the primary gid, then --supplementary-gids, then /etc/group memberships, without duplicates", async () => {
  await withImage({ "etc/passwd": PASSWD, "etc/group": GROUP }, async (rootfs) => {
    assert.deepEqual((await resolve(rootfs, { user: "bob", supplementaryGids: [2048, 999, 2048, 1000] })).additionalGids, [1000, 2048, 999, 10]);
    assert.deepEqual((await resolve(rootfs, { user: "bob", group: "staff" })).additionalGids, [50, 10, 999]);
    await assert.rejects(resolve(rootfs, { user: "bob", supplementaryGids: [-1] }), /--supplementary-gids/);
  });
});

test("resolveAppUser needs no files for numeric ids", async () => {
  await withImage({}, async (rootfs) => {
    assert.deepEqual(await resolve(rootfs, { user: "1000", group: "1000", supplementaryGids: [5] }), { uid: 1000, gid: 1000, additionalGids: [1000, 5], name: undefined, home: "/" });
    assert.deepEqual(await resolve(rootfs, { imageUser: "4242" }), { uid: 4242, gid: 0, additionalGids: [0], name: undefined, home: "/" });
    assert.deepEqual(await resolve(rootfs, {}), { uid: 0, gid: 0, additionalGids: [0], name: undefined, home: "/root" });
  });
});

test("resolveAppUser gives a passwd entry without a home / (or /root for root)", async () => {
  await withImage({ "etc/passwd": PASSWD }, async (rootfs) => {
    assert.equal((await resolve(rootfs, { user: "nohome" })).home, "/");
  });
});

test("resolveAppUser names an unknown user, the file and the image", async () => {
  await withImage({ "etc/passwd": PASSWD, "etc/group": GROUP }, async (rootfs) => {
    await assert.rejects(resolve(rootfs, { user: "alice" }), notFound('user "alice" not found', "/etc/passwd", "docker://example"));
    await assert.rejects(resolve(rootfs, { user: "bob", group: "nogroup" }), notFound('group "nogroup" not found', "/etc/group", "docker://example"));
  });
});

test("resolveAppUser says when a name needs a database the image lacks", async () => {
  await withImage({}, async (rootfs) => {
    await assert.rejects(resolve(rootfs, { imageUser: "nginx" }), notFound('"nginx"', "the image's User", "has no /etc/passwd"));
    await assert.rejects(resolve(rootfs, { user: "0", group: "wheel" }), notFound('"wheel"', "--group", "has no /etc/group"));
  });
});

test("resolveAppUser refuses ids out of range", async () => {
  await withImage({}, async (rootfs) => {
    await assert.rejects(resolve(rootfs, { user: "4294967295" }), (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && err.message.includes("out of range"));
  });
});

test("resolveAppUser takes the owner of a file for a path", async () => {
  await withImage({ "etc/passwd": PASSWD }, async (rootfs) => {
    await mkdir(join(rootfs, "data"));
    await chown(join(rootfs, "data"), 1000, 50);
    await symlink("/data", join(rootfs, "link"));
    assert.deepEqual(await resolve(rootfs, { user: "/data" }), { uid: 1000, gid: 50, additionalGids: [50], name: "bob", home: "/home/bob" });
    const g = await resolve(rootfs, { user: "0", group: "/link" });
    assert.deepEqual([g.uid, g.gid], [0, 50]);
    await assert.rejects(resolve(rootfs, { user: "/missing" }), notFound("--user=/missing", "docker://example"));
  });
});

test("resolveAppUser never reads the host's user database through a hostile symlink", async () => {
  await withTempDir(async (dir) => {
    // A host file the image points at, holding a user the image does not define.
    await writeFile(join(dir, "shadow"), "mallory:x:4242:4242::/root:/bin/sh\n");
    const rootfs = join(dir, "rootfs");
    await mkdir(join(rootfs, "etc"), { recursive: true });
    await symlink(join(dir, "shadow"), join(rootfs, "etc/passwd"));
    await symlink("../../../../../../../../shadow", join(rootfs, "etc/group"));
    await assert.rejects(resolve(rootfs, { user: "mallory" }), notFound("has no /etc/passwd"));
    await assert.rejects(resolve(rootfs, { user: "0", group: "mallory" }), notFound("has no /etc/group"));
    // The path form is resolved inside the rootfs too.
    await symlink(join(dir, "shadow"), join(rootfs, "owned"));
    await assert.rejects(resolve(rootfs, { user: "/owned" }), notFound("--user=/owned"));
  });
});

test("resolveAppUser reads passwd as a symlink to /etc/shadow inside the rootfs, not the host's", async () => {
  await withImage({ "etc/shadow": "eve:x:3000:3000::/home/eve:/bin/sh\n" }, async (rootfs) => {
    await symlink("/etc/shadow", join(rootfs, "etc/passwd"));
    // Whatever the link says, the file read is the image's own etc/shadow.
    assert.equal((await resolve(rootfs, { user: "eve" })).uid, 3000);
    await assert.rejects(resolve(rootfs, { user: "root" }), notFound('user "root" not found'));
  });
});
