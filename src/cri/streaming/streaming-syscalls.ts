/**
 * The system calls the engine streaming backend needs and Node lacks: pseudo-terminals
 * (posix_openpt/grantpt/unlockpt/ptsname_r, TIOCSWINSZ) and entering a network namespace for
 * one socket (setns(2) + socket(2)). Through koffi, loaded on first use, as src/sys/libc.ts does.
 * (These belong in src/sys/ beside libc.ts; they live here until that move.)
 */
import { openSync, closeSync } from "node:fs";
import { createRequire } from "node:module";

interface StreamingLibc {
  posix_openpt(flags: number): number;
  grantpt(fd: number): number;
  unlockpt(fd: number): number;
  ptsname_r(fd: number, buf: Buffer, len: number): number;
  ioctl(fd: number, request: number, arg: Buffer): number;
  setns(fd: number, nstype: number): number;
  socket(domain: number, type: number, protocol: number): number;
  errno(): number;
}

let cached: StreamingLibc | undefined;

function libc(): StreamingLibc {
  if (cached !== undefined) return cached;
  const require = createRequire(import.meta.url);
  // koffi's typings are loose; the signatures below are the C prototypes.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-assignment
  const koffi = require("koffi");
  /* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
  const lib = koffi.load("libc.so.6");
  const errnoLoc = lib.func("int *__errno_location(void)");
  cached = {
    posix_openpt: lib.func("int posix_openpt(int flags)"),
    grantpt: lib.func("int grantpt(int fd)"),
    unlockpt: lib.func("int unlockpt(int fd)"),
    ptsname_r: lib.func("int ptsname_r(int fd, _Out_ char *buf, size_t len)"),
    ioctl: lib.func("int ioctl(int fd, unsigned long request, void *arg)"),
    setns: lib.func("int setns(int fd, int nstype)"),
    socket: lib.func("int socket(int domain, int type, int protocol)"),
    errno: () => koffi.decode(errnoLoc(), "int") as number,
  };
  /* eslint-enable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-assignment */
  return cached;
}

function fail(call: string): never {
  const errno = libc().errno();
  const err: NodeJS.ErrnoException = new Error(`${call} failed (errno ${errno})`);
  err.errno = -errno;
  err.syscall = call;
  throw err;
}

const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;
const TIOCSWINSZ = 0x5414;
const CLONE_NEWNET = 0x40000000;
const AF_INET = 2;
const SOCK_STREAM = 1;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

/** A new pseudo-terminal: the master's fd (close-on-exec) and the slave's path. */
export function openPtyMaster(): { master: number; slavePath: string } {
  const c = libc();
  const master = c.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) fail("posix_openpt");
  try {
    if (c.grantpt(master) !== 0) fail("grantpt");
    if (c.unlockpt(master) !== 0) fail("unlockpt");
    const buf = Buffer.alloc(128);
    if (c.ptsname_r(master, buf, buf.length) !== 0) fail("ptsname_r");
    return { master, slavePath: buf.toString("latin1", 0, buf.indexOf(0)) };
  } catch (err) {
    closeSync(master);
    throw err;
  }
}

/** Sets a terminal's window size (TIOCSWINSZ; on a pty master it sizes the pair). */
export function setWindowSize(fd: number, columns: number, rows: number): void {
  const ws = Buffer.alloc(8);
  ws.writeUInt16LE(rows, 0);
  ws.writeUInt16LE(columns, 2);
  if (libc().ioctl(fd, TIOCSWINSZ, ws) !== 0) fail("ioctl(TIOCSWINSZ)");
}

/**
 * A TCP socket (non-blocking, close-on-exec, not connected) created inside the network
 * namespace pinned at `netnsPath`. A socket belongs to the namespace it was created in, so the
 * calling thread enters the namespace just for socket(2) and goes back at once; nothing else
 * runs on this thread meanwhile (JavaScript is single-threaded, and no await happens between).
 */
export function tcpSocketInNetns(netnsPath: string): number {
  const c = libc();
  const target = openSync(netnsPath, "r");
  let home: number | undefined;
  try {
    home = openSync("/proc/thread-self/ns/net", "r");
    if (c.setns(target, CLONE_NEWNET) !== 0) fail(`setns(${netnsPath})`);
    let fd = -1;
    let errno = 0;
    try {
      fd = c.socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      if (fd < 0) errno = c.errno();
    } finally {
      if (c.setns(home, CLONE_NEWNET) !== 0) {
        // The thread would stay in the pod's network: nothing after this could be trusted.
        process.abort();
      }
    }
    if (fd < 0) {
      const err: NodeJS.ErrnoException = new Error(`socket() in ${netnsPath} failed (errno ${errno})`);
      err.errno = -errno;
      throw err;
    }
    return fd;
  } finally {
    closeSync(target);
    if (home !== undefined) closeSync(home);
  }
}
