/**
 * ProcessCniExecutor's side of the protocol, with small shell-script plugins written by the test:
 * environment, stdin, plugin lookup, errors, timeouts, aborts.
 */
import assert from "node:assert/strict";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import type { PluginRequest } from "../../src/network/cni/cni-exec.js";
import { ProcessCniExecutor } from "../../src/network/cni/executors/process-executor.js";
import { tempDir } from "../support/tmp.js";

async function plugin(dir: string, name: string, script: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${script}\n`);
  await chmod(path, 0o755);
  return path;
}

const req = (pluginType: string, more: Partial<PluginRequest> = {}): PluginRequest => ({
  command: "ADD",
  pluginType,
  containerId: "pod-1",
  netns: "/run/netns/x",
  ifname: "eth0",
  cniArgs: "IP=10.0.0.9",
  stdin: '{"cniVersion":"0.4.0","name":"n","type":"t"}',
  ...more,
});

async function setup(t: TestContext): Promise<{ dir: string; out: string }> {
  const dir = await tempDir(t);
  return { dir, out: join(dir, "seen") };
}

test("ProcessCniExecutor passes CNI_* in the environment, the configuration on stdin, and only PATH besides", async (t) => {
  const { dir, out } = await setup(t);
  await plugin(dir, "echoenv", `env | sort > ${out}.env; cat > ${out}.stdin; echo '{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.0.0.9/24"}]}'`);
  const e = new ProcessCniExecutor({ pluginDirs: [dir, "/usr/lib/cni"] });
  const r = await e.invoke(req("echoenv"));
  assert.deepEqual(r, { ok: true, output: { cniVersion: "0.4.0", ips: [{ version: "4", address: "10.0.0.9/24" }] } });
  const env = (await readFile(`${out}.env`, "utf8")).split("\n").filter((l) => l !== "" && !l.startsWith("PWD=") && !l.startsWith("SHLVL=") && !l.startsWith("_="));
  assert.deepEqual(env, [
    "CNI_ARGS=IP=10.0.0.9",
    "CNI_COMMAND=ADD",
    "CNI_CONTAINERID=pod-1",
    "CNI_IFNAME=eth0",
    "CNI_NETNS=/run/netns/x",
    `CNI_PATH=${dir}:/usr/lib/cni`,
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
  ]);
  assert.equal(await readFile(`${out}.stdin`, "utf8"), '{"cniVersion":"0.4.0","name":"n","type":"t"}');
});

test("ProcessCniExecutor takes the first plugin directory holding an executable of that name", async (t) => {
  const a = await tempDir(t);
  const b = await tempDir(t);
  await writeFile(join(a, "p"), "not executable");
  await plugin(b, "p", `echo '{"cniVersion":"0.4.0","from":"b"}'`);
  await mkdir(join(a, "q"));
  await plugin(b, "q", `echo '{"cniVersion":"0.4.0","from":"b"}'`);
  const e = new ProcessCniExecutor({ pluginDirs: [a, b] });
  assert.equal(await e.findPlugin("p"), join(b, "p"), "a non-executable file is skipped");
  assert.equal(await e.findPlugin("q"), join(b, "q"), "a directory is skipped");
});

test("ProcessCniExecutor reports a missing plugin as not-found with the directories searched", async (t) => {
  const dir = await tempDir(t);
  const e = new ProcessCniExecutor({ pluginDirs: [dir, "/usr/lib/cni"] });
  await assert.rejects(e.invoke(req("nope")), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "not-found");
    assert.equal(err.message, `CNI plugin "nope" not found in ${dir}, /usr/lib/cni`);
    return true;
  });
});

test("ProcessCniExecutor refuses a plugin type that is a path", async () => {
  const e = new ProcessCniExecutor({ pluginDirs: ["/usr/lib/cni"] });
  for (const type of ["../../bin/sh", "..", "a/b"]) {
    await assert.rejects(e.invoke(req(type)), /is not a file name/);
  }
});

test("ProcessCniExecutor refuses relative plugin directories", () => {
  assert.throws(() => new ProcessCniExecutor({ pluginDirs: ["lib/cni"] }), /not an absolute path/);
});

test("ProcessCniExecutor returns the plugin's CNI error from a non-zero exit", async (t) => {
  const { dir } = await setup(t);
  await plugin(dir, "fails", `echo 'some log' >&2; echo '{"cniVersion":"0.4.0","code":100,"msg":"no","details":"because"}'; exit 1`);
  const r = await new ProcessCniExecutor({ pluginDirs: [dir] }).invoke(req("fails"));
  assert.deepEqual(r, { ok: false, error: { cniVersion: "0.4.0", code: 100, msg: "no", details: "because" } });
});

test("ProcessCniExecutor reports a crash without a CNI error with the plugin's stderr", async (t) => {
  const { dir } = await setup(t);
  await plugin(dir, "crash", `echo 'panic: runtime error' >&2; exit 2`);
  await assert.rejects(new ProcessCniExecutor({ pluginDirs: [dir] }).invoke(req("crash")), /plugin crash ADD: exited with 2 without a CNI error on stdout \(stderr: panic: runtime error\)/);
});

test("ProcessCniExecutor refuses output that is not JSON", async (t) => {
  const { dir } = await setup(t);
  await plugin(dir, "chatty", `echo 'hello there'`);
  await assert.rejects(new ProcessCniExecutor({ pluginDirs: [dir] }).invoke(req("chatty")), /plugin chatty ADD: printed something that is not JSON: hello there/);
});

test("ProcessCniExecutor treats empty output as no result (DEL prints nothing)", async (t) => {
  const { dir } = await setup(t);
  await plugin(dir, "silent", `cat > /dev/null`);
  assert.deepEqual(await new ProcessCniExecutor({ pluginDirs: [dir] }).invoke(req("silent", { command: "DEL" })), { ok: true, output: undefined });
});

test("ProcessCniExecutor kills a plugin that runs past the timeout", async (t) => {
  const { dir } = await setup(t);
  await plugin(dir, "hang", `exec sleep 30`);
  const started = Date.now();
  await assert.rejects(new ProcessCniExecutor({ pluginDirs: [dir], timeoutMs: 300 }).invoke(req("hang")), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "unavailable");
    assert.match(err.message, /plugin hang ADD: did not finish within 0\.3 s and was killed/);
    return true;
  });
  assert.ok(Date.now() - started < 5000);
});

test("ProcessCniExecutor kills the plugin when the signal aborts", async (t) => {
  const { dir } = await setup(t);
  await plugin(dir, "hang", `exec sleep 30`);
  const ac = new AbortController();
  setTimeout(() => ac.abort(new Error("user interrupt")), 200);
  await assert.rejects(new ProcessCniExecutor({ pluginDirs: [dir] }).invoke(req("hang", { signal: ac.signal })), /plugin hang ADD: aborted/);
});

test("ProcessCniExecutor runs the plugin under a prefix command", async (t) => {
  const { dir, out } = await setup(t);
  await plugin(dir, "p", `echo "$@" > ${out}; echo '{"cniVersion":"0.4.0"}'`);
  const wrapper = await plugin(dir, "wrap", `echo wrapped > ${out}.w; exec "$@"`);
  await new ProcessCniExecutor({ pluginDirs: [dir], prefix: [wrapper] }).invoke(req("p"));
  assert.equal(await readFile(`${out}.w`, "utf8"), "wrapped\n");
});
