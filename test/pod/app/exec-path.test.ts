import assert from "node:assert/strict";
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { composeAppExec, resolveExecutable } from "../../../src/pod/app/exec-path.js";
import { withTempDir } from "../../image/layer/temp-dir.js";

const IMAGE = "docker://example:1";

test("composeAppExec runs Entrypoint + Cmd", () => {
  assert.deepEqual(composeAppExec({ imageName: IMAGE, entrypoint: ["/entry.sh"], cmd: ["serve", "-v"] }), ["/entry.sh", "serve", "-v"]);
  assert.deepEqual(composeAppExec({ imageName: IMAGE, cmd: ["/bin/sh"] }), ["/bin/sh"]);
  assert.deepEqual(composeAppExec({ imageName: IMAGE, entrypoint: ["/bin/app"] }), ["/bin/app"]);
});

test("composeAppExec lets arguments after -- replace Cmd", () => {
  assert.deepEqual(composeAppExec({ imageName: IMAGE, entrypoint: ["/entry.sh"], cmd: ["serve"], args: ["migrate", "--all"] }), ["/entry.sh", "migrate", "--all"]);
  assert.deepEqual(composeAppExec({ imageName: IMAGE, cmd: ["/bin/sh"], args: ["/bin/echo", "hi"] }), ["/bin/echo", "hi"]);
  assert.deepEqual(composeAppExec({ imageName: IMAGE, cmd: ["/bin/sh"], args: [] }), ["/bin/sh"]);
});

test("composeAppExec lets --exec replace Entrypoint and Cmd, followed by the arguments", () => {
  assert.deepEqual(composeAppExec({ imageName: IMAGE, entrypoint: ["/entry.sh"], cmd: ["serve"], exec: "/bin/sh" }), ["/bin/sh"]);
  assert.deepEqual(composeAppExec({ imageName: IMAGE, entrypoint: ["/entry.sh"], exec: "/bin/sh", args: ["-c", "id"] }), ["/bin/sh", "-c", "id"]);
});

test("composeAppExec says when there is nothing to run and how to fix it", () => {
  assert.throws(
    () => composeAppExec({ imageName: IMAGE }),
    (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && err.message.includes(`image ${IMAGE} has no Entrypoint or Cmd`) && err.hint?.includes("--exec") === true,
  );
  assert.throws(() => composeAppExec({ imageName: IMAGE, entrypoint: [], cmd: [] }), /no Entrypoint or Cmd/);
  assert.throws(() => composeAppExec({ imageName: IMAGE, exec: "" }), /--exec/);
  assert.throws(() => composeAppExec({ imageName: IMAGE, entrypoint: [""] }), /empty string/);
  assert.throws(() => composeAppExec({ imageName: IMAGE, exec: "/bin/sh", args: ["a\0"] }), /NUL/);
});

/** A rootfs with /bin/sh (executable), /bin/data (not), /usr/local/bin/tool, and an /app dir. */
async function withRootfs<T>(fn: (rootfs: string, dir: string) => Promise<T>): Promise<T> {
  return withTempDir(async (dir) => {
    const rootfs = join(dir, "rootfs");
    await mkdir(join(rootfs, "bin"), { recursive: true });
    await mkdir(join(rootfs, "usr/local/bin"), { recursive: true });
    await mkdir(join(rootfs, "app/bin"), { recursive: true });
    await writeFile(join(rootfs, "bin/sh"), "#!fake\n", { mode: 0o755 });
    await writeFile(join(rootfs, "bin/data"), "x", { mode: 0o644 });
    await writeFile(join(rootfs, "usr/local/bin/tool"), "#!fake\n", { mode: 0o700 });
    await writeFile(join(rootfs, "app/bin/run"), "#!fake\n", { mode: 0o755 });
    return fn(rootfs, dir);
  });
}

function fails(kind: string, ...fragments: string[]) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, kind);
    for (const f of fragments) assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    assert.ok(err.hint !== undefined);
    return true;
  };
}

test("resolveExecutable accepts an absolute path to an executable file", async () => {
  await withRootfs(async (rootfs) => {
    assert.equal(await resolveExecutable("/bin/sh", { rootfs, imageName: IMAGE }), "/bin/sh");
    assert.equal(await resolveExecutable("/usr/local/bin/tool", { rootfs, imageName: IMAGE }), "/usr/local/bin/tool");
  });
});

test("resolveExecutable says which executable is missing from which image", async () => {
  await withRootfs(async (rootfs) => {
    await assert.rejects(resolveExecutable("/bin/nope", { rootfs, imageName: IMAGE }), fails("not-found", 'executable "/bin/nope" not found in image docker://example:1'));
    await assert.rejects(resolveExecutable("/bin/sh/x", { rootfs, imageName: IMAGE }), fails("not-found", "/bin/sh/x"));
  });
});

test("resolveExecutable refuses directories and files without an execute bit", async () => {
  await withRootfs(async (rootfs) => {
    await assert.rejects(resolveExecutable("/bin", { rootfs, imageName: IMAGE }), fails("failed-precondition", "not a regular file"));
    await assert.rejects(resolveExecutable("/bin/data", { rootfs, imageName: IMAGE }), fails("failed-precondition", "not executable", "0644"));
  });
});

