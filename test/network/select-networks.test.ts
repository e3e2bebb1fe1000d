import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../src/lib/errors.js";
import { builtinNetworkConfigs } from "../../src/network/cni/default-networks.js";
import { parseNetworkConfig, type NetworkConfig } from "../../src/network/cni/network-config.js";
import { parseNetFlags, selectNetworks } from "../../src/network/cni/select-networks.js";

function user(name: string): NetworkConfig {
  return parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name, type: "bridge" }), "conf", `/etc/rkt/net.d/${name}.conf`);
}
const builtins = builtinNetworkConfigs();
const DEFAULT = parseNetworkConfig(builtins.default, "conf", "builtin:default", true);
const RESTRICTED = parseNetworkConfig(builtins["default-restricted"], "conf", "builtin:default-restricted", true);
/** As loadNetworkConfigs orders them: net.d files, then the built-ins. */
const AVAILABLE = [user("lan"), user("wan"), DEFAULT, RESTRICTED];

const pick = (flags: string[]): string[] => selectNetworks(parseNetFlags(flags), AVAILABLE).map((n) => `${n.ifname}=${n.config.name}${n.cniArgs === "" ? "" : `[${n.cniArgs}]`}`);

test("no --net flag, a bare --net and --net=default all mean the default network", () => {
  for (const flags of [[], [""], ["default"]]) assert.deepEqual(pick(flags), ["eth0=default"], JSON.stringify(flags));
});

test("--net=none and --net=host join no CNI network", () => {
  assert.deepEqual(parseNetFlags(["none"]), { mode: "none" });
  assert.deepEqual(parseNetFlags(["host"]), { mode: "host" });
  assert.deepEqual(pick(["none"]), []);
  assert.deepEqual(pick(["host"]), []);
});

test("none and host cannot be combined with anything", () => {
  for (const flags of [["none", "lan"], ["host,default"], ["none", "host"], ["all,none"]]) {
    assert.throws(() => parseNetFlags(flags), (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && /cannot be combined/.test(err.message), JSON.stringify(flags));
  }
});

test("named networks join in load order, not flag order, and default-restricted comes along without default", () => {
  assert.deepEqual(pick(["wan,lan"]), ["eth0=lan", "eth1=wan", "eth2=default-restricted"]);
  assert.deepEqual(pick(["wan", "lan"]), ["eth0=lan", "eth1=wan", "eth2=default-restricted"]);
});

test("default-restricted is not added when default is joined", () => {
  assert.deepEqual(pick(["default,wan"]), ["eth0=wan", "eth1=default"]);
});

test("--net=all joins every configured network and default, without default-restricted", () => {
  assert.deepEqual(pick(["all"]), ["eth0=lan", "eth1=wan", "eth2=default"]);
});

test("--net=all takes per-network arguments next to it", () => {
  assert.deepEqual(pick(["all,lan:IP=10.1.0.5"]), ["eth0=lan[IP=10.1.0.5]", "eth1=wan", "eth2=default"]);
});

test("name:K=V;K2=V2 becomes that network's CNI_ARGS", () => {
  assert.deepEqual(pick(["lan:IP=10.1.0.5;FOO=bar", "default:IP=172.16.28.9"]), ["eth0=lan[IP=10.1.0.5;FOO=bar]", "eth1=default[IP=172.16.28.9]"]);
});

test("malformed per-network arguments are refused before anything runs", () => {
  for (const v of ["lan:IP", "lan:=1", "lan:IP=", "lan:IP=not-an-ip", "lan:A-B=1", "all:IP=1.2.3.4", "none:x=1"]) {
    assert.throws(() => parseNetFlags([v]), RktError, v);
  }
});

test("a network given twice is an error", () => {
  assert.throws(() => parseNetFlags(["lan,lan"]), /network "lan" is given twice/);
  assert.throws(() => parseNetFlags(["lan", "lan:IP=1.2.3.4"]), /network "lan" is given twice/);
  assert.throws(() => parseNetFlags(["all", "all"]), /"all" is given twice/);
});

test("an empty name in a list is an error", () => {
  assert.throws(() => parseNetFlags(["lan,,wan"]), /empty network name/);
  assert.throws(() => parseNetFlags([":IP=1.2.3.4"]), /empty network name/);
});

test("an unknown network is not-found, with the known networks in the hint", () => {
  assert.throws(
    () => selectNetworks(parseNetFlags(["lan,nope,gone"]), AVAILABLE),
    (err: unknown) => {
      assert.ok(err instanceof RktError);
      assert.equal(err.kind, "not-found");
      assert.equal(err.message, "networks not found: nope, gone");
      assert.match(err.hint ?? "", /known networks: lan, wan, default, default-restricted/);
      return true;
    },
  );
});

test("a user-defined default-restricted joins with --net=all", () => {
  const mine = parseNetworkConfig(JSON.stringify({ cniVersion: "0.4.0", name: "default-restricted", type: "ptp" }), "conf", "/etc/rkt/net.d/x.conf");
  const nets = selectNetworks(parseNetFlags(["all"]), [user("lan"), mine, DEFAULT]).map((n) => n.config.name);
  assert.deepEqual(nets, ["lan", "default-restricted", "default"]);
});
