/**
 * Helpers for the workshop exercises (the 2016 rkt workshop's network part, run against the built
 * CLI): images made by code from the host's real binaries (nginx, redis-server, busybox) with the
 * shared libraries `ldd` names, pods started in the background and stopped, HTTP from the host,
 * test net.d directories, parent links for macvlan/ipvlan, and a census of what pods leave on the
 * host (veths, CNI nat chains, pinned namespaces, mounts, runc containers, host-local leases).
 *
 * Network rule (machine.md): traffic goes only to 127.0.0.1 and to pods these tests create.
 */
import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, realpathSync } from "node:fs";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import type { TestContext } from "node:test";
import { busyboxLayer } from "../support/image-fixtures.js";
import type { LayerEntry, LayerSpec } from "../support/oci-builder.js";
import { buildImage } from "../support/oci-builder.js";
import { podTestStore, type PodTestStore } from "../support/pod-env.js";
import { RKT_BIN, runRkt } from "../support/run-rkt.js";
import { makeTempDir, removeTempDir } from "../support/tmp.js";

/**
 * Cleanups of a test that run in reverse order of registration (pods stop before the links and
 * net.d files they use go), all in one `t.after` hook registered by {@link workshopStore}, before
 * the store's own check that pods left nothing behind.
 */
const cleanupStacks = new WeakMap<TestContext, (() => unknown)[]>();

/** Registers `fn` to run after the test, before the cleanups registered earlier. */
export function later(t: TestContext, fn: () => unknown): void {
  let stack = cleanupStacks.get(t);
  if (stack === undefined) {
    const fresh: (() => unknown)[] = [];
    stack = fresh;
    cleanupStacks.set(t, fresh);
    t.after(async () => {
      const errors: unknown[] = [];
      for (const f of fresh.reverse()) {
        try {
          await f();
        } catch (err) {
          errors.push(err);
        }
      }
      if (errors.length > 0) throw new AggregateError(errors, "workshop cleanup failed");
    });
  }
  stack.push(fn);
}

/**
 * A pod store with busybox (podTestStore: after the test every pod is collected and the test fails
 * if any left something on the host). Call it first in a test: the cleanups registered with
 * {@link later} afterwards (pods, links, net.d) run before the store's check.
 */
export async function workshopStore(t: TestContext): Promise<PodTestStore> {
  later(t, () => undefined);
  return podTestStore(t);
}

/** Where Debian's packages (nginx, redis-server; scripts/install.sh installs them) put the binaries. */
export const NGINX_BIN = "/usr/sbin/nginx";
export const REDIS_BIN = "/usr/bin/redis-server";

/** A short random hex string for test-unique names (links, networks). */
export function uniqueSuffix(bytes = 3): string {
  return randomBytes(bytes).toString("hex");
}

