/**
 * Hostile layers: tarballs that try to create, change or delete something outside the directory
 * they are applied to. Each case is built against a sandbox path, and every escape aims at the
 * sandbox, never at the host's real files: absolute names and symlinks name sandbox paths, and
 * relative ones climb exactly two levels (a root is `<sandbox>/roots/<name>`). A regression then
 * damages only the sandbox, where hostile-corpus.test.ts notices it.
 *
 * `expect` says what applyLayer must do: "reject" (fail with an "invalid-argument" RktError) or
 * "neutralize" (succeed, with everything kept inside the root). The same corpus runs in flatten
 * mode (layers applied in order onto one root) and overlay mode (each layer into its own root).
 */
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import assert from "node:assert/strict";
import { join } from "node:path";
import { lgetxattr } from "../../../src/sys/libc.js";
import { type LayerEntry, padded, paxRecord, type RawBlock, rawHeader } from "./build-layer.js";

export interface HostileContext {
  /** Absolute path of the sandbox directory that holds the root(s), the sentinel and `outside/`. */
  readonly sandbox: string;
}

export interface HostileLayer {
  readonly name: string;
  readonly why: string;
  readonly expect: "reject" | "neutralize";
  /** The layers, bottom first. */
  readonly layers: (ctx: HostileContext) => readonly (readonly (LayerEntry | RawBlock)[])[];
  /** Extra assertions on the root after a neutralized apply in flatten mode. */
  readonly check?: (root: string, ctx: HostileContext) => Promise<void>;
}

/** The file outside the root that no layer may touch; its content. */
export const SENTINEL = "sentinel";
export const SENTINEL_CONTENT = "the sentinel must not change\n";

const PWNED = "pwned\n";

async function fileContent(path: string): Promise<string> {
  const st = await lstat(path);
  assert.ok(st.isFile(), `${path} should be a regular file`);
  return readFile(path, "utf8");
}

function base256(value: bigint, negative = false): Buffer {
  const field = Buffer.alloc(12);
  let v = negative ? -value : value;
  for (let i = 11; i >= 1; i--) {
    const byte = Number(v & 0xffn);
    field[i] = negative ? 0xff - byte : byte;
    v >>= 8n;
  }
  field[0] = negative ? 0xff : 0x80;
  return field;
}

