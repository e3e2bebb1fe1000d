/**
 * CRI containers over the real socket with real runc apps: create/start/stop/remove with the
 * kubelet's command, args, environment and log path; status and list filters; mounts with
 * propagation; ExecSync; resources and stats from cgroups; log reopening; tty and stdin.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { makeTempDir, removeTempDir } from "../support/tmp.js";
import { BUSYBOX, execOut, runShell, sandboxConfig, shellContainer, startCri, waitFor, type CriFixture } from "./cri-fixture.js";

type Status = { state: string; exit_code: number; reason: string; started_at: string; finished_at: string; created_at: string; log_path: string; labels: Record<string, string> };

async function status(cri: CriFixture, id: string): Promise<Status> {
  return ((await cri.client.call("ContainerStatus", { container_id: id })) as { status: Status }).status;
}

async function exited(cri: CriFixture, id: string): Promise<Status> {
  return waitFor(`${id} to exit`, async () => {
    const s = await status(cri, id);
    return s.state === "CONTAINER_EXITED" ? s : undefined;
  });
}

async function create(cri: CriFixture, sandbox: string, config: Record<string, unknown>, sandboxCfg: Record<string, unknown>): Promise<string> {
  return ((await cri.client.call("CreateContainer", { pod_sandbox_id: sandbox, config, sandbox_config: sandboxCfg })) as { container_id: string }).container_id;
}

test("CreateContainer runs the kubelet's command, args, env and working dir; the CRI log is at the kubelet's path; status and list report state, times, exit code and reason", async (t) => {
  const cri = await startCri(t);
  const pod = sandboxConfig(cri, "jobs");
  const { pod_sandbox_id: sandbox } = (await cri.client.call("RunPodSandbox", { config: pod })) as { pod_sandbox_id: string };
  const failing = await create(cri, sandbox, {
    metadata: { name: "fail", attempt: 1 },
    image: { image: BUSYBOX },
    command: ["/bin/sh", "-c"],
    args: ['echo "$GREETING from $(pwd)"; echo oops >&2; exit 3'],
    envs: [{ key: "GREETING", value: "hi" }],
    working_dir: "/tmp",
    log_path: "fail/1.log",
    labels: { kind: "job", outcome: "bad" },
    annotations: { "io.kubernetes.container.hash": "abc123" },
  }, pod);
  assert.equal(failing, `${sandbox}-fail-1`);
  const created = await status(cri, failing);
  assert.equal(created.state, "CONTAINER_CREATED");
  assert.equal(created.started_at, "0");
  await cri.client.call("StartContainer", { container_id: failing });
  const s = await exited(cri, failing);
  assert.equal(s.exit_code, 3);
  assert.equal(s.reason, "Error");
  assert.ok(BigInt(s.started_at) >= BigInt(s.created_at) - 1_000_000n, "started after created");
  assert.ok(BigInt(s.finished_at) >= BigInt(s.started_at));
  assert.equal(s.log_path, join(cri.logs, "default_jobs", "fail", "1.log"));
  const log = readFileSync(s.log_path, "utf8");
  assert.match(log, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z stdout F hi from \/tmp$/m);
  assert.match(log, /^\S+ stderr F oops$/m);
  const full = (await cri.client.call("ContainerStatus", { container_id: failing })) as { status: { annotations: Record<string, string>; labels: Record<string, string> } };
  assert.deepEqual(full.status.annotations, { "io.kubernetes.container.hash": "abc123" });

  // args alone replace the image's Cmd; a clean exit is "Completed".
  const ok = await create(cri, sandbox, { metadata: { name: "ok" }, image: { image: BUSYBOX }, args: ["echo", "args-only"], log_path: "ok/0.log", labels: { kind: "job", outcome: "good" } }, pod);
  await cri.client.call("StartContainer", { container_id: ok });
  const okStatus = await exited(cri, ok);
  assert.equal(okStatus.exit_code, 0);
  assert.equal(okStatus.reason, "Completed");
  assert.match(readFileSync(okStatus.log_path, "utf8"), / stdout F args-only$/m);

  // A long runner: created, running, stopped after the timeout (sh as PID 1 ignores TERM), idempotent stop.
  const long = await create(cri, sandbox, shellContainer("long", "sleep 600"), pod);
  const ids = async (filter: Record<string, unknown>): Promise<string[]> => ((await cri.client.call("ListContainers", { filter })) as { containers: { id: string }[] }).containers.map((c) => c.id).sort();
  assert.deepEqual(await ids({ state: { state: "CONTAINER_CREATED" } }), [long]);
  await cri.client.call("StartContainer", { container_id: long });
  assert.equal((await status(cri, long)).state, "CONTAINER_RUNNING");
  assert.deepEqual(await ids({ state: { state: "CONTAINER_RUNNING" } }), [long]);
  assert.deepEqual(await ids({ state: { state: "CONTAINER_EXITED" } }), [failing, ok].sort());
  assert.deepEqual(await ids({ label_selector: { kind: "job" } }), [failing, ok].sort());
  assert.deepEqual(await ids({ label_selector: { kind: "job", outcome: "good" } }), [ok]);
  assert.deepEqual(await ids({ id: long }), [long]);
  assert.deepEqual(await ids({ pod_sandbox_id: sandbox }), [failing, ok, long].sort());
  assert.deepEqual(await ids({ pod_sandbox_id: "00000000-0000-4000-8000-000000000000" }), []);
  const started = Date.now();
  await cri.client.call("StopContainer", { container_id: long, timeout: 1 });
  assert.ok(Date.now() - started >= 900, "TERM was ignored, KILL came after the timeout");
  const stopped = await status(cri, long);
  assert.equal(stopped.state, "CONTAINER_EXITED");
  assert.equal(stopped.exit_code, 137);
  await cri.client.call("StopContainer", { container_id: long, timeout: 1 });
  await cri.client.call("RemoveContainer", { container_id: long });
  await cri.client.call("RemoveContainer", { container_id: long });
  assert.equal(await cri.client.codeOf("ContainerStatus", { container_id: long }), "NOT_FOUND");
  assert.deepEqual(await ids({}), [failing, ok].sort());
  // A running container is killed by RemoveContainer.
  const victim = await create(cri, sandbox, shellContainer("victim", "sleep 600"), pod);
  await cri.client.call("StartContainer", { container_id: victim });
  await cri.client.call("RemoveContainer", { container_id: victim });
  assert.deepEqual(await ids({}), [failing, ok].sort());
  // The same name and attempt twice is refused.
  assert.equal(await cri.client.codeOf("CreateContainer", { pod_sandbox_id: sandbox, config: { metadata: { name: "ok" }, image: { image: BUSYBOX } } }), "ALREADY_EXISTS");
});

test("mounts: read-only and read-write host paths, a file over /etc/hosts, and host-to-container propagation of a mount made after the start", async (t) => {
  const host = await makeTempDir("rkt-cri-mounts-");
  const shared = join(host, "shared");
  mkdirSync(join(shared, "sub"), { recursive: true });
  t.after(async () => {
    for (const m of [join(shared, "sub"), shared]) {
      try {
        execFileSync("umount", [m]);
      } catch {
        // not mounted
      }
    }
    await removeTempDir(host);
  });
  execFileSync("mount", ["--bind", shared, shared]);
  execFileSync("mount", ["--make-rshared", shared]);
  mkdirSync(join(host, "ro"));
  writeFileSync(join(host, "ro", "file"), "read me\n");
  mkdirSync(join(host, "rw"));
  writeFileSync(join(host, "etc-hosts"), "# kubelet-managed\n10.0.0.1\tweb\n");
  const cri = await startCri(t);
  const { container } = await runShell(cri, "mounts", "sleep 600", {
    mounts: [
      { container_path: "/ro", host_path: join(host, "ro"), readonly: true },
      { container_path: "/rw", host_path: join(host, "rw"), readonly: false },
      { container_path: "/etc/hosts", host_path: join(host, "etc-hosts") },
      { container_path: "/prop", host_path: shared, propagation: "PROPAGATION_HOST_TO_CONTAINER" },
    ],
  });
  assert.equal(await execOut(cri, container, ["cat", "/ro/file"]), "read me\n");
  const write = (await cri.client.call("ExecSync", { container_id: container, cmd: ["touch", "/ro/x"], timeout: 5 })) as { exit_code: number; stderr: Buffer };
  assert.notEqual(write.exit_code, 0);
  assert.match(write.stderr.toString(), /Read-only file system/);
  await execOut(cri, container, ["sh", "-c", "echo written > /rw/out"]);
  assert.equal(readFileSync(join(host, "rw", "out"), "utf8"), "written\n");
  assert.equal(await execOut(cri, container, ["cat", "/etc/hosts"]), "# kubelet-managed\n10.0.0.1\tweb\n");
  // A mount made on the host after the container started shows up inside it (rslave).
  execFileSync("mount", ["-t", "tmpfs", "tmpfs", join(shared, "sub")]);
  writeFileSync(join(shared, "sub", "late"), "arrived\n");
  assert.equal(await execOut(cri, container, ["cat", "/prop/sub/late"]), "arrived\n");
  const { status: s } = (await cri.client.call("ContainerStatus", { container_id: container })) as { status: { mounts: { container_path: string; propagation: string; readonly: boolean }[] } };
  assert.deepEqual(s.mounts.map((m) => [m.container_path, m.propagation, m.readonly]), [
    ["/ro", "PROPAGATION_PRIVATE", true],
    ["/rw", "PROPAGATION_PRIVATE", false],
    ["/etc/hosts", "PROPAGATION_PRIVATE", false],
    ["/prop", "PROPAGATION_HOST_TO_CONTAINER", false],
  ]);
  execFileSync("umount", [join(shared, "sub")]);
});

test("ExecSync returns stdout, stderr and the exit code; a timeout is DEADLINE_EXCEEDED and kills the command; output is capped at 16 MiB", async (t) => {
  const cri = await startCri(t);
  const { container } = await runShell(cri, "exec", "sleep 600");
  const r = (await cri.client.call("ExecSync", { container_id: container, cmd: ["sh", "-c", "echo out; echo err >&2; exit 7"], timeout: 5 })) as { stdout: Buffer; stderr: Buffer; exit_code: number };
  assert.deepEqual([r.stdout.toString(), r.stderr.toString(), r.exit_code], ["out\n", "err\n", 7]);
  const started = Date.now();
  assert.equal(await cri.client.codeOf("ExecSync", { container_id: container, cmd: ["sh", "-c", "exec sleep 77"], timeout: 1 }), "DEADLINE_EXCEEDED");
  assert.ok(Date.now() - started < 5000);
  await waitFor("the timed-out command to be gone", async () => ((await execOut(cri, container, ["ps"])).includes("sleep 77") ? undefined : true), 5000);
  const big = (await cri.client.call("ExecSync", { container_id: container, cmd: ["sh", "-c", "head -c 17825792 /dev/zero; echo done >&2"], timeout: 30 })) as { stdout: Buffer; stderr: Buffer; exit_code: number };
  assert.equal(big.stdout.length, 16 * 1024 * 1024);
  assert.equal(big.stderr.toString(), "done\n");
  assert.equal(big.exit_code, 0);
});

test("resources: the kubelet's limits reach the cgroup, UpdateContainerResources changes them while it runs; ContainerStats and PodSandboxStats read the cgroups", async (t) => {
  const cri = await startCri(t);
  const { sandbox, container } = await runShell(cri, "limits", "head -c 3000000 /dev/zero > /tmp/fill; sleep 600", {
    linux: { resources: { memory_limit_in_bytes: 64 * 1024 * 1024, cpu_period: 100000, cpu_quota: 50000, cpu_shares: 512, oom_score_adj: 500 } },
  });
  const cg = (file: string): Promise<string> => execOut(cri, container, ["cat", file]).then((s) => s.trim());
  assert.equal(await cg("/sys/fs/cgroup/memory/memory.limit_in_bytes"), String(64 * 1024 * 1024));
  assert.equal(await cg("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), "50000");
  assert.equal(await cg("/sys/fs/cgroup/cpu/cpu.shares"), "512");
  assert.equal(await cg("/proc/1/oom_score_adj"), "500");
  await cri.client.call("UpdateContainerResources", { container_id: container, linux: { memory_limit_in_bytes: 128 * 1024 * 1024, cpu_quota: 20000 } });
  assert.equal(await cg("/sys/fs/cgroup/memory/memory.limit_in_bytes"), String(128 * 1024 * 1024));
  assert.equal(await cg("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), "20000");
  assert.equal(await cg("/sys/fs/cgroup/cpu/cpu.shares"), "512", "fields left 0 keep their value");
  const { status: s } = (await cri.client.call("ContainerStatus", { container_id: container })) as { status: { resources: { linux: { memory_limit_in_bytes: string } } } };
  assert.equal(s.resources.linux.memory_limit_in_bytes, String(128 * 1024 * 1024));

  await waitFor("the fill file", async () => ((await execOut(cri, container, ["ls", "-l", "/tmp/fill"])).includes("3000000") ? true : undefined));
  const { stats } = (await cri.client.call("ContainerStats", { container_id: container })) as { stats: { attributes: { id: string }; cpu: { usage_core_nano_seconds: { value: string } }; memory: { working_set_bytes: { value: string }; usage_bytes: { value: string } }; writable_layer: { used_bytes: { value: string }; inodes_used: { value: string } } } };
  assert.equal(stats.attributes.id, container);
  assert.ok(BigInt(stats.cpu.usage_core_nano_seconds.value) > 0n);
  assert.ok(BigInt(stats.memory.usage_bytes.value) > 0n);
  assert.ok(BigInt(stats.writable_layer.used_bytes.value) >= 3000000n);
  assert.ok(BigInt(stats.writable_layer.inodes_used.value) >= 2n);
  const list = (await cri.client.call("ListContainerStats", { filter: { pod_sandbox_id: sandbox } })) as { stats: { attributes: { id: string } }[] };
  assert.deepEqual(list.stats.map((x) => x.attributes.id), [container]);
  const pod = (await cri.client.call("PodSandboxStats", { pod_sandbox_id: sandbox })) as { stats: { attributes: { id: string }; linux: { containers: unknown[]; process: { process_count: { value: string } }; cpu: { usage_core_nano_seconds: { value: string } } } } };
  assert.equal(pod.stats.attributes.id, sandbox);
  assert.equal(pod.stats.linux.containers.length, 1);
  assert.ok(Number(pod.stats.linux.process.process_count.value) >= 1);
  assert.ok(BigInt(pod.stats.linux.cpu.usage_core_nano_seconds.value) > 0n);
  const all = (await cri.client.call("ListPodSandboxStats", {})) as { stats: unknown[] };
  assert.equal(all.stats.length, 1);
});

test("ReopenContainerLog: after the kubelet rotates the log file, output goes to a new file at the same path", async (t) => {
  const cri = await startCri(t);
  const { container } = await runShell(cri, "chatty", "i=0; while true; do i=$((i+1)); echo line $i; sleep 0.1; done");
  const path = (await status(cri, container)).log_path;
  await waitFor("some output", () => (existsSync(path) && readFileSync(path, "utf8").includes("line 3") ? true : undefined));
  renameSync(path, `${path}.1`);
  await cri.client.call("ReopenContainerLog", { container_id: container });
  const fresh = await waitFor("output in the new file", () => (existsSync(path) && readFileSync(path, "utf8").includes("stdout F line") ? readFileSync(path, "utf8") : undefined));
  const first = Number(/line (\d+)/.exec(fresh)?.[1]);
  const rotated = readFileSync(`${path}.1`, "utf8").trim().split("\n");
  const last = Number(/line (\d+)$/.exec(rotated[rotated.length - 1] ?? "")?.[1]);
  assert.ok(first > last, `the new file continues where the rotated one stopped (${last} -> ${first})`);
});

test("tty and stdin: a tty container has a terminal; a stdin container keeps its input open", async (t) => {
  const cri = await startCri(t);
  const { sandbox, container, config } = await runShell(cri, "tty", "if [ -t 1 ]; then echo is-a-tty; else echo no-tty; fi; sleep 600", { tty: true, stdin: true });
  const ttyLog = (await status(cri, container)).log_path;
  await waitFor("the tty line", () => (existsSync(ttyLog) && readFileSync(ttyLog, "utf8").includes("is-a-tty") ? true : undefined));
  // Without stdin, `read` meets end of input at once; with it, it waits.
  const withStdin = await create(cri, sandbox, shellContainer("reader", "read line; echo got:$line", { stdin: true, stdin_once: true }), config);
  const noStdin = await create(cri, sandbox, shellContainer("closed", "read line; echo status:$?"), config);
  await cri.client.call("StartContainer", { container_id: withStdin });
  await cri.client.call("StartContainer", { container_id: noStdin });
  const closed = await exited(cri, noStdin);
  assert.match(readFileSync(closed.log_path, "utf8"), /status:1/);
  assert.equal((await status(cri, withStdin)).state, "CONTAINER_RUNNING");
});
