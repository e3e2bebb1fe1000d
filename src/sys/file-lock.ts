/**
 * Advisory locks on files with flock(2): the kernel drops them when the holder dies, so a SIGKILLed
 * rkt never leaves a stale lock behind (lock *files* may stay; they are harmless).
 *
 * @example
 * const lock = await FileLock.acquire("/var/lib/rkt/cas/locks/sha256-abc.lck", "exclusive");
 * try { ... } finally { lock.release(); }
 */
import { closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { flock, LOCK_EX, LOCK_NB, LOCK_SH, LOCK_UN } from "./libc.js";

export type LockMode = "shared" | "exclusive";

export class FileLock {
  private constructor(
    readonly path: string,
    private fd: number,
  ) {}

  /**
   * Takes the lock without blocking; undefined when another process holds a conflicting one.
   * `path` may be a directory (rkt locks pod directories themselves); it must then exist.
   */
  static tryAcquire(path: string, mode: LockMode): FileLock | undefined {
    let fd: number;
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory() === true) {
      fd = openSync(path, "r");
    } else {
      mkdirSync(dirname(path), { recursive: true });
      fd = openSync(path, "a", 0o644);
    }
    try {
      if (!flock(fd, (mode === "shared" ? LOCK_SH : LOCK_EX) | LOCK_NB)) {
        closeSync(fd);
        return undefined;
      }
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return new FileLock(path, fd);
  }

  /**
   * Waits for the lock, polling: a blocking flock(2) through FFI would block Node's event loop
   * (and with it progress output and other downloads).
   */
  static async acquire(path: string, mode: LockMode, signal?: AbortSignal): Promise<FileLock> {
    let delay = 5;
    for (;;) {
      signal?.throwIfAborted();
      const lock = FileLock.tryAcquire(path, mode);
      if (lock !== undefined) return lock;
      await sleep(delay, undefined, signal === undefined ? undefined : { signal });
      delay = Math.min(delay * 2, 100);
    }
  }

  /** The open descriptor, e.g. to hand to a child process that keeps the lock alive. */
  get descriptor(): number {
    return this.fd;
  }

  /** Whether some process holds a lock on `path` that conflicts with `mode` (a non-blocking probe). */
  static isLocked(path: string, mode: LockMode = "exclusive"): boolean {
    const lock = FileLock.tryAcquire(path, mode);
    if (lock === undefined) return true;
    lock.release();
    return false;
  }

  /**
   * Gives up this process's handle without unlocking: for after the descriptor was handed to a
   * child process that keeps the lock (flock locks belong to the open file description).
   */
  forget(): void {
    if (this.fd < 0) return;
    closeSync(this.fd);
    this.fd = -1;
  }

  release(): void {
    if (this.fd < 0) return;
    try {
      flock(this.fd, LOCK_UN);
    } finally {
      closeSync(this.fd);
      this.fd = -1;
    }
  }
}