export const HOSTILE_LAYERS: readonly HostileLayer[] = [
  // --- entry names -----------------------------------------------------------------------------
  {
    name: "dotdot-name",
    why: "an entry named ../../sentinel",
    expect: "reject",
    layers: () => [[{ name: "../../sentinel", content: PWNED }]],
  },
  {
    name: "dotdot-deep-name",
    why: "a/b/../../../sentinel climbs out after descending",
    expect: "reject",
    layers: () => [[{ name: "a/b/../../../sentinel", content: PWNED }]],
  },
  {
    name: "dotdot-absolute-name",
    why: "/../sentinel",
    expect: "reject",
    layers: () => [[{ name: "/../sentinel", content: PWNED }]],
  },
  {
    name: "dotdot-pax-path",
    why: "a harmless ustar name overridden by PAX path=../sentinel",
    expect: "reject",
    layers: () => [[{ name: "harmless", content: PWNED, rawPax: { path: "../sentinel" } }]],
  },
  {
    name: "dotdot-global-pax-path",
    why: "a global PAX header's path=../sentinel merged into the next entry's own PAX header",
    expect: "reject",
    layers: () => [
      [
        { raw: Buffer.concat([rawHeader({ name: "GlobalHead", typeflag: "g", size: paxRecord("path", "../sentinel").length }), padded(paxRecord("path", "../sentinel"))]) },
        { name: "harmless", content: PWNED, rawPax: { "SCHILY.xattr.user.x": "1" } },
      ],
    ],
  },
  {
    name: "dotdot-directory",
    why: "a directory entry ../ that would chmod the sandbox",
    expect: "reject",
    layers: () => [[{ name: "../", type: "directory", mode: 0o777 }]],
  },
  {
    name: "absolute-name",
    why: "an absolute name pointing at the sentinel",
    expect: "neutralize",
    layers: ({ sandbox }) => [[{ name: join(sandbox, SENTINEL), content: PWNED }]],
    check: async (root, { sandbox }) => assert.equal(await fileContent(join(root, sandbox, SENTINEL)), PWNED),
  },
  {
    name: "nul-in-name",
    why: "a PAX path with a NUL byte (C would see a different path than JS)",
    expect: "reject",
    layers: () => [[{ name: "harmless", content: PWNED, rawPax: { path: Buffer.from("a\u0000/../../sentinel") } }]],
  },
  {
    name: "long-name",
    why: "a 5000-byte PAX path",
    expect: "reject",
    layers: () => [[{ name: "harmless", content: PWNED, rawPax: { path: "a/".repeat(2500) } }]],
  },
  {
    name: "long-component",
    why: "a 300-byte path component",
    expect: "reject",
    layers: () => [[{ name: "harmless", content: PWNED, rawPax: { path: "x".repeat(300) } }]],
  },
  {
    name: "file-as-root",
    why: "a regular file named . that would replace the root",
    expect: "reject",
    layers: () => [[{ name: ".", content: PWNED }]],
  },
  {
    name: "parent-is-a-file",
    why: "an entry below a regular file",
    expect: "reject",
    layers: () => [[{ name: "f", content: "f" }, { name: "f/x", content: PWNED }]],
  },

  // --- symlinks --------------------------------------------------------------------------------
  {
    name: "symlink-relative-escape",
    why: "esc -> ../.. (the sandbox, seen from the root), then esc/sentinel",
    expect: "neutralize",
    layers: () => [[{ name: "esc", type: "symlink", linkname: "../.." }, { name: "esc/sentinel", content: PWNED }]],
    check: async (root) => assert.equal(await fileContent(join(root, SENTINEL)), PWNED),
  },
  {
    name: "symlink-absolute-escape",
    why: "esc -> <sandbox>, then esc/sentinel",
    expect: "neutralize",
    layers: ({ sandbox }) => [[{ name: "esc", type: "symlink", linkname: sandbox }, { name: "esc/sentinel", content: PWNED }]],
    check: async (root, { sandbox }) => assert.equal(await fileContent(join(root, sandbox, SENTINEL)), PWNED),
  },
  {
    name: "symlink-from-lower-layer",
    why: "a lower layer plants etc -> <sandbox>/outside, the upper writes etc/file",
    expect: "neutralize",
    layers: ({ sandbox }) => [[{ name: "etc", type: "symlink", linkname: join(sandbox, "outside") }], [{ name: "etc/file", content: PWNED }]],
    check: async (root, { sandbox }) => assert.equal(await fileContent(join(root, sandbox, "outside/file")), PWNED),
  },
  {
    name: "symlink-chain-escape",
    why: "a chain of links, each relative, ending above the root",
    expect: "neutralize",
    layers: () => [
      [
        { name: "a/b/l1", type: "symlink", linkname: "../l2" },
        { name: "a/l2", type: "symlink", linkname: "../l3" },
        { name: "l3", type: "symlink", linkname: "../.." },
        { name: "a/b/l1/sentinel", content: PWNED },
      ],
    ],
    check: async (root) => assert.equal(await fileContent(join(root, SENTINEL)), PWNED),
  },
  {
    name: "symlink-final-component",
    why: "s -> <sandbox>/sentinel, then a file s: must replace the link, not write through it",
    expect: "neutralize",
    layers: ({ sandbox }) => [[{ name: "s", type: "symlink", linkname: join(sandbox, SENTINEL) }, { name: "s", content: PWNED }]],
    check: async (root) => assert.equal(await fileContent(join(root, "s")), PWNED),
  },
  {
    name: "symlink-then-directory",
    why: "d -> <sandbox>/outside, then a directory entry d/ with mode 0777 and uid 4242",
    expect: "neutralize",
    layers: ({ sandbox }) => [[{ name: "d", type: "symlink", linkname: join(sandbox, "outside") }, { name: "d/", type: "directory", mode: 0o777, uid: 4242 }]],
    check: async (root) => assert.ok((await lstat(join(root, "d"))).isDirectory()),
  },
  {
    name: "symlink-xattr",
    why: "xattrs on a symlink to the sentinel must land on the link (or nowhere)",
    expect: "neutralize",
    layers: ({ sandbox }) => [
      [{ name: "s", type: "symlink", linkname: join(sandbox, SENTINEL), pax: { "SCHILY.xattr.trusted.pwn": "1", "SCHILY.xattr.user.pwn": "1" } }],
    ],
  },
  {
    name: "symlink-loop",
    why: "a -> b, b -> a, then a/x",
    expect: "reject",
    layers: () => [[{ name: "a", type: "symlink", linkname: "b" }, { name: "b", type: "symlink", linkname: "a" }, { name: "a/x", content: PWNED }]],
  },
  {
    name: "symlink-self-loop",
    why: "a -> a/, then a/x",
    expect: "reject",
    layers: () => [[{ name: "a", type: "symlink", linkname: "a/" }, { name: "a/x", content: PWNED }]],
  },

  // --- hard links ------------------------------------------------------------------------------
  {
    name: "hardlink-dotdot",
    why: "a hard link to ../sentinel",
    expect: "reject",
    layers: () => [[{ name: "l", type: "link", linkname: "../sentinel" }]],
  },
  {
    name: "hardlink-absolute",
    why: "a hard link to <sandbox>/sentinel (resolved in the root, where it does not exist)",
    expect: "reject",
    layers: ({ sandbox }) => [[{ name: "l", type: "link", linkname: join(sandbox, SENTINEL) }]],
  },
  {
    name: "hardlink-through-symlink",
    why: "d -> <sandbox>, then a hard link to d/sentinel",
    expect: "reject",
    layers: ({ sandbox }) => [[{ name: "d", type: "symlink", linkname: sandbox }, { name: "l", type: "link", linkname: "d/sentinel" }]],
  },
  {
    name: "hardlink-through-lower-symlink",
    why: "a lower layer's d -> <sandbox>, then a hard link to d/outside/file",
    expect: "reject",
    layers: ({ sandbox }) => [[{ name: "d", type: "symlink", linkname: sandbox }], [{ name: "l", type: "link", linkname: "d/outside/file" }]],
  },
  {
    name: "hardlink-pax-linkpath",
    why: "PAX linkpath=../sentinel overriding a harmless link name",
    expect: "reject",
    layers: () => [[{ name: "f", content: "f" }, { name: "l", type: "link", linkname: "f", rawPax: { linkpath: "../sentinel" } }]],
  },
  {
    name: "hardlink-to-directory",
    why: "a hard link to a directory",
    expect: "reject",
    layers: () => [[{ name: "d/", type: "directory" }, { name: "l", type: "link", linkname: "d" }]],
  },
  {
    name: "hardlink-to-root",
    why: "a hard link to ./",
    expect: "reject",
    layers: () => [[{ name: "l", type: "link", linkname: "./" }]],
  },
  {
    name: "hardlink-then-overwrite",
    why: "l linked to f, then a file l: must not write through to f",
    expect: "neutralize",
    layers: () => [[{ name: "f", content: "original" }, { name: "l", type: "link", linkname: "f" }, { name: "l", content: PWNED }]],
    check: async (root) => {
      assert.equal(await fileContent(join(root, "f")), "original");
      assert.equal(await fileContent(join(root, "l")), PWNED);
    },
  },
  {
    name: "hardlink-to-symlink",
    why: "a hard link to a symlink pointing at the sentinel, then a file over the link",
    expect: "neutralize",
    layers: ({ sandbox }) => [
      [{ name: "s", type: "symlink", linkname: join(sandbox, SENTINEL) }, { name: "l", type: "link", linkname: "s" }, { name: "l", content: PWNED }],
    ],
    check: async (root, { sandbox }) => assert.equal(await readlink(join(root, "s")), join(sandbox, SENTINEL)),
  },

  // --- whiteouts -------------------------------------------------------------------------------
  {
    name: "whiteout-dotdot",
    why: "../.wh.sentinel",
    expect: "reject",
    layers: () => [[{ name: "../.wh.sentinel" }]],
  },
  {
    name: "whiteout-empty-name",
    why: ".wh. names nothing (the directory itself?)",
    expect: "reject",
    layers: () => [[{ name: ".wh." }]],
  },
  {
    name: "whiteout-dot",
    why: "d/.wh.. would delete d itself",
    expect: "reject",
    layers: () => [[{ name: "d/.wh.." }]],
  },
  {
    name: "whiteout-dotdot-name",
    why: ".wh... would delete the root's parent",
    expect: "reject",
    layers: () => [[{ name: ".wh..." }]],
  },
  {
    name: "whiteout-through-symlink",
    why: "up -> ../.., then up/.wh.sentinel",
    expect: "neutralize",
    layers: () => [[{ name: "up", type: "symlink", linkname: "../.." }, { name: "up/.wh.sentinel" }]],
  },
  {
    name: "whiteout-through-absolute-symlink",
    why: "up -> <sandbox>, then up/.wh.sentinel and up/.wh.outside",
    expect: "neutralize",
    layers: ({ sandbox }) => [[{ name: "up", type: "symlink", linkname: sandbox }, { name: "up/.wh.sentinel" }, { name: "up/.wh.outside" }]],
  },
  {
    name: "whiteout-of-symlink",
    why: "a lower o -> <sandbox>/outside, whited out: the link goes, its target stays",
    expect: "neutralize",
    layers: ({ sandbox }) => [[{ name: "o", type: "symlink", linkname: join(sandbox, "outside") }], [{ name: ".wh.o" }]],
    check: async (root) => assert.equal(await lstat(join(root, "o")).then(() => true, () => false), false),
  },
  {
    name: "opaque-through-symlink",
    why: "a lower o -> <sandbox>/outside, then o/.wh..wh..opq",
    expect: "neutralize",
    layers: ({ sandbox }) => [[{ name: "o", type: "symlink", linkname: join(sandbox, "outside") }], [{ name: "o/.wh..wh..opq" }]],
  },
  {
    name: "opaque-root-through-dotdot-symlink",
    why: "a lower up -> ../.., then up/.wh..wh..opq: clears the root, nothing above it",
    expect: "neutralize",
    layers: () => [[{ name: "up", type: "symlink", linkname: "../.." }, { name: "lower-file", content: "l" }], [{ name: "up/.wh..wh..opq" }]],
    check: async (root) => assert.deepEqual(await readdir(root), []),
  },
  {
    name: "whiteout-under-file",
    why: "d -> f (a file), then d/.wh.x",
    expect: "reject",
    layers: () => [[{ name: "f", content: "f" }, { name: "d", type: "symlink", linkname: "f" }, { name: "d/.wh.x" }]],
  },

  // --- device nodes ----------------------------------------------------------------------------
  {
    name: "device-then-file",
    why: "a char device 1:3 (/dev/null), then a file of the same name: replaced, never opened",
    expect: "neutralize",
    layers: () => [[{ name: "null", type: "character-device", devmajor: 1, devminor: 3 }, { name: "null", content: PWNED }]],
    check: async (root) => assert.equal(await fileContent(join(root, "null")), PWNED),
  },
  {
    name: "fifo-then-file",
    why: "a FIFO, then a file of the same name (writing through would block forever)",
    expect: "neutralize",
    layers: () => [[{ name: "p", type: "fifo" }, { name: "p", content: PWNED }]],
    check: async (root) => assert.equal(await fileContent(join(root, "p")), PWNED),
  },
  {
    name: "block-device",
    why: "a block device node for a loop disk: created inside the root, never opened",
    expect: "neutralize",
    layers: () => [[{ name: "disk", type: "block-device", devmajor: 7, devminor: 0, mode: 0o666 }]],
    check: async (root) => assert.ok((await lstat(join(root, "disk"))).isBlockDevice()),
  },

  // --- malformed and oversized headers ---------------------------------------------------------
  {
    name: "huge-pax-header",
    why: "a 2 MiB PAX header (over the 1 MiB cap)",
    expect: "reject",
    layers: () => [[{ raw: Buffer.concat([rawHeader({ name: "PaxHeader", typeflag: "x", size: 2 * 1024 * 1024 }), Buffer.alloc(2 * 1024 * 1024, 0x61)]) }]],
  },
  {
    name: "huge-gnu-long-name",
    why: "a 100 KiB GNU long name",
    expect: "reject",
    layers: () => [[{ raw: Buffer.concat([rawHeader({ name: "././@LongLink", typeflag: "L", size: 100 * 1024 }), Buffer.alloc(100 * 1024, 0x61)]) }]],
  },
  {
    name: "empty-pax-header",
    why: "a zero-length PAX header (desynchronizes tar-stream 3.2)",
    expect: "reject",
    layers: () => [[{ raw: rawHeader({ name: "PaxHeader", typeflag: "x", size: 0 }) }, { name: "f", content: PWNED }]],
  },
  {
    name: "malformed-pax-record",
    why: "a PAX header whose record length lies",
    expect: "reject",
    layers: () => [[{ raw: Buffer.concat([rawHeader({ name: "PaxHeader", typeflag: "x", size: 20 }), padded(Buffer.from("99 path=../sentinel\n"))]) }, { name: "f", content: PWNED }]],
  },
  {
    name: "oversized-entry",
    why: "a base-256 size of 2^60 bytes",
    expect: "reject",
    layers: () => [[{ raw: rawHeader({ name: "big", typeflag: "0", size: base256(1n << 60n) }) }]],
  },
  {
    name: "negative-size",
    why: "a negative base-256 size",
    expect: "reject",
    layers: () => [[{ raw: rawHeader({ name: "neg", typeflag: "0", size: base256(1024n, true) }) }]],
  },
  {
    name: "gnu-sparse-entry",
    why: "an entry type rkt does not apply (GNU sparse 'S')",
    expect: "reject",
    layers: () => [[{ raw: rawHeader({ name: "sparse", typeflag: "S", size: 0 }) }]],
  },
  {
    name: "bad-checksum",
    why: "a header with a wrong checksum",
    expect: "reject",
    layers: () => {
      const header = rawHeader({ name: "f", typeflag: "0", size: 0 });
      header.write("x", 0, "latin1");
      return [[{ raw: header }]];
    },
  },
  {
    name: "pax-xattr-overlay-forgery",
    why: "trusted.overlay.* xattrs from the layer (forged opaque dir, redirect) are dropped",
    expect: "neutralize",
    layers: () => [
      [{ name: "d/", type: "directory", rawPax: { "SCHILY.xattr.trusted.overlay.opaque": "y", "SCHILY.xattr.trusted.overlay.redirect": "/etc" } }],
    ],
    check: async (root) => {
      await Promise.resolve();
      assert.equal(lgetxattr(join(root, "d"), "trusted.overlay.opaque"), undefined);
      assert.equal(lgetxattr(join(root, "d"), "trusted.overlay.redirect"), undefined);
    },
  },
];
