/**
 * The real kubectl (whatever version the host has; 1.32 here) against a StreamingServer, through
 * a fake API server that relays its upgrade requests byte for byte as kube-apiserver and
 * kubelet do: `kubectl exec` over WebSocket (v5.channel.k8s.io, kubectl's default since 1.31)
 * and over SPDY/3.1 (`KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false`, what older clients and kubelet
 * speak), `kubectl attach`, and `kubectl port-forward` over SPDY tunnelled in a WebSocket
 * (1.31+) and plain SPDY. Skipped when kubectl is not installed.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { StreamingServer } from "../../../src/cri/streaming/streaming-server.js";
import { tempDir } from "../../support/tmp.js";
import { startFakeApiServer, FAKE_POD } from "./fake-apiserver.js";
import { echoServer, FakeBackend } from "./fake-backend.js";

const KUBECTL = spawnSync("kubectl", ["version", "--client"], { encoding: "utf8" }).status === 0;
const skip = KUBECTL ? false : "kubectl is not installed";

interface Cluster {
  readonly backend: FakeBackend;
  readonly kubeconfig: string;
  readonly cacheDir: string;
  readonly requests: string[];
}

async function cluster(t: TestContext): Promise<Cluster> {
  const backend = new FakeBackend();
  const streaming = new StreamingServer({ address: "127.0.0.1:0", backend });
  await streaming.start();
  t.after(() => streaming.stop());
  const api = await startFakeApiServer(streaming, "sandbox-1", "container-1");
  t.after(() => api.close());
  const dir = await tempDir(t);
  const kubeconfig = join(dir, "kubeconfig");
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "fake", cluster: { server: api.url } }],
      users: [{ name: "u", user: {} }],
      contexts: [{ name: "c", context: { cluster: "fake", user: "u", namespace: "default" } }],
      "current-context": "c",
    }),
  );
  return { backend, kubeconfig, cacheDir: join(dir, "cache"), requests: api.requests };
}

function kubectl(c: Cluster, args: readonly string[], options: { input?: string; env?: Record<string, string> } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn("kubectl", [`--kubeconfig=${c.kubeconfig}`, `--cache-dir=${c.cacheDir}`, ...args], { env: { ...process.env, ...options.env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  child.stdin.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise((resolve) => {
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const SPDY = { KUBECTL_REMOTE_COMMAND_WEBSOCKETS: "false" };

for (const [name, env] of [
  ["WebSocket (v5.channel.k8s.io)", {}],
  ["SPDY/3.1", SPDY],
] as const) {
  test(`kubectl exec over ${name}: the command's exit code becomes kubectl's, stdout and stderr stay apart`, { skip }, async (t) => {
    const c = await cluster(t);
    const r = await kubectl(c, ["exec", FAKE_POD, "--", "exit", "3"], { env });
    assert.equal(r.code, 3, r.stderr);
    assert.equal(r.stdout, "out\n");
    assert.match(r.stderr, /^err\n/);
    assert.match(r.stderr, /command terminated with exit code 3/);
    assert.ok(c.requests.some((l) => l.includes("/exec?") && l.endsWith(name.startsWith("SPDY") ? "[SPDY/3.1]" : "[websocket]")), c.requests.join("\n"));
    const ok = await kubectl(c, ["exec", FAKE_POD, "--", "exit", "0"], { env });
    assert.equal(ok.code, 0, ok.stderr);
  });

  test(`kubectl exec -i over ${name}: piped input reaches the command and its end ends the command's input`, { skip }, async (t) => {
    const c = await cluster(t);
    const big = "0123456789".repeat(30_000);
    const r = await kubectl(c, ["exec", "-i", FAKE_POD, "--", "echo"], { env, input: big });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, big.length);
    assert.equal(r.stdout, big);
  });
}

test("kubectl exec: a command the runtime cannot run is kubectl's error, with the runtime's reason", { skip }, async (t) => {
  const c = await cluster(t);
  for (const env of [{}, SPDY]) {
    const r = await kubectl(c, ["exec", FAKE_POD, "--", "fail"], { env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Internal error occurred: error executing command in container: no such command in the fake/);
  }
});

test("kubectl attach -i: input reaches the container, output comes back", { skip }, async (t) => {
  const c = await cluster(t);
  for (const env of [{}, SPDY]) {
    const r = await kubectl(c, ["attach", "-i", FAKE_POD], { env, input: "hello" });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "attached:hello");
  }
});

for (const [name, env] of [
  ["SPDY tunnelled in a WebSocket", {}],
  ["SPDY/3.1", { KUBECTL_PORT_FORWARD_WEBSOCKETS: "false" }],
] as const) {
  test(`kubectl port-forward over ${name}: connections carry bytes both ways; a closed port is reported`, { skip }, async (t) => {
    const c = await cluster(t);
    const echo = await echoServer("hello from the pod\n");
    t.after(() => echo.server.close());
    c.backend.ports.set(8080, echo.port);
    const child = spawn("kubectl", [`--kubeconfig=${c.kubeconfig}`, `--cache-dir=${c.cacheDir}`, "port-forward", `pod/${FAKE_POD}`, ":8080", ":9"], { env: { ...process.env, ...env } });
    t.after(() => child.kill("SIGKILL"));
    let out = "";
    let err = "";
    child.stdout.on("data", (b: Buffer) => (out += b.toString()));
    child.stderr.on("data", (b: Buffer) => (err += b.toString()));
    const ports = await new Promise<number[]>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`kubectl port-forward did not start: ${out}${err}`)), 15_000);
      const check = (): void => {
        const found = [...out.matchAll(/Forwarding from 127\.0\.0\.1:(\d+) -> (\d+)/g)].map((m) => [Number(m[1]), Number(m[2])] as const);
        if (found.length === 2) {
          clearTimeout(timer);
          resolve([found.find(([, r]) => r === 8080)![0], found.find(([, r]) => r === 9)![0]]);
        }
      };
      child.stdout.on("data", check);
    });
    const [local8080, local9] = ports as [number, number];
    // Two connections, one after the other and at once.
    for (let round = 0; round < 2; round++) {
      const replies = await Promise.all(
        [1, 2].map(
          (i) =>
            new Promise<string>((resolve, reject) => {
              const s = connect(local8080, "127.0.0.1", () => s.end(`ping ${round}.${i}\n`));
              let got = "";
              s.on("data", (b: Buffer) => (got += b.toString()));
              s.on("close", () => resolve(got));
              s.on("error", reject);
            }),
        ),
      );
      assert.deepEqual(replies, [`hello from the pod\nping ${round}.1\n`, `hello from the pod\nping ${round}.2\n`]);
    }
    // Port 9 has nothing listening in the "pod": kubectl says so.
    await new Promise<void>((resolve) => {
      const s = connect(local9, "127.0.0.1");
      s.on("error", () => undefined);
      s.on("close", () => resolve());
    });
    const deadline = Date.now() + 5000;
    while (!/error forwarding port 9 to pod sandbox-1/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.match(err, /error forwarding port 9 to pod sandbox-1, uid : connect ECONNREFUSED/);
    assert.ok(c.backend.record.forwards.filter((f) => f.port === 8080 && f.podSandboxId === "sandbox-1").length >= 4);
  });
}
