/**
 * End to end with the real runc: an app resolved by src/pod/app, turned into a config.json by
 * buildRuntimeSpec, run in the foreground, and checked from inside the container. Needs root, runc
 * and busybox-static; skipped without them.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, chown, copyFile, mkdir, readdir, readFile, rmdir, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { errnoCode } from "../../../src/lib/errors.js";
import { composeAppEnv, getEnvVar } from "../../../src/pod/app/app-env.js";
import { resolveAppUser } from "../../../src/pod/app/app-user.js";
import { composeAppExec, resolveExecutable } from "../../../src/pod/app/exec-path.js";
import { capabilityMask, DEFAULT_CAPABILITIES } from "../../../src/stage1/oci/capabilities.js";
import { readHostLimits } from "../../../src/stage1/oci/host-limits.js";
import { parseCpuQuantity, parseMemoryQuantity } from "../../../src/stage1/oci/resource-quantity.js";
import { buildRuntimeSpec, type AppRuntimeInput } from "../../../src/stage1/oci/runtime-spec.js";
import { withTempDir } from "../../image/layer/temp-dir.js";

const BUSYBOX = "/bin/busybox";
const IMAGE = "test/busybox-static";
const CGROUP_ROOT = "/sys/fs/cgroup";
const CGROUP_PARENT = "rkt-test";

const skip =
  process.getuid?.() !== 0
    ? "needs root"
    : !existsSync(BUSYBOX)
      ? "needs busybox-static (/bin/busybox)"
      : spawnSync("runc", ["--version"]).status !== 0
        ? "needs runc"
        : false;

/** A rootfs holding a static busybox, its applets as symlinks, and a user database. */
async function buildRootfs(rootfs: string): Promise<void> {
  await mkdir(join(rootfs, "bin"), { recursive: true });
  await copyFile(BUSYBOX, join(rootfs, "bin/busybox"));
  await chmod(join(rootfs, "bin/busybox"), 0o755);
  for (const applet of ["sh", "id", "cat", "echo", "env", "wc"]) await symlink("busybox", join(rootfs, "bin", applet));
  await mkdir(join(rootfs, "etc"));
  await writeFile(join(rootfs, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n");
  await writeFile(join(rootfs, "etc/group"), "root:x:0:\napp:x:1000:\nextra:x:2000:app\n");
  // Writable by the app: a write there can only fail because the rootfs is read-only.
  await mkdir(join(rootfs, "home/app"), { recursive: true });
  await chown(join(rootfs, "home/app"), 1000, 1000);
}

interface RunResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `runc --root <state> run --bundle <bundle> <id>` in the foreground, stdio captured. */
async function runcRun(state: string, bundle: string, id: string): Promise<RunResult> {
  const child = spawn("runc", ["--root", state, "run", "--bundle", bundle, id], { stdio: ["ignore", "pipe", "pipe"] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => err.push(b));
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c) => resolve(c));
    });
    return { code, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") };
  } finally {
    clearTimeout(timer);
  }
}

/** Removes what a runc run may leave: the container state, then the test's cgroup parents. */
async function cleanUp(state: string, id: string): Promise<void> {
  spawnSync("runc", ["--root", state, "delete", "--force", id], { stdio: "ignore" });
  let hierarchies: string[] = [];
  try {
    hierarchies = await readdir(CGROUP_ROOT);
  } catch {
    return;
  }
  for (const h of hierarchies) {
    // runc removes its own cgroup; these rmdirs are for a run that died half-way, and the parent.
    for (const dir of [join(CGROUP_ROOT, h, CGROUP_PARENT, id), join(CGROUP_ROOT, h, CGROUP_PARENT)]) {
      try {
        await rmdir(dir);
      } catch (err) {
        // Missing, or still used by another test's container: not ours to remove.
        if (!["ENOENT", "ENOTDIR", "ENOTEMPTY", "EBUSY"].includes(errnoCode(err) ?? "")) throw err;
      }
    }
  }
}

