/**
 * attachPodNetworks / detachPodNetworks logic with the fake executor and a fake host: order,
 * all-or-nothing rollback, the net-info record, port forwarding placement, tolerant teardown.
 * (The same against real plugins: pod-network-real.test.ts.)
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import { builtinNetworkConfigs } from "../../src/network/cni/default-networks.js";
import { FakeCniError, FakeCniExecutor } from "../../src/network/cni/executors/fake-executor.js";
import { parseNetworkConfig, type NetworkConfig } from "../../src/network/cni/network-config.js";
import { parseNetFlags, selectNetworks, type SelectedNetwork } from "../../src/network/cni/select-networks.js";
import { parseNetInfo, readNetInfo, summarizeNetInfo, writeNetInfo, type NetInfo } from "../../src/network/net-info.js";
import { attachPodNetworks, checkPodNetworks, detachPodNetworks, type NetworkHost } from "../../src/network/pod-network.js";
import type { PortForward } from "../../src/network/port-forward.js";
import { tempDir } from "../support/tmp.js";

const UUID = "5c8f2a4e-0d7b-4f5e-9d0a-3b2f1c6e7a81";
const NETNS = `/run/rkt/ns/${UUID}/net`;

function fakeHost(alive = true): NetworkHost & { swept: string[]; checkedPorts: PortForward[][] } {
  const swept: string[] = [];
  const checkedPorts: PortForward[][] = [];
  return {
    swept,
    checkedPorts,
    assertHostPortsFree: (ports) => {
      checkedPorts.push([...ports]);
      return Promise.resolve();
    },
    isNetnsAlive: () => alive,
    removeLeftoverRules: (network, id) => {
      swept.push(`${network}/${id}`);
      return Promise.resolve();
    },
  };
}

const conf = (name: string, extra: Record<string, unknown> = {}, subnet = "10.7.0.0/24"): NetworkConfig =>
  parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name, type: "bridge", ipam: { type: "host-local", subnet }, ...extra }), "conf", `/etc/rkt/net.d/${name}.conf`);
const DEFAULT = parseNetworkConfig(builtinNetworkConfigs().default, "conf", "builtin:default", true);
const RESTRICTED = parseNetworkConfig(builtinNetworkConfigs()["default-restricted"], "conf", "builtin:default-restricted", true);

function select(flags: string[], available: NetworkConfig[]): readonly SelectedNetwork[] {
  return selectNetworks(parseNetFlags(flags), available);
}

test("attachPodNetworks joins the networks in order as eth0, eth1, ... and records each for teardown", async () => {
  const e = new FakeCniExecutor();
  const lan = conf("lan", { dns: { nameservers: ["10.7.0.1"], search: ["lan"] } });
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["lan:IP=10.7.0.50"], [lan, DEFAULT, RESTRICTED]), executor: e, host: fakeHost() });
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType} ${c.ifname} ${c.containerId} ${c.netns} ${c.cniArgs}`), [
    `ADD bridge eth0 ${UUID} ${NETNS} IP=10.7.0.50`,
    `ADD ptp eth1 ${UUID} ${NETNS} `,
  ]);
  assert.deepEqual(r.networks.map((n) => `${n.name}:${n.ifname}:ip4=${n.ip4 ?? ""}`), ["lan:eth0:ip4=10.7.0.50", "default-restricted:eth1:ip4=172.31.0.2"]);
  assert.deepEqual(r.dns, { nameservers: ["10.7.0.1"], search: ["lan"] });
  assert.equal(r.portForwardNetwork, undefined);
  const [first, second] = r.netInfo.networks;
  assert.equal(r.netInfo.version, 1);
  assert.equal(r.netInfo.containerId, UUID);
  assert.equal(r.netInfo.netns, NETNS);
  assert.deepEqual(r.netInfo.pluginDirs, ["/usr/lib/cni", "/opt/cni/bin", "/etc/rkt/net.d"]);
  assert.equal(first?.config, lan.bytes, "the exact configuration text is kept");
  assert.equal(first?.source, "/etc/rkt/net.d/lan.conf");
  assert.equal(first?.cniArgs, "IP=10.7.0.50");
  assert.equal(first?.state, "added");
  assert.equal(second?.name, "default-restricted");
  assert.deepEqual(parseNetInfo(JSON.stringify(r.netInfo)), r.netInfo, "the record survives a JSON round trip");
});

test("attachPodNetworks uses the plugin directories of the local configuration", async () => {
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select([], [DEFAULT]), localConfig: "/srv/rkt", executor: new FakeCniExecutor(), host: fakeHost() });
  assert.deepEqual(r.netInfo.pluginDirs, ["/usr/lib/cni", "/opt/cni/bin", "/srv/rkt/net.d"]);
});

test("the pod's DNS comes from the first network whose result has DNS", async () => {
  const e = new FakeCniExecutor();
  const a = conf("a", {}, "10.7.1.0/24");
  const b = conf("b", { dns: { nameservers: ["10.7.2.1"] } }, "10.7.2.0/24");
  const c = conf("c", { dns: { nameservers: ["10.7.3.1"] } }, "10.7.3.0/24");
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["a,b,c,default"], [a, b, c, DEFAULT]), executor: e, host: fakeHost() });
  assert.deepEqual(r.dns, { nameservers: ["10.7.2.1"] });
});

const BROKEN = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "zz-broken", type: "broken" }), "conf", "/etc/rkt/net.d/zz.conf");
const brokenPlugin = (call: { command: string }): unknown => {
  if (call.command === "ADD") throw new FakeCniError(100, "cannot create interface", "master not found");
  return undefined;
};

test("when a network fails to join, the ones joined and the failing one are left again, and nothing is leased", async (t) => {
  const e = new FakeCniExecutor({ plugins: { broken: brokenPlugin } });
  const netInfoPath = join(await tempDir(t), "net-info.json");
  await assert.rejects(
    attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["default,lan,zz-broken"], [conf("lan"), BROKEN, DEFAULT]), executor: e, host: fakeHost(), netInfoPath }),
    (err: unknown) => {
      assert.ok(err instanceof RktError);
      assert.equal(err.kind, "internal");
      assert.equal(err.message, 'joining network "zz-broken" (/etc/rkt/net.d/zz.conf): network "zz-broken": plugin broken ADD failed: cannot create interface: master not found (CNI error 100)');
      assert.equal(err.hint, undefined, "the cleanup worked, so there is nothing to retry");
      return true;
    },
  );
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType} ${c.ifname}`), ["ADD bridge eth0", "ADD broken eth1", "DEL broken eth1", "DEL bridge eth0"]);
  assert.deepEqual(e.leases(), []);
  assert.deepEqual((await readNetInfo(netInfoPath))?.networks, [], "the journal ends empty: nothing for gc to do");
});

test("a list that fails half-way is DEL'ed whole, portmap included", async () => {
  const e = new FakeCniExecutor({
    plugins: {
      tuning: (call) => {
        if (call.command === "ADD") throw new FakeCniError(100, "sysctl refused");
        return undefined;
      },
    },
  });
  const list = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "chain", plugins: [{ type: "ptp", ipMasq: true, ipam: { type: "host-local", subnet: "10.7.9.0/24" } }, { type: "tuning" }] }), "conflist", "x");
  await assert.rejects(
    attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["chain"], [list, RESTRICTED]), executor: e, host: fakeHost(), ports: [{ protocol: "tcp", containerPort: 80, hostPort: 8080 }] }),
    /plugin tuning ADD failed: sysctl refused/,
  );
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType}`), ["ADD ptp", "ADD tuning", "DEL portmap", "DEL tuning", "DEL ptp"]);
  assert.deepEqual(e.leases(), []);
});

test("if the cleanup after a failed join fails too, the error says so and the journal keeps what is left", async (t) => {
  const e = new FakeCniExecutor({
    plugins: {
      broken: brokenPlugin,
      bridge: (call, ex) => {
        if (call.command === "DEL") throw new FakeCniError(11, "bridge busy");
        const lease = ex.lease(String(call.conf["name"]), call.containerId, call.ifname, "10.7.0.0/24", undefined);
        return { cniVersion: "0.4.0", ips: [{ version: "4", address: `${lease.ip}/24` }] };
      },
    },
  });
  const netInfoPath = join(await tempDir(t), "net-info.json");
  await assert.rejects(
    attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["default,lan,zz-broken"], [conf("lan"), BROKEN, DEFAULT]), executor: e, host: fakeHost(), netInfoPath }),
    (err: unknown) => {
      assert.ok(err instanceof RktError);
      assert.match(err.message, /plugin broken ADD failed/);
      assert.match(err.hint ?? "", /cleaning up also failed, run rkt gc to retry: leaving network "lan" \(eth0\): network "lan": plugin bridge DEL failed: bridge busy/);
      return true;
    },
  );
  const left = await readNetInfo(netInfoPath);
  assert.deepEqual(left?.networks.map((n) => `${n.name}:${n.state}`), ["lan:added"]);
});

test("the journal holds a network as 'adding' while its ADD runs", async (t) => {
  const netInfoPath = join(await tempDir(t), "net-info.json");
  let seen: NetInfo | undefined;
  const e = new FakeCniExecutor({
    plugins: {
      spy: (call) => {
        if (call.command === "ADD") seen = parseNetInfo(readFileSync(netInfoPath, "utf8"));
        return { cniVersion: "0.4.0", ips: [] };
      },
    },
  });
  const spy = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "spy", type: "spy" }), "conf", "x");
  await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["default,spy"], [DEFAULT, spy]), executor: e, host: fakeHost(), netInfoPath });
  assert.deepEqual(seen?.networks.map((n) => `${n.name}:${n.state}`), ["default:added", "spy:adding"]);
  assert.deepEqual((await readNetInfo(netInfoPath))?.networks.map((n) => `${n.name}:${n.state}`), ["default:added", "spy:added"]);
});

test("ports go through portmap chained after the first network with ipMasq", async () => {
  const e = new FakeCniExecutor();
  const host = fakeHost();
  const ports: PortForward[] = [{ protocol: "tcp", containerPort: 80, hostPort: 8080 }, { protocol: "udp", containerPort: 53, hostPort: 5353, hostIP: "127.0.0.1" }];
  const masq = conf("masq", { ipMasq: true }, "10.7.5.0/24");
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["lan,masq,default"], [conf("lan"), masq, DEFAULT]), executor: e, host, ports });
  assert.equal(r.portForwardNetwork, "masq");
  assert.deepEqual(host.checkedPorts, [ports]);
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType} ${c.ifname}`), ["ADD bridge eth0", "ADD bridge eth1", "ADD portmap eth1", "ADD ptp eth2"]);
  const entry = r.netInfo.networks[1]!;
  assert.equal(entry.format, "conflist");
  assert.deepEqual(JSON.parse(entry.config), {
    cniVersion: "0.4.0",
    name: "masq",
    plugins: [JSON.parse(masq.bytes), { type: "portmap", capabilities: { portMappings: true }, snat: true }],
  });
  const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }, { hostPort: 5353, containerPort: 53, protocol: "udp", hostIP: "127.0.0.1" }];
  assert.deepEqual(entry.capabilityArgs, { portMappings });
  assert.deepEqual(e.portMappings(), [{ containerId: UUID, mappings: portMappings }]);
  assert.deepEqual(r.netInfo.ports, ports);
  await detachPodNetworks(r.netInfo, { executor: e, host });
  assert.deepEqual(e.portMappings(), [], "DEL got the mappings from net-info and removed them");
});

test("without a masquerading network, ports go through the last network", async () => {
  const e = new FakeCniExecutor();
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["lan"], [conf("lan"), RESTRICTED]), executor: e, host: fakeHost(), ports: [{ protocol: "tcp", containerPort: 80, hostPort: 8080 }] });
  assert.equal(r.portForwardNetwork, "default-restricted");
  assert.deepEqual(e.calls.map((c) => `${c.pluginType} ${c.ifname}`), ["bridge eth0", "ptp eth1", "portmap eth1"]);
});

test("a network whose list already has a portMappings plugin gets the mappings without a second portmap", async () => {
  const e = new FakeCniExecutor();
  const own = parseNetworkConfig(
    JSON.stringify({ cniVersion: "0.4.0", name: "own", plugins: [{ type: "bridge", ipMasq: true, ipam: { type: "host-local", subnet: "10.7.6.0/24" } }, { type: "portmap", capabilities: { portMappings: true } }] }),
    "conflist",
    "x",
  );
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["own"], [own, RESTRICTED]), executor: e, host: fakeHost(), ports: [{ protocol: "tcp", containerPort: 80, hostPort: 8080 }] });
  assert.equal(r.netInfo.networks[0]?.config, own.bytes);
  assert.deepEqual(e.calls.map((c) => c.pluginType), ["bridge", "portmap", "ptp"]);
});

test("a taken host port stops the pod before it joins any network", async () => {
  const e = new FakeCniExecutor();
  const host: NetworkHost = { ...fakeHost(), assertHostPortsFree: () => Promise.reject(new RktError("already-exists", "host port 8080/tcp is already in use on the host")) };
  await assert.rejects(
    attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select([], [DEFAULT]), executor: e, host, ports: [{ protocol: "tcp", containerPort: 80, hostPort: 8080 }] }),
    /already in use/,
  );
  assert.deepEqual(e.calls, []);
});

test("forwarding ports without a pod network is refused", async () => {
  await assert.rejects(
    attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: [], executor: new FakeCniExecutor(), host: fakeHost(), ports: [{ protocol: "tcp", containerPort: 80, hostPort: 8080 }] }),
    (err: unknown) => err instanceof RktError && err.kind === "failed-precondition",
  );
});

test("attachPodNetworks refuses a container ID CNI does not allow and a relative netns path", async () => {
  await assert.rejects(attachPodNetworks({ uuid: "-x", netnsPath: NETNS, networks: [], executor: new FakeCniExecutor() }), /not a valid CNI container ID/);
  await assert.rejects(attachPodNetworks({ uuid: UUID, netnsPath: "ns/net", networks: [], executor: new FakeCniExecutor() }), /is not absolute/);
});

test("detachPodNetworks leaves the networks in reverse with the saved configuration and result, and again is a no-op", async () => {
  const e = new FakeCniExecutor();
  const host = fakeHost();
  const lan = conf("lan");
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["lan,default"], [lan, DEFAULT]), executor: e, host });
  e.calls.length = 0;
  await detachPodNetworks(r.netInfo, { executor: e, host });
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType} ${c.ifname} ${c.netns}`), [`DEL ptp eth1 ${NETNS}`, `DEL bridge eth0 ${NETNS}`]);
  const delLan = JSON.parse(e.calls[1]!.stdin) as Record<string, unknown>;
  assert.deepEqual(delLan["prevResult"], r.netInfo.networks[0]?.result);
  assert.deepEqual({ ...delLan, prevResult: undefined }, { ...(JSON.parse(lan.bytes) as object), prevResult: undefined });
  assert.deepEqual(e.leases(), []);
  assert.deepEqual(host.swept, [`default/${UUID}`, `lan/${UUID}`], "rules the plugins may have left are looked for after each DEL");
  await detachPodNetworks(r.netInfo, { executor: e, host });
});

test("detachPodNetworks with the namespace gone runs DEL without CNI_NETNS, as the spec allows", async () => {
  const e = new FakeCniExecutor();
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select([], [DEFAULT]), executor: e, host: fakeHost() });
  e.calls.length = 0;
  const host = fakeHost(false);
  await detachPodNetworks(r.netInfo, { executor: e, host });
  assert.deepEqual(e.calls.map((c) => `${c.command} [${c.netns}]`), ["DEL []"]);
  assert.deepEqual(host.swept, [`default/${UUID}`]);
  assert.deepEqual(e.leases(), []);
});

test("detachPodNetworks tries every network, then reports the failures and keeps them in net-info", async (t) => {
  let failDel = true;
  const e = new FakeCniExecutor({
    plugins: {
      flaky: (call) => {
        if (call.command === "DEL" && failDel) throw new FakeCniError(11, "try later");
        return { cniVersion: "0.4.0", ips: [] };
      },
    },
  });
  const flaky = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "flaky", type: "flaky" }), "conf", "x");
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["default,flaky"], [DEFAULT, flaky]), executor: e, host: fakeHost() });
  const netInfoPath = join(await tempDir(t), "net-info.json");
  writeNetInfo(netInfoPath, r.netInfo);
  await assert.rejects(detachPodNetworks(r.netInfo, { executor: e, host: fakeHost(), netInfoPath }), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "unavailable");
    assert.match(err.message, new RegExp(`leaving the networks of pod ${UUID}: leaving network "flaky" \\(eth1\\): network "flaky": plugin flaky DEL failed: try later`));
    return true;
  });
  assert.deepEqual(e.leases(), [], "default was left although flaky failed first");
  const left = (await readNetInfo(netInfoPath))!;
  assert.deepEqual(left.networks.map((n) => n.name), ["flaky"]);
  failDel = false;
  await detachPodNetworks(left, { executor: e, host: fakeHost(), netInfoPath });
  assert.deepEqual((await readNetInfo(netInfoPath))?.networks, []);
});

test("checkPodNetworks runs CHECK on every network and fails for one that is gone", async () => {
  const e = new FakeCniExecutor();
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["lan"], [conf("lan"), RESTRICTED]), executor: e, host: fakeHost() });
  assert.deepEqual(await checkPodNetworks(r.netInfo, { executor: e }), ["lan", "default-restricted"]);
  e.release("lan", UUID, "eth0");
  await assert.rejects(checkPodNetworks(r.netInfo, { executor: e }), /network "lan": plugin bridge CHECK failed/);
});

test("readNetInfo is undefined without a file and a data-loss error for a damaged one", async (t) => {
  const dir = await tempDir(t);
  assert.equal(await readNetInfo(join(dir, "none.json")), undefined);
  await writeFile(join(dir, "bad.json"), '{"version": 1, "networks": 3}');
  await assert.rejects(readNetInfo(join(dir, "bad.json")), (err: unknown) => err instanceof RktError && err.kind === "data-loss" && /bad\.json/.test(err.message));
});

test("summarizeNetInfo shows a network still being added without an address", () => {
  const info: NetInfo = {
    version: 1,
    containerId: UUID,
    netns: NETNS,
    pluginDirs: [],
    networks: [{ name: "default", ifname: "eth0", source: "builtin:default", format: "conf", config: DEFAULT.bytes, cniArgs: "", state: "adding" }],
  };
  assert.deepEqual(summarizeNetInfo(info), [{ name: "default", ifname: "eth0", ips: [], routes: [], dns: {} }]);
});

test("a plugin that is not installed does not block the rollback of the network that needed it", async () => {
  const e = new FakeCniExecutor({ missing: ["tuning"] });
  const list = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "chain", plugins: [{ type: "ptp", ipam: { type: "host-local", subnet: "10.7.9.0/24" } }, { type: "tuning" }] }), "conflist", "x");
  await assert.rejects(
    attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["chain,default"], [list, DEFAULT]), executor: e, host: fakeHost() }),
    (err: unknown) => err instanceof RktError && err.kind === "not-found" && err.hint === undefined,
  );
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType}`), ["ADD ptp", "DEL ptp"]);
  assert.deepEqual(e.leases(), []);
});

test("leaving a joined network whose plugin has since been uninstalled is an error gc keeps for later", async () => {
  const r = await attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select([], [DEFAULT]), executor: new FakeCniExecutor(), host: fakeHost() });
  await assert.rejects(detachPodNetworks(r.netInfo, { executor: new FakeCniExecutor({ missing: ["ptp"] }), host: fakeHost() }), (err: unknown) => err instanceof RktError && err.kind === "not-found" && /leaving network "default" \(eth0\)/.test(err.message));
});

test("an abort while joining still leaves every network joined so far", async () => {
  const ac = new AbortController();
  const e = new FakeCniExecutor({
    plugins: {
      slow: (call) => {
        if (call.command === "ADD") ac.abort(new Error("interrupted"));
        call.signal?.throwIfAborted();
        return undefined;
      },
    },
  });
  const slow = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "slow", type: "slow" }), "conf", "x");
  await assert.rejects(attachPodNetworks({ uuid: UUID, netnsPath: NETNS, networks: select(["lan,slow"], [conf("lan"), slow, RESTRICTED]), executor: e, host: fakeHost(), signal: ac.signal }), /interrupted/);
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType}`), ["ADD bridge", "ADD slow", "DEL slow", "DEL bridge"]);
  assert.deepEqual(e.leases(), []);
});
