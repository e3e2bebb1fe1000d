/**
 * The runtime as a whole over the real socket: Version and Status in both CRI versions, the pod
 * CIDR, a runtime.v1alpha2 kubelet and a runtime.v1 one sharing the node, and a restart of
 * `rkt cri` that loses nothing (the pods are the state).
 */
import assert from "node:assert/strict";
import { connect } from "node:http2";
import { connect as netConnect } from "node:net";
import { test } from "node:test";
import { WebSocketTestClient } from "./streaming/websocket-test-client.js";
import { CriClient } from "./cri-client.js";
import { BUSYBOX, execOut, runShell, sandboxConfig, shellContainer, startCri, waitFor } from "./cri-fixture.js";

test("Version, Status and RuntimeConfig answer in runtime.v1 and runtime.v1alpha2; UpdateRuntimeConfig records the pod CIDR", async (t) => {
  const cri = await startCri(t);
  const old = new CriClient(cri.socket, "v1alpha2");
  t.after(() => old.close());
  assert.deepEqual(await cri.client.call("Version", { version: "0.1.0" }), { version: "0.1.0", runtime_name: "rkt", runtime_version: "0.1.0+dev", runtime_api_version: "v1" });
  assert.equal(((await old.call("Version", { version: "0.1.0" })) as { runtime_api_version: string }).runtime_api_version, "v1alpha2");
  const status = (await old.call("Status", { verbose: false })) as { status: { conditions: { type: string; status: boolean; reason: string }[] }; info: Record<string, string> };
  assert.deepEqual(status.status.conditions.map((c) => [c.type, c.status, c.reason]), [["RuntimeReady", true, ""], ["NetworkReady", false, "NetworkPluginNotReady"]]);
  assert.deepEqual(status.info, {}, "info only when verbose");
  await cri.client.call("UpdateRuntimeConfig", { runtime_config: { network_config: { pod_cidr: "10.244.3.0/24" } } });
  await cri.client.call("UpdateRuntimeConfig", { runtime_config: { network_config: { pod_cidr: "" } } });
  const verbose = (await cri.client.call("Status", { verbose: true })) as { info: { info: string } };
  assert.equal((JSON.parse(verbose.info.info) as { podCIDR: string }).podCIDR, "10.244.3.0/24", "an empty CIDR leaves it");
  assert.equal(await cri.client.codeOf("UpdateRuntimeConfig", { runtime_config: { network_config: { pod_cidr: "not a cidr" } } }), "INVALID_ARGUMENT");
  assert.deepEqual(await cri.client.call("RuntimeConfig", {}), { linux: { cgroup_driver: "CGROUPFS" } });
  assert.equal(await cri.client.codeOf("CheckpointContainer", { container_id: "x" }), "UNIMPLEMENTED");
});

test("a runtime.v1alpha2 client and a runtime.v1 client see and drive the same sandboxes and containers", async (t) => {
  const cri = await startCri(t, { version: "v1alpha2" });
  const v1 = new CriClient(cri.socket, "v1");
  t.after(() => v1.close());
  const { sandbox, container } = await runShell(cri, "old", "sleep 600");
  const list = (await v1.call("ListContainers", {})) as { containers: { id: string; pod_sandbox_id: string; state: string }[] };
  assert.deepEqual(list.containers.map((c) => [c.id, c.pod_sandbox_id, c.state]), [[container, sandbox, "CONTAINER_RUNNING"]]);
  await v1.call("StopContainer", { container_id: container, timeout: 0 });
  const s = (await cri.client.call("ContainerStatus", { container_id: container })) as { status: { state: string; exit_code: number } };
  assert.deepEqual([s.status.state, s.status.exit_code], ["CONTAINER_EXITED", 137]);
  await cri.client.call("StopPodSandbox", { pod_sandbox_id: sandbox });
  assert.equal(((await v1.call("PodSandboxStatus", { pod_sandbox_id: sandbox })) as { status: { state: string } }).status.state, "SANDBOX_NOTREADY");
});

