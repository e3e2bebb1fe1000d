/**
 * The files of a built image: the `copy` steps of a build spec turned into one sorted list of
 * entries, every one checked to come from inside the context directory.
 *
 * What makes a build reproducible starts here. Nothing about the host leaks into an entry except
 * the file's bytes, its type, whether it is executable and a symlink's target:
 * - modes are normalized, so umask and checkout tools do not matter: directories 0755, files 0755
 *   when the owner may execute them and 0644 otherwise, symlinks 0777 (a step's `mode` overrides
 *   the files it copies);
 * - owners are 0:0 unless the step gives `uid`/`gid`; times are not recorded here at all (the
 *   writer stamps one fixed time on every entry);
 * - parent directories that no step copied are added once, 0755 root:root;
 * - hard links are copied as separate files: a checkout (git, cp -r) does not keep them, and the
 *   digest must not depend on how the context was made.
 *
 * Safety: a source may not leave the context directory, neither with `..` nor through a symlink
 * among its parent directories. Symlinks found while copying are kept as symlinks (with their
 * target text unchanged) and never followed, so a link pointing at /etc copies a link, not /etc.
 * Sockets, FIFOs and device nodes are refused.
 */
import { lstatSync, readdirSync, realpathSync, readlinkSync, type Stats } from "node:fs";
import { basename, isAbsolute, join, posix, relative, resolve, sep } from "node:path";
import { errnoCode, RktError, wrap } from "../../lib/errors.js";
import type { CopySpec } from "./build-spec.js";

/** One file, directory or symlink of the image root. */
export type RootfsEntry =
  | { readonly type: "directory"; readonly path: string; readonly mode: number; readonly uid: number; readonly gid: number }
  | {
      readonly type: "file";
      readonly path: string;
      readonly mode: number;
      readonly uid: number;
      readonly gid: number;
      /** The host file its bytes come from. */
      readonly source: string;
      /** Its size when collected; the writer refuses a file that changed since. */
      readonly size: number;
    }
  | { readonly type: "symlink"; readonly path: string; readonly mode: number; readonly uid: number; readonly gid: number; readonly target: string };

/**
 * Collects the entries the `copies` make, relative paths without leading or trailing slash
 * (`usr/bin/app`), sorted bytewise (so every parent comes before its children). Later steps
 * replace what earlier ones put at the same path.
 *
 * @example
 * collectRootfsEntries("/src/app", [{ from: "bin/app", to: "/usr/bin/app" }]);
 * // [usr/ (dir), usr/bin/ (dir), usr/bin/app (file)]
 */
export function collectRootfsEntries(contextDir: string, copies: readonly CopySpec[]): RootfsEntry[] {
  const context = realContextDir(contextDir);
  const entries = new Map<string, RootfsEntry>();
  for (const step of copies) copyStep(context, step, entries);
  for (const entry of [...entries.values()]) addParents(entry.path, entries);
  return [...entries.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

function realContextDir(dir: string): string {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") throw new RktError("not-found", `context directory ${dir} does not exist`, { hint: "give the directory holding the files to copy as the last argument" });
    throw wrap(`opening context directory ${dir}`, err);
  }
  if (!lstatSync(real).isDirectory()) throw new RktError("invalid-argument", `context ${dir} is not a directory`);
  return real;
}

function copyStep(context: string, step: CopySpec, entries: Map<string, RootfsEntry>): void {
  const source = sourcePath(context, step.from);
  let st: Stats;
  try {
    st = lstatSync(source);
  } catch (err) {
    if (errnoCode(err) === "ENOENT") {
      throw new RktError("not-found", `copy source "${step.from}" does not exist in the context directory ${context}`, { hint: "copy sources are relative to the context directory" });
    }
    throw wrap(`reading copy source "${step.from}"`, err);
  }
  const owner = { uid: step.uid ?? 0, gid: step.gid ?? 0 };
  const to = imagePath(step.to);
  if (st.isDirectory()) {
    if (to !== "") put(entries, { type: "directory", path: to, mode: 0o755, ...owner });
    walk(source, to, step, owner, entries);
    return;
  }
  const target = step.to.endsWith("/") ? posix.join(to, basename(source)) : to;
  if (target === "") throw new RktError("invalid-argument", `copy "${step.from}": a ${describeType(st)} cannot replace the image root`, { hint: `copy it to a path such as /${basename(source)}` });
  put(entries, leaf(source, target, st, step, owner));
}

/** The host path of a copy source, refusing anything outside the context directory. */
function sourcePath(context: string, from: string): string {
  const escape = (): never => {
    throw new RktError("permission-denied", `copy source "${from}" is outside the context directory ${context}`, {
      hint: "copy sources must be relative paths inside the context directory; move the file there or pick another context",
    });
  };
  if (isAbsolute(from)) escape();
  const full = resolve(context, from);
  if (!inside(context, full)) escape();
  if (full === context) return full;
  // A symlinked parent directory could lead anywhere; the last component itself is not followed.
  let parent: string;
  try {
    parent = realpathSync(resolve(full, ".."));
  } catch (err) {
    if (errnoCode(err) === "ENOENT") throw new RktError("not-found", `copy source "${from}" does not exist in the context directory ${context}`);
    throw wrap(`resolving copy source "${from}"`, err);
  }
  if (!inside(context, parent)) escape();
  return join(parent, basename(full));
}

function inside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}

