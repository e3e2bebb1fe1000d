/**
 * The file systems every app gets besides its rootfs (config-linux.md "Default Filesystems": /proc,
 * /sys, /dev/pts and /dev/shm SHOULD be there), with the options of runc's reference config
 * (`runc spec`), which crun and Docker use too.
 */
import type { SpecMount } from "./runtime-spec-types.js";

/** How much of the host an app sees: "fly" shares the host's /dev, /proc and /sys (rkt's stage1-fly). */
export type MountFlavor = "default" | "fly" | "sandbox";

const ISOLATED: readonly SpecMount[] = [
  // nosuid/noexec/nodev as Docker: nothing in procfs is a program or a device.
  { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
  // A private /dev: the runtime creates the default devices (config-linux.md "Default Devices") in it.
  { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
  // newinstance: the app's ptys are its own, not the host's (devpts.txt); gid 5 is "tty".
  { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"] },
  { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
  { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
  { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", "ro"] },
  // The app's own cgroups, read-only (rkt-features §6: "cgroupfs mounted read-only in pod").
  { destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup", options: ["nosuid", "noexec", "nodev", "relatime", "ro"] },
];

const FLY: readonly SpecMount[] = [
  // rkt's stage1-fly bind-mounted these recursively from the host: fly apps are host tools
  // (kubelet, etcd) that need the host's devices, processes and sysfs as they are.
  { destination: "/dev", type: "bind", source: "/dev", options: ["rbind", "rw"] },
  { destination: "/proc", type: "bind", source: "/proc", options: ["rbind", "rw"] },
  { destination: "/sys", type: "bind", source: "/sys", options: ["rbind", "rw"] },
  // ...and gave the app a fresh /tmp.
  { destination: "/tmp", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev", "mode=1777"] },
];

/**
 * The default mounts for a flavor, in mount order (parents before children). "sandbox" (gVisor)
 * gets the same list as "default": runsc provides these file systems itself and accepts them.
 *
 * @example
 * defaultMounts("default").map((m) => m.destination);
 * // ["/proc", "/dev", "/dev/pts", "/dev/shm", "/dev/mqueue", "/sys", "/sys/fs/cgroup"]
 */
export function defaultMounts(flavor: MountFlavor): SpecMount[] {
  return (flavor === "fly" ? FLY : ISOLATED).map((m) => ({ ...m, options: [...(m.options ?? [])] }));
}
