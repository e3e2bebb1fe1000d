/**
 * Idmapped mounts (Linux 5.12+, mount_setattr(2) MOUNT_ATTR_IDMAP): a view of a directory in which
 * file owners appear shifted through a user namespace's mapping, without touching the files. A pod
 * with a user namespace sees its image layers, shared read-only with every other pod, owned by its
 * own root; rkt (and its stage1) had to chown a private copy of the image for that.
 *
 * Built from three calls, through koffi's syscall(2) (glibc 2.36 wraps them, Debian 12's 2.36 but
 * not older ones, and util-linux 2.38's mount(8) has no X-mount.idmap yet): open_tree(2) with
 * OPEN_TREE_CLONE makes a detached copy of the mount, mount_setattr(2) idmaps it, move_mount(2)
 * attaches it. Their numbers are the same on every architecture (the unified table from 424 on).
 */
import { createRequire } from "node:module";
import { openSync, closeSync } from "node:fs";

const SYS_OPEN_TREE = 428;
const SYS_MOVE_MOUNT = 429;
const SYS_MOUNT_SETATTR = 442;
const AT_FDCWD = -100;
const AT_EMPTY_PATH = 0x1000;
const AT_RECURSIVE = 0x8000;
const OPEN_TREE_CLONE = 1;
const OPEN_TREE_CLOEXEC = 0o2000000;
const MOVE_MOUNT_F_EMPTY_PATH = 0x4;
const MOUNT_ATTR_IDMAP = 0x100000;

interface Syscalls {
  syscall(...args: unknown[]): bigint | number;
  errno(): number;
  mountAttr: unknown;
  close(fd: number): number;
}

let cached: Syscalls | undefined;

function sys(): Syscalls {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  // koffi's typings are loose; the prototypes below are the C ones.
  /* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
  const koffi = require("koffi");
  const lib = koffi.load("libc.so.6");
  const errnoLoc = lib.func("int *__errno_location(void)");
  cached = {
    syscall: lib.func("long syscall(long number, ...)"),
    errno: () => koffi.decode(errnoLoc(), "int") as number,
    // struct mount_attr (include/uapi/linux/mount.h): four __u64.
    mountAttr: koffi.pointer(koffi.struct("rkt_mount_attr", { attr_set: "uint64", attr_clr: "uint64", propagation: "uint64", userns_fd: "uint64" })),
    close: lib.func("int close(int fd)"),
  };
  /* eslint-enable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
  return cached;
}

const ERRNO_NAMES: Readonly<Record<number, string>> = { 1: "EPERM", 2: "ENOENT", 9: "EBADF", 13: "EACCES", 16: "EBUSY", 22: "EINVAL", 38: "ENOSYS", 95: "EOPNOTSUPP" };

function sysError(syscall: string, path: string): NodeJS.ErrnoException {
  const errno = sys().errno();
  const code = ERRNO_NAMES[errno] ?? `E${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${syscall} ${path}: ${code}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  err.path = path;
  return err;
}

/**
 * Mounts `source` at `target` (an existing file or directory, like a bind mount) with owners
 * mapped through the user namespace pinned at `userns` (an nsfs file such as /proc/PID/ns/user):
 * a file owned by uid N on disk appears owned by the host uid N maps to, and files created through
 * the mount are stored with the unmapped ids. With `recursive`, mounts below `source` come along
 * (and must all support idmapping). Throws an errno-shaped Error: EINVAL when the file system
 * cannot be idmapped (overlayfs, procfs, ...), ENOSYS on kernels before 5.12.
 *
 * @example
 * idmappedMount("/var/lib/rkt/cas/layers/sha256/ab.../rootfs", "/var/lib/rkt/pods/run/UUID/userns/0", "/run/rkt/ns/UUID/user");
 */
export function idmappedMount(source: string, target: string, userns: string, recursive = false): void {
  const s = sys();
  const usernsFd = openSync(userns, "r");
  try {
    const tree = Number(s.syscall(SYS_OPEN_TREE, "int", AT_FDCWD, "str", source, "uint", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0)));
    if (tree < 0) throw sysError("open_tree", source);
    try {
      const attr = { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: usernsFd };
      if (Number(s.syscall(SYS_MOUNT_SETATTR, "int", tree, "str", "", "uint", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), s.mountAttr, attr, "size_t", 32)) !== 0) {
        throw sysError("mount_setattr", source);
      }
      if (Number(s.syscall(SYS_MOVE_MOUNT, "int", tree, "str", "", "int", AT_FDCWD, "str", target, "uint", MOVE_MOUNT_F_EMPTY_PATH)) !== 0) {
        throw sysError("move_mount", target);
      }
    } finally {
      s.close(tree);
    }
  } finally {
    closeSync(usernsFd);
  }
}
