/**
 * An ACI's `pathWhitelist` (appc aci.md: "whitelist of absolute paths that will exist in the app's
 * rootfs after rendering. This must be a complete and absolute set."), made a layer: a tar of OCI
 * whiteouts that, stacked on the image's layers (its dependencies' and its own), hides every path
 * the whitelist does not keep. The layer trees stay exactly what their archives hold, so an ACI's
 * tree is shared whether it is run itself or as another image's dependency, and pods, `image
 * render` and `image verify` need nothing new: it is an ordinary layer with a blob.
 *
 * What is kept, following appc's reference renderer (pkg/acirenderer): a path named in the
 * whitelist; a directory on the way to one; and the image's own directories (acirenderer keeps
 * every directory of the top image and whitelists only its other files). Everything else, from
 * the dependencies or the image itself, is hidden. A whitelisted directory keeps itself, not its
 * content: its children are judged one by one. The layer also carries the directories it puts
 * whiteouts in, with the attributes they have in the merged tree, so stacking it changes no
 * directory's mode, owner or time.
 */
import { lstatSync, readdirSync, type Stats } from "node:fs";
import { join } from "node:path";
import { pack as tarPack, type Header } from "tar-stream";
import { RktError, wrap } from "../../../lib/errors.js";
import { lgetxattr } from "../../../sys/libc.js";
import { WHITEOUT_PREFIX, OVERLAY_OPAQUE_XATTR } from "../../layer/whiteout.js";

/** A layer tree, as overlayfs would stack it. */
export interface LowerTree {
  /** The unpacked tree (an overlay-form lowerdir: whiteouts are 0/0 devices, opaque xattrs). */
  readonly rootfs: string;
  /** Whether the tree is the image's own (its directories are kept). */
  readonly own: boolean;
}

/**
 * The whiteout layer (a plain tar) that reduces the merged view of `trees` (top first) to what
 * `pathWhitelist` keeps, or undefined when nothing needs hiding. Deterministic: the same trees and
 * whitelist give the same bytes (sorted walk, fixed times for whiteouts, directory attributes
 * from the trees).
 *
 * A lower entry whose own name starts with `.wh.` (an ordinary name in an ACI) cannot be hidden:
 * every tar entry with such a name is a whiteout marker to an OCI layer reader. That is refused
 * with an "unimplemented" RktError naming the path, rather than leaving it visible.
 *
 * @example
 * const tarBytes = await pathWhitelistLayer([{ rootfs: ownTree, own: true }, { rootfs: depTree, own: false }], ["/bin/app"]);
 */
export async function pathWhitelistLayer(trees: readonly LowerTree[], pathWhitelist: readonly string[]): Promise<Buffer | undefined> {
  const keep = new Set<string>();
  const ancestors = new Set<string>();
  for (const path of pathWhitelist) {
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    keep.add(parts.join("/"));
    for (let i = 1; i < parts.length; i++) ancestors.add(parts.slice(0, i).join("/"));
  }
  let items: TarItem[];
  try {
    const roots: MergedDir[] = trees.map((t) => ({ host: t.rootfs, own: t.own }));
    const top = trees[0];
    if (top === undefined) return undefined;
    items = walk("", roots, { keep, ancestors });
    if (items.length === 0) return undefined;
    items.unshift(directoryItem("", lstatSync(top.rootfs)));
  } catch (err) {
    if (err instanceof RktError) throw err;
    throw wrap("applying the image's pathWhitelist", err);
  }
  return packTar(items);
}

interface MergedDir {
  readonly host: string;
  readonly own: boolean;
}

type Child =
  | { readonly kind: "gone" }
  | { readonly kind: "other" }
  | { readonly kind: "dir"; readonly dirs: MergedDir[]; readonly top: Stats; closed: boolean };

interface Rules {
  readonly keep: ReadonlySet<string>;
  readonly ancestors: ReadonlySet<string>;
}

interface TarItem {
  readonly header: Partial<Header> & Pick<Header, "name">;
}

/**
 * The tar items for directory `rel` of the merged view: whiteouts for what goes, and the items of
 * kept subdirectories (each preceded by its own directory entry when it has any).
 */
function walk(rel: string, dirs: readonly MergedDir[], rules: Rules): TarItem[] {
  // The merged listing, as overlayfs builds it (kernel Documentation/filesystems/overlayfs.rst,
  // "whiteouts and opaque directories"): the topmost entry of a name decides; directories merge
  // with lower directories of the same name until an opaque one or a lower non-directory.
  const children = new Map<string, Child>();
  for (const dir of dirs) {
    for (const name of readdirSync(dir.host)) {
      const host = join(dir.host, name);
      const st = lstatSync(host);
      const seen = children.get(name);
      if (seen === undefined) {
        if (isWhiteoutDevice(st)) children.set(name, { kind: "gone" });
        else if (st.isDirectory()) children.set(name, { kind: "dir", dirs: [{ host, own: dir.own }], top: st, closed: isOpaque(host) });
        else children.set(name, { kind: "other" });
      } else if (seen.kind === "dir" && !seen.closed) {
        if (st.isDirectory()) {
          seen.dirs.push({ host, own: dir.own });
          seen.closed = isOpaque(host);
        } else {
          seen.closed = true;
        }
      }
    }
  }
  const items: TarItem[] = [];
  for (const name of [...children.keys()].sort()) {
    const child = children.get(name);
    if (child === undefined || child.kind === "gone") continue;
    const path = rel === "" ? name : `${rel}/${name}`;
    const kept = rules.keep.has(path);
    if (child.kind === "dir" && (kept || rules.ancestors.has(path) || child.dirs.some((d) => d.own))) {
      const below = walk(path, child.dirs, rules);
      if (below.length > 0) items.push(directoryItem(path, child.top), ...below);
    } else if (!kept) {
      items.push(hideItem(rel, name));
    }
  }
  return items;
}

function directoryItem(rel: string, st: Stats): TarItem {
  return {
    header: {
      name: rel === "" ? "./" : `${rel}/`,
      type: "directory",
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      mtime: new Date(Math.floor(st.mtimeMs / 1000) * 1000),
    },
  };
}

function hideItem(dirRel: string, name: string): TarItem {
  if (name.startsWith(WHITEOUT_PREFIX)) {
    throw new RktError("unimplemented", `the image's pathWhitelist leaves out /${dirRel === "" ? name : `${dirRel}/${name}`}, which rkt cannot hide: a name starting with "${WHITEOUT_PREFIX}" cannot be whited out in a layer`, {
      hint: "add the path to the pathWhitelist, or rename it in the image that has it",
    });
  }
  const marker = `${WHITEOUT_PREFIX}${name}`;
  return { header: { name: dirRel === "" ? marker : `${dirRel}/${marker}`, type: "file", size: 0, mode: 0o644, uid: 0, gid: 0, mtime: new Date(0) } };
}

function isWhiteoutDevice(st: Stats): boolean {
  return st.isCharacterDevice() && st.rdev === 0;
}

function isOpaque(host: string): boolean {
  return lgetxattr(host, OVERLAY_OPAQUE_XATTR)?.toString("latin1") === "y";
}

async function packTar(items: readonly TarItem[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  for (const item of items) {
    await new Promise<void>((resolve, reject) => {
      // An explicit empty body: without one, tar-stream hands back a stream for a file's content.
      pack.entry(item.header, Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await collected;
  return Buffer.concat(chunks);
}