/** Runs a host command and returns its stdout; throws with its stderr on failure. */
export function host(cmd: string, args: readonly string[]): string {
  return execFileSync(cmd, [...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs a host command; returns whether it succeeded (for cleanup and capability probes). */
export function hostTry(cmd: string, args: readonly string[]): boolean {
  try {
    execFileSync(cmd, [...args], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The shared objects a dynamically linked binary loads, as `ldd` lists them (absolute paths). */
export function sharedLibraries(binary: string): string[] {
  const out = host("ldd", [binary]);
  const libs: string[] = [];
  for (const line of out.split("\n")) {
    const m = /=>\s+(\/\S+)\s+\(/.exec(line) ?? /^\s*(\/\S+)\s+\(/.exec(line);
    if (m?.[1] !== undefined) libs.push(m[1]);
  }
  return libs;
}

/**
 * Layer entries that put host files at the same paths in an image (content read through symlinks,
 * so a library's soname path holds the library itself), with every parent directory first.
 */
export function hostFilesEntries(files: readonly { readonly path: string; readonly from?: string; readonly mode?: number }[]): LayerEntry[] {
  const dirs = new Set<string>();
  const entries: LayerEntry[] = [];
  for (const f of files) {
    const rel = f.path.replace(/^\/+/, "");
    const parents: string[] = [];
    for (let d = dirname(rel); d !== "." && d !== ""; d = dirname(d)) parents.unshift(d);
    for (const d of parents) {
      if (dirs.has(d)) continue;
      dirs.add(d);
      entries.push({ type: "dir", path: d });
    }
    entries.push({ type: "file", path: rel, content: readFileSync(realpathSync(f.from ?? f.path)), mode: f.mode ?? 0o755 });
  }
  return entries;
}

/** One layer with a host binary and its shared libraries (from `ldd`), at their host paths. */
export function hostBinaryLayer(binary: string, options: { readonly as?: string } = {}): LayerSpec {
  const libs = sharedLibraries(binary).map((path) => ({ path }));
  return { entries: hostFilesEntries([{ path: options.as ?? binary, from: binary }, ...libs]), createdBy: `${binary} and its libraries from the host` };
}

/** The smallest nginx configuration that serves `/www` on `listen`, in the foreground, logging to stderr. */
export function nginxConf(listen: string): string {
  return [
    "user www-data www-data;",
    "daemon off;",
    "master_process on;",
    "worker_processes 1;",
    "error_log stderr warn;",
    "pid /tmp/nginx.pid;",
    "events { worker_connections 64; }",
    "http {",
    "  access_log off;",
    "  default_type text/plain;",
    "  client_body_temp_path /tmp/body;",
    "  proxy_temp_path /tmp/proxy;",
    "  fastcgi_temp_path /tmp/fastcgi;",
    "  uwsgi_temp_path /tmp/uwsgi;",
    "  scgi_temp_path /tmp/scgi;",
    "  server {",
    `    listen ${listen};`,
    "    root /www;",
    "    location / { index index.html; }",
    "  }",
    "}",
    "",
  ].join("\n");
}

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/false\nredis:x:100:101:redis:/var/lib/redis:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\nwww-data:x:33:\nredis:x:101:\nnogroup:x:65534:\n";

/** What the nginx image's index page says. */
export const NGINX_INDEX = "hello from nginx in a rkt pod\n";

/**
 * A real nginx image (the host's Debian nginx and its libraries) on the busybox layer: serves
 * {@link NGINX_INDEX} on `listen` (e.g. `127.0.0.1:18123`). Written to the OCI layout `dir`.
 */
export async function nginxImage(dir: string, listen: string): Promise<void> {
  await buildImage({
    dir,
    ref: "latest",
    compression: "none",
    layers: [
      busyboxLayer(),
      hostBinaryLayer(NGINX_BIN),
      {
        createdBy: "nginx configuration and content",
        entries: [
          { type: "file", path: "etc/passwd", content: PASSWD, mode: 0o644 },
          { type: "file", path: "etc/group", content: GROUP, mode: 0o644 },
          { type: "dir", path: "etc/nginx" },
          { type: "file", path: "etc/nginx/nginx.conf", content: nginxConf(listen), mode: 0o644 },
          { type: "dir", path: "www" },
          { type: "file", path: "www/index.html", content: NGINX_INDEX, mode: 0o644 },
        ],
      },
    ],
    config: { Entrypoint: [NGINX_BIN, "-c", "/etc/nginx/nginx.conf"], Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], StopSignal: "SIGTERM" },
  });
}

/** A real redis image (the host's Debian redis-server and its libraries), listening on 127.0.0.1:6379 of its pod. */
export async function redisImage(dir: string): Promise<void> {
  await buildImage({
    dir,
    ref: "latest",
    compression: "none",
    layers: [
      busyboxLayer(),
      hostBinaryLayer(REDIS_BIN),
      { createdBy: "redis users", entries: [{ type: "file", path: "etc/passwd", content: PASSWD, mode: 0o644 }, { type: "file", path: "etc/group", content: GROUP, mode: 0o644 }, { type: "dir", path: "data", mode: 0o777 }] },
    ],
    config: {
      Entrypoint: [REDIS_BIN],
      Cmd: ["--bind", "127.0.0.1", "--port", "6379", "--save", "", "--appendonly", "no", "--protected-mode", "yes", "--dir", "/data"],
      Env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
      ExposedPorts: { "6379/tcp": {} },
    },
  });
}

/**
 * The handler the service runs per connection (`nc -ll -e`): reads the HTTP request, sends
 * `INCR hits` (and `QUIT`, so redis closes and nc ends) to redis on 127.0.0.1:6379 inside the pod
 * over the RESP protocol, and answers `hits: N`.
 */
export const SERVICE_HANDLER = [
  "#!/bin/sh",
  "read -r request",
  "while IFS= read -r line; do [ \"${line%$(printf '\\r')}\" = \"\" ] && break; done",
  "reply=$(printf 'INCR hits\\r\\nQUIT\\r\\n' | nc 127.0.0.1 6379 | head -n 1 | tr -d '\\r')",
  "case \"$reply\" in",
  "  :*) body=\"hits: ${reply#:}\"; status=\"200 OK\" ;;",
  "  *) body=\"redis said: $reply\"; status=\"502 Bad Gateway\" ;;",
  "esac",
  "printf 'HTTP/1.0 %s\\r\\nContent-Type: text/plain\\r\\nContent-Length: %d\\r\\nConnection: close\\r\\n\\r\\n%s\\n' \"$status\" $((${#body} + 1)) \"$body\"",
  "",
].join("\n");

/** The workshop's "redis-service": a busybox HTTP service on :8080 counting hits in redis. */
export async function serviceImage(dir: string): Promise<void> {
  await buildImage({
    dir,
    ref: "latest",
    layers: [busyboxLayer(), { createdBy: "the service", entries: [{ type: "file", path: "handler.sh", content: SERVICE_HANDLER, mode: 0o755 }] }],
    config: {
      Entrypoint: ["/bin/nc", "-ll", "-p", "8080", "-e", "/handler.sh"],
      Env: ["PATH=/bin"],
      ExposedPorts: { "8080/tcp": {} },
    },
  });
}

/** App flags for a busybox pod that idles until stopped and exits 0 on SIGTERM. */
export const IDLE: readonly string[] = ["--exec=/bin/sh", "--", "-c", "trap 'exit 0' TERM; sleep 600 & wait"];

/** Fetches an OCI layout into the store and returns the image ID. */
export async function fetchLayout(dir: string, layout: string): Promise<string> {
  const r = await runRkt(["fetch", "--insecure-options=image", layout], { dir });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim();
}

/** A TCP port on 127.0.0.1 that nothing listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** One HTTP GET (HTTP/1.0, no keep-alive): status and body, or the error's message. */
export async function httpGet(hostAddr: string, port: number, path = "/"): Promise<{ status: number; body: string } | { error: string }> {
  return new Promise((resolve) => {
    const req = request({ host: hostAddr, port, path, method: "GET", agent: false, timeout: 5000, headers: { Connection: "close" } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", (e) => resolve({ error: e.message }));
    });
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", (e) => resolve({ error: e.message }));
    req.end();
  });
}

/** GETs until it answers 200 (the server may still be starting), at most `tries` times 100 ms apart. */
export async function httpGetOk(hostAddr: string, port: number, path = "/", tries = 100): Promise<string> {
  let last: { status: number; body: string } | { error: string } = { error: "not tried" };
  for (let i = 0; i < tries; i++) {
    last = await httpGet(hostAddr, port, path);
    if ("status" in last && last.status === 200) return last.body;
    await sleep(100);
  }
  throw new Error(`GET http://${hostAddr}:${port}${path} never answered 200: ${JSON.stringify(last)}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** What `rkt status` says about a pod, parsed from its key=value lines. */
export interface PodStatus {
  readonly state: string;
  /** Network name to IPv4 address, from `networks=name:ip4=A,...`. */
  readonly networks: Readonly<Record<string, string>>;
  readonly raw: string;
}

export function parseStatus(text: string): PodStatus {
  const state = /^state=(\S+)$/m.exec(text)?.[1] ?? "";
  const networks: Record<string, string> = {};
  const nets = /^networks=(.*)$/m.exec(text)?.[1] ?? "";
  for (const part of nets.split(",")) {
    const m = /^([^:]+):ip4=(\S+)$/.exec(part);
    if (m !== null) networks[m[1]!] = m[2]!;
  }
  return { state, networks, raw: text };
}

/** A pod `rkt run` in the background: the CLI process is the pod. */
export interface BackgroundPod {
  readonly uuid: string;
  readonly status: PodStatus;
  readonly child: ChildProcess;
  /** Resolves with the `rkt run` process's exit code (null after a signal) once it ends. */
  readonly exited: Promise<number | null>;
  /** What the pod printed so far. */
  output(): string;
}

/**
 * Starts `rkt run ARGS` in the background and waits until the pod is running with all its
 * networks up (and, with `ready`, until `ready(status)` is true). On failure the pod is stopped.
 * After the test it is stopped (forced) if still running (see {@link later}); collection is the
 * store's job.
 */
export async function startPod(t: TestContext, dir: string, args: readonly string[], options: { readonly globals?: readonly string[]; readonly ready?: (s: PodStatus) => boolean } = {}): Promise<BackgroundPod> {
  const uuidDir = await makeTempDir("rkt-ws-uuid-");
  const uuidFile = join(uuidDir, "uuid");
  const child = spawn(RKT_BIN, [`--dir=${dir}`, ...(options.globals ?? []), "run", `--uuid-file-save=${uuidFile}`, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  let uuid = "";
  const stop = async (): Promise<void> => {
    if (uuid !== "" && child.exitCode === null && child.signalCode === null) await runRkt(["stop", "--force", uuid], { dir }).catch(() => undefined);
    if (child.exitCode === null && child.signalCode === null) {
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
  };
  later(t, async () => {
    await stop();
    await removeTempDir(uuidDir);
  });
  try {
    for (let i = 0; i < 300; i++) {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`rkt run ${args.join(" ")} ended before the pod was running (code ${child.exitCode}):\n${out}`);
      if (uuid === "" && existsSync(uuidFile)) uuid = readFileSync(uuidFile, "utf8").trim();
      if (uuid !== "") {
        const s = await runRkt(["status", uuid], { dir });
        const status = parseStatus(s.stdout);
        if (s.code === 0 && status.state === "running" && (options.ready?.(status) ?? true)) {
          return { uuid, status, child, exited, output: () => out };
        }
      }
      await sleep(100);
    }
    throw new Error(`pod of rkt run ${args.join(" ")} did not become ready in 30 s:\n${out}`);
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Writes `<localConfig>/net.d/NAME` for each entry into a fresh local config dir, removed after the test. */
export async function localConfigWith(t: TestContext, netd: Readonly<Record<string, unknown>>): Promise<string> {
  const dir = await makeTempDir("rkt-ws-conf-");
  later(t, () => removeTempDir(dir));
  await mkdir(join(dir, "net.d"), { recursive: true });
  for (const [name, conf] of Object.entries(netd)) await writeFile(join(dir, "net.d", name), JSON.stringify(conf, null, 2));
  return dir;
}

/** Names of the host's links (without the `@peer` suffix). */
export function hostLinks(): string[] {
  return host("ip", ["-o", "link", "show"])
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (l.split(": ")[1] ?? "").split("@")[0] ?? "");
}

/** Whether the kernel makes links of `type` (tried on the host with a throwaway name, removed at once). */
export function kernelMakes(type: "dummy"): boolean {
  const name = `rktwsprobe${uniqueSuffix(2)}`;
  const ok = hostTry("ip", ["link", "add", name, "type", type]);
  if (ok) hostTry("ip", ["link", "del", name]);
  return ok;
}

/** Whether the kernel makes `type` links on top of `parent`. */
export function kernelMakesOn(parent: string, type: "macvlan" | "ipvlan"): boolean {
  const name = `rktwsprobe${uniqueSuffix(2)}`;
  const ok = hostTry("ip", ["link", "add", name, "link", parent, "type", type]);
  if (ok) hostTry("ip", ["link", "del", name]);
  return ok;
}

/**
 * A parent ("master") link for macvlan/ipvlan on the host, never eth0: a dummy link when the
 * kernel has them, else a veth pair whose both ends stay on the host (the peer is `<name>p`).
 * Up, without addresses; removed after the test.
 */
export function parentLink(t: TestContext): { readonly name: string; readonly kind: "dummy" | "veth"; readonly links: readonly string[] } {
  const name = `rktwsp${uniqueSuffix(3)}`;
  if (kernelMakes("dummy")) {
    host("ip", ["link", "add", name, "type", "dummy"]);
    later(t, () => hostTry("ip", ["link", "del", name]));
    host("ip", ["link", "set", name, "up"]);
    return { name, kind: "dummy", links: [name] };
  }
  const peer = `${name}p`;
  host("ip", ["link", "add", name, "type", "veth", "peer", "name", peer]);
  later(t, () => hostTry("ip", ["link", "del", name]));
  host("ip", ["link", "set", peer, "up"]);
  host("ip", ["link", "set", name, "up"]);
  return { name, kind: "veth", links: [name, peer] };
}

/** host-local's default lease dir for a network (rkt's built-in networks use it). */
export function cniLeaseDir(network: string): string {
  return join("/var/lib/cni/networks", network);
}

/** host-local's lease dir for a test network, removed after the test; returns its path. */
export function testLeaseDir(t: TestContext, network: string): string {
  const dir = cniLeaseDir(network);
  later(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The lease files of a host-local dir held by one of `uuids` (host-local writes the container ID first). */
export function leasesOf(leaseDir: string, uuids: readonly string[]): string[] {
  let names: string[];
  try {
    names = readdirSync(leaseDir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names) {
    if (!/^[0-9a-f.:]+$/.test(n) || !n.includes(".")) continue;
    let owner = "";
    try {
      owner = readFileSync(join(leaseDir, n), "utf8").split(/\r?\n/)[0] ?? "";
    } catch {
      continue;
    }
    if (uuids.includes(owner)) out.push(`${n} (${owner})`);
  }
  return out;
}

/** What pods of `uuids` (stored under `dir`) left on the host, as readable lines; empty when clean. */
export function podLeftovers(dir: string, uuids: readonly string[], leaseDirs: readonly string[]): string[] {
  const out: string[] = [];
  const nat = host("iptables", ["-w", "-t", "nat", "-S"]);
  for (const line of nat.split("\n")) if (uuids.some((u) => line.includes(u))) out.push(`nat ${line}`);
  for (const u of uuids) if (existsSync(join("/run/rkt/ns", u))) out.push(`netns pin /run/rkt/ns/${u}`);
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = line.split(" ")[4];
    if (point !== undefined && (point === dir || point.startsWith(`${dir}/`))) out.push(`mount ${point}`);
  }
  let containers: string[] = [];
  try {
    containers = host("runc", ["--root", "/run/rkt/runtime/runc", "list", "-q"]).split("\n").filter((s) => s !== "");
  } catch {
    // no runtime state dir yet: no containers
  }
  for (const c of containers) if (uuids.some((u) => c.includes(u))) out.push(`runc container ${c}`);
  for (const d of leaseDirs) for (const l of leasesOf(d, uuids)) out.push(`lease ${d}/${l}`);
  return out;
}

/** The host's veth links and nat chains named CNI-* (ptp/bridge masquerade chains), for before/after counts. */
export function cniHostState(): { readonly veths: readonly string[]; readonly cniChains: readonly string[] } {
  const veths = host("ip", ["-o", "link", "show", "type", "veth"])
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => (l.split(": ")[1] ?? "").split("@")[0] ?? "");
  const cniChains = host("iptables", ["-w", "-t", "nat", "-S"])
    .split("\n")
    .filter((l) => /^-N CNI-(?!HOSTPORT)/.test(l));
  return { veths, cniChains };
}

/** JSON of `rkt list --format=json`, the parts these tests read. */
export interface ListedPod {
  readonly name: string;
  readonly state: string;
  readonly networks?: readonly { readonly name: string; readonly ip4?: string }[];
  readonly app_names?: readonly string[];
}

export async function listPods(dir: string): Promise<ListedPod[]> {
  const r = await runRkt(["list", "--format=json"], { dir });
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as ListedPod[];
}
