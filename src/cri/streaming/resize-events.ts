/**
 * Terminal resize events of a remote-command session: the client writes JSON TerminalSize
 * objects (`{"Width":80,"Height":24}`) one after the other on the resize stream (SPDY) or
 * channel 4 (WebSocket). Go's encoder ends each with a newline; other clients may not, and one
 * object may be split over several messages, so objects are found by their braces.
 */
import type { Readable } from "node:stream";
import type { TerminalSize } from "./streaming-backend.js";

/**
 * The sizes read from `source`, as an async iterable that ends when `source` ends or
 * {@link close} is called. Sizes nobody has taken yet are kept, except that only the latest
 * matters: a backlog collapses to the newest size.
 *
 * @example
 * const events = new ResizeEvents(resizeStream);
 * for await (const { width, height } of events) pty.resize(width, height);
 */
export class ResizeEvents implements AsyncIterable<TerminalSize> {
  private pending: TerminalSize | undefined;
  private done = false;
  private wake: (() => void) | undefined;
  private text = "";

  /** Reads sizes from `source`; without one, sizes come from {@link push} until {@link close}. */
  constructor(source?: Readable) {
    if (source === undefined) return;
    source.setEncoding("utf8");
    source.on("data", (chunk: string) => this.feed(chunk));
    source.on("end", () => this.close());
    source.on("error", () => this.close());
    source.on("close", () => this.close());
  }

  /** Adds a size (sources other than a stream). */
  push(size: TerminalSize): void {
    if (this.done) return;
    this.pending = size;
    this.signal();
  }

  /** Ends the iteration. */
  close(): void {
    this.done = true;
    this.signal();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TerminalSize> {
    for (;;) {
      if (this.pending !== undefined) {
        const size = this.pending;
        this.pending = undefined;
        yield size;
        continue;
      }
      if (this.done) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  private signal(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private feed(chunk: string): void {
    this.text += chunk;
    if (this.text.length > 64 * 1024) {
      // Not JSON objects: give up on this stream rather than buffer without end.
      this.text = "";
      this.close();
      return;
    }
    for (;;) {
      const end = objectEnd(this.text);
      if (end < 0) return;
      const json = this.text.slice(0, end).trim();
      this.text = this.text.slice(end);
      const size = parseSize(json);
      if (size !== undefined) this.push(size);
    }
  }
}

/** The index just after the first complete top-level JSON object in `text`, or -1. */
function objectEnd(text: string): number {
  let depth = 0;
  let inString = false;
  let escaped = false;
  let started = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === "\\") escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{") {
      depth++;
      started = true;
    } else if (c === "}") {
      depth--;
      if (started && depth === 0) return i + 1;
    }
  }
  return -1;
}

/** A TerminalSize from JSON; field names are matched without case, as Go's decoder does. */
function parseSize(json: string): TerminalSize | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  let width: unknown;
  let height: unknown;
  for (const [k, v] of Object.entries(value)) {
    if (k.toLowerCase() === "width") width = v;
    if (k.toLowerCase() === "height") height = v;
  }
  const ok = (n: unknown): n is number => typeof n === "number" && Number.isInteger(n) && n >= 0 && n <= 0xffff;
  return ok(width) && ok(height) ? { width, height } : undefined;
}
