/**
 * Where a Node process spent its time, from a V8 CPU profile (`node --cpu-prof`): self time per
 * function and per source file, with the bundle's positions mapped back to src/ through its
 * source maps (esbuild writes `<file>.mjs.map` beside each output file), and the share of time
 * the main thread sat idle (waiting for I/O, or for zlib and fs work on libuv's thread pool).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Time of one row (a function or a file), in milliseconds. */
export interface ProfileRow {
  readonly name: string;
  readonly ms: number;
}

/** A profile boiled down to what a report needs. */
export interface ProfileSummary {
  /** From the first to the last sample. */
  readonly totalMs: number;
  /** The main thread had nothing to run (it waited for I/O or the thread pool). */
  readonly idleMs: number;
  readonly gcMs: number;
  /**
   * Busy time by where the code is: rkt's src/, bundled dependencies, Node internals, native
   * (C++ bindings such as fs calls made synchronously), V8 itself (GC, compiling).
   */
  readonly byCategory: readonly ProfileRow[];
  /**
   * Busy time charged to the innermost rkt or dependency source file on the stack: the file's own
   * code plus the Node internals and native calls it made (e.g. an lstatSync counts for the file
   * that called it). Biggest first.
   */
  readonly byFile: readonly ProfileRow[];
  /** The same, per function (`name (file:line)` of the function's start). */
  readonly byFunction: readonly ProfileRow[];
}

/**
 * Reads a `.cpuprofile` and summarises it, mapping positions in files under `root` back to
 * their sources when a `.map` file lies beside them. Paths are shown relative to `root`.
 *
 * @example
 * const s = summarizeCpuProfile("bench/out/profiles/CPU.x.cpuprofile", repoRoot);
 * console.log(s.byFile.slice(0, 10));
 */
export function summarizeCpuProfile(file: string, root: string): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const maps = new SourceMaps(root);

  // Where a frame's code lives, once per node.
  const located = new Map<number, Location>();
  const locate = (id: number): Location => {
    let loc = located.get(id);
    if (loc === undefined) {
      loc = locateFrame(byId.get(id)?.callFrame, maps, root);
      located.set(id, loc);
    }
    return loc;
  };
  // The innermost app frame (src/ or node_modules/) at or above a node, once per node.
  const owners = new Map<number, Location | undefined>();
  const owner = (id: number): Location | undefined => {
    if (owners.has(id)) return owners.get(id);
    const loc = locate(id);
    const up = parent.get(id);
    const found = loc.app ? loc : up === undefined ? undefined : owner(up);
    owners.set(id, found);
    return found;
  };

  const category = new Map<string, number>();
  const files = new Map<string, number>();
  const functions = new Map<string, number>();
  const add = (m: Map<string, number>, key: string, us: number): void => void m.set(key, (m.get(key) ?? 0) + us);
  let idle = 0;
  let gc = 0;
  profile.samples.forEach((id, i) => {
    const us = profile.timeDeltas[i] ?? 0;
    const loc = locate(id);
    if (loc.fn === "(idle)") {
      idle += us;
      return;
    }
    if (loc.fn === "(garbage collector)") gc += us;
    add(category, loc.category, us);
    const o = owner(id);
    add(files, o?.file ?? "(no rkt or dependency code on the stack)", us);
    add(functions, o === undefined ? `${loc.fn} (${loc.file})` : `${o.fn} (${o.file}:${o.line + 1})`, us);
  });
  const rows = (m: Map<string, number>): ProfileRow[] => [...m].map(([name, us]) => ({ name, ms: us / 1000 })).sort((a, b) => b.ms - a.ms);
  return {
    totalMs: (profile.endTime - profile.startTime) / 1000,
    idleMs: idle / 1000,
    gcMs: gc / 1000,
    byCategory: rows(category),
    byFile: rows(files),
    byFunction: rows(functions),
  };
}

interface Location {
  readonly fn: string;
  readonly file: string;
  /** 0-based, in `file`. */
  readonly line: number;
  readonly category: string;
  /** rkt's own code or a bundled dependency. */
  readonly app: boolean;
}

