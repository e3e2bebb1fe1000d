/**
 * CRI pod networking with Debian's real CNI plugins: the first configuration of the kubelet's CNI
 * directory is the pod network (bridge + host-local + portmap), the pod's IP is in its status,
 * port mappings forward a host port, StopPodSandbox releases the veth, the lease and the rules,
 * and a RunPodSandbox failing in CNI leaves nothing. Traffic stays on loopback and in the pods.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { chmod, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { tempDir } from "../support/tmp.js";
import { forceCleanup, hostChanges, hostState, leaseFiles, links, removePortmapChains, restoreIpForwardAfterAll, sh, type HostState } from "../network/host-fixture.js";
import { execOut, runShell, sandboxConfig, startCri, waitFor } from "./cri-fixture.js";

restoreIpForwardAfterAll();

const NETWORK = "rkt-cri-test";
const BRIDGE = "rkt-tcri0";

function bridgeConflist(leases: string, subnet: string, extraPlugins: readonly object[] = []): string {
  return JSON.stringify({
    cniVersion: "0.4.0",
    name: NETWORK,
    plugins: [
      { type: "bridge", bridge: BRIDGE, isGateway: true, ipMasq: true, ipam: { type: "host-local", ranges: [[{ subnet }]], routes: [{ dst: "0.0.0.0/0" }], dataDir: leases } },
      ...extraPlugins,
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  });
}

/** The host as it was, and a cleanup of what a failed test may leave (rules, the bridge, portmap chains). */
async function hostGuard(t: TestContext): Promise<HostState> {
  const before = await hostState();
  t.after(async () => {
    await forceCleanup(before, []);
    await sh("ip", ["link", "del", BRIDGE], { allowFail: true });
    await removePortmapChains();
  });
  return before;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen({ host: "0.0.0.0", port: 0 }, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

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

test("RunPodSandbox joins the first network of the kubelet's CNI directory: the pod IP is in its status, port mappings forward, Stop releases veth, lease and rules", async (t) => {
  const before = await hostGuard(t);
  const leases = await tempDir(t, "rkt-cri-leases-");
  const cri = await startCri(t, {
    cniConf: {
      "10-bridge.conflist": bridgeConflist(leases, "10.251.77.0/24"),
      // Not the first file: ignored, as the kubelet's runtimes do.
      "99-other.conf": JSON.stringify({ cniVersion: "0.4.0", name: "other", type: "ptp", ipam: { type: "host-local", subnet: "10.251.78.0/24", dataDir: leases } }),
    },
  });
  const ready = (await cri.client.call("Status", {})) as { status: { conditions: { type: string; status: boolean }[] } };
  assert.deepEqual(ready.status.conditions.map((c) => [c.type, c.status]), [["RuntimeReady", true], ["NetworkReady", true]]);

  const hostPort = await freePort();
  const script = "mkdir -p /www && echo hello from the pod > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www";
  const { sandbox, container } = await runShell(cri, "web", script, {}, { port_mappings: [{ protocol: "TCP", container_port: 80, host_port: hostPort, host_ip: "" }] });
  const { status } = (await cri.client.call("PodSandboxStatus", { pod_sandbox_id: sandbox })) as { status: { network: { ip: string } } };
  assert.match(status.network.ip, /^10\.251\.77\.\d+$/);
  assert.deepEqual(await leaseFiles(leases, NETWORK), [status.network.ip]);
  assert.match(await execOut(cri, container, ["ip", "-4", "addr", "show", "eth0"]), new RegExp(`inet ${status.network.ip.replace(/\./g, "\\.")}/24`));
  assert.deepEqual(await leaseFiles(leases, "other"), [], "only the first network is joined");
  const body = await waitFor("httpd through the host port", async () => {
    const r = await get("127.0.0.1", hostPort);
    return r.startsWith("error") ? undefined : r;
  });
  assert.equal(body, "hello from the pod\n");
  const veths = (await links()).filter((l) => !before.links.includes(l) && l !== BRIDGE);
  assert.equal(veths.length, 1, `one veth for the pod: ${veths.join(", ")}`);

  await cri.client.call("StopPodSandbox", { pod_sandbox_id: sandbox });
  assert.deepEqual(await leaseFiles(leases, NETWORK), [], "the lease is released");
  assert.match(await get("127.0.0.1", hostPort), /^error: /, "nothing answers on the host port any more");
  assert.deepEqual((await hostChanges(before, { allowPortmapChains: true })).filter((c) => c !== `link ${BRIDGE}`), []);
  // A stopped sandbox keeps its status; removing it needs no network.
  await cri.client.call("RemovePodSandbox", { pod_sandbox_id: sandbox });
});

test("a RunPodSandbox that fails in CNI leaves no pod, namespace, veth, lease or rule behind", async (t) => {
  const before = await hostGuard(t);
  const leases = await tempDir(t, "rkt-cri-leases-");
  const plugins = await tempDir(t, "rkt-cri-plugins-");
  // A plugin that fails ADD after bridge has made the veth and host-local has leased an address.
  await writeFile(join(plugins, "refuse"), `#!/bin/sh\ncat >/dev/null\nif [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"0.4.0","code":11,"msg":"refused by the test plugin"}'; exit 1; fi\nexit 0\n`);
  await chmod(join(plugins, "refuse"), 0o755);
  const cri = await startCri(t, { cniConf: { "10-bridge.conflist": bridgeConflist(leases, "10.251.79.0/24", [{ type: "refuse" }]) }, cniBinDirs: ["/usr/lib/cni", plugins] });
  const nsBefore = readdirSync("/run/rkt/ns");

  const err = await cri.client.call("RunPodSandbox", { config: sandboxConfig(cri, "doomed") }).then(
    () => assert.fail("RunPodSandbox succeeded"),
    (e: unknown) => e as Error,
  );
  assert.match(err.message, /refused by the test plugin/);
  assert.match(err.message, new RegExp(NETWORK));
  const list = (await cri.client.call("ListPodSandbox", {})) as { items: unknown[] };
  assert.deepEqual(list.items, []);
  assert.deepEqual(readdirSync(join(cri.dir, "pods", "run")), []);
  assert.deepEqual(readdirSync("/run/rkt/ns").filter((n) => !nsBefore.includes(n)), []);
  assert.deepEqual(await leaseFiles(leases, NETWORK), []);
  assert.deepEqual((await hostChanges(before, { allowPortmapChains: true })).filter((c) => c !== `link ${BRIDGE}`), []);
});
