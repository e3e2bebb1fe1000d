/**
 * An output file that appears whole or not at all: it is written under a temporary name in the
 * destination's directory (so the final rename stays on one filesystem), fsynced, and renamed
 * over the destination only on `commit`. `discard` removes the temporary file and is a no-op after
 * a commit, so `finally { pending.discard() }` leaves nothing behind when a build fails.
 *
 * @example
 * const pending = PendingFile.beside("/out/app.aci");
 * try {
 *   await writeSomething(pending.path);
 *   pending.commit();
 * } finally {
 *   pending.discard();
 * }
 */
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync, renameSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fsyncDirSync } from "../../sys/atomic-write.js";

/** A file written under a temporary name and renamed into place on `commit` (see the module comment). */
export class PendingFile {
  /** The temporary file to write. */
  readonly path: string;
  /** Where it goes on commit. */
  readonly dest: string;
  private committed = false;

  private constructor(dest: string) {
    this.dest = dest;
    this.path = join(dirname(dest), `.${basename(dest)}.rkt-build-${randomBytes(6).toString("hex")}`);
  }

  /** A pending file for `dest`; nothing is created until the caller writes `path`. */
  static beside(dest: string): PendingFile {
    return new PendingFile(dest);
  }

  /** fsyncs the written file and renames it over `dest`. */
  commit(): void {
    const fd = openSync(this.path, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.path, this.dest);
    this.committed = true;
    fsyncDirSync(dirname(this.dest));
  }

  /** Removes the temporary file unless it was committed. */
  discard(): void {
    if (!this.committed) rmSync(this.path, { force: true });
  }
}