function locateFrame(frame: CallFrame | undefined, maps: SourceMaps, root: string): Location {
  if (frame === undefined) return { fn: "?", file: "?", line: 0, category: "other", app: false };
  const fn = frame.functionName === "" ? "(anonymous)" : frame.functionName;
  if (frame.url === "") {
    const v8 = fn.startsWith("(");
    return { fn, file: v8 ? "V8" : "native", line: 0, category: v8 ? `V8 ${fn}` : "native (C++ bindings)", app: false };
  }
  if (frame.url.startsWith("node:")) return { fn, file: frame.url, line: frame.lineNumber, category: "Node internals (node:*)", app: false };
  const mapped = maps.lookup(frame);
  const file = mapped?.source ?? displayPath(frame.url, root);
  const line = mapped?.line ?? frame.lineNumber;
  if (file.startsWith("src/")) return { fn, file, line, category: "rkt (src/)", app: true };
  if (file.includes("node_modules/")) return { fn, file, line, category: "dependencies (node_modules/)", app: true };
  return { fn, file, line, category: "other", app: false };
}

function displayPath(url: string, root: string): string {
  const path = url.startsWith("file://") ? fileURLToPath(url) : url;
  const rel = relative(root, path);
  return rel.startsWith("..") ? path : rel;
}

interface Mapped {
  /** Relative to the map's root, e.g. "src/image/layer/apply-layer.ts". */
  readonly source: string;
  /** 0-based. */
  readonly line: number;
}

/** Source map v3 lookups (generated line/column to source file/line), loaded once per file. */
class SourceMaps {
  readonly #root: string;
  readonly #cache = new Map<string, DecodedMap | undefined>();

  constructor(root: string) {
    this.#root = root;
  }

  lookup(frame: CallFrame): Mapped | undefined {
    if (!frame.url.startsWith("file://")) return undefined;
    const file = fileURLToPath(frame.url);
    let map = this.#cache.get(file);
    if (!this.#cache.has(file)) {
      map = existsSync(`${file}.map`) ? decodeMap(`${file}.map`, this.#root) : undefined;
      this.#cache.set(file, map);
    }
    const segments = map?.lines[frame.lineNumber];
    if (map === undefined || segments === undefined) return undefined;
    let best: Segment | undefined;
    for (const s of segments) {
      if (s.column > frame.columnNumber) break;
      best = s;
    }
    best ??= segments[0];
    if (best === undefined) return undefined;
    return { source: map.sources[best.source] ?? "?", line: best.line };
  }
}

interface Segment {
  readonly column: number;
  readonly source: number;
  readonly line: number;
}

interface DecodedMap {
  readonly sources: readonly string[];
  /** Per generated line, segments sorted by column. */
  readonly lines: readonly (readonly Segment[])[];
}

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function decodeMap(mapFile: string, root: string): DecodedMap {
  const raw = JSON.parse(readFileSync(mapFile, "utf8")) as { sources: string[]; sourceRoot?: string; mappings: string };
  const base = resolve(dirname(mapFile), raw.sourceRoot ?? "");
  const sources = raw.sources.map((s) => {
    const rel = relative(root, join(base, s));
    // A snapshot of dist/ maps to ../src/... that is not there: keep the part from src/ or node_modules/ on.
    const m = /(?:^|\/)((?:src|node_modules)\/.*)$/.exec(rel);
    return m?.[1] ?? rel;
  });
  const lines: Segment[][] = [];
  // Fields are relative to the previous segment (column only within a line); VLQ base64.
  let source = 0;
  let line = 0;
  for (const text of raw.mappings.split(";")) {
    const segs: Segment[] = [];
    let column = 0;
    for (const seg of text.split(",")) {
      if (seg === "") continue;
      const f = decodeVlq(seg);
      column += f[0] ?? 0;
      if (f.length >= 4) {
        source += f[1]!;
        line += f[2]!;
        segs.push({ column, source, line });
      }
    }
    lines.push(segs);
  }
  return { sources, lines };
}

function decodeVlq(text: string): number[] {
  const out: number[] = [];
  let value = 0;
  let shift = 0;
  for (const ch of text) {
    const digit = BASE64.indexOf(ch);
    value += (digit & 31) << shift;
    if ((digit & 32) !== 0) {
      shift += 5;
    } else {
      out.push(value & 1 ? -(value >>> 1) : value >>> 1);
      value = 0;
      shift = 0;
    }
  }
  return out;
}
