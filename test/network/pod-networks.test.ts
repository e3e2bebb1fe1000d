/**
 * Pods on CNI networks end to end (the workshop's network exercises): the default ptp network,
 * two pods talking to each other, port forwarding from the host, and nothing left behind.
 * Traffic goes only to pods these tests create and to 127.0.0.1.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { busyboxLayer } from "../support/image-fixtures.js";
import { buildImage } from "../support/oci-builder.js";
import { podTestStore } from "../support/pod-env.js";
import { RKT_BIN, runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

function hostState(): { veths: number; cniChains: number } {
  const links = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
  const nat = execFileSync("iptables", ["-t", "nat", "-S"], { encoding: "utf8" });
  return { veths: links.split("\n").filter((l) => l.includes("veth")).length, cniChains: nat.split("\n").filter((l) => /^-N CNI-(?!HOSTPORT)/.test(l)).length };
}

async function waitRunning(dir: string, uuidFile: string): Promise<{ uuid: string; ip4: string }> {
  for (let i = 0; i < 150; i++) {
    const s = await runRkt(["status", `--uuid-file=${uuidFile}`], { dir }).catch(() => undefined);
    const m = /^networks=default:ip4=(\S+)$/m.exec(s?.stdout ?? "");
    if (s?.stdout.includes("state=running") === true && m !== null) {
      const { readFileSync } = await import("node:fs");
      return { uuid: readFileSync(uuidFile, "utf8").trim(), ip4: m[1] ?? "" };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("pod did not start");
}

test("default network: a private address, a default route, shown by list/status, torn down on exit", async (t) => {
  const before = hostState();
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["run", busybox, "--exec=/bin/sh", "--", "-c", "ip -4 addr show eth0; ip route"], { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /inet 172\.16\.28\.\d+\/24/);
  assert.match(r.stdout, /^default via 172\.16\.28\.1/m);
  const list = await runRkt(["list"], { dir });
  assert.match(list.stdout, /default:ip4=172\.16\.28\.\d+/);
  assert.deepEqual(hostState(), before, "veth and masquerade chain removed when the pod exited");
});

test("two pods on the default network reach each other", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const uuidFile = join(await tempDir(t), "uuid");
  const server = spawn(RKT_BIN, [`--dir=${dir}`, "run", `--uuid-file-save=${uuidFile}`, busybox, "--exec=/bin/sh", "--", "-c", "trap 'exit 0' TERM; while true; do echo pong | nc -l -p 7000; done & wait"], { stdio: "ignore" });
  const exited = new Promise((resolve) => server.once("exit", resolve));
  try {
    const { ip4 } = await waitRunning(dir, uuidFile);
    const client = await runRkt(["run", busybox, "--exec=/bin/sh", "--", "-c", `ping -c 1 -W 5 ${ip4} >/dev/null && echo pinged; echo ping | nc -w 5 ${ip4} 7000`], { dir });
    assert.equal(client.code, 0, client.stderr);
    assert.match(client.stdout, /pinged/);
    assert.match(client.stdout, /pong/);
  } finally {
    server.kill("SIGTERM");
    await exited;
  }
});

test("--port forwards a host port to the named image port", async (t) => {
  const { dir } = await podTestStore(t);
  const layout = join(await tempDir(t), "web");
  await buildImage({
    dir: layout,
    layers: [busyboxLayer(), { entries: [{ type: "dir", path: "www" }, { type: "file", path: "www/index.html", content: "hello through the port\n" }] }],
    config: { Entrypoint: ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"], ExposedPorts: { "80/tcp": {} } },
  });
  const id = (await runRkt(["fetch", "--insecure-options=image", layout], { dir })).stdout.trim();
  const uuidFile = join(await tempDir(t), "uuid");
  const pod = spawn(RKT_BIN, [`--dir=${dir}`, "run", `--uuid-file-save=${uuidFile}`, "--port=80-tcp:18080", id], { stdio: "ignore" });
  const exited = new Promise((resolve) => pod.once("exit", resolve));
  try {
    await waitRunning(dir, uuidFile);
    let body = "";
    for (let i = 0; i < 50 && !body.includes("hello"); i++) {
      body = await new Promise<string>((resolve) => {
        const sock = connect(18080, "127.0.0.1", () => sock.write("GET /index.html HTTP/1.0\r\n\r\n"));
        let data = "";
        sock.on("data", (b: Buffer) => (data += b.toString()));
        sock.on("close", () => resolve(data));
        sock.on("error", () => resolve(""));
      });
      if (!body.includes("hello")) await new Promise((r) => setTimeout(r, 100));
    }
    assert.match(body, /hello through the port/);
    const bad = await runRkt(["run", "--port=nope:18081", id], { dir });
    assert.equal(bad.code, 254);
    assert.match(bad.stderr, /no app of the pod has a port named "nope"/);
  } finally {
    await runRkt(["stop", "--force", `--uuid-file=${uuidFile}`], { dir }).catch(() => undefined);
    pod.kill("SIGTERM");
    await exited;
  }
});

test("an unknown network is a clear error, and nothing is left behind", async (t) => {
  const before = hostState();
  const { dir, busybox } = await podTestStore(t);
  const r = await runRkt(["run", "--net=nosuchnet", busybox], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /nosuchnet/);
  assert.deepEqual(JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout), []);
  assert.deepEqual(hostState(), before);
});

test("20 pods in parallel on the default network all get addresses and all tear down clean", async (t) => {
  const before = hostState();
  const { dir, busybox } = await podTestStore(t);
  const runs = await Promise.all(Array.from({ length: 20 }, () => runRkt(["run", busybox, "--exec=/bin/sh", "--", "-c", "ip -4 addr show eth0 | grep -o '172\\.16\\.28\\.[0-9]*'"], { dir, timeoutMs: 120_000 })));
  const ips = runs.map((r) => {
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim();
  });
  assert.equal(new Set(ips).size, 20, "every pod got its own address");
  assert.deepEqual(hostState(), before);
});
