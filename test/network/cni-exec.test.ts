/** The CNI spec's rules for running a network's plugins, observed through the fake executor. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import { addNetwork, checkNetwork, compareVersions, delNetwork, type NetworkRuntime } from "../../src/network/cni/cni-exec.js";
import { normalizeResult } from "../../src/network/cni/cni-result.js";
import { FakeCniError, FakeCniExecutor } from "../../src/network/cni/executors/fake-executor.js";
import { parseNetworkConfig } from "../../src/network/cni/network-config.js";

const rt: NetworkRuntime = { containerId: "pod1", netns: "/run/rkt/ns/pod1/net", ifname: "eth0", cniArgs: "A=1" };
const stdinOf = (e: FakeCniExecutor, i: number): Record<string, unknown> => JSON.parse(e.calls[i]!.stdin) as Record<string, unknown>;

const LIST = JSON.stringify({
  cniVersion: "0.4.0",
  name: "chain",
  plugins: [
    { type: "ptp", cniVersion: "0.3.1", name: "ignored", ipam: { type: "host-local", subnet: "10.9.0.0/24" } },
    { type: "tuning", sysctl: { "net.core.somaxconn": "500" } },
    { type: "portmap", capabilities: { portMappings: true } },
  ],
});

test("a single .conf goes to the plugin as the exact bytes it was loaded from", async () => {
  const bytes = '{ "cniVersion": "0.4.0",  "name": "n", "type": "ptp", "ipam": {"type": "host-local", "subnet": "10.9.1.0/24"} }';
  const e = new FakeCniExecutor();
  await addNetwork(e, parseNetworkConfig(bytes, "conf", "x"), { ...rt, cniArgs: "" });
  assert.equal(e.calls[0]!.stdin, bytes);
});

test("ADD of a list runs the plugins in order with the list's name and cniVersion and chains prevResult", async () => {
  const e = new FakeCniExecutor();
  const result = await addNetwork(e, parseNetworkConfig(LIST, "conflist", "x"), { ...rt, cniArgs: "" });
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType}`), ["ADD ptp", "ADD tuning", "ADD portmap"]);
  const [first, second, third] = [stdinOf(e, 0), stdinOf(e, 1), stdinOf(e, 2)];
  assert.equal(first["name"], "chain");
  assert.equal(first["cniVersion"], "0.4.0");
  assert.equal(first["prevResult"], undefined, "the first plugin gets no prevResult");
  assert.equal(second["name"], "chain");
  assert.deepEqual(second["sysctl"], { "net.core.somaxconn": "500" });
  assert.match(JSON.stringify(second["prevResult"]), /10\.9\.0\.2\/24/);
  assert.deepEqual(third["prevResult"], second["prevResult"]);
  assert.deepEqual(result, third["prevResult"], "the network's result is the last plugin's");
});

test("every plugin of a list runs with the same CNI environment", async () => {
  const e = new FakeCniExecutor();
  await addNetwork(e, parseNetworkConfig(LIST, "conflist", "x"), { ...rt, cniArgs: "IgnoreUnknown=1;A=1" });
  assert.deepEqual(new Set(e.calls.map((c) => `${c.containerId} ${c.netns} ${c.ifname} ${c.cniArgs}`)), new Set(["pod1 /run/rkt/ns/pod1/net eth0 IgnoreUnknown=1;A=1"]));
});

test("runtimeConfig goes only to plugins that declare the capability", async () => {
  const e = new FakeCniExecutor();
  const portMappings = [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }];
  await addNetwork(e, parseNetworkConfig(LIST, "conflist", "x"), { ...rt, cniArgs: "", capabilityArgs: { portMappings, bandwidth: { rate: 1 } } });
  assert.equal(stdinOf(e, 0)["runtimeConfig"], undefined);
  assert.equal(stdinOf(e, 1)["runtimeConfig"], undefined);
  assert.deepEqual(stdinOf(e, 2)["runtimeConfig"], { portMappings });
  assert.deepEqual(e.portMappings(), [{ containerId: "pod1", mappings: portMappings }]);
});

test("DEL runs the plugins in reverse, each with the ADD result as prevResult", async () => {
  const e = new FakeCniExecutor();
  const net = parseNetworkConfig(LIST, "conflist", "x");
  const r = { ...rt, cniArgs: "" };
  const result = await addNetwork(e, net, r);
  e.calls.length = 0;
  await delNetwork(e, net, r, result);
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType}`), ["DEL portmap", "DEL tuning", "DEL ptp"]);
  for (let i = 0; i < 3; i++) assert.deepEqual(stdinOf(e, i)["prevResult"], result);
  assert.deepEqual(e.leases(), []);
});

test("DEL sends no prevResult to a network of spec before 0.4.0", async () => {
  const e = new FakeCniExecutor();
  const net = parseNetworkConfig(JSON.stringify({ cniVersion: "0.3.1", name: "old", type: "ptp", ipam: { type: "host-local", subnet: "10.9.2.0/24" } }), "conf", "x");
  const r = { ...rt, cniArgs: "" };
  const result = await addNetwork(e, net, r);
  await delNetwork(e, net, r, result);
  assert.equal(e.calls[1]!.stdin, net.bytes);
});

test("an ADD error stops the list and names the network, the plugin and the plugin's message and details", async () => {
  const e = new FakeCniExecutor({
    plugins: {
      tuning: () => {
        throw new FakeCniError(7, "bad sysctl", "net.core.somaxconn: no such key");
      },
    },
  });
  const net = parseNetworkConfig(LIST, "conflist", "/etc/rkt/net.d/10-chain.conflist");
  await assert.rejects(addNetwork(e, net, { ...rt, cniArgs: "" }), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "invalid-argument");
    assert.equal(err.message, 'network "chain": plugin tuning ADD failed: bad sysctl: net.core.somaxconn: no such key (CNI error 7)');
    assert.match(err.hint ?? "", /10-chain\.conflist/);
    return true;
  });
  assert.deepEqual(e.calls.map((c) => c.pluginType), ["ptp", "tuning"], "portmap never ran");
});

test("DEL treats the plugin's 'container unknown' (error 3) as nothing to do", async () => {
  const e = new FakeCniExecutor({
    plugins: {
      gone: () => {
        throw new FakeCniError(3, "container unknown");
      },
    },
  });
  await delNetwork(e, parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "n", type: "gone" }), "conf", "x"), rt);
});

test("a DEL error stops the list and is reported", async () => {
  const e = new FakeCniExecutor({
    plugins: {
      tuning: (call) => {
        if (call.command === "DEL") throw new FakeCniError(11, "busy");
        return call.conf["prevResult"];
      },
    },
  });
  const net = parseNetworkConfig(LIST, "conflist", "x");
  await assert.rejects(delNetwork(e, net, rt), (err: unknown) => err instanceof RktError && err.kind === "unavailable" && /plugin tuning DEL failed: busy/.test(err.message));
  assert.deepEqual(e.calls.map((c) => c.pluginType), ["portmap", "tuning"]);
});

test("a plugin result that breaks the result schema is refused, naming the plugin", async () => {
  const e = new FakeCniExecutor({ plugins: { weird: () => ({ cniVersion: "0.4.0", ips: [{ address: 5 }] }) } });
  await assert.rejects(
    addNetwork(e, parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "n", type: "weird" }), "conf", "x"), rt),
    /invalid result of plugin weird ADD for network "n"/,
  );
});

test("a first plugin that prints nothing on ADD is an error", async () => {
  const e = new FakeCniExecutor({ plugins: { quiet: () => undefined } });
  await assert.rejects(addNetwork(e, parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "n", type: "quiet" }), "conf", "x"), rt), /plugin quiet ADD printed no result/);
});

test("CHECK runs every plugin in order with prevResult, and is skipped with disableCheck or before 0.4.0", async () => {
  const e = new FakeCniExecutor();
  const net = parseNetworkConfig(LIST, "conflist", "x");
  const r = { ...rt, cniArgs: "" };
  const result = await addNetwork(e, net, r);
  e.calls.length = 0;
  assert.equal(await checkNetwork(e, net, r, result), true);
  assert.deepEqual(e.calls.map((c) => `${c.command} ${c.pluginType}`), ["CHECK ptp", "CHECK tuning", "CHECK portmap"]);
  const disabled = parseNetworkConfig(JSON.stringify({ ...(JSON.parse(LIST) as object), disableCheck: true }), "conflist", "x");
  assert.equal(await checkNetwork(e, disabled, r, result), false);
  await delNetwork(e, net, r, result);
  await assert.rejects(checkNetwork(e, net, r, result), /plugin ptp CHECK failed/);
});

test("normalizeResult reads 0.2.0 ip4/ip6 results and 1.0.0 results without a version", () => {
  assert.deepEqual(normalizeResult({ cniVersion: "0.2.0", ip4: { ip: "10.0.0.2/24", gateway: "10.0.0.1", routes: [{ dst: "0.0.0.0/0" }] }, dns: { nameservers: ["10.0.0.1"] } }), {
    interfaces: [],
    ips: [{ version: "4", address: "10.0.0.2/24", gateway: "10.0.0.1" }],
    routes: [{ dst: "0.0.0.0/0" }],
    dns: { nameservers: ["10.0.0.1"] },
  });
  const r = normalizeResult({ cniVersion: "1.0.0", interfaces: [{ name: "veth1" }, { name: "eth0", sandbox: "/ns" }], ips: [{ address: "fd00::2/64", interface: 1 }] });
  assert.deepEqual(r.ips, [{ version: "6", address: "fd00::2/64", interface: "eth0" }]);
});

test("compareVersions compares numerically", () => {
  assert.ok(compareVersions("0.10.0", "0.4.0") > 0);
  assert.equal(compareVersions("0.4.0", "0.4.0"), 0);
  assert.ok(compareVersions("0.3.1", "0.4.0") < 0);
});
