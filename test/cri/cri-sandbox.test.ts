/**
 * CRI pod sandboxes over the real socket, with real runc pods: RunPodSandbox with the kubelet's
 * options, status and list filters, idempotent Stop and Remove, the node's namespaces, and the
 * errors for unknown and malformed IDs.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { execOut, runShell, sandboxConfig, startCri, waitFor } from "./cri-fixture.js";

test("RunPodSandbox starts a ready pod with the kubelet's hostname, DNS, sysctls, labels and annotations; Stop and Remove are idempotent", async (t) => {
  const cri = await startCri(t);
  const { sandbox, container } = await runShell(cri, "web", "sleep 600", {}, {
    hostname: "web-host",
    dns_config: { servers: ["10.96.0.10"], searches: ["default.svc.cluster.local", "svc.cluster.local"], options: ["ndots:5"] },
    labels: { app: "web", tier: "front" },
    annotations: { "kubernetes.io/config.seen": "2026-01-01T00:00:00Z" },
    linux: { sysctls: { "net.ipv4.ip_unprivileged_port_start": "80", "kernel/shm_rmid_forced": "1" }, security_context: { namespace_options: { network: "POD", pid: "CONTAINER", ipc: "POD" } } },
  });
  assert.match(sandbox, /^[0-9a-f-]{36}$/);
  assert.equal((await execOut(cri, container, ["hostname"])).trim(), "web-host");
  const resolv = await execOut(cri, container, ["cat", "/etc/resolv.conf"]);
  assert.match(resolv, /^nameserver 10\.96\.0\.10$/m);
  assert.match(resolv, /^search default\.svc\.cluster\.local svc\.cluster\.local$/m);
  assert.match(resolv, /^options ndots:5$/m);
  assert.equal((await execOut(cri, container, ["cat", "/proc/sys/net/ipv4/ip_unprivileged_port_start"])).trim(), "80");
  assert.equal((await execOut(cri, container, ["cat", "/proc/sys/kernel/shm_rmid_forced"])).trim(), "1");

  const { status } = (await cri.client.call("PodSandboxStatus", { pod_sandbox_id: sandbox })) as { status: Record<string, unknown> };
  assert.equal(status.id, sandbox);
  assert.equal(status.state, "SANDBOX_READY");
  assert.deepEqual(status.metadata, { name: "web", uid: "uid-web", namespace: "default", attempt: 0 });
  assert.deepEqual(status.labels, { app: "web", tier: "front" });
  assert.deepEqual(status.annotations, { "kubernetes.io/config.seen": "2026-01-01T00:00:00Z" });
  assert.ok(BigInt(status.created_at as string) > 0n);
  assert.equal(status.network, null, "no CNI configuration: loopback only");

  // A second sandbox for the filters.
  const other = await runShell(cri, "db", "sleep 600", {}, { labels: { app: "db" } });
  const ids = async (filter: Record<string, unknown> | null): Promise<string[]> =>
    ((await cri.client.call("ListPodSandbox", filter === null ? {} : { filter })) as { items: { id: string }[] }).items.map((i) => i.id).sort();
  assert.deepEqual(await ids(null), [sandbox, other.sandbox].sort());
  assert.deepEqual(await ids({ label_selector: { app: "web" } }), [sandbox]);
  assert.deepEqual(await ids({ id: other.sandbox }), [other.sandbox]);
  assert.deepEqual(await ids({ label_selector: { app: "web", tier: "back" } }), []);

  await cri.client.call("StopPodSandbox", { pod_sandbox_id: sandbox });
  await cri.client.call("StopPodSandbox", { pod_sandbox_id: sandbox });
  const stopped = (await cri.client.call("PodSandboxStatus", { pod_sandbox_id: sandbox })) as { status: { state: string } };
  assert.equal(stopped.status.state, "SANDBOX_NOTREADY");
  assert.deepEqual(await ids({ state: { state: "SANDBOX_READY" } }), [other.sandbox]);
  assert.deepEqual(await ids({ state: { state: "SANDBOX_NOTREADY" } }), [sandbox]);
  // The stopped pod's container is exited, and ExecSync refuses it.
  const list = (await cri.client.call("ListContainers", { filter: { pod_sandbox_id: sandbox } })) as { containers: { state: string }[] };
  assert.deepEqual(list.containers.map((c) => c.state), ["CONTAINER_EXITED"]);
  assert.equal(await cri.client.codeOf("ExecSync", { container_id: container, cmd: ["true"], timeout: 5 }), "FAILED_PRECONDITION");

  // Remove: a running sandbox is stopped first; removing twice is no error.
  await cri.client.call("RemovePodSandbox", { pod_sandbox_id: other.sandbox });
  await cri.client.call("RemovePodSandbox", { pod_sandbox_id: sandbox });
  await cri.client.call("RemovePodSandbox", { pod_sandbox_id: sandbox });
  await cri.client.call("StopPodSandbox", { pod_sandbox_id: sandbox });
  assert.equal(await cri.client.codeOf("PodSandboxStatus", { pod_sandbox_id: sandbox }), "NOT_FOUND");
  assert.deepEqual(await ids(null), []);
});

test("a sandbox with the node's network, PID and IPC namespaces shares them with the host", async (t) => {
  const cri = await startCri(t);
  const { container } = await runShell(cri, "hostns", "sleep 600", { linux: { security_context: { namespace_options: { network: "NODE", pid: "NODE", ipc: "NODE" } } } }, {
    hostname: "",
    linux: { security_context: { namespace_options: { network: "NODE", pid: "NODE", ipc: "NODE" } } },
  });
  for (const ns of ["net", "pid", "ipc"]) {
    assert.equal((await execOut(cri, container, ["readlink", `/proc/self/ns/${ns}`])).trim(), readlinkSync(`/proc/self/ns/${ns}`), `${ns} namespace`);
  }
  // The mount namespace stays the container's own.
  assert.notEqual((await execOut(cri, container, ["readlink", "/proc/self/ns/mnt"])).trim(), readlinkSync("/proc/self/ns/mnt"));
});

test("a pod sandbox's containers have their own PID namespaces but share network and IPC", async (t) => {
  const cri = await startCri(t);
  const { sandbox, container, config } = await runShell(cri, "shared", "sleep 600");
  const { container_id: second } = (await cri.client.call("CreateContainer", {
    pod_sandbox_id: sandbox,
    config: { metadata: { name: "second", attempt: 0 }, image: { image: "localhost/busybox:latest" }, command: ["sleep", "600"] },
    sandbox_config: config,
  })) as { container_id: string };
  await cri.client.call("StartContainer", { container_id: second });
  const ns = async (c: string, kind: string): Promise<string> => (await execOut(cri, c, ["readlink", `/proc/self/ns/${kind}`])).trim();
  assert.equal(await ns(container, "net"), await ns(second, "net"));
  assert.equal(await ns(container, "ipc"), await ns(second, "ipc"));
  assert.notEqual(await ns(container, "pid"), await ns(second, "pid"));
  assert.notEqual(await ns(container, "net"), readlinkSync("/proc/self/ns/net"));
});

test("unknown and malformed IDs: NOT_FOUND where api.proto wants an error, success where it wants idempotence, INVALID_ARGUMENT for what is not an ID", async (t) => {
  const cri = await startCri(t);
  const unknownPod = "00000000-0000-4000-8000-000000000000";
  const unknownContainer = `${unknownPod}-web-0`;
  const code = (m: string, r: Record<string, unknown>): Promise<string> => cri.client.codeOf(m, r);
  assert.equal(await code("PodSandboxStatus", { pod_sandbox_id: unknownPod }), "NOT_FOUND");
  assert.equal(await code("StopPodSandbox", { pod_sandbox_id: unknownPod }), "OK");
  assert.equal(await code("RemovePodSandbox", { pod_sandbox_id: unknownPod }), "OK");
  assert.equal(await code("ContainerStatus", { container_id: unknownContainer }), "NOT_FOUND");
  assert.equal(await code("StartContainer", { container_id: unknownContainer }), "NOT_FOUND");
  assert.equal(await code("StopContainer", { container_id: unknownContainer, timeout: 1 }), "NOT_FOUND");
  assert.equal(await code("RemoveContainer", { container_id: unknownContainer }), "OK");
  assert.equal(await code("ExecSync", { container_id: unknownContainer, cmd: ["true"] }), "NOT_FOUND");
  assert.equal(await code("ContainerStats", { container_id: unknownContainer }), "NOT_FOUND");
  assert.equal(await code("PodSandboxStats", { pod_sandbox_id: unknownPod }), "NOT_FOUND");
  assert.equal(await code("CreateContainer", { pod_sandbox_id: unknownPod, config: { metadata: { name: "x" }, image: { image: "localhost/busybox:latest" } } }), "NOT_FOUND");
  assert.equal(await code("PortForward", { pod_sandbox_id: unknownPod, port: [80] }), "NOT_FOUND");

  for (const bad of ["", "../../etc", "not-a-uuid"]) {
    assert.equal(await code("PodSandboxStatus", { pod_sandbox_id: bad }), "INVALID_ARGUMENT", JSON.stringify(bad));
    assert.equal(await code("StopPodSandbox", { pod_sandbox_id: bad }), "INVALID_ARGUMENT", JSON.stringify(bad));
    assert.equal(await code("ContainerStatus", { container_id: bad }), "INVALID_ARGUMENT", JSON.stringify(bad));
  }
  // Malformed requests.
  assert.equal(await code("RunPodSandbox", {}), "INVALID_ARGUMENT");
  assert.equal(await code("RunPodSandbox", { config: { metadata: { name: "x", uid: "", namespace: "default" } } }), "INVALID_ARGUMENT");
  assert.equal(await code("RunPodSandbox", { config: sandboxConfig(cri, "h"), runtime_handler: "kata" }), "INVALID_ARGUMENT");
  assert.equal(await code("RunPodSandbox", { config: sandboxConfig(cri, "s", { linux: { sysctls: { "kernel.panic": "1" } } }) }), "INVALID_ARGUMENT");
  const { sandbox } = await runShell(cri, "ok", "sleep 600");
  assert.equal(await code("CreateContainer", { pod_sandbox_id: sandbox, config: { metadata: { name: "noimage" }, image: { image: "" } } }), "INVALID_ARGUMENT");
  assert.equal(await code("CreateContainer", { pod_sandbox_id: sandbox, config: { metadata: { name: "missing" }, image: { image: "localhost/nothing:1" } } }), "NOT_FOUND");
  assert.equal(
    await code("CreateContainer", { pod_sandbox_id: sandbox, config: { metadata: { name: "m" }, image: { image: "localhost/busybox:latest" }, mounts: [{ container_path: "/data", host_path: "/nonexistent/rkt-cri-test" }] } }),
    "INVALID_ARGUMENT",
  );
  assert.equal(await code("Exec", { container_id: `${sandbox}-ok-0`, cmd: ["sh"], tty: true, stdin: true, stdout: true, stderr: true }), "INVALID_ARGUMENT");
  assert.equal(await code("ExecSync", { container_id: `${sandbox}-ok-0`, cmd: [] }), "INVALID_ARGUMENT");
  // The failures left no pod behind.
  const list = (await cri.client.call("ListPodSandbox", {})) as { items: { id: string }[] };
  assert.deepEqual(list.items.map((i) => i.id), [sandbox]);
});

test("a sandbox whose supervisor was killed is torn down by StopPodSandbox: containers, mounts and namespaces", async (t) => {
  const cri = await startCri(t);
  const { sandbox } = await runShell(cri, "killed", "sleep 600");
  const podDir = join(cri.dir, "pods", "run", sandbox);
  const supervisor = Number(readFileSync(join(podDir, "supervisor", "pid"), "utf8"));
  process.kill(supervisor, "SIGKILL");
  await waitFor("the pod to count as stopped", async () => (((await cri.client.call("PodSandboxStatus", { pod_sandbox_id: sandbox })) as { status: { state: string } }).status.state === "SANDBOX_NOTREADY" ? true : undefined));
  assert.ok(existsSync(join("/run/rkt/ns", sandbox)), "nothing tore the pod down yet");
  await cri.client.call("StopPodSandbox", { pod_sandbox_id: sandbox });
  assert.equal(existsSync(join("/run/rkt/ns", sandbox)), false);
  assert.deepEqual(readFileSync("/proc/self/mountinfo", "utf8").split("\n").filter((l) => l.includes(podDir)), []);
  assert.equal(execFileSync("runc", ["--root", "/run/rkt/runtime/runc", "list", "-q"], { encoding: "utf8" }).includes(sandbox), false, "the runtime's container is deleted");
  await cri.client.call("RemovePodSandbox", { pod_sandbox_id: sandbox });
  assert.equal(existsSync(podDir), false);
});
