/**
 * The engine backend against a real mutable pod (rkt app sandbox --net=none, apps added and
 * started with the CLI, runc underneath), served by a StreamingServer and driven by the test
 * clients, and by the real kubectl when the host has it: exec (exit codes, stdout/stderr, stdin,
 * a terminal with its size and resizes, runtime failures), attach, and port-forward into the
 * pod's own network namespace. Needs root; podTestStore checks that nothing is left behind.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test, type TestContext } from "node:test";
import { EngineStreamingBackend } from "../../../src/cri/streaming/engine-backend.js";
import { StreamingServer } from "../../../src/cri/streaming/streaming-server.js";
import { PodStore } from "../../../src/pod/pod-store.js";
import { podTestStore } from "../../support/pod-env.js";
import { runRkt } from "../../support/run-rkt.js";
import { tempDir } from "../../support/tmp.js";
import { FAKE_POD, startFakeApiServer } from "./fake-apiserver.js";
import { SpdyTestClient } from "./spdy-test-client.js";
import { WebSocketTestClient } from "./websocket-test-client.js";

const root = process.getuid?.() === 0 ? false : "needs root (pods)";
const KUBECTL = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;

async function ok(dir: string, args: readonly string[]): Promise<string> {
  const r = await runRkt(args, { dir });
  assert.equal(r.code, 0, `rkt ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

interface Pod {
  readonly uuid: string;
  readonly server: StreamingServer;
}

/** A sandbox with: `web` (busybox httpd on 8080), `echo` (reads lines from stdin), `once` (one line, then exit 6). */
async function pod(t: TestContext): Promise<Pod> {
  // Registered before podTestStore's hook so it runs first (hooks run in order): the server
  // ends its sessions, then the pod is stopped and has exited before the store is collected.
  const cleanup: (() => Promise<unknown>)[] = [];
  t.after(async () => {
    for (const step of cleanup) await step();
  });
  const { dir, busybox } = await podTestStore(t);
  const uuid = (await ok(dir, ["app", "sandbox", "--net=none"])).trim();
  cleanup.push(async () => {
    await runRkt(["stop", uuid], { dir });
    for (let i = 0; i < 100 && !(await runRkt(["status", uuid], { dir })).stdout.includes("state=exited"); i++) await sleep(100);
  });
  await ok(dir, ["app", "add", uuid, busybox, "--name=web", "--exec=/bin/sh", "--", "-c", "mkdir -p /tmp/www && echo hello-http > /tmp/www/index.html && exec /bin/busybox httpd -f -p 8080 -h /tmp/www"]);
  await ok(dir, ["app", "add", uuid, busybox, "--name=echo", "--stdin=stream", "--exec=/bin/sh", "--", "-c", "while read l; do echo got:$l; echo err:$l >&2; done; echo bye"]);
  await ok(dir, ["app", "add", uuid, busybox, "--name=once", "--stdin=stream", "--exec=/bin/sh", "--", "-c", "read l; echo once:$l; exit 6"]);
  await ok(dir, ["app", "add", uuid, busybox, "--name=stopped", "--exec=/bin/true"]);
  for (const app of ["web", "echo", "once", "stopped"]) await ok(dir, ["app", "start", uuid, `--app=${app}`]);
  const backend = new EngineStreamingBackend({
    pods: new PodStore(dir),
    // The test's container ids: "<uuid>/<app>".
    resolveContainer: (id) => {
      const [podUuid = "", app = ""] = id.split("/");
      return { podUuid, app };
    },
  });
  const server = new StreamingServer({ address: "127.0.0.1:0", backend });
  await server.start();
  cleanup.unshift(() => server.stop());
  // httpd must be listening before port-forward tests.
  for (let i = 0; i < 50; i++) {
    const r = await runRkt(["app", "exec", "--app=web", uuid, "/bin/sh", "-c", "echo | nc 127.0.0.1 8080 >/dev/null"], { dir });
    if (r.code === 0) break;
    await sleep(100);
  }
  return { uuid, server };
}

