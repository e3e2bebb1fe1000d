/**
 * The expected file view of an unpacked image, and a checker that compares a directory on disk
 * against it. Store and layer tests assert with it; the self-tests check it against umoci's own
 * unpacking so the expectation itself is trustworthy.
 */
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";

/** What one path must be: a file with content (and mode), a directory, or a symlink to a target. */
export type ExpectedNode =
  | { readonly type: "file"; readonly content: string; readonly mode?: number }
  | { readonly type: "dir"; readonly mode?: number }
  | { readonly type: "symlink"; readonly target: string };

/** The whole expected tree of an unpacked image; see {@link checkView}. */
export interface ExpectedView {
  /** Every path (relative, no leading `/`) that must exist, with what it must be. */
  readonly present: Readonly<Record<string, ExpectedNode>>;
  /** Paths that must not exist (deleted by whiteouts, whiteout markers themselves). */
  readonly absent: readonly string[];
  /** Pairs of paths that must be the same inode. */
  readonly hardlinks: readonly (readonly [string, string])[];
}

/**
 * Compares the tree at `root` with `view` and returns the differences, one line each (empty when
 * they match). With `exact` (the default) paths present on disk but not in `view.present` count
 * as differences too.
 *
 * @example
 * assert.deepEqual(await checkView(rootfs, MULTI_LAYER_VIEW), []);
 */
export async function checkView(root: string, view: ExpectedView, options: { exact?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  for (const [path, node] of Object.entries(view.present)) {
    const full = join(root, path);
    let st;
    try {
      st = await lstat(full);
    } catch {
      problems.push(`${path}: missing`);
      continue;
    }
    const mode = st.mode & 0o7777;
    switch (node.type) {
      case "file":
        if (!st.isFile()) {
          problems.push(`${path}: not a regular file`);
          break;
        }
        if ((await readFile(full, "utf8")) !== node.content) problems.push(`${path}: content differs`);
        if (node.mode !== undefined && mode !== node.mode) problems.push(`${path}: mode ${mode.toString(8)}, want ${node.mode.toString(8)}`);
        break;
      case "dir":
        if (!st.isDirectory()) problems.push(`${path}: not a directory`);
        else if (node.mode !== undefined && mode !== node.mode) problems.push(`${path}: mode ${mode.toString(8)}, want ${node.mode.toString(8)}`);
        break;
      case "symlink":
        if (!st.isSymbolicLink()) problems.push(`${path}: not a symlink`);
        else if ((await readlink(full)) !== node.target) problems.push(`${path}: points to ${await readlink(full)}, want ${node.target}`);
        break;
    }
  }
  for (const path of view.absent) {
    try {
      await lstat(join(root, path));
      problems.push(`${path}: exists, must not`);
    } catch {
      // absent, as expected
    }
  }
  for (const [a, b] of view.hardlinks) {
    try {
      const [sa, sb] = [await lstat(join(root, a)), await lstat(join(root, b))];
      if (sa.ino !== sb.ino || sa.dev !== sb.dev) problems.push(`${a} and ${b}: not hard-linked`);
    } catch {
      problems.push(`${a} and ${b}: missing`);
    }
  }
  if (options.exact ?? true) {
    for (const path of await listTree(root)) {
      if (!(path in view.present)) problems.push(`${path}: unexpected`);
    }
  }
  return problems;
}

/** Every path under `root`, relative, depth first, sorted. Does not follow symlinks. */
export async function listTree(root: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for (const entry of (await readdir(join(root, prefix), { withFileTypes: true })).sort((x, y) => x.name.localeCompare(y.name))) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    out.push(rel);
    if (entry.isDirectory()) out.push(...(await listTree(root, rel)));
  }
  return out;
}
