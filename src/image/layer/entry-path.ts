/**
 * The policy for names a layer tar may use (entry names and hard link targets), applied before any
 * of them reaches the file system.
 */
import { RktError } from "../../lib/errors.js";

/** PATH_MAX on Linux: no longer name can be used in one system call anyway. */
export const MAX_PATH_BYTES = 4096;
/** NAME_MAX on Linux (ext4, xfs, tmpfs, overlayfs). */
export const MAX_COMPONENT_BYTES = 255;

/**
 * Splits a tar entry name into its components, relative to the root of the tree.
 *
 * - A leading `/` is dropped (neutralized): tar archives made from `/` store absolute names, and
 *   GNU tar extracts them relative to the target directory too.
 * - Empty and `.` components are dropped: `./etc//passwd` is `etc/passwd`; `./` is the root (an
 *   empty array).
 * - A `..` component anywhere is rejected: no legitimate layer needs it, and lexical cleaning
 *   (`a/../b` -> `b`) would disagree with the kernel when `a` is a symlink.
 * - NUL bytes, names over 4096 bytes and components over 255 bytes are rejected.
 *
 * Rejections are "invalid-argument" RktErrors naming the entry.
 *
 * @example
 * parseEntryPath("./usr/bin/env");   // ["usr", "bin", "env"]
 * parseEntryPath("/etc/");           // ["etc"]
 * parseEntryPath("a/../../etc");     // throws: contains ".."
 */
export function parseEntryPath(name: string, what = "entry"): readonly string[] {
  if (name.includes("\0")) throw invalid(what, name, "contains a NUL byte");
  if (Buffer.byteLength(name) > MAX_PATH_BYTES) throw invalid(what, name, `is longer than ${MAX_PATH_BYTES} bytes`);
  const parts = name.split("/").filter((c) => c !== "" && c !== ".");
  for (const part of parts) {
    if (part === "..") throw invalid(what, name, 'contains ".." (a layer may not name paths outside its root)');
    if (Buffer.byteLength(part) > MAX_COMPONENT_BYTES) {
      throw invalid(what, name, `has a component longer than ${MAX_COMPONENT_BYTES} bytes`);
    }
  }
  return parts;
}

/** A name for messages: quoted, control characters escaped, at most ~200 characters. */
export function quoteName(name: string): string {
  const short = name.length > 200 ? `${name.slice(0, 200)}...` : name;
  return JSON.stringify(short);
}

function invalid(what: string, name: string, why: string): RktError {
  return new RktError("invalid-argument", `layer ${what} ${quoteName(name)} ${why}`);
}