function walk(dir: string, to: string, step: CopySpec, owner: { uid: number; gid: number }, entries: Map<string, RootfsEntry>): void {
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch (err) {
    throw wrap(`reading ${dir}`, err);
  }
  for (const name of names) {
    const source = join(dir, name);
    const path = posix.join(to, name);
    const st = lstatSync(source);
    if (st.isDirectory()) {
      put(entries, { type: "directory", path, mode: 0o755, ...owner });
      walk(source, path, step, owner, entries);
    } else {
      put(entries, leaf(source, path, st, step, owner));
    }
  }
}

function leaf(source: string, path: string, st: Stats, step: CopySpec, owner: { uid: number; gid: number }): RootfsEntry {
  if (st.isSymbolicLink()) return { type: "symlink", path, mode: 0o777, ...owner, target: readlinkSync(source) };
  if (st.isFile()) {
    const mode = step.mode ?? ((st.mode & 0o100) !== 0 ? 0o755 : 0o644);
    return { type: "file", path, mode, ...owner, source, size: st.size };
  }
  throw new RktError("invalid-argument", `copy "${step.from}": ${source} is a ${describeType(st)}; only files, directories and symlinks can go into an image`, {
    hint: "remove it from the context directory or copy a narrower path",
  });
}

function put(entries: Map<string, RootfsEntry>, entry: RootfsEntry): void {
  const old = entries.get(entry.path);
  // A directory copied again keeps its children; anything else is replaced by the later step.
  if (old?.type === "directory" && entry.type !== "directory") {
    for (const p of entries.keys()) {
      if (p.startsWith(`${entry.path}/`)) {
        throw new RktError("invalid-argument", `copy steps conflict: /${entry.path} is a directory with /${p} in it, and a later step puts a ${entry.type} there`);
      }
    }
  }
  entries.set(entry.path, entry);
}

function addParents(path: string, entries: Map<string, RootfsEntry>): void {
  const parts = path.split("/");
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join("/");
    const existing = entries.get(parent);
    if (existing === undefined) entries.set(parent, { type: "directory", path: parent, mode: 0o755, uid: 0, gid: 0 });
    else if (existing.type !== "directory") {
      throw new RktError("invalid-argument", `copy steps conflict: /${parent} is a ${existing.type} but /${path} needs it to be a directory`);
    }
  }
}

/** `/usr/bin/` -> `usr/bin`; `/` -> "" (the root). The path was checked absolute and clean. */
function imagePath(to: string): string {
  return to.replace(/^\/+/, "").replace(/\/+$/, "");
}

function describeType(st: Stats): string {
  if (st.isDirectory()) return "directory";
  if (st.isFile()) return "file";
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFIFO()) return "FIFO";
  if (st.isSocket()) return "socket";
  if (st.isBlockDevice() || st.isCharacterDevice()) return "device node";
  return "special file";
}