test("resolveExecutable searches the app's PATH for a bare name", async () => {
  await withRootfs(async (rootfs) => {
    assert.equal(await resolveExecutable("sh", { rootfs, imageName: IMAGE }), "/bin/sh");
    assert.equal(await resolveExecutable("tool", { rootfs, imageName: IMAGE }), "/usr/local/bin/tool");
    assert.equal(await resolveExecutable("run", { rootfs, imageName: IMAGE, path: "/nowhere:/app/bin/" }), "/app/bin/run");
    await assert.rejects(resolveExecutable("tool", { rootfs, imageName: IMAGE, path: "/bin" }), fails("not-found", '"tool"', "PATH=/bin"));
  });
});

test("resolveExecutable skips a non-executable match in PATH, and reports it when nothing else fits", async () => {
  await withRootfs(async (rootfs) => {
    await writeFile(join(rootfs, "app/bin/sh"), "x", { mode: 0o644 });
    assert.equal(await resolveExecutable("sh", { rootfs, imageName: IMAGE, path: "/app/bin:/bin" }), "/bin/sh");
    await assert.rejects(resolveExecutable("data", { rootfs, imageName: IMAGE, path: "/bin" }), fails("failed-precondition", "/bin/data", "not executable"));
  });
});

test("resolveExecutable resolves relative paths and empty PATH entries from the working directory", async () => {
  await withRootfs(async (rootfs) => {
    assert.equal(await resolveExecutable("bin/run", { rootfs, imageName: IMAGE, cwd: "/app" }), "/app/bin/run");
    assert.equal(await resolveExecutable("./run", { rootfs, imageName: IMAGE, cwd: "/app/bin" }), "/app/bin/./run");
    assert.equal(await resolveExecutable("run", { rootfs, imageName: IMAGE, cwd: "/app/bin", path: "/bin:" }), "/app/bin/run");
    assert.equal(await resolveExecutable("run", { rootfs, imageName: IMAGE, cwd: "/app", path: "bin" }), "/app/bin/run");
  });
});

test("resolveExecutable follows symlinks inside the image", async () => {
  await withRootfs(async (rootfs) => {
    await symlink("/bin/sh", join(rootfs, "bin/ash"));
    await symlink("../../../bin/sh", join(rootfs, "usr/local/bin/rel"));
    assert.equal(await resolveExecutable("/bin/ash", { rootfs, imageName: IMAGE }), "/bin/ash");
    assert.equal(await resolveExecutable("rel", { rootfs, imageName: IMAGE }), "/usr/local/bin/rel");
  });
});

test("resolveExecutable keeps .. in --exec paths inside the rootfs", async () => {
  await withRootfs(async (rootfs, dir) => {
    // Something executable outside the rootfs, reachable by climbing out of it on the host.
    await writeFile(join(dir, "outside"), "#!host\n", { mode: 0o755 });
    await assert.rejects(resolveExecutable("/../outside", { rootfs, imageName: IMAGE }), fails("not-found", "/../outside"));
    await assert.rejects(resolveExecutable("../../../outside", { rootfs, imageName: IMAGE, cwd: "/app/bin" }), fails("not-found"));
    // .. above the root stops at the root, as in the container: this is the image's /bin/sh.
    assert.equal(await resolveExecutable("/../../../bin/sh", { rootfs, imageName: IMAGE }), "/../../../bin/sh");
  });
});

test("resolveExecutable does not count a symlink to a host binary as present", async () => {
  await withRootfs(async (rootfs, dir) => {
    await writeFile(join(dir, "host-tool"), "#!host\n", { mode: 0o755 });
    await symlink(join(dir, "host-tool"), join(rootfs, "bin/abs-escape"));
    await symlink("../../../../../../../../../../host-tool", join(rootfs, "bin/rel-escape"));
    await symlink("/usr/bin/env", join(rootfs, "bin/env")); // exists on the host, not in the image
    await assert.rejects(resolveExecutable("/bin/abs-escape", { rootfs, imageName: IMAGE }), fails("not-found", "/bin/abs-escape"));
    await assert.rejects(resolveExecutable("/bin/rel-escape", { rootfs, imageName: IMAGE }), fails("not-found"));
    await assert.rejects(resolveExecutable("env", { rootfs, imageName: IMAGE, path: "/bin" }), fails("not-found"));
  });
});

test("resolveExecutable fails clearly on a symlink loop", async () => {
  await withRootfs(async (rootfs) => {
    await symlink("/bin/loop", join(rootfs, "bin/loop"));
    await assert.rejects(resolveExecutable("/bin/loop", { rootfs, imageName: IMAGE }), (err: unknown) => err instanceof RktError && err.message.includes(IMAGE) && /too many levels/.test(err.message));
  });
});

test("resolveExecutable refuses a relative working directory", async () => {
  await withRootfs(async (rootfs) => {
    await chmod(join(rootfs, "bin/sh"), 0o755);
    await assert.rejects(resolveExecutable("sh", { rootfs, imageName: IMAGE, cwd: "app" }), /not an absolute path/);
  });
});