/** Runs a command without blocking this process (the server under test runs in it). */
function run(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) => {
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function spdyExec(url: string): Promise<SpdyTestClient> {
  const { client, response } = await SpdyTestClient.connect(url, { protocols: ["v4.channel.k8s.io"] });
  assert.ok(client, String(response.status));
  return client;
}

test("engine backend against a real pod", { skip: root }, async (t) => {
  const { uuid, server } = await pod(t);
  const id = (app: string): string => `${uuid}/${app}`;

  await t.test("exec over SPDY: stdout and stderr apart, the command's exit code in the status", async () => {
    const client = await spdyExec(server.getExecUrl({ containerId: id("web"), cmd: ["/bin/sh", "-c", "echo out; echo err >&2; hostname >/dev/null; exit 7"], tty: false, stdin: false, stdout: true, stderr: true }));
    const error = await client.open({ streamType: "error" });
    const stdout = await client.open({ streamType: "stdout" });
    const stderr = await client.open({ streamType: "stderr" });
    await client.until("the end", () => client.closed, 20_000);
    assert.equal(client.text(stdout.id), "out\n");
    assert.equal(client.text(stderr.id), "err\n");
    const status = JSON.parse(client.text(error.id)) as { reason: string; details: { causes: { message: string }[] } };
    assert.equal(status.reason, "NonZeroExitCode");
    assert.equal(status.details.causes[0]?.message, "7");
  });

  await t.test("exec over WebSocket v5: stdin to cat and back, CLOSE ends it, Success", async () => {
    const { client } = await WebSocketTestClient.connect(server.getExecUrl({ containerId: id("web"), cmd: ["/bin/cat"], tty: false, stdin: true, stdout: true, stderr: true }), ["v5.channel.k8s.io"]);
    assert.ok(client);
    const big = Buffer.alloc(300_000, "q");
    client.sendChannel(0, "first line\n");
    await client.until("the echo", () => client.channel(1).toString() === "first line\n", 20_000);
    client.sendChannel(0, big);
    client.sendBinary(Buffer.from([255, 0]));
    await client.until("the close", () => client.closeFrame !== undefined, 20_000);
    assert.equal(client.channel(1).length, 11 + big.length);
    assert.deepEqual(JSON.parse(client.channel(3).toString()), { metadata: {}, status: "Success" });
  });

  await t.test("exec with a tty: the command sees a terminal of the client's size, and resizes", async () => {
    const script = "/bin/busybox tty; read x; /bin/busybox stty size; read y; /bin/busybox stty size; echo $TERM";
    const { client } = await WebSocketTestClient.connect(server.getExecUrl({ containerId: id("web"), cmd: ["/bin/sh", "-c", script], tty: true, stdin: true, stdout: true, stderr: false }), ["v5.channel.k8s.io"]);
    assert.ok(client);
    client.sendChannel(4, '{"Width":120,"Height":40}');
    // \r\r\n is possible for output before runc cleared the container pty's ONLCR (its race).
    await client.until("the terminal", () => /^\/dev\/pts\/\d+\r{1,2}\n/.test(client.channel(1).toString()), 20_000);
    await sleep(200);
    client.sendChannel(0, "a\r");
    await client.until("the first size", () => client.channel(1).toString().includes("40 120\r\n"), 20_000);
    client.sendChannel(4, '{"Width":90,"Height":33}');
    await sleep(300);
    client.sendChannel(0, "b\r");
    await client.until("the close", () => client.closeFrame !== undefined, 20_000);
    const out = client.channel(1).toString();
    // The terminal echoes input (a, b) and maps NL to CRNL, as a terminal does.
    assert.match(out, /^\/dev\/pts\/\d+\r{1,2}\na\r\n40 120\r\nb\r\n33 90\r\nxterm\r\n$/, JSON.stringify(out));
    assert.deepEqual(JSON.parse(client.channel(3).toString()), { metadata: {}, status: "Success" });
  });

  await t.test("exec failures: a missing program and a stopped container are InternalErrors that say why", async () => {
    const missing = await spdyExec(server.getExecUrl({ containerId: id("web"), cmd: ["/no/such/program"], tty: false, stdin: false, stdout: true, stderr: true }));
    const e1 = await missing.open({ streamType: "error" });
    await missing.open({ streamType: "stdout" });
    await missing.open({ streamType: "stderr" });
    await missing.until("the end", () => missing.closed, 20_000);
    const s1 = JSON.parse(missing.text(e1.id)) as { reason: string; message: string };
    assert.equal(s1.reason, "InternalError");
    assert.match(s1.message, /exec failed.*no\/such\/program/);

    const stopped = await spdyExec(server.getExecUrl({ containerId: id("stopped"), cmd: ["/bin/true"], tty: false, stdin: false, stdout: true, stderr: false }));
    const e2 = await stopped.open({ streamType: "error" });
    await stopped.open({ streamType: "stdout" });
    await stopped.until("the end", () => stopped.closed, 20_000);
    assert.match((JSON.parse(stopped.text(e2.id)) as { message: string }).message, /not running|no runtime container/);
  });

  await t.test("attach over SPDY: input reaches the app, its stdout and stderr come back; leaving leaves it running", async () => {
    const client = await spdyExec(server.getAttachUrl({ containerId: id("echo"), tty: false, stdin: true, stdout: true, stderr: true }));
    await client.open({ streamType: "error" });
    const stdin = await client.open({ streamType: "stdin" });
    const stdout = await client.open({ streamType: "stdout" });
    const stderr = await client.open({ streamType: "stderr" });
    await client.send(stdin.id, "hello\n");
    await client.until("the output", () => client.text(stdout.id) === "got:hello\n" && client.text(stderr.id) === "err:hello\n", 20_000);
    client.close();
    await sleep(300);
    const again = await spdyExec(server.getAttachUrl({ containerId: id("echo"), tty: false, stdin: true, stdout: true, stderr: false }));
    await again.open({ streamType: "error" });
    const in2 = await again.open({ streamType: "stdin" });
    const out2 = await again.open({ streamType: "stdout" });
    await again.send(in2.id, "still here\n");
    await again.until("the app's answer", () => again.text(out2.id) === "got:still here\n", 20_000);
    again.close();
  });

  await t.test("attach over WebSocket ends with Success when the app exits", async () => {
    const { client } = await WebSocketTestClient.connect(server.getAttachUrl({ containerId: id("once"), tty: false, stdin: true, stdout: true, stderr: false }), ["v4.channel.k8s.io"]);
    assert.ok(client);
    await client.until("the established message", () => client.messages.length > 0, 20_000);
    client.sendChannel(0, "bye\n");
    await client.until("the close", () => client.closeFrame !== undefined, 20_000);
    assert.equal(client.channel(1).toString(), "once:bye\n");
    assert.deepEqual(JSON.parse(client.channel(3).toString()), { metadata: {}, status: "Success" });
  });

  await t.test("port-forward over SPDY and WebSocket reaches 127.0.0.1 inside the pod's network namespace", async () => {
    const client = await SpdyTestClient.connect(server.getPortForwardUrl({ podSandboxId: uuid, ports: [] }), { protocols: ["portforward.k8s.io"] });
    assert.ok(client.client);
    const c = client.client;
    for (const rid of ["0", "1"]) {
      const error = await c.open({ streamType: "error", port: "8080", requestID: rid });
      const data = await c.open({ streamType: "data", port: "8080", requestID: rid });
      await c.send(data.id, "GET /index.html HTTP/1.0\r\n\r\n", true);
      await c.until("the response", () => data.fin && error.fin, 20_000);
      assert.match(c.text(data.id), /^HTTP\/1\.[01] 200 OK\r\n[\s\S]*\r\n\r\nhello-http\n$/);
    }
    // Nothing listens on 8081 in the pod (and the host's 8081 is not the pod's).
    const error = await c.open({ streamType: "error", port: "8081", requestID: "2" });
    await c.open({ streamType: "data", port: "8081", requestID: "2" });
    await c.until("the error", () => error.fin, 20_000);
    assert.match(c.text(error.id), /error forwarding port 8081 to pod .*ECONNREFUSED/);
    c.close();

    const { client: ws } = await WebSocketTestClient.connect(server.getPortForwardUrl({ podSandboxId: uuid, ports: [8080] }), ["v4.channel.k8s.io"]);
    assert.ok(ws);
    await ws.until("the port prefix", () => ws.channel(0).length >= 2, 20_000);
    ws.sendChannel(0, "GET / HTTP/1.0\r\n\r\n");
    await ws.until("the close", () => ws.closeFrame !== undefined, 20_000);
    assert.match(ws.channel(0).subarray(2).toString(), /hello-http\n$/);
  });

  await t.test("kubectl exec and port-forward, through a relaying API server, into the real pod", { skip: KUBECTL ? false : "kubectl is not installed" }, async (tt) => {
    const api = await startFakeApiServer(server, uuid, id("web"));
    tt.after(() => api.close());
    const dir = await tempDir(tt);
    const kubeconfig = join(dir, "kubeconfig");
    await writeFile(kubeconfig, JSON.stringify({ apiVersion: "v1", kind: "Config", clusters: [{ name: "f", cluster: { server: api.url } }], users: [{ name: "u", user: {} }], contexts: [{ name: "c", context: { cluster: "f", user: "u", namespace: "default" } }], "current-context": "c" }));
    const args = [`--kubeconfig=${kubeconfig}`, `--cache-dir=${join(dir, "cache")}`];
    for (const env of [{}, { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: "false" }]) {
      const r = await run("kubectl", [...args, "exec", FAKE_POD, "--", "/bin/sh", "-c", "echo in-pod $(hostname); echo oops >&2; exit 5"], { ...process.env, ...env });
      assert.equal(r.status, 5, JSON.stringify(r));
      assert.match(r.stdout, /^in-pod /, JSON.stringify(r));
      assert.match(r.stderr, /^oops\n/, JSON.stringify(r));
    }
    const pf = spawn("kubectl", [...args, "port-forward", `pod/${FAKE_POD}`, ":8080"]);
    tt.after(() => pf.kill("SIGKILL"));
    const local = await new Promise<number>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(() => reject(new Error(`kubectl port-forward: ${out}`)), 20_000);
      pf.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
        if (m !== null) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    const body = await new Promise<string>((resolve, reject) => {
      const s = connect(local, "127.0.0.1", () => s.write("GET / HTTP/1.0\r\n\r\n"));
      let got = "";
      s.on("data", (b: Buffer) => (got += b.toString()));
      s.on("close", () => resolve(got));
      s.on("error", reject);
    });
    assert.match(body, /200 OK[\s\S]*hello-http\n$/, JSON.stringify(body));
  });
});
