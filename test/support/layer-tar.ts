/**
 * Layer tarballs built by code: the changeset format of the OCI image spec (image-spec
 * layer.md), with whiteouts (`.wh.<name>`) and opaque directories (`.wh..wh..opq`) written as the
 * spec describes. Every entry gets the same fixed mtime, so the same entries always give the same
 * bytes and the same digest.
 */
import { gunzipSync, gzipSync } from "node:zlib";
import tar, { type Header } from "tar-stream";
import { execTool } from "./exec-tool.js";

/** The mtime of every entry: 2020-01-01T00:00:00Z. Fixed so digests are stable. */
export const FIXED_MTIME = new Date("2020-01-01T00:00:00Z");

interface Owner {
  readonly uid?: number;
  readonly gid?: number;
}

/**
 * One entry of a layer. Paths are written as given, minus a leading `/` (layers hold relative
 * paths); nothing is normalized, so hostile paths (`../x`) can be built on purpose.
 */
export type LayerEntry =
  | (Owner & { readonly type: "file"; readonly path: string; readonly content: string | Uint8Array; readonly mode?: number })
  | (Owner & { readonly type: "dir"; readonly path: string; readonly mode?: number })
  | (Owner & { readonly type: "symlink"; readonly path: string; readonly target: string })
  /** A hard link: `target` is the layer path of the file it links to. */
  | (Owner & { readonly type: "hardlink"; readonly path: string; readonly target: string })
  /** Deletes `path` from lower layers: written as `<dir>/.wh.<name>` (image-spec layer.md "Whiteouts"). */
  | { readonly type: "whiteout"; readonly path: string }
  /** Hides everything lower layers put in directory `path`: written as `<path>/.wh..wh..opq`. */
  | { readonly type: "opaque"; readonly path: string }
  /** Any tar header as is, for hostile or unusual content (devices, fifos, odd names). */
  | { readonly type: "raw"; readonly header: RawHeader; readonly content?: Uint8Array };

/** How a layer blob is compressed (its media type suffix: none, +gzip, +zstd). */
export type Compression = "gzip" | "zstd" | "none";

/** A tar header as tar-stream takes it: a name and any other fields. */
export type RawHeader = Partial<Header> & Pick<Header, "name">;

/**
 * Writes `entries`, in order, as an uncompressed tar archive.
 *
 * @example
 * const tarBytes = await layerTar([{ type: "file", path: "/etc/hostname", content: "box\n" }]);
 */
export async function layerTar(entries: readonly LayerEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of pack) chunks.push(chunk as Buffer);
  })();
  try {
    for (const entry of entries) {
      const [header, content] = toTar(entry);
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error | null): void => (err ? reject(err) : resolve());
        if (content === undefined) pack.entry(header, done);
        else pack.entry(header, typeof content === "string" ? Buffer.from(content) : content, done);
      });
    }
    pack.finalize();
  } catch (err) {
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
    await collected.catch(() => undefined);
    throw err;
  }
  await collected;
  return Buffer.concat(chunks);
}

/**
 * Compresses a layer tarball. gzip is deterministic (zlib writes mtime 0); zstd runs the `zstd`
 * CLI (Node 20's zlib has no zstd), stable for a given zstd version.
 */
export async function compress(data: Uint8Array, compression: Compression): Promise<Buffer> {
  switch (compression) {
    case "none":
      return Buffer.from(data);
    case "gzip":
      return gzipSync(data);
    case "zstd":
      return execTool("zstd", ["-q", "-c", "-3", "--no-progress"], { input: data });
  }
}

/** Decompresses a layer blob (the inverse of {@link compress}), for tests that read layers back. */
export async function decompress(data: Uint8Array, compression: Compression): Promise<Buffer> {
  switch (compression) {
    case "none":
      return Buffer.from(data);
    case "gzip":
      return gunzipSync(data);
    case "zstd":
      return execTool("zstd", ["-q", "-d", "-c"], { input: data });
  }
}

/** Reads back the headers of a tar archive in order, for asserting what a layer holds. */
export async function tarHeaders(data: Uint8Array): Promise<Header[]> {
  const extract = tar.extract();
  const out: Header[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      out.push(entry.header);
      entry.resume();
    }
  })();
  extract.end(Buffer.from(data));
  await done;
  return out;
}

function toTar(entry: LayerEntry): [RawHeader, Uint8Array | string | undefined] {
  const base = { mtime: FIXED_MTIME, uid: 0, gid: 0, uname: "", gname: "" };
  switch (entry.type) {
    case "file": {
      const { uid = 0, gid = 0 } = entry;
      return [{ ...base, uid, gid, name: rel(entry.path), type: "file", mode: entry.mode ?? 0o644 }, entry.content];
    }
    case "dir": {
      const { uid = 0, gid = 0 } = entry;
      return [{ ...base, uid, gid, name: `${rel(entry.path).replace(/\/+$/, "")}/`, type: "directory", mode: entry.mode ?? 0o755 }, undefined];
    }
    case "symlink": {
      const { uid = 0, gid = 0 } = entry;
      return [{ ...base, uid, gid, name: rel(entry.path), type: "symlink", linkname: entry.target, mode: 0o777 }, undefined];
    }
    case "hardlink": {
      const { uid = 0, gid = 0 } = entry;
      return [{ ...base, uid, gid, name: rel(entry.path), type: "link", linkname: rel(entry.target), mode: 0o644 }, undefined];
    }
    case "whiteout": {
      const path = rel(entry.path).replace(/\/+$/, "");
      const slash = path.lastIndexOf("/");
      const name = slash < 0 ? `.wh.${path}` : `${path.slice(0, slash)}/.wh.${path.slice(slash + 1)}`;
      return [{ ...base, name, type: "file", mode: 0o644 }, ""];
    }
    case "opaque": {
      const dir = rel(entry.path).replace(/\/+$/, "");
      return [{ ...base, name: dir === "" ? ".wh..wh..opq" : `${dir}/.wh..wh..opq`, type: "file", mode: 0o644 }, ""];
    }
    case "raw":
      return [{ ...base, ...entry.header }, entry.content];
  }
}

function rel(path: string): string {
  return path.replace(/^\/+/, "");
}
