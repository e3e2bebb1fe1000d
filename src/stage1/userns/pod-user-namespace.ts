/**
 * The namespaces of a pod run with `--private-users`: a user namespace mapping the pod's ids 0-65535
 * to its own host range (id-range.ts), and the pod's network, IPC and UTS namespaces created
 * *inside* it, so that they belong to it. Root in the pod then administers its own network
 * (binds port 80, sets up its interfaces, its hostname) while holding no capability over anything
 * of the host: the kernel checks capabilities against the namespace that owns the resource.
 *
 * They are pinned like a pod's other namespaces (pod-namespaces.ts), in `/run/rkt/ns/<uuid>/`,
 * with `user` beside `net`, `ipc` and `uts`, and go away with them (destroyPodNamespaces). The
 * directory is traversable (0711) here: the runtime resolves an app's root file system path from
 * inside the pod's user namespace, where a 0700 directory of the host's root is closed, so the
 * apps' roots are bind-mounted below it, in `rootfs/<app>` (see {@link userNamespaceRootfs}).
 * The pod directory itself stays closed.
 */
import { execFile, spawn } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, RktError } from "../../lib/errors.js";
import { MS_BIND, MS_PRIVATE, mount } from "../../sys/libc.js";
import { mountsUnder, unmount } from "../../sys/mounts.js";
import { destroyPodNamespaces, NS_ROOT, type PodNamespaces } from "../pod-namespaces.js";
import type { SpecIdMapping } from "../oci/runtime-spec-types.js";
import type { IdRange } from "./id-range.js";

const run = promisify(execFile);

/** A pod's pinned namespaces, its user namespace among them. */
export interface PodUserNamespaces extends PodNamespaces {
  /** The pinned user namespace (nsfs file). */
  readonly user: string;
  readonly range: IdRange;
}

/** Where app `app`'s root file system is made reachable from inside the pod's user namespace. */
export function userNamespaceRootfs(uuid: string, app: string): string {
  return join(NS_ROOT, uuid, "rootfs", app);
}

/**
 * Where volume `index` of app `app` is mounted, idmapped, for the runtime to bind into the app (a
 * mount source needs no path the user namespace can reach: runc opens sources from the host).
 */
export function userNamespaceVolume(uuid: string, app: string, index: number): string {
  return join(NS_ROOT, uuid, "volumes", app, String(index));
}

/**
 * Unmounts what an app of a pod with a user namespace has below the pod's pins (its reachable
 * root, its idmapped volumes): for an app removed from a running pod, or prepared again. The pod's
 * teardown releases them all anyway (destroyPodNamespaces).
 */
export function releaseUserNamespaceApp(uuid: string, app: string): void {
  for (const dir of [userNamespaceRootfs(uuid, app), join(NS_ROOT, uuid, "volumes", app)]) {
    for (const point of mountsUnder(dir)) unmount(point);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The pinned user namespace of pod `uuid`. */
export function podUserNamespacePin(uuid: string): string {
  return join(NS_ROOT, uuid, "user");
}

/** The pod's pins, whether they exist yet or not. */
export function podUserNamespacePaths(uuid: string, hostNetwork: boolean, range: IdRange): PodUserNamespaces {
  const dir = join(NS_ROOT, uuid);
  return { user: podUserNamespacePin(uuid), net: hostNetwork ? "host" : join(dir, "net"), ipc: join(dir, "ipc"), uts: join(dir, "uts"), range };
}

/**
 * The OCI id mappings of a range: container ids 0..size-1 to host ids base..base+size-1, for users
 * and groups alike.
 *
 * @example
 * idMappings({ base: 524288, size: 65536 }); // [{ containerID: 0, hostID: 524288, size: 65536 }]
 */
export function idMappings(range: IdRange): SpecIdMapping[] {
  return [{ containerID: 0, hostID: range.base, size: range.size }];
}

/**
 * Creates the pod's user namespace and, inside it, its IPC, UTS and (unless `hostNetwork`)
 * network namespaces, with loopback up and the hostname set; pins them all. On failure nothing
 * stays pinned.
 *
 * @example
 * const ns = await createPodUserNamespaces(uuid, `rkt-${uuid}`, false, range);
 * ns.user; // "/run/rkt/ns/<uuid>/user"
 */
export async function createPodUserNamespaces(uuid: string, hostname: string, hostNetwork: boolean, range: IdRange): Promise<PodUserNamespaces> {
  ensurePrivateRoot();
  const dir = join(NS_ROOT, uuid);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  chmodSync(dir, 0o711);
  const paths = podUserNamespacePaths(uuid, hostNetwork, range);
  const kinds = hostNetwork ? (["user", "ipc", "uts"] as const) : (["user", "net", "ipc", "uts"] as const);
  // unshare(1) makes the namespaces in one unshare(2), so the new user namespace owns the others;
  // its shell waits while the maps are written and the namespaces pinned from out here.
  const child = spawn("unshare", ["--user", "--ipc", "--uts", ...(hostNetwork ? [] : ["--net"]), "--", "/bin/sh", "-c", "echo ready; read _"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  try {
    const ready = await new Promise<boolean>((resolve) => {
      child.stdout.once("data", () => resolve(true));
      child.once("error", () => resolve(false));
      void exited.then(() => resolve(false));
    });
    const pid = child.pid;
    if (!ready || pid === undefined) throw new Error(stderr.trim() || "unshare did not start");
    // The maps are written by a process of the parent namespace holding CAP_SETUID/CAP_SETGID
    // there (user_namespaces(7)); setgroups stays allowed, so the pod's root can drop groups.
    const map = idMappings(range).map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
    writeFileSync(`/proc/${pid}/uid_map`, map);
    writeFileSync(`/proc/${pid}/gid_map`, map);
    for (const kind of kinds) {
      const pin = kind === "user" ? paths.user : paths[kind];
      writeFileSync(pin, "");
      mount(`/proc/${pid}/ns/${kind}`, pin, null, MS_BIND, null);
    }
    child.stdin.end("\n");
    await exited;
    // Inside: root of the pod (nsenter sets uid and gid 0 in the user namespace) names the pod
    // and brings loopback up, with the capabilities it has over its own namespaces only.
    const script = hostNetwork ? 'hostname "$1"' : 'hostname "$1" && ip link set lo up';
    await run("nsenter", [`--user=${paths.user}`, `--uts=${paths.uts}`, ...(hostNetwork ? [] : [`--net=${paths.net}`]), "--", "/bin/sh", "-c", script, "sh", hostname]);
    return paths;
  } catch (err) {
    child.kill("SIGKILL");
    destroyPodNamespaces(uuid);
    const detail = (err as { stderr?: string }).stderr?.trim();
    throw new RktError("internal", `creating the user namespace of pod ${uuid}: ${detail !== undefined && detail !== "" ? detail : describe(err)}`, { cause: err });
  }
}

/**
 * /run/rkt/ns as a private mount of its own, as pod-namespaces.ts makes it: pinning a namespace on
 * a file in a shared mount would propagate the pin to peers, which the kernel refuses for nsfs.
 */
function ensurePrivateRoot(): void {
  mkdirSync(NS_ROOT, { recursive: true, mode: 0o755 });
  const mounted = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .some((l) => l.split(" ")[4] === NS_ROOT);
  if (!mounted) mount(NS_ROOT, NS_ROOT, null, MS_BIND, null);
  mount(null, NS_ROOT, null, MS_PRIVATE, null);
}
