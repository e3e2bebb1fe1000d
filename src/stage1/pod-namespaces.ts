/**
 * The namespaces a pod's apps share: network, IPC and UTS (rkt-features §2: apps of a pod share
 * them; each app keeps its own mount and PID namespace here). They must outlive any one app, so
 * they are pinned by bind mounts of their nsfs files under `/run/rkt/ns/<uuid>/`, the way
 * `ip netns` pins network namespaces, and every app joins them by path (OCI runtime spec,
 * config-linux.md "Namespaces": `path`).
 *
 * The directory holding the pins is a private mount: pinning a namespace onto a file that sits in
 * a shared mount would propagate the pin to peer mounts, which the kernel refuses for nsfs.
 */
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { RktError } from "../lib/errors.js";
import { MS_BIND, MS_PRIVATE, mount } from "../sys/libc.js";
import { mountsUnder, unmount } from "../sys/mounts.js";

const run = promisify(execFile);

export const NS_ROOT = "/run/rkt/ns";

export interface PodNamespaces {
  /** Path of the pinned network namespace, or "host" for `--net=host`. */
  readonly net: string;
  readonly ipc: string;
  readonly uts: string;
}

export function podNamespacePaths(uuid: string, hostNetwork: boolean): PodNamespaces {
  const dir = join(NS_ROOT, uuid);
  return { net: hostNetwork ? "host" : join(dir, "net"), ipc: join(dir, "ipc"), uts: join(dir, "uts") };
}

/**
 * Creates the pod's namespaces: a network namespace with loopback up (unless the pod uses the
 * host's), and IPC and UTS namespaces with the pod's hostname set.
 */
export async function createPodNamespaces(uuid: string, hostname: string, hostNetwork: boolean): Promise<PodNamespaces> {
  ensurePrivateRoot();
  const dir = join(NS_ROOT, uuid);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const paths = podNamespacePaths(uuid, hostNetwork);
  const pins = hostNetwork ? [paths.ipc, paths.uts] : [paths.net, paths.ipc, paths.uts];
  for (const p of pins) writeFileSync(p, "");
  const args = [`--ipc=${paths.ipc}`, `--uts=${paths.uts}`, ...(hostNetwork ? [] : [`--net=${paths.net}`])];
  const script = hostNetwork ? 'hostname "$1"' : 'hostname "$1" && ip link set lo up';
  try {
    await run("unshare", [...args, "/bin/sh", "-c", script, "sh", hostname]);
  } catch (err) {
    destroyPodNamespaces(uuid);
    throw new RktError("internal", `creating the namespaces of pod ${uuid}: ${(err as { stderr?: string }).stderr?.trim() ?? String(err)}`, { cause: err });
  }
  return paths;
}

/** Unpins and removes the pod's namespaces. Idempotent: gc calls it for pods in any state. */
export function destroyPodNamespaces(uuid: string): void {
  const dir = join(NS_ROOT, uuid);
  for (const point of mountsUnder(dir)) unmount(point);
  rmSync(dir, { recursive: true, force: true });
}

function ensurePrivateRoot(): void {
  mkdirSync(NS_ROOT, { recursive: true, mode: 0o755 });
  const mounted = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[4] === NS_ROOT);
  if (!mounted) {
    mount(NS_ROOT, NS_ROOT, null, MS_BIND, null);
  }
  mount(null, NS_ROOT, null, MS_PRIVATE, null);
}
