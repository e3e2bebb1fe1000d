/**
 * Port forwarding through the StreamingServer with a fake backend whose ports lead to real TCP
 * servers: SPDY stream pairs (by requestID, and by stream id for old clients), half-close, the
 * error stream, refused streams; and the WebSocket channel protocol with its port prefixes.
 */
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { StreamingServer } from "../../../src/cri/streaming/streaming-server.js";
import { echoServer, FakeBackend } from "./fake-backend.js";
import { SpdyTestClient } from "./spdy-test-client.js";
import { WebSocketTestClient } from "./websocket-test-client.js";

async function setup(t: TestContext): Promise<{ server: StreamingServer; backend: FakeBackend; echo: Awaited<ReturnType<typeof echoServer>> }> {
  const backend = new FakeBackend();
  const echo = await echoServer("hi\n");
  t.after(() => echo.server.close());
  backend.ports.set(80, echo.port);
  const server = new StreamingServer({ address: "127.0.0.1:0", backend });
  await server.start();
  t.after(() => server.stop());
  return { server, backend, echo };
}

async function spdy(t: TestContext, url: string): Promise<SpdyTestClient> {
  const { client, response } = await SpdyTestClient.connect(url, { protocols: ["portforward.k8s.io"] });
  assert.ok(client, `expected 101, got ${response.status}`);
  assert.equal(response.headers.get("x-stream-protocol-version")?.[0], "portforward.k8s.io");
  t.after(() => client.close());
  return client;
}

test("SPDY port-forward: concurrent pairs by requestID carry bytes both ways; the client's FIN half-closes; both streams end", async (t) => {
  const { server, backend } = await setup(t);
  const client = await spdy(t, server.getPortForwardUrl({ podSandboxId: "pod-a", ports: [] }));
  const pairs = [];
  for (const id of ["0", "1"]) {
    const error = await client.open({ streamType: "error", port: "80", requestID: id });
    const data = await client.open({ streamType: "data", port: "80", requestID: id });
    pairs.push({ error, data });
  }
  for (const [i, { data }] of pairs.entries()) await client.send(data.id, `request ${i}\n`, true);
  for (const [i, { error, data }] of pairs.entries()) {
    await client.until(`pair ${i} to end`, () => data.fin && error.fin);
    assert.equal(client.text(data.id), `hi\nrequest ${i}\n`);
    assert.equal(client.text(error.id), "");
  }
  assert.deepEqual(backend.record.forwards, [
    { podSandboxId: "pod-a", port: 80 },
    { podSandboxId: "pod-a", port: 80 },
  ]);
  // The session stays up for more connections.
  const e = await client.open({ streamType: "error", port: "80", requestID: "2" });
  const d = await client.open({ streamType: "data", port: "80", requestID: "2" });
  await client.send(d.id, "again", true);
  await client.until("the third pair", () => d.fin && e.fin);
  assert.equal(client.text(d.id), "hi\nagain");
});

test("SPDY port-forward: old clients without requestID are paired by stream id", async (t) => {
  const { server } = await setup(t);
  const client = await spdy(t, server.getPortForwardUrl({ podSandboxId: "p", ports: [] }));
  const error = await client.open({ streamType: "error", port: "80" });
  const data = await client.open({ streamType: "data", port: "80" });
  await client.send(data.id, "old", true);
  await client.until("the end", () => data.fin && error.fin);
  assert.equal(client.text(data.id), "hi\nold");
});

test("SPDY port-forward: a closed port is reported on the error stream, as kubelet words it", async (t) => {
  const { server } = await setup(t);
  const client = await spdy(t, server.getPortForwardUrl({ podSandboxId: "pod-b", ports: [] }));
  const error = await client.open({ streamType: "error", port: "81", requestID: "0" });
  const data = await client.open({ streamType: "data", port: "81", requestID: "0" });
  await client.until("the error", () => error.fin && data.fin);
  assert.equal(client.text(error.id), "error forwarding port 81 to pod pod-b, uid : connect ECONNREFUSED 127.0.0.1:81");
});

test("SPDY port-forward: streams without a valid port or type, or for ports the request did not name, are refused", async (t) => {
  const { server } = await setup(t);
  const client = await spdy(t, server.getPortForwardUrl({ podSandboxId: "p", ports: [80] }));
  const noPort = await client.open({ streamType: "data", requestID: "0" });
  const badPort = await client.open({ streamType: "data", port: "70000", requestID: "1" });
  const badType = await client.open({ streamType: "stdin", port: "80", requestID: "2" });
  const otherPort = await client.open({ streamType: "data", port: "81", requestID: "3" });
  await client.until("the refusals", () => [noPort, badPort, badType, otherPort].every((s) => s.reset !== undefined));
  assert.deepEqual([noPort, badPort, badType, otherPort].map((s) => s.reset), [3, 3, 3, 3]);
});

test("WebSocket port-forward (v4.channel.k8s.io): each channel starts with the port, little-endian; data flows both ways; close at the end", async (t) => {
  const { server, echo } = await setup(t);
  const { client, response } = await WebSocketTestClient.connect(server.getPortForwardUrl({ podSandboxId: "pod-w", ports: [80] }), ["v4.channel.k8s.io"]);
  assert.ok(client, String(response.status));
  t.after(() => client.close());
  await client.until("the greeting", () => client.channel(0).length >= 5);
  assert.deepEqual(client.channel(1), Buffer.from([80, 0]), "the error channel: just the port");
  assert.deepEqual(client.channel(0).subarray(0, 2), Buffer.from([80, 0]));
  assert.equal(client.channel(0).subarray(2).toString(), "hi\n");
  client.sendChannel(0, "through the websocket\n");
  await client.until("the echo", () => client.channel(0).subarray(2).toString() === "hi\nthrough the websocket\n");
  // The pod's side ends the connection: the session ends, normally.
  for (const s of echo.sockets) s.end();
  await client.until("the close", () => client.closeFrame !== undefined);
  assert.equal(client.closeFrame?.code, 1000);
});

test("WebSocket port-forward: ports come from the query when the request named none; a closed port is reported on its error channel", async (t) => {
  const { server } = await setup(t);
  const url = `${server.getPortForwardUrl({ podSandboxId: "pod-q", ports: [] })}?port=81&port=80`;
  const { client } = await WebSocketTestClient.connect(url, ["v4.channel.k8s.io"]);
  assert.ok(client);
  t.after(() => client.close());
  await client.until("port 81's error", () => client.channel(1).length > 2);
  assert.deepEqual(client.channel(0), Buffer.from([81, 0]));
  assert.equal(client.channel(1).subarray(2).toString(), "error forwarding port 81 to pod pod-q, uid : connect ECONNREFUSED 127.0.0.1:81");
  await client.until("port 80's greeting", () => client.channel(2).length >= 5);
  assert.deepEqual(client.channel(2).subarray(0, 2), Buffer.from([80, 0]));
  const { response } = await WebSocketTestClient.connect(server.getPortForwardUrl({ podSandboxId: "p", ports: [] }), ["v4.channel.k8s.io"]);
  assert.equal(response.status, 400, "no ports at all");
  response.socket.destroy();
});
