/**
 * StreamingServer over WebSocket with a fake backend: the RFC 6455 handshake and framing rules,
 * the channel protocols for exec/attach (v5 with its CLOSE signal, v4, base64, none), resize on
 * channel 4, ping/pong, and clients that leave.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { StreamingServer, type StreamingServerOptions } from "../../../src/cri/streaming/streaming-server.js";
import { FakeBackend } from "./fake-backend.js";
import { readBody } from "./upgrade-request.js";
import { WebSocketTestClient } from "./websocket-test-client.js";

async function serve(t: TestContext, options: Partial<StreamingServerOptions> = {}): Promise<{ server: StreamingServer; backend: FakeBackend }> {
  const backend = new FakeBackend();
  const server = new StreamingServer({ address: "127.0.0.1:0", backend, ...options });
  await server.start();
  t.after(() => server.stop());
  return { server, backend };
}

async function open(t: TestContext, url: string, protocols: readonly string[]): Promise<WebSocketTestClient> {
  const { client, response } = await WebSocketTestClient.connect(url, protocols);
  assert.ok(client, `expected 101, got ${response.status}`);
  t.after(() => client.close());
  return client;
}

const exec = (cmd: string[], streams: Partial<{ tty: boolean; stdin: boolean; stdout: boolean; stderr: boolean }> = {}) => ({ containerId: "c", cmd, tty: false, stdin: false, stdout: true, stderr: true, ...streams });

test("WebSocket exec (v5): 'established' message on stdout first, stdout and stderr channels, exit code on channel 3, normal close", async (t) => {
  const { server } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["exit", "4"])), ["v5.channel.k8s.io", "v4.channel.k8s.io"]);
  assert.equal(ws.protocol, "v5.channel.k8s.io");
  await ws.until("the close", () => ws.closeFrame !== undefined);
  assert.deepEqual(ws.messages[0], { binary: true, data: Buffer.from([1]) }, "an empty message on stdout first");
  assert.equal(ws.channel(1).toString(), "out\n");
  assert.equal(ws.channel(2).toString(), "err\n");
  const status = JSON.parse(ws.channel(3).toString()) as { status: string; reason: string; details: { causes: { reason: string; message: string }[] } };
  assert.equal(status.status, "Failure");
  assert.equal(status.reason, "NonZeroExitCode");
  assert.deepEqual(status.details.causes, [{ reason: "ExitCode", message: "4" }]);
  assert.equal(ws.closeFrame?.code, 1000);
  await ws.until("the TCP close", () => ws.closed);
});

test("WebSocket exec (v5): stdin flows in, and the CLOSE signal for channel 0 ends it; other channels' data is ignored", async (t) => {
  const { server } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["echo"], { stdin: true, stderr: false })), ["v5.channel.k8s.io"]);
  ws.sendChannel(0, "abc");
  ws.sendChannel(1, "not stdin");
  ws.sendChannel(9, "no such channel");
  await ws.until("the echo", () => ws.channel(1).toString() === "abc");
  ws.sendChannel(0, Buffer.alloc(200_000, "z"));
  ws.sendBinary(Buffer.from([255, 0]));
  await ws.until("the close", () => ws.closeFrame !== undefined);
  assert.equal(ws.channel(1).length, 200_003);
  assert.deepEqual(JSON.parse(ws.channel(3).toString()), { metadata: {}, status: "Success" });
});

test("WebSocket exec (v4): no CLOSE signal: channel 255 is not a close, stdin ends when the client closes", async (t) => {
  const { server, backend } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["count"], { stdin: true, stderr: false })), ["v4.channel.k8s.io"]);
  assert.equal(ws.protocol, "v4.channel.k8s.io");
  ws.sendChannel(0, "12345");
  ws.sendBinary(Buffer.from([255, 0]));
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(ws.channel(1).length, 0, "still counting: stdin is open");
  ws.sendClose();
  await ws.until("the TCP close", () => ws.closed);
  assert.equal(backend.record.execs.length, 1);
});

test("WebSocket exec (base64.channel.k8s.io): text messages, channel digit and base64; failure text only (pre-v4 status)", async (t) => {
  const { server } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["exit", "5"])), ["base64.channel.k8s.io"]);
  await ws.until("the close", () => ws.closeFrame !== undefined);
  assert.ok(ws.messages.every((m) => !m.binary));
  assert.equal(ws.base64Channel(1).toString(), "out\n");
  assert.equal(ws.base64Channel(2).toString(), "err\n");
  assert.equal(ws.base64Channel(3).toString(), "command terminated with non-zero exit code: error executing command [exit 5], exit code 5");

  const echo = await open(t, server.getExecUrl(exec(["echo"], { stdin: true, stderr: false })), ["v4.base64.channel.k8s.io"]);
  echo.sendText(`0${Buffer.from("hi there").toString("base64")}`);
  await echo.until("the echo", () => echo.base64Channel(1).toString() === "hi there");
  echo.sendClose();
});

test("WebSocket exec with a tty: resize JSON on channel 4 reaches the backend", async (t) => {
  const { server, backend } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["sizes"], { tty: true, stdin: true, stderr: false })), ["v5.channel.k8s.io"]);
  ws.sendChannel(4, '{"Width":100,"Height":30}');
  await ws.until("the size", () => backend.record.sizes.length === 1);
  ws.sendChannel(4, '{"Width":101,');
  ws.sendChannel(4, '"Height":31}\n');
  await ws.until("the second size", () => backend.record.sizes.length === 2);
  ws.sendBinary(Buffer.from([255, 0]));
  await ws.until("the close", () => ws.closeFrame !== undefined);
  assert.deepEqual(backend.record.sizes, [
    { width: 100, height: 30 },
    { width: 101, height: 31 },
  ]);
});

test("WebSocket: no subprotocol speaks the binary channel protocol; an unknown one is refused with 403", async (t) => {
  const { server } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["exit", "0"])), []);
  assert.equal(ws.protocol, undefined);
  await ws.until("the close", () => ws.closeFrame !== undefined);
  assert.equal(ws.channel(1).toString(), "out\n");
  assert.equal(ws.channel(3).length, 0, "success is silent before v4");

  const { client, response } = await WebSocketTestClient.connect(server.getExecUrl(exec(["exit", "0"])), ["v9.channel.k8s.io"]);
  assert.equal(client, undefined);
  assert.equal(response.status, 403);
  assert.match(await readBody(response), /not supported/);
});

test("WebSocket handshake: wrong version is 426 with the version we speak; a bad key is 400", async (t) => {
  const { server } = await serve(t);
  const { upgradeRequest } = await import("./upgrade-request.js");
  const v8 = await upgradeRequest(server.getExecUrl(exec(["exit", "0"])), "GET", [["Connection", "Upgrade"], ["Upgrade", "websocket"], ["Sec-WebSocket-Version", "8"], ["Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="]]);
  assert.equal(v8.status, 426);
  assert.deepEqual(v8.headers.get("sec-websocket-version"), ["13"]);
  v8.socket.destroy();
  const badKey = await upgradeRequest(server.getExecUrl(exec(["exit", "0"])), "GET", [["Connection", "Upgrade"], ["Upgrade", "websocket"], ["Sec-WebSocket-Version", "13"], ["Sec-WebSocket-Key", "short"]]);
  assert.equal(badKey.status, 400);
  badKey.socket.destroy();
});

test("WebSocket framing: pings are answered with the same payload; fragmented messages are joined; an unmasked frame closes with 1002", async (t) => {
  const { server } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["echo"], { stdin: true, stderr: false })), ["v5.channel.k8s.io"]);
  ws.frame(9, Buffer.from("are you there"));
  await ws.until("the pong", () => ws.pongs.length === 1);
  assert.equal(ws.pongs[0]?.toString(), "are you there");
  ws.frame(2, Buffer.from([0, 0x61]), { fin: false });
  ws.frame(9, Buffer.from("between fragments"));
  ws.frame(0, Buffer.from("bc"), { fin: true });
  await ws.until("the echo", () => ws.channel(1).toString() === "abc");
  ws.frame(2, Buffer.from([0, 0x62]), { mask: false });
  await ws.until("the close", () => ws.closeFrame !== undefined);
  assert.equal(ws.closeFrame?.code, 1002);
});

test("WebSocket: a text message that is not UTF-8 closes with 1007", async (t) => {
  const { server } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["echo"], { stdin: true, stderr: false })), ["base64.channel.k8s.io"]);
  ws.frame(1, Buffer.from([0x30, 0xff, 0xfe]));
  await ws.until("the close", () => ws.closeFrame !== undefined);
  assert.equal(ws.closeFrame?.code, 1007);
});

test("WebSocket: a client that goes away mid-exec aborts the backend", async (t) => {
  const { server, backend } = await serve(t);
  const ws = await open(t, server.getExecUrl(exec(["hang"], { stdin: true, stderr: false })), ["v5.channel.k8s.io"]);
  await ws.until("the established message", () => ws.messages.length === 1);
  ws.close();
  const end = Date.now() + 3000;
  while (backend.record.aborted === 0 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
  assert.equal(backend.record.aborted, 1);
});

test("WebSocket attach (v4): stdin to the container, output back, Success", async (t) => {
  const { server, backend } = await serve(t);
  const ws = await open(t, server.getAttachUrl({ containerId: "c2", tty: false, stdin: true, stdout: true, stderr: false }), ["v4.channel.k8s.io"]);
  ws.sendChannel(0, "x");
  await ws.until("the output", () => ws.channel(1).toString() === "attached:x");
  ws.sendClose();
  await ws.until("the TCP close", () => ws.closed);
  assert.equal(backend.record.attaches[0]?.containerId, "c2");
});
