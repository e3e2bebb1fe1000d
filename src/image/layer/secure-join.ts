/**
 * Resolving a path from hostile image content inside a root directory, the way the kernel would
 * resolve it if that directory were `/` (as after chroot(2)). Every path a layer names (entry
 * names, hard link targets, whiteouts) goes through here before rkt touches the file system.
 */
import { lstat, readlink } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { errnoCode, RktError } from "../../lib/errors.js";

/** Linux gives up after 40 symlinks in one lookup (MAXSYMLINKS); so do we. */
const MAX_SYMLINKS = 40;

export interface SecureJoinOptions {
  /**
   * Whether a symlink in the last component is followed (default true). Code that is about to
   * replace or hard-link the last component itself passes false: it acts on the link, not on
   * where it points.
   */
  readonly followFinalSymlink?: boolean;
  /** How many symlinks one lookup may follow before it fails (default 40, as Linux). */
  readonly maxSymlinks?: number;
}

/**
 * Joins `unsafePath` onto `root` so that the result is always `root` or a path below it, whatever
 * the path and the tree contain. A leading `/` is ignored, `..` never climbs above `root`, and
 * symlinks met on the way are resolved component by component *inside* `root`: an absolute target
 * restarts at `root`, a relative one continues from the link's directory, and neither can leave.
 * Components that do not exist (yet) are appended as they are, so the result can be a path to
 * create.
 *
 * Why not `path.join` + `realpath`: `realpath` follows links on the host (`etc -> /etc` would
 * resolve to the host's /etc), and a check after the fact cannot tell `root/../root-evil` apart.
 * Resolving inside the root is what containerd and Docker do for the same reason.
 *
 * The result is only valid while nothing else changes the tree: rkt applies a layer into a
 * directory no container is running in, so the tree holds still between this lookup and the use
 * of its result.
 *
 * Fails with an "invalid-argument" RktError after more than `maxSymlinks` links (a loop) and with
 * the file system's error for anything but a missing component.
 *
 * @example
 * // root/etc is a symlink to "/usr/etc" and root/up one to "../../.."
 * await secureJoin("/var/lib/rkt/tree", "etc/passwd");       // "/var/lib/rkt/tree/usr/etc/passwd"
 * await secureJoin("/var/lib/rkt/tree", "/../../etc/shadow"); // "/var/lib/rkt/tree/etc/shadow"
 * await secureJoin("/var/lib/rkt/tree", "up/x");              // "/var/lib/rkt/tree/x"
 * await secureJoin("/var/lib/rkt/tree", "etc", { followFinalSymlink: false }); // ".../tree/etc"
 */
export async function secureJoin(root: string, unsafePath: string, options: SecureJoinOptions = {}): Promise<string> {
  if (!isAbsolute(root)) throw new RktError("invalid-argument", `secure join: root ${JSON.stringify(root)} is not an absolute path`);
  const base = resolve(root);
  const maxSymlinks = options.maxSymlinks ?? MAX_SYMLINKS;
  const followFinal = options.followFinalSymlink ?? true;

  // `done` holds resolved components: each existing one is a real (non-symlink) entry, so `..`
  // can simply drop the last one. Once a component is missing, the rest is appended lexically.
  let done: string[] = [];
  let pending = components(unsafePath);
  let symlinks = 0;
  let missing = false;
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (name === "..") {
      done.pop();
      continue;
    }
    if (missing) {
      done.push(name);
      continue;
    }
    const candidate = join(base, ...done, name);
    let isLink: boolean;
    try {
      isLink = (await lstat(candidate)).isSymbolicLink();
    } catch (err) {
      const code = errnoCode(err);
      // ENOTDIR: a parent is a file. Nothing below it exists; the caller finds out when it tries
      // to create something there.
      if (code !== "ENOENT" && code !== "ENOTDIR") throw err;
      missing = true;
      done.push(name);
      continue;
    }
    const isFinal = pending.length === 0;
    if (!isLink || (isFinal && !followFinal)) {
      done.push(name);
      continue;
    }
    symlinks += 1;
    if (symlinks > maxSymlinks) {
      throw new RktError("invalid-argument", `resolving ${JSON.stringify(unsafePath)} in ${root}: too many levels of symbolic links`);
    }
    const target = await readlink(candidate);
    if (target.startsWith("/")) done = [];
    pending = [...components(target), ...pending];
  }
  return join(base, ...done);
}

/** The non-trivial components of a slash-separated path (no empty ones, no "."). */
function components(path: string): string[] {
  return path.split("/").filter((c) => c !== "" && c !== ".");
}