test("restarting rkt cri loses nothing: sandboxes and containers keep running and are found again with the same IDs, metadata, labels and states", async (t) => {
  const cri = await startCri(t);
  const { sandbox, container, config } = await runShell(cri, "keep", "sleep 600");
  const { container_id: done } = (await cri.client.call("CreateContainer", { pod_sandbox_id: sandbox, config: shellContainer("done", "exit 4"), sandbox_config: config })) as { container_id: string };
  await cri.client.call("StartContainer", { container_id: done });
  await waitFor("done to exit", async () => (((await cri.client.call("ContainerStatus", { container_id: done })) as { status: { state: string } }).status.state === "CONTAINER_EXITED" ? true : undefined));
  const { container_id: fresh } = (await cri.client.call("CreateContainer", { pod_sandbox_id: sandbox, config: { metadata: { name: "fresh" }, image: { image: BUSYBOX }, command: ["sleep", "600"] }, sandbox_config: config })) as { container_id: string };
  const stopped = (await cri.client.call("RunPodSandbox", { config: sandboxConfig(cri, "gone") })) as { pod_sandbox_id: string };
  await cri.client.call("StopPodSandbox", { pod_sandbox_id: stopped.pod_sandbox_id });
  const pid = async (): Promise<number> => (JSON.parse(((await cri.client.call("ContainerStatus", { container_id: container, verbose: true })) as { info: { info: string } }).info.info) as { pid: number }).pid;
  const pidBefore = await pid();
  const snapshot = async (): Promise<unknown> => ({
    sandboxes: (((await cri.client.call("ListPodSandbox", {})) as { items: { id: string }[] }).items).sort((a, b) => a.id.localeCompare(b.id)),
    containers: (((await cri.client.call("ListContainers", {})) as { containers: { id: string }[] }).containers).sort((a, b) => a.id.localeCompare(b.id)),
    statuses: await Promise.all([container, done, fresh].map((id) => cri.client.call("ContainerStatus", { container_id: id }))),
  });
  const before = await snapshot();

  await cri.restart();
  assert.deepEqual(await snapshot(), before);
  assert.equal(await pid(), pidBefore, "the container kept running through the restart");
  assert.equal((await execOut(cri, container, ["echo", "still here"])).trim(), "still here");
  // The created container can still be started, and the sandbox still takes new containers.
  await cri.client.call("StartContainer", { container_id: fresh });
  assert.equal(((await cri.client.call("ContainerStatus", { container_id: fresh })) as { status: { state: string } }).status.state, "CONTAINER_RUNNING");
});

test("Exec, Attach and PortForward hand out streaming URLs; an exec through its URL runs in the container (WebSocket, v4 channels)", async (t) => {
  const cri = await startCri(t);
  const { sandbox, container } = await runShell(cri, "stream", "sleep 600");
  const { url } = (await cri.client.call("Exec", { container_id: container, cmd: ["sh", "-c", "echo from-exec; exit 3"], stdout: true, stderr: true })) as { url: string };
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/\S+$/);
  const { client: ws } = await WebSocketTestClient.connect(url, ["v4.channel.k8s.io"]);
  assert.ok(ws !== undefined, "the streaming server upgraded the connection");
  t.after(() => ws.close());
  await ws.until("the exec to end", () => ws.closed || ws.closeFrame !== undefined, 15_000);
  const channel = (n: number): string => Buffer.concat(ws.messages.filter((m) => m.data[0] === n).map((m) => m.data.subarray(1))).toString();
  assert.equal(channel(1), "from-exec\n");
  assert.match(channel(3), /"reason":"ExitCode","message":"3"/);
  const attach = (await cri.client.call("Attach", { container_id: container, stdout: true, stderr: true })) as { url: string };
  assert.match(attach.url, /^http:\/\/127\.0\.0\.1:\d+\/attach\/\S+$/);
  const forward = (await cri.client.call("PortForward", { pod_sandbox_id: sandbox, port: [80] })) as { url: string };
  assert.match(forward.url, /^http:\/\/127\.0\.0\.1:\d+\/portforward\/\S+$/);
  await cri.client.call("StopContainer", { container_id: container, timeout: 0 });
  assert.equal(await cri.client.codeOf("Exec", { container_id: container, cmd: ["true"], stdout: true }), "FAILED_PRECONDITION");
});

test("a client that sends the socket's path or nothing as :authority (kubelets before 1.26) is served", async (t) => {
  const cri = await startCri(t);
  for (const authority of [cri.socket, ""]) {
    const session = connect("http://localhost", { createConnection: () => netConnect(cri.socket) });
    t.after(() => session.close());
    const result = await new Promise<{ status: string | undefined; body: Buffer }>((resolve, reject) => {
      // Version with an empty request: a gRPC message of 0 bytes (flag 0, length 0).
      const req = session.request({ ":method": "POST", ":path": "/runtime.v1alpha2.RuntimeService/Version", ":authority": authority, ":scheme": "http", "content-type": "application/grpc", te: "trailers" });
      const chunks: Buffer[] = [];
      let status: string | undefined;
      req.on("trailers", (trailers: Record<string, string | string[] | undefined>) => (status = String(trailers["grpc-status"])));
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("error", reject);
      req.on("close", () => resolve({ status, body: Buffer.concat(chunks) }));
      req.end(Buffer.alloc(5));
    });
    assert.equal(result.status, "0", `authority ${JSON.stringify(authority)}`);
    assert.match(result.body.toString("latin1"), /v1alpha2/);
    session.close();
  }
});
