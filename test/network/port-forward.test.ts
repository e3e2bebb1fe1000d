/**
 * `--port` end to end with the real portmap plugin (root): a server inside the pod's namespace is
 * reached from the host through 127.0.0.1:HOSTPORT and through the host's own address on the
 * pod's ptp link. Traffic stays on loopback and in namespaces the test created.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { RktError } from "../../src/lib/errors.js";
import { loadNetworkConfigs } from "../../src/network/cni/network-config.js";
import { parseNetFlags, selectNetworks } from "../../src/network/cni/select-networks.js";
import { attachPodNetworks, detachPodNetworks } from "../../src/network/pod-network.js";
import { tempDir } from "../support/tmp.js";
import { createNetns, hostChanges, hostState, leaseFiles, links, networkTestEnv, restoreIpForwardAfterAll, sh, spawnIn, testId, type NetworkTestEnv, type TestNetns } from "./host-fixture.js";

restoreIpForwardAfterAll();

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "0.0.0.0", port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** GET http://host:port/ with a deadline; the body, or the error's message. */
function get(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: "/", timeout: 2000 }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve(body));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve(`error: ${err.message}`));
    req.end();
  });
}

/** busybox httpd on port 80 inside the pod, serving "hello from the pod". */
async function podServer(t: TestContext, ns: TestNetns): Promise<void> {
  const www = await tempDir(t);
  await writeFile(join(www, "index.html"), "hello from the pod\n");
  spawnIn(t, ns.name, ["busybox", "httpd", "-f", "-p", "80", "-h", www]);
  for (let i = 0; i < 50; i++) {
    // Ask from inside the pod, on its loopback, until httpd answers.
    if ((await sh("ip", ["netns", "exec", ns.name, "busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1/"], { allowFail: true })).code === 0) return;
    await sleep(100);
  }
  throw new Error("httpd in the pod did not start");
}

async function defaultPod(t: TestContext, env: NetworkTestEnv, hostPort: number): Promise<{ ns: TestNetns; uuid: string; r: Awaited<ReturnType<typeof attachPodNetworks>> }> {
  const ns = await createNetns(t);
  const uuid = testId();
  env.track("default", uuid);
  const networks = selectNetworks(parseNetFlags([]), await loadNetworkConfigs({ localConfig: env.localConfig, ipamDataDir: env.leases }));
  const r = await attachPodNetworks({ uuid, netnsPath: ns.path, networks, localConfig: env.localConfig, ports: [{ protocol: "tcp", containerPort: 80, hostPort }] });
  return { ns, uuid, r };
}

test("a forwarded port reaches the pod from the host via 127.0.0.1 and via the host's ptp address; DEL removes the forwarding", async (t) => {
  const env = await networkTestEnv(t);
  const hostPort = await freePort();
  const { ns, uuid, r } = await defaultPod(t, env, hostPort);
  await podServer(t, ns);
  assert.equal(r.portForwardNetwork, "default");
  const gateway = r.networks[0]?.ips[0]?.gateway;
  assert.equal(gateway, "172.16.28.1");

  assert.equal(await get("127.0.0.1", hostPort), "hello from the pod\n", "through loopback (portmap sets route_localnet on the pod's host veth)");
  assert.equal(await get(gateway, hostPort), "hello from the pod\n", "through the host's address on the pod's link");
  const dnat = (await hostState()).nat.filter((l) => l.includes(`dnat name: \\"default\\" id: \\"${uuid}\\"`));
  assert.equal(dnat.length, 1, "one DNAT rule in CNI-HOSTPORT-DNAT for the pod");

  await detachPodNetworks(r.netInfo);
  assert.match(await get("127.0.0.1", hostPort), /^error: /, "nothing answers on the host port any more");
  assert.deepEqual(await leaseFiles(env.leases, "default"), []);
  assert.deepEqual(await links(ns.name), ["lo"]);
  // portmap's shared CNI-HOSTPORT-* chains stay by design (other pods use them); nothing else.
  assert.deepEqual(await hostChanges(env.before, { keepNetns: [ns.name], allowPortmapChains: true }), []);
});

test("a host port a host service listens on is reported before the pod joins any network", async (t) => {
  const env = await networkTestEnv(t);
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "127.0.0.1", port: 0 }, resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as { port: number }).port;
  const ns = await createNetns(t);
  await assert.rejects(defaultPod(t, env, port).then(() => undefined), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "already-exists");
    assert.equal(err.message, `host port ${port}/tcp is already in use on the host`);
    return true;
  });
  assert.deepEqual(await links(ns.name), ["lo"]);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: (await hostState()).netns }), []);
});

test("a host port another pod forwards is reported, naming that pod", async (t) => {
  const env = await networkTestEnv(t);
  const hostPort = await freePort();
  const first = await defaultPod(t, env, hostPort);
  try {
    await assert.rejects(defaultPod(t, env, hostPort), (err: unknown) => {
      assert.ok(err instanceof RktError);
      assert.equal(err.kind, "already-exists");
      assert.equal(err.message, `host port ${hostPort}/tcp is already forwarded (name: "default" id: "${first.uuid}")`);
      return true;
    });
  } finally {
    await detachPodNetworks(first.r.netInfo);
  }
  assert.deepEqual(await leaseFiles(env.leases, "default"), []);
  assert.deepEqual(await hostChanges(env.before, { keepNetns: (await hostState()).netns, allowPortmapChains: true }), []);
});
