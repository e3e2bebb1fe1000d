/**
 * Test fixtures: layer tarballs built in code. Entries go through tar-stream's pack; what pack
 * cannot write (binary PAX values, oversized or malformed headers) is written by the raw encoders
 * below, byte for byte as POSIX ustar/pax lays it out.
 */
import { Readable } from "node:stream";
import { type Header, pack } from "tar-stream";

export const FIXED_MTIME = new Date("2021-03-04T05:06:07Z");

export interface LayerEntry {
  readonly name: string;
  readonly type?: Header["type"];
  readonly content?: string | Buffer;
  readonly mode?: number;
  readonly uid?: number;
  readonly gid?: number;
  readonly mtime?: Date;
  readonly linkname?: string;
  readonly devmajor?: number;
  readonly devminor?: number;
  /** PAX records tar-stream writes itself (text values only). */
  readonly pax?: Readonly<Record<string, string>>;
  /** PAX records written raw in a header of their own before the entry (binary-safe values). */
  readonly rawPax?: Readonly<Record<string, string | Buffer>>;
}

/** Raw bytes placed verbatim between entries (hostile headers). */
export interface RawBlock {
  readonly raw: Buffer;
}

/** A complete tar: the entries in order, then the two zero blocks that end an archive. */
export async function buildLayer(entries: readonly (LayerEntry | RawBlock)[]): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    if ("raw" in entry) {
      parts.push(entry.raw);
      continue;
    }
    if (entry.rawPax !== undefined) parts.push(rawPaxHeader(entry.rawPax));
    const one = await packEntries([entry]);
    parts.push(one.subarray(0, one.length - 1024));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

async function packEntries(entries: readonly LayerEntry[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  const collected = (async () => {
    for await (const chunk of p) chunks.push(chunk as Buffer);
  })();
  for (const e of entries) {
    const header: Header = {
      name: e.name,
      type: e.type ?? "file",
      mode: e.mode ?? (e.type === "directory" ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      mtime: e.mtime ?? FIXED_MTIME,
      linkname: e.linkname ?? "",
      uname: "",
      gname: "",
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
      size: 0,
      ...(e.pax === undefined ? {} : { pax: e.pax }),
    };
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null): void => (err ? reject(err) : resolve());
      // A file entry without content is empty; pack would otherwise wait for its body.
      const content = e.content ?? ((e.type ?? "file") === "file" ? "" : undefined);
      if (content !== undefined) p.entry(header, content, done);
      else p.entry(header, done);
    });
  }
  p.finalize();
  await collected;
  return Buffer.concat(chunks);
}

/** One 512-byte ustar header with a correct checksum. `size` may be a number or a raw 12-byte field. */
export function rawHeader(options: {
  readonly name: string;
  readonly typeflag: string;
  readonly size: number | Buffer;
  readonly linkname?: string;
  readonly mode?: number;
}): Buffer {
  const block = Buffer.alloc(512);
  block.write(options.name, 0, 100, "utf8");
  block.write(octal(options.mode ?? 0o644, 7), 100, "latin1");
  block.write(octal(0, 7), 108, "latin1");
  block.write(octal(0, 7), 116, "latin1");
  if (typeof options.size === "number") block.write(octal(options.size, 11), 124, "latin1");
  else options.size.copy(block, 124, 0, 12);
  block.write(octal(Math.floor(FIXED_MTIME.getTime() / 1000), 11), 136, "latin1");
  block.write(" ".repeat(8), 148, "latin1");
  block.write(options.typeflag, 156, "latin1");
  if (options.linkname !== undefined) block.write(options.linkname, 157, 100, "utf8");
  block.write("ustar\u000000", 257, "latin1");
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\u0000 `, 148, "latin1");
  return block;
}

/** A PAX extended header ('x') carrying `records`, padded to whole blocks. */
export function rawPaxHeader(records: Readonly<Record<string, string | Buffer>>): Buffer {
  const body = Buffer.concat(Object.entries(records).map(([key, value]) => paxRecord(key, value)));
  return Buffer.concat([rawHeader({ name: "PaxHeader", typeflag: "x", size: body.length }), padded(body)]);
}

/** "LENGTH KEY=VALUE\n" where LENGTH counts the whole record, its own digits included. */
export function paxRecord(key: string, value: string | Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from("\n")]);
  let length = rest.length + String(rest.length).length;
  if (String(length).length !== String(rest.length).length) length = rest.length + String(length).length;
  return Buffer.concat([Buffer.from(String(length)), rest]);
}

export function padded(body: Buffer): Buffer {
  const rest = body.length % 512;
  return rest === 0 ? body : Buffer.concat([body, Buffer.alloc(512 - rest)]);
}

function octal(value: number, digits: number): string {
  return `${value.toString(8).padStart(digits, "0")}\u0000`;
}

/** A stream of `data` cut into chunks of `size` bytes (to exercise header parsing across chunks). */
export function streamOf(data: Buffer, size = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += size) chunks.push(data.subarray(at, at + size));
  return Readable.from(chunks);
}
