/**
 * Host device nodes an app is given: a device passed in as a volume (rkt-features §6: "host-volume
 * device nodes allowed, read-only if the volume is"), a device the CRI lists for a container, or
 * every host device for a privileged one. Each becomes a device cgroup rule (config-linux.md
 * "Allowed Device list"), and, when the runtime must create the node itself, a `linux.devices`
 * entry (config-linux.md "Devices").
 */
import { lstatSync, readdirSync, statSync, type BigIntStats } from "node:fs";
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import type { SpecDevice, SpecDeviceCgroupRule } from "./runtime-spec-types.js";

/** A device node on the host. */
export interface HostDevice {
  readonly type: "c" | "b";
  readonly major: number;
  readonly minor: number;
  /** Permission bits of the node. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

/** major(3) and minor(3) of a dev_t as glibc encodes it. */
function splitDev(rdev: bigint): { major: number; minor: number } {
  return {
    major: Number(((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn)),
    minor: Number((rdev & 0xffn) | ((rdev >> 12n) & ~0xffn)),
  };
}

function fromStats(st: BigIntStats): HostDevice | undefined {
  const type = st.isCharacterDevice() ? "c" : st.isBlockDevice() ? "b" : undefined;
  if (type === undefined) return undefined;
  return { type, ...splitDev(st.rdev), mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid) };
}

/**
 * The device at `path` (links followed), or undefined when it is not a device node.
 *
 * @example
 * hostDevice("/dev/null"); // { type: "c", major: 1, minor: 3, mode: 0o666, uid: 0, gid: 0 }
 */
export function hostDevice(path: string): HostDevice | undefined {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st === undefined ? undefined : fromStats(st);
}

/**
 * The device nodes a volume source holds: itself if it is one, else, for a directory of the
 * host's /dev (such as /dev/snd or /dev/dri), the nodes directly inside it, by path.
 *
 * @example
 * volumeDevices("/dev/snd"); // [["/dev/snd/controlC0", {...}], ...]
 * volumeDevices("/srv/data"); // []
 */
export function volumeDevices(source: string): [string, HostDevice][] {
  const self = hostDevice(source);
  if (self !== undefined) return [[source, self]];
  if (!source.startsWith("/dev/") || statSync(source, { throwIfNoEntry: false })?.isDirectory() !== true) return [];
  const out: [string, HostDevice][] = [];
  for (const name of readdirSync(source)) {
    const path = join(source, name);
    const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
    const dev = st === undefined ? undefined : fromStats(st);
    if (dev !== undefined) out.push([path, dev]);
  }
  return out;
}

/**
 * The allow rule for a host device: read and write, or read only; never mknod (`m`), so the app
 * cannot make other nodes for it.
 *
 * @example
 * deviceRule({ type: "b", major: 254, minor: 0, ... }, true); // { allow: true, type: "b", major: 254, minor: 0, access: "r" }
 */
export function deviceRule(device: HostDevice, readOnly: boolean, access?: string): SpecDeviceCgroupRule {
  return { allow: true, type: device.type, major: device.major, minor: device.minor, access: access ?? (readOnly ? "r" : "rw") };
}

/**
 * A `linux.devices` entry creating `device` at `containerPath` with the host node's mode and owner.
 *
 * @example
 * specDevice("/dev/fuse", hostDevice("/dev/fuse")!); // { path: "/dev/fuse", type: "c", major: 10, minor: 229, ... }
 */
export function specDevice(containerPath: string, device: HostDevice): SpecDevice {
  return { path: containerPath, type: device.type, major: device.major, minor: device.minor, fileMode: device.mode, uid: device.uid, gid: device.gid };
}

/** The nodes the runtime makes in every app's /dev (config-linux.md "Default Devices"), and the host's console. */
const RUNTIME_DEFAULTS = new Set(["null", "zero", "full", "random", "urandom", "tty", "console", "ptmx"]);

/**
 * Every device node of the host's /dev (not /dev/pts, whose ptys belong to other sessions, nor the
 * runtime's defaults), for a privileged app: Docker's --privileged gives the same.
 */
export function allHostDevices(dev = "/dev"): [string, HostDevice][] {
  const out: [string, HostDevice][] = [];
  const walk = (dir: string): void => {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(dir, name);
      if (path === join(dev, "pts") || path === join(dev, "shm") || path === join(dev, "mqueue")) continue;
      if (dir === dev && RUNTIME_DEFAULTS.has(name)) continue;
      const st = lstatSync(path, { bigint: true, throwIfNoEntry: false });
      if (st === undefined) continue;
      if (st.isDirectory()) walk(path);
      const device = fromStats(st);
      if (device !== undefined) out.push([path, device]);
    }
  };
  walk(dev);
  return out;
}

/**
 * Parses a CRI device permission string (`rwm`, any subset).
 *
 * @example
 * devicePermissions("rw", "device /dev/fuse"); // "rw"
 */
export function devicePermissions(text: string, what: string): string {
  if (!/^[rwm]{1,3}$/.test(text) || new Set(text).size !== text.length) {
    throw new RktError("invalid-argument", `${what}: permissions ${JSON.stringify(text)} must be made of r, w and m`);
  }
  return text;
}