/** Builds the bundle's config.json from an app as `rkt run` would, runs it and returns its output. */
async function runApp(dir: string, app: { user?: string; supplementaryGids?: number[]; script: string; spec?: Partial<AppRuntimeInput> }): Promise<RunResult> {
  const bundle = join(dir, "bundle");
  const rootfs = join(bundle, "rootfs");
  const state = join(dir, "runc-state");
  if (!existsSync(rootfs)) await buildRootfs(rootfs);
  const id = `rkt-test-${randomBytes(6).toString("hex")}`;

  const user = await resolveAppUser({ rootfs, imageName: IMAGE, user: app.user, supplementaryGids: app.supplementaryGids });
  const env = composeAppEnv({ appName: "probe", imageName: IMAGE, imageEnv: ["FROM_IMAGE=yes"], setEnv: ["GREETING=hello world"], user });
  const argv = composeAppExec({ imageName: IMAGE, entrypoint: ["sh", "-c"], cmd: ["false"], args: [app.script] });
  await resolveExecutable(argv[0]!, { rootfs, imageName: IMAGE, path: getEnvVar(env, "PATH") });
  const spec = buildRuntimeSpec({
    rootfs,
    readonlyRootfs: true,
    process: { args: argv, env, uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
    hostname: "probe-host",
    resources: { memoryLimitBytes: parseMemoryQuantity("64Mi"), cpuMillis: parseCpuQuantity("500m") },
    cgroupsPath: `/${CGROUP_PARENT}/${id}`,
    host: await readHostLimits(),
    ...app.spec,
  });
  await writeFile(join(bundle, "config.json"), JSON.stringify(spec, null, 2));
  try {
    return await runcRun(state, bundle, id);
  } finally {
    await cleanUp(state, id);
  }
}

/** The output between `== name` and the next marker. */
function section(stdout: string, name: string): string {
  const parts = stdout.split(/^== /m);
  const part = parts.find((p) => p.startsWith(`${name}\n`));
  assert.ok(part !== undefined, `no "${name}" section in:\n${stdout}`);
  return part.slice(name.length + 1).trim();
}

/** Kernel files buildRuntimeSpec masks, checked wherever this kernel has them. */
const MASKED_FILES = ["/proc/kcore", "/proc/kallsyms", "/proc/config.gz"];

const PROBE = [
  "echo '== id'; id",
  "echo '== env'; env",
  "echo '== write'; (echo x > /home/app/probe) 2>&1; echo done",
  "echo '== mountinfo'; cat /proc/self/mountinfo",
  "echo '== memory'; cat /sys/fs/cgroup/memory/memory.limit_in_bytes",
  "echo '== cpu'; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us /sys/fs/cgroup/cpu/cpu.cfs_period_us",
  "echo '== status'; cat /proc/self/status",
  "echo '== hostname'; cat /proc/sys/kernel/hostname",
  "echo '== nofile'; ulimit -n",
].join("; ");

test("a non-root app runs under runc as configured by buildRuntimeSpec", { skip }, async () => {
  await withTempDir(async (dir) => {
    const result = await runApp(dir, { user: "app", supplementaryGids: [3000], script: PROBE });
    assert.equal(result.code, 0, `runc failed:\n${result.stderr}\n${result.stdout}`);
    const out = result.stdout;

    // The user, its primary group, --supplementary-gids and the group that lists it by name.
    assert.equal(section(out, "id"), "uid=1000(app) gid=1000(app) groups=1000(app),2000(extra),3000");

    const env = new Map(section(out, "env").split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    assert.equal(env.get("GREETING"), "hello world");
    assert.equal(env.get("FROM_IMAGE"), "yes");
    assert.equal(env.get("USER"), "app");
    assert.equal(env.get("LOGNAME"), "app");
    assert.equal(env.get("HOME"), "/home/app");
    assert.equal(env.get("SHELL"), "/bin/sh");
    assert.equal(env.get("AC_APP_NAME"), "probe");
    assert.equal(env.get("PATH"), "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");

    // The user may write to its home; only the read-only rootfs stops it.
    assert.match(section(out, "write"), /Read-only file system/);

    // /proc/kcore and the other kernel files are masked (/dev/null bound over them); /proc/sys
    // is read-only. runc skips what the kernel lacks: this test machine's kernel has no kcore.
    const mounts = section(out, "mountinfo").split("\n").map((l) => l.split(" "));
    const masked = MASKED_FILES.filter((f) => existsSync(f));
    assert.ok(masked.length > 0);
    for (const file of masked) assert.ok(mounts.some((f) => f[4] === file), `${file} is not masked`);
    assert.ok(mounts.some((f) => f[4] === "/proc/sys" && (f[5] ?? "").split(",").includes("ro")), "/proc/sys is not read-only");

    assert.equal(section(out, "memory"), String(64 * 1024 * 1024));
    assert.equal(section(out, "cpu"), "50000\n100000");

    const status = section(out, "status");
    assert.match(status, /^CapEff:\s+0000000000000000$/m);
    assert.match(status, /^CapPrm:\s+0000000000000000$/m);
    assert.match(status, new RegExp(`^CapBnd:\\s+${capabilityMask(DEFAULT_CAPABILITIES).toString(16).padStart(16, "0")}$`, "m"));
    assert.match(status, /^NoNewPrivs:\s+1$/m);

    assert.equal(section(out, "hostname"), "probe-host");
    const host = await readHostLimits();
    assert.equal(section(out, "nofile"), String(Math.min(1_048_576, host.nofileHardLimit)));
  });
});

test("a root app under runc holds rkt's 14 capabilities and reads nothing from /proc/kcore", { skip }, async () => {
  await withTempDir(async (dir) => {
    const masked = MASKED_FILES.map((f) => `if [ -e ${f} ]; then echo "${f} $(cat ${f} | wc -c)"; else echo "${f} absent"; fi`).join("; ");
    const script = `echo '== status'; cat /proc/self/status; echo '== masked'; ${masked}; echo '== id'; id`;
    const result = await runApp(dir, { script });
    assert.equal(result.code, 0, `runc failed:\n${result.stderr}\n${result.stdout}`);
    const mask = capabilityMask(DEFAULT_CAPABILITIES).toString(16).padStart(16, "0");
    const status = section(result.stdout, "status");
    assert.match(status, new RegExp(`^CapEff:\\s+${mask}$`, "m"));
    assert.match(status, new RegExp(`^CapPrm:\\s+${mask}$`, "m"));
    assert.match(status, new RegExp(`^CapBnd:\\s+${mask}$`, "m"));
    assert.match(status, /^CapInh:\s+0000000000000000$/m);
    assert.match(status, /^NoNewPrivs:\s+0$/m);
    // Even root reads nothing from a masked file: it is /dev/null. (On the host, root reads
    // /proc/config.gz and /proc/kallsyms; /proc/kcore, where the kernel has one, is absent here.)
    const expected = MASKED_FILES.map((f) => `${f} ${existsSync(f) ? "0" : "absent"}`).join("\n");
    assert.equal(section(result.stdout, "masked"), expected);
    assert.equal(section(result.stdout, "id"), "uid=0(root) gid=0(root) groups=0(root)");
  });
});

test("all capabilities with insecure capabilities still start under runc on a host without some", { skip }, async () => {
  await withTempDir(async (dir) => {
    // This host has no CAP_SYS_RESOURCE: asking runc for it fails with EPERM, so "all" must mean
    // all that this process holds.
    const host = await readHostLimits();
    const result = await runApp(dir, { script: "echo '== status'; cat /proc/self/status", spec: { insecure: { capabilities: true }, host } });
    assert.equal(result.code, 0, `runc failed:\n${result.stderr}\n${result.stdout}`);
    const mask = capabilityMask(host.boundingCapabilities).toString(16).padStart(16, "0");
    assert.match(section(result.stdout, "status"), new RegExp(`^CapEff:\\s+${mask}$`, "m"));
  });
});

test("a fly app under runc shares the host's PID and UTS namespaces and sees the host's /proc", { skip }, async () => {
  await withTempDir(async (dir) => {
    const script = "echo '== init'; cat /proc/1/comm; echo '== hostname'; cat /proc/sys/kernel/hostname; echo '== status'; cat /proc/self/status";
    const result = await runApp(dir, { script, spec: { flavor: "fly" } });
    assert.equal(result.code, 0, `runc failed:\n${result.stderr}\n${result.stdout}`);
    assert.equal(section(result.stdout, "init"), (await readFile("/proc/1/comm", "utf8")).trim());
    assert.equal(section(result.stdout, "hostname"), (await readFile("/proc/sys/kernel/hostname", "utf8")).trim());
    const host = await readHostLimits();
    const mask = capabilityMask(host.boundingCapabilities).toString(16).padStart(16, "0");
    assert.match(section(result.stdout, "status"), new RegExp(`^CapEff:\\s+${mask}$`, "m"));
  });
});
