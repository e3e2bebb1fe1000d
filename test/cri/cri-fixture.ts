/**
 * A real `rkt cri` for tests: the built CLI serving on a socket in a fresh data directory (with
 * the busybox fixture in its store, as `localhost/busybox:latest`), an empty or given kubelet
 * CNI configuration directory with Debian's plugins (/usr/lib/cni), and a CRI client on the
 * socket. After the test every sandbox is removed, the server stops, and the test fails if a pod
 * left anything on the host (mounts, namespaces, runtime containers).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { TestContext } from "node:test";
import { busyboxImage } from "../support/image-fixtures.js";
import { collectAll } from "../support/pod-env.js";
import { RKT_BIN, runRkt } from "../support/run-rkt.js";
import { makeTempDir, removeTempDir } from "../support/tmp.js";
import { CriClient, type Message } from "./cri-client.js";

/** The image every CRI test runs. */
export const BUSYBOX = "localhost/busybox:latest";

/** A running server and a client for it. */
export interface CriFixture {
  readonly dir: string;
  readonly socket: string;
  readonly cniConfDir: string;
  /** Where sandboxes' log directories go. */
  readonly logs: string;
  readonly client: CriClient;
  /** Everything the server wrote to stderr so far. */
  log(): string;
  /** Stops the server (SIGTERM) and starts it again on the same socket and data. */
  restart(): Promise<void>;
}

/** Options of {@link startCri}. */
export interface CriFixtureOptions {
  /** Files of the kubelet's CNI configuration directory (default: none, pods get loopback only). */
  readonly cniConf?: Readonly<Record<string, string>>;
  /** rkt's --local-config (default: an empty directory). */
  readonly localConfig?: string;
  readonly version?: "v1" | "v1alpha2";
  /** CNI plugin directories (default /usr/lib/cni). */
  readonly cniBinDirs?: readonly string[];
}

/**
 * Starts `rkt cri` for test `t`.
 *
 * @example
 * const cri = await startCri(t);
 * const { pod_sandbox_id } = await cri.client.call("RunPodSandbox", { config: sandboxConfig("web") });
 */
export async function startCri(t: TestContext, options: CriFixtureOptions = {}): Promise<CriFixture> {
  const dir = await makeTempDir("rkt-cri-");
  const cniConfDir = join(dir, "cni-net.d");
  mkdirSync(cniConfDir, { recursive: true });
  for (const [name, text] of Object.entries(options.cniConf ?? {})) writeFileSync(join(cniConfDir, name), text);
  const localConfig = options.localConfig ?? join(dir, "etc-rkt");
  mkdirSync(localConfig, { recursive: true });
  const logs = join(dir, "kubelet-logs");
  const socket = join(dir, "cri.sock");
  let output = "";
  let child: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const c = spawn(RKT_BIN, [`--dir=${dir}`, `--local-config=${localConfig}`, "cri", `--listen=unix://${socket}`, `--cni-conf-dir=${cniConfDir}`, `--cni-bin-dir=${(options.cniBinDirs ?? ["/usr/lib/cni"]).join(",")}`], { stdio: ["ignore", "ignore", "pipe"] });
    c.stderr?.on("data", (b: Buffer) => (output += b.toString()));
    child = c;
    const probe = new CriClient(socket, "v1");
    try {
      for (let i = 0; ; i++) {
        try {
          await probe.call("Version", { version: "0.1.0" }, 2000);
          return;
        } catch (err) {
          if (c.exitCode !== null || i > 100) assert.fail(`rkt cri did not come up: ${String(err)}\n${output}`);
          await sleep(100);
        }
      }
    } finally {
      probe.close();
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (c === undefined || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((resolve) => c.once("exit", resolve));
    c.kill("SIGTERM");
    await exited;
  };
  const client = new CriClient(socket, options.version ?? "v1");
  // One hook, in this order: remove every sandbox through the CRI (which waits for each pod's
  // teardown), stop the server, then collect whatever is left and check the host is clean.
  t.after(async () => {
    try {
      if (child !== undefined) {
        const admin = new CriClient(socket, "v1");
        try {
          const { items } = (await admin.call("ListPodSandbox", {})) as { items: { id: string }[] };
          for (const item of items) await admin.call("RemovePodSandbox", { pod_sandbox_id: item.id }).catch(() => undefined);
        } catch {
          // the server is gone: gc below does the work
        } finally {
          admin.close();
        }
      }
    } finally {
      client.close();
      await stop();
      try {
        await collectAll(dir);
      } finally {
        await removeTempDir(dir);
      }
    }
  });
  const layout = join(dir, "layout", "busybox");
  await busyboxImage({ dir: layout });
  const fetched = await runRkt(["fetch", "--insecure-options=image", layout], { dir });
  assert.equal(fetched.code, 0, fetched.stderr);
  await start();
  return {
    dir,
    socket,
    cniConfDir,
    logs,
    client,
    log: () => output,
    restart: async () => {
      await stop();
      await start();
    },
  };
}

/** A PodSandboxConfig as the kubelet sends it, for pod `name`. */
export function sandboxConfig(cri: CriFixture, name: string, extra: Message = {}): Message {
  return {
    metadata: { name, uid: `uid-${name}`, namespace: "default", attempt: 0 },
    hostname: name,
    log_directory: join(cri.logs, `default_${name}`),
    labels: { "io.kubernetes.pod.name": name },
    annotations: { "kubernetes.io/config.source": "api" },
    linux: { security_context: { namespace_options: { network: "POD", pid: "CONTAINER", ipc: "POD" } } },
    ...extra,
  };
}

/** A ContainerConfig running `script` with /bin/sh in busybox. */
export function shellContainer(name: string, script: string, extra: Message = {}): Message {
  return {
    metadata: { name, attempt: 0 },
    image: { image: BUSYBOX },
    command: ["/bin/sh", "-c", script],
    log_path: `${name}/0.log`,
    labels: { "io.kubernetes.container.name": name },
    ...extra,
  };
}

/** Runs a sandbox and one started container in it; resolves with both IDs. */
export async function runShell(cri: CriFixture, pod: string, script: string, extra: Message = {}, sandboxExtra: Message = {}): Promise<{ sandbox: string; container: string; config: Message }> {
  const config = sandboxConfig(cri, pod, sandboxExtra);
  const { pod_sandbox_id: sandbox } = (await cri.client.call("RunPodSandbox", { config })) as { pod_sandbox_id: string };
  const { container_id: container } = (await cri.client.call("CreateContainer", { pod_sandbox_id: sandbox, config: shellContainer(pod, script, extra), sandbox_config: config })) as { container_id: string };
  await cri.client.call("StartContainer", { container_id: container });
  return { sandbox, container, config };
}

/** ExecSync in a container; resolves with stdout (asserting exit code 0). */
export async function execOut(cri: CriFixture, container: string, cmd: readonly string[]): Promise<string> {
  const r = (await cri.client.call("ExecSync", { container_id: container, cmd, timeout: 10 })) as { stdout: Buffer; stderr: Buffer; exit_code: number };
  assert.equal(r.exit_code, 0, `${cmd.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** Polls `fn` until it returns something other than undefined. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 15_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(100);
  }
}
