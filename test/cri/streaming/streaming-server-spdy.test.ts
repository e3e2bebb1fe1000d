/**
 * StreamingServer over SPDY/3.1 with a fake backend: the upgrade and protocol negotiation,
 * tokens, the remote-command streams (exit codes, stdout/stderr, stdin, resize, status formats
 * of v4 and v2), flow control both ways, PING, and clients that vanish.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { StreamingServer, type StreamingServerOptions } from "../../../src/cri/streaming/streaming-server.js";
import { FakeBackend } from "./fake-backend.js";
import { SpdyTestClient, type SpdyConnectOptions } from "./spdy-test-client.js";
import { readBody, upgradeRequest } from "./upgrade-request.js";

async function serve(t: TestContext, options: Partial<StreamingServerOptions> = {}): Promise<{ server: StreamingServer; backend: FakeBackend }> {
  const backend = new FakeBackend();
  const server = new StreamingServer({ address: "127.0.0.1:0", backend, ...options });
  await server.start();
  t.after(() => server.stop());
  return { server, backend };
}

async function connect(t: TestContext, url: string, options: Partial<SpdyConnectOptions> = {}): Promise<SpdyTestClient> {
  const { client, response } = await SpdyTestClient.connect(url, { protocols: ["v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"], ...options });
  assert.ok(client, `expected 101, got ${response.status}`);
  t.after(() => client.close());
  return client;
}

function status(client: SpdyTestClient, errorStream: number): Record<string, unknown> {
  return JSON.parse(client.text(errorStream)) as Record<string, unknown>;
}

test("SPDY exec: 101 with the negotiated protocol, stdout and stderr apart, exit code in a v4 Status, then GOAWAY and close", async (t) => {
  const { server, backend } = await serve(t);
  const url = server.getExecUrl({ containerId: "c1", cmd: ["exit", "3"], tty: false, stdin: false, stdout: true, stderr: true });
  assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/exec\/[A-Za-z0-9_-]{20,}$/);
  const client = await connect(t, url, { protocols: ["v5.channel.k8s.io", "v4.channel.k8s.io"] });
  assert.equal(client.response.headers.get("upgrade")?.[0], "SPDY/3.1");
  assert.equal(client.response.headers.get("x-stream-protocol-version")?.[0], "v5.channel.k8s.io");
  const error = await client.open({ streamType: "error" });
  const stdout = await client.open({ streamType: "stdout" });
  const stderr = await client.open({ streamType: "stderr" });
  await client.until("the session to end", () => client.closed);
  assert.ok(error.replied && stdout.replied && stderr.replied, "every stream got a SYN_REPLY");
  assert.equal(client.text(stdout.id), "out\n");
  assert.equal(client.text(stderr.id), "err\n");
  assert.ok(stdout.fin && stderr.fin && error.fin, "the server closed its side of every stream");
  assert.deepEqual(status(client, error.id), {
    metadata: {},
    status: "Failure",
    message: "command terminated with non-zero exit code: error executing command [exit 3], exit code 3",
    reason: "NonZeroExitCode",
    details: { causes: [{ reason: "ExitCode", message: "3" }] },
  });
  assert.equal(client.controls(7).length, 1, "GOAWAY before the close");
  assert.deepEqual(backend.record.execs[0]?.cmd, ["exit", "3"]);
  assert.equal(backend.record.execs[0]?.containerId, "c1");
});

test("SPDY exec: exit 0 is a Success status; stdin reaches the command and its end ends the command's input", async (t) => {
  const { server } = await serve(t);
  const url = server.getExecUrl({ containerId: "c1", cmd: ["echo"], tty: false, stdin: true, stdout: true, stderr: false });
  const client = await connect(t, url);
  const error = await client.open({ streamType: "error" });
  const stdin = await client.open({ streamType: "stdin" });
  const stdout = await client.open({ streamType: "stdout" });
  await client.send(stdin.id, "hello ");
  await client.until("the echo", () => client.text(stdout.id) === "hello ");
  await client.send(stdin.id, "world", true);
  await client.until("the session to end", () => client.closed);
  assert.equal(client.text(stdout.id), "hello world");
  assert.deepEqual(status(client, error.id), { metadata: {}, status: "Success" });
});

test("SPDY exec under v2: the error stream carries only a failure's message, as text; success sends nothing", async (t) => {
  const { server } = await serve(t);
  const fail = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["exit", "2"], tty: false, stdin: false, stdout: true, stderr: false }), { protocols: ["v2.channel.k8s.io"] });
  assert.equal(fail.response.headers.get("x-stream-protocol-version")?.[0], "v2.channel.k8s.io");
  const e1 = await fail.open({ streamType: "error" });
  await fail.open({ streamType: "stdout" });
  await fail.until("end", () => fail.closed);
  assert.equal(fail.text(e1.id), "command terminated with non-zero exit code: error executing command [exit 2], exit code 2");

  const ok = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["exit", "0"], tty: false, stdin: false, stdout: true, stderr: false }), { protocols: ["v2.channel.k8s.io"] });
  const e2 = await ok.open({ streamType: "error" });
  const out = await ok.open({ streamType: "stdout" });
  await ok.until("end", () => ok.closed);
  assert.equal(ok.text(e2.id), "");
  assert.equal(ok.text(out.id), "out\n");
});

test("SPDY exec: a backend failure is an InternalError status", async (t) => {
  const { server } = await serve(t);
  const client = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["fail"], tty: false, stdin: false, stdout: true, stderr: false }));
  const error = await client.open({ streamType: "error" });
  await client.open({ streamType: "stdout" });
  await client.until("end", () => client.closed);
  const s = status(client, error.id);
  assert.equal(s.status, "Failure");
  assert.equal(s.reason, "InternalError");
  assert.equal(s.code, 500);
  assert.match(String(s.message), /no such command in the fake/);
});

test("SPDY exec with a tty: no stderr stream is expected, the resize stream's JSON sizes reach the backend", async (t) => {
  const { server, backend } = await serve(t);
  const client = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["sizes"], tty: true, stdin: true, stdout: true, stderr: false }));
  const error = await client.open({ streamType: "error" });
  const stdin = await client.open({ streamType: "stdin" });
  const stdout = await client.open({ streamType: "stdout" });
  const resize = await client.open({ streamType: "resize" });
  // Go's encoder: one object per line; others send them bare, or split.
  await client.send(resize.id, '{"Width":80,"Height":24}\n');
  await client.until("the first size", () => backend.record.sizes.length === 1);
  await client.send(resize.id, '{"width":132,');
  await client.send(resize.id, '"height":50}');
  await client.until("the second size", () => backend.record.sizes.length === 2);
  await client.send(stdin.id, "", true);
  await client.until("end", () => client.closed);
  assert.deepEqual(JSON.parse(client.text(stdout.id)), [
    { width: 80, height: 24 },
    { width: 132, height: 50 },
  ]);
  assert.equal(status(client, error.id).status, "Success");
  assert.equal(backend.record.execs[0]?.tty, true);
  assert.equal(backend.record.execs[0]?.stderr, undefined);
});

test("SPDY attach: input goes to the container's streams and the session ends with Success", async (t) => {
  const { server, backend } = await serve(t);
  const client = await connect(t, server.getAttachUrl({ containerId: "c9", tty: false, stdin: true, stdout: true, stderr: false }));
  const error = await client.open({ streamType: "error" });
  const stdin = await client.open({ streamType: "stdin" });
  const stdout = await client.open({ streamType: "stdout" });
  await client.send(stdin.id, "ping", true);
  await client.until("end", () => client.closed);
  assert.equal(client.text(stdout.id), "attached:ping");
  assert.equal(status(client, error.id).status, "Success");
  assert.equal(backend.record.attaches[0]?.containerId, "c9");
});

test("SPDY: no protocol in common is refused with 403 and the accepted versions; a non-SPDY upgrade with 400", async (t) => {
  const { server } = await serve(t);
  const req = { containerId: "c", cmd: ["exit", "0"], tty: false, stdin: false, stdout: true, stderr: false };
  const { client, response } = await SpdyTestClient.connect(server.getExecUrl(req), { protocols: ["v9.channel.k8s.io"] });
  assert.equal(client, undefined);
  assert.equal(response.status, 403);
  assert.deepEqual(response.headers.get("x-accepted-stream-protocol-versions"), ["v5.channel.k8s.io", "v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io", "channel.k8s.io"]);
  assert.match(await readBody(response), /unable to negotiate protocol/);

  const h2c = await upgradeRequest(server.getExecUrl(req), "POST", [["Connection", "Upgrade"], ["Upgrade", "h2c"]]);
  assert.equal(h2c.status, 400);
  assert.match(await readBody(h2c), /unsupported Upgrade "h2c"/);
});

test("tokens: single use, expire, belong to one endpoint; unknown paths are 404; plain requests 400", async (t) => {
  const { server } = await serve(t, { tokenTtlMs: 150 });
  const req = { containerId: "c", cmd: ["exit", "0"], tty: false, stdin: false, stdout: true, stderr: false };
  const url = server.getExecUrl(req);
  await connect(t, url);
  const again = await SpdyTestClient.connect(url, { protocols: ["v4.channel.k8s.io"] });
  assert.equal(again.response.status, 404, "a used token");
  again.response.socket.destroy();

  const late = server.getExecUrl(req);
  await new Promise((r) => setTimeout(r, 250));
  assert.equal((await SpdyTestClient.connect(late, { protocols: ["v4.channel.k8s.io"] })).response.status, 404, "an expired token");

  const exec = server.getExecUrl(req);
  const wrong = exec.replace("/exec/", "/attach/");
  assert.equal((await SpdyTestClient.connect(wrong, { protocols: ["v4.channel.k8s.io"] })).response.status, 404, "an exec token on /attach");
  assert.equal((await SpdyTestClient.connect(exec, { protocols: ["v4.channel.k8s.io"] })).response.status, 404, "tried once, used up");

  const base = new URL(exec);
  const plain = await fetch(`${base.origin}/exec/whatever`);
  assert.equal(plain.status, 400);
  assert.equal((await fetch(`${base.origin}/metrics`)).status, 404);
});

test("URL requests the CRI spec rejects fail with invalid-argument", async (t) => {
  const { server } = await serve(t);
  const base = { containerId: "c", cmd: ["sh"], tty: false, stdin: false, stdout: true, stderr: false };
  assert.throws(() => server.getExecUrl({ ...base, tty: true, stderr: true }), { kind: "invalid-argument", message: "tty and stderr cannot both be true" });
  assert.throws(() => server.getExecUrl({ ...base, stdout: false }), { kind: "invalid-argument", message: /one of stdin, stdout, or stderr/ });
  assert.throws(() => server.getExecUrl({ ...base, containerId: "" }), { kind: "invalid-argument", message: /container_id/ });
  assert.throws(() => server.getExecUrl({ ...base, cmd: [] }), { kind: "invalid-argument", message: /cmd/ });
  assert.throws(() => server.getPortForwardUrl({ podSandboxId: "", ports: [] }), { kind: "invalid-argument" });
  assert.throws(() => server.getPortForwardUrl({ podSandboxId: "p", ports: [70000] }), { kind: "invalid-argument" });
  const stopped = new StreamingServer({ address: "127.0.0.1:0", backend: new FakeBackend() });
  assert.throws(() => stopped.getExecUrl(base), { kind: "failed-precondition" });
});

test("SPDY flow control: toward a peer that does flow control, the server stops at the window and resumes on WINDOW_UPDATE", async (t) => {
  const { server } = await serve(t);
  const client = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["big", "200000"], tty: false, stdin: false, stdout: true, stderr: false }), { announceWindow: 65536 });
  await client.open({ streamType: "error" });
  const stdout = await client.open({ streamType: "stdout" });
  await client.until("a full window", () => client.streams.get(stdout.id)!.data.length === 65536);
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(client.streams.get(stdout.id)!.data.length, 65536, "nothing beyond the window, however long it waits");
  client.windowUpdate(stdout.id, 100_000);
  client.windowUpdate(0, 100_000);
  await client.until("the granted bytes", () => client.streams.get(stdout.id)!.data.length === 165536);
  client.windowUpdate(stdout.id, 100_000);
  client.windowUpdate(0, 100_000);
  await client.until("the end", () => client.closed);
  assert.equal(client.streams.get(stdout.id)!.data.length, 200000);
});

test("SPDY flow control: a peer that never grants window (Go's spdystream) still gets all the output", async (t) => {
  const { server } = await serve(t);
  const client = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["big", "1000000"], tty: false, stdin: false, stdout: true, stderr: false }));
  await client.open({ streamType: "error" });
  const stdout = await client.open({ streamType: "stdout" });
  await client.until("the end", () => client.closed, 10_000);
  assert.equal(client.streams.get(stdout.id)!.data.length, 1_000_000);
  assert.ok(client.frames.every((f) => f.kind !== "data" || f.data.length <= 16384), "DATA frames of at most 16 KiB");
});

test("SPDY flow control: the server grants window back as the command consumes stdin", async (t) => {
  const { server } = await serve(t);
  const client = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["count"], tty: false, stdin: true, stdout: true, stderr: false }), { announceWindow: 65536 });
  await client.open({ streamType: "error" });
  const stdin = await client.open({ streamType: "stdin" });
  const stdout = await client.open({ streamType: "stdout" });
  // Send 300 000 bytes without ever exceeding the window the server gives.
  let sent = 0;
  while (sent < 300_000) {
    const windowLeft = 65536 + (client.granted.get(stdin.id) ?? 0) - sent;
    const sessionLeft = 65536 + (client.granted.get(0) ?? 0) - sent;
    const n = Math.min(windowLeft, sessionLeft, 300_000 - sent, 8192);
    if (n <= 0) {
      await client.until("more window", () => 65536 + (client.granted.get(stdin.id) ?? 0) - sent > 0 && 65536 + (client.granted.get(0) ?? 0) - sent > 0);
      continue;
    }
    await client.send(stdin.id, Buffer.alloc(n, "y"), sent + n === 300_000);
    sent += n;
  }
  await client.until("the end", () => client.closed);
  assert.equal(client.text(stdout.id), "300000\n");
  assert.ok((client.granted.get(stdin.id) ?? 0) >= 300_000 - 65536, "stream window granted back");
  assert.ok((client.granted.get(0) ?? 0) >= 300_000 - 65536, "session window granted back");
});

test("SPDY: PINGs are answered; a client that leaves mid-exec aborts the backend", async (t) => {
  const { server, backend } = await serve(t);
  const client = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["hang"], tty: false, stdin: true, stdout: true, stderr: false }));
  await client.open({ streamType: "error" });
  await client.open({ streamType: "stdin" });
  await client.open({ streamType: "stdout" });
  client.ping(7);
  await client.until("the PING echo", () => client.controls(6).some((f) => f.payload.readUInt32BE(0) === 7));
  await new Promise((r) => setTimeout(r, 50));
  client.close();
  await new Promise<void>((resolve, reject) => {
    const end = Date.now() + 3000;
    const check = (): void => {
      if (backend.record.aborted === 1) resolve();
      else if (Date.now() > end) reject(new Error("the backend was not aborted"));
      else setTimeout(check, 20);
    };
    check();
  });
});

test("SPDY: a client that does not open its streams in time is hung up on", async (t) => {
  const { server, backend } = await serve(t, { streamCreationTimeoutMs: 200 });
  const client = await connect(t, server.getExecUrl({ containerId: "c", cmd: ["exit", "0"], tty: false, stdin: true, stdout: true, stderr: false }));
  await client.open({ streamType: "error" });
  await client.until("the hang-up", () => client.closed, 3000);
  assert.equal(backend.record.execs.length, 0);
});
