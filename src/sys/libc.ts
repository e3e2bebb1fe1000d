/**
 * The system calls Node has no API for: flock(2), mknod(2) and the xattr family. Loaded lazily
 * through koffi (a prebuilt FFI shipped inside its npm package) so commands that never need them
 * do not pay its start-up cost.
 */
import { createRequire } from "node:module";

interface Libc {
  flock(fd: number, op: number): number;
  mknod(path: string, mode: number, dev: bigint): number;
  lsetxattr(path: string, name: string, value: Buffer, size: number, flags: number): number;
  lgetxattr(path: string, name: string, value: Buffer | null, size: number): number;
  llistxattr(path: string, list: Buffer | null, size: number): number;
  mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): number;
  umount2(target: string, flags: number): number;
  errno(): number;
}

let cached: Libc | undefined;

function libc(): Libc {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  // koffi's typings are loose; the signatures below are the C prototypes.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
  const koffi = require("koffi");
  /* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
  const lib = koffi.load("libc.so.6");
  const errnoLoc = lib.func("int *__errno_location(void)");
  cached = {
    flock: lib.func("int flock(int fd, int op)"),
    mknod: lib.func("int mknod(const char *path, uint32_t mode, uint64_t dev)"),
    lsetxattr: lib.func("int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags)"),
    lgetxattr: lib.func("long lgetxattr(const char *path, const char *name, _Out_ void *value, size_t size)"),
    llistxattr: lib.func("long llistxattr(const char *path, _Out_ char *list, size_t size)"),
    mount: lib.func("int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const char *data)"),
    umount2: lib.func("int umount2(const char *target, int flags)"),
    errno: () => koffi.decode(errnoLoc(), "int") as number,
  };
  /* eslint-enable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
  return cached;
}

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM", 2: "ENOENT", 4: "EINTR", 9: "EBADF", 11: "EAGAIN", 13: "EACCES", 17: "EEXIST",
  16: "EBUSY", 19: "ENODEV", 20: "ENOTDIR", 22: "EINVAL", 28: "ENOSPC", 30: "EROFS", 61: "ENODATA", 95: "EOPNOTSUPP",
};

/** An Error shaped like Node's system errors (`code`, `errno`, `syscall`, `path`). */
function sysError(syscall: string, path?: string): NodeJS.ErrnoException {
  const errno = libc().errno();
  const code = ERRNO_NAMES[errno] ?? `E${errno}`;
  const err: NodeJS.ErrnoException = new Error(`${syscall}${path === undefined ? "" : ` ${path}`}: ${code}`);
  err.code = code;
  err.errno = -errno;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

export const LOCK_SH = 1;
export const LOCK_EX = 2;
export const LOCK_NB = 4;
export const LOCK_UN = 8;

/** flock(2). Returns false when LOCK_NB was given and the lock is held elsewhere. */
export function flock(fd: number, op: number): boolean {
  for (;;) {
    if (libc().flock(fd, op) === 0) return true;
    const err = sysError("flock");
    if (err.code === "EINTR") continue;
    if (err.code === "EAGAIN" && (op & LOCK_NB) !== 0) return false;
    throw err;
  }
}

/** makedev(3) as glibc encodes it. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return ((ma & 0xfffn) << 8n) | ((ma & ~0xfffn) << 32n) | (mi & 0xffn) | ((mi & ~0xffn) << 12n);
}

export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;

export function mknod(path: string, mode: number, major = 0, minor = 0): void {
  if (libc().mknod(path, mode, makedev(major, minor)) !== 0) throw sysError("mknod", path);
}

export function lsetxattr(path: string, name: string, value: Buffer): void {
  if (libc().lsetxattr(path, name, value, value.length, 0) !== 0) throw sysError("lsetxattr", path);
}

/** The value of an xattr, or undefined when the file does not have it. */
export function lgetxattr(path: string, name: string): Buffer | undefined {
  const size = libc().lgetxattr(path, name, null, 0);
  if (size < 0) {
    const err = sysError("lgetxattr", path);
    if (err.code === "ENODATA" || err.code === "EOPNOTSUPP") return undefined;
    throw err;
  }
  const buf = Buffer.alloc(size);
  const n = libc().lgetxattr(path, name, buf, size);
  if (n < 0) throw sysError("lgetxattr", path);
  return buf.subarray(0, n);
}

export function llistxattr(path: string): string[] {
  const size = libc().llistxattr(path, null, 0);
  if (size < 0) {
    const err = sysError("llistxattr", path);
    if (err.code === "EOPNOTSUPP") return [];
    throw err;
  }
  if (size === 0) return [];
  const buf = Buffer.alloc(size);
  const n = libc().llistxattr(path, buf, size);
  if (n < 0) throw sysError("llistxattr", path);
  return buf.subarray(0, n).toString("utf8").split("\0").filter((s) => s.length > 0);
}

export const MS_RDONLY = 1;
export const MS_NOSUID = 2;
export const MS_NODEV = 4;
export const MS_NOEXEC = 8;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MS_PRIVATE = 1 << 18;
export const MNT_DETACH = 2;

/** mount(2). */
export function mount(source: string | null, target: string, fstype: string | null, flags: number, data: string | null): void {
  if (libc().mount(source, target, fstype, flags, data) !== 0) throw sysError("mount", target);
}

/** umount2(2); returns false when nothing was mounted there (EINVAL) or the path is gone. */
export function umount2(target: string, flags = 0): boolean {
  if (libc().umount2(target, flags) === 0) return true;
  const err = sysError("umount2", target);
  if (err.code === "EINVAL" || err.code === "ENOENT") return false;
  throw err;
}
