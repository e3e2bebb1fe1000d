/** assertHostPortsFree against real sockets on 127.0.0.1. */
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import { createServer, type Server } from "node:net";
import { test, type TestContext } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import { assertHostPortsFree } from "../../src/network/host-ports.js";
import { splitRule } from "../../src/network/iptables-rule.js";

async function tcpListener(t: TestContext, host: string): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen({ host, port: 0 }, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as { port: number }).port;
}

async function udpListener(t: TestContext, address: string): Promise<number> {
  const socket: Socket = createSocket("udp4");
  await new Promise<void>((resolve) => socket.bind({ address, port: 0 }, resolve));
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())));
  return socket.address().port;
}

/** A port nothing listens on (bound and released again). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test("assertHostPortsFree accepts ports nothing listens on", async () => {
  const port = await freePort();
  await assertHostPortsFree([{ protocol: "tcp", containerPort: 80, hostPort: port }, { protocol: "udp", containerPort: 53, hostPort: port }], { iptables: false });
});

test("a TCP port a host service listens on is already-exists, also when the service listens on one address only", async (t) => {
  const port = await tcpListener(t, "127.0.0.1");
  for (const hostIP of [undefined, "127.0.0.1"]) {
    await assert.rejects(
      assertHostPortsFree([{ protocol: "tcp", containerPort: 80, hostPort: port, ...(hostIP === undefined ? {} : { hostIP }) }], { iptables: false }),
      (err: unknown) => {
        assert.ok(err instanceof RktError);
        assert.equal(err.kind, "already-exists");
        assert.match(err.message, new RegExp(`host port (127\\.0\\.0\\.1:)?${port}/tcp is already in use on the host`));
        return true;
      },
    );
  }
  // The same number over UDP is another port.
  await assertHostPortsFree([{ protocol: "udp", containerPort: 80, hostPort: port }], { iptables: false });
});

test("a UDP port in use is already-exists", async (t) => {
  const port = await udpListener(t, "127.0.0.1");
  await assert.rejects(assertHostPortsFree([{ protocol: "udp", containerPort: 53, hostPort: port, hostIP: "127.0.0.1" }], { iptables: false }), /udp is already in use/);
});

test("the same host port asked for twice is refused", async () => {
  await assert.rejects(
    assertHostPortsFree([{ protocol: "tcp", containerPort: 80, hostPort: 8080 }, { protocol: "tcp", containerPort: 81, hostPort: 8080 }], { iptables: false }),
    /host port 8080\/tcp is forwarded twice/,
  );
});

test("a host IP that is not an address of this host is invalid-argument", async () => {
  // 198.51.100.0/24 is TEST-NET-2: never a local address. Binding only; nothing is sent.
  await assert.rejects(
    assertHostPortsFree([{ protocol: "tcp", containerPort: 80, hostPort: await freePort(), hostIP: "198.51.100.77" }], { iptables: false }),
    (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /is not an address of this host/.test(err.message),
  );
});

test("splitRule splits iptables -S output, with quoted, escaped comments", () => {
  assert.deepEqual(splitRule('-A CNI-HOSTPORT-DNAT -p tcp -m comment --comment "dnat name: \\"default\\" id: \\"x\\"" -m multiport --dports 8080,9000 -j CNI-DN-1'), [
    "-A", "CNI-HOSTPORT-DNAT", "-p", "tcp", "-m", "comment", "--comment", 'dnat name: "default" id: "x"', "-m", "multiport", "--dports", "8080,9000", "-j", "CNI-DN-1",
  ]);
});
