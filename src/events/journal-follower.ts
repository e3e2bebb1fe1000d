/**
 * Follows the events journal (event-journal.ts) of a data directory: every line appended after
 * {@link JournalFollower.start} is handed to `onEvent` once, within milliseconds (inotify on the
 * journal's directory, through fs.watch), and the lines before can be read back with
 * {@link JournalFollower.history}. Rotation is followed by inode: the old generation is read to
 * its end before the new one is opened.
 *
 * Reading never locks and never writes, so a reader that only has read access to the data
 * directory (the `rkt` group) can follow it. A one-second re-check backs up inotify (events lost
 * on queue overflow, a journal directory created after start).
 *
 * @example
 * const follower = new JournalFollower("/var/lib/rkt", (event) => console.log(event.type, event.id));
 * follower.start();
 * const past = follower.history(0n);
 * // ...
 * follower.close();
 */
import { closeSync, fstatSync, openSync, readSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename } from "node:path";
import { journalPaths, type JournalPaths } from "./event-journal.js";
import { parseEventLine, type RktEvent } from "./rkt-event.js";

/** An event with a key that identifies its line (inode and offset), for de-duplication. */
export interface JournalEntry {
  readonly event: RktEvent;
  readonly key: string;
}

/** How often the journal is re-checked without an inotify event. */
const RECHECK_MS = 1000;

/** See the module comment. */
export class JournalFollower {
  private readonly paths: JournalPaths;
  private fd: number | undefined;
  private ino = 0;
  /** Bytes of the followed file read so far. */
  private offset = 0;
  /** The start of a line not complete yet (a read raced a write). */
  private carry: Buffer = Buffer.alloc(0);
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly dataDir: string,
    private readonly onEvent: (entry: JournalEntry) => void,
  ) {
    this.paths = journalPaths(dataDir);
  }

  /** Starts following from the journal's current end. */
  start(): void {
    this.open(false);
    this.watch();
    this.timer = setInterval(() => this.poll(), RECHECK_MS);
    this.timer.unref();
  }

  /**
   * The events recorded before what `onEvent` has been given (the previous generation, then the
   * current one up to the last line handed out), at or after `sinceNs`. Together with the live
   * events it is every event exactly once.
   */
  history(sinceNs: bigint): JournalEntry[] {
    const out: JournalEntry[] = [];
    const prev = statSync(this.paths.previous, { throwIfNoEntry: false });
    if (prev !== undefined && prev.ino !== this.ino) out.push(...readLines(this.paths.previous, prev.size, prev.ino));
    if (this.fd !== undefined) out.push(...readLinesFd(this.fd, this.offset - this.carry.length, this.ino));
    return out.filter((e) => e.event.timeNs >= sinceNs);
  }

  /** Reads whatever was appended (and follows a rotation) now. */
  poll(): void {
    if (this.closed) return;
    if (this.fd === undefined) {
      this.open(true);
      if (this.fd === undefined) return;
      if (this.watcher === undefined) this.watch();
    }
    this.drain();
    const st = statSync(this.paths.current, { throwIfNoEntry: false });
    if (st !== undefined && st.ino !== this.ino) {
      // Rotated: the old generation was read to its end above; the new one is all new.
      this.closeFd();
      this.open(true);
      this.drain();
    }
  }

  /** Stops following and releases the file and the watches. */
  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer !== undefined) clearInterval(this.timer);
    this.closeFd();
  }

  private open(fromStart: boolean): void {
    try {
      const fd = openSync(this.paths.current, "r");
      const st = fstatSync(fd);
      this.fd = fd;
      this.ino = st.ino;
      this.offset = fromStart ? 0 : st.size;
      this.carry = Buffer.alloc(0);
    } catch {
      // no journal yet: poll() opens it (from its start) once it exists
    }
  }

  private closeFd(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private watch(): void {
    // The journal's directory, not the file: rotation and creation are renames in it. Before it
    // exists, the data directory, to see it appear.
    const dirExists = statSync(this.paths.dir, { throwIfNoEntry: false })?.isDirectory() === true;
    try {
      const watcher = watch(dirExists ? this.paths.dir : this.dataDir, { persistent: false }, (_event, file) => {
        if (!dirExists && file !== basename(this.paths.dir)) return;
        if (!dirExists) {
          this.watcher?.close();
          this.watcher = undefined;
          this.watch();
        }
        this.poll();
      });
      watcher.on("error", () => {
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch {
      // cannot watch (no such directory yet, or no permission): the re-check timer still reads it
    }
  }

  private drain(): void {
    if (this.fd === undefined) return;
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) return;
    const chunk = Buffer.alloc(size - this.offset);
    const got = readSync(this.fd, chunk, 0, chunk.length, this.offset);
    const start = this.offset - this.carry.length;
    this.offset += got;
    const data = Buffer.concat([this.carry, chunk.subarray(0, got)]);
    const { entries, rest } = splitLines(data, start, this.ino);
    this.carry = rest;
    for (const e of entries) this.onEvent(e);
  }
}

function readLines(path: string, size: number, ino: number): JournalEntry[] {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return [];
  }
  try {
    return readLinesFd(fd, size, ino);
  } finally {
    closeSync(fd);
  }
}

function readLinesFd(fd: number, end: number, ino: number): JournalEntry[] {
  if (end <= 0) return [];
  const buf = Buffer.alloc(end);
  const got = readSync(fd, buf, 0, end, 0);
  return splitLines(buf.subarray(0, got), 0, ino).entries;
}

/** Complete lines of `data` (which starts at file offset `start`) and the incomplete rest. */
function splitLines(data: Buffer, start: number, ino: number): { entries: JournalEntry[]; rest: Buffer } {
  const entries: JournalEntry[] = [];
  let pos = 0;
  for (;;) {
    const nl = data.indexOf(0x0a, pos);
    if (nl < 0) break;
    const event = parseEventLine(data.toString("utf8", pos, nl));
    if (event !== undefined) entries.push({ event, key: `${ino}:${start + pos}` });
    pos = nl + 1;
  }
  return { entries, rest: Buffer.from(data.subarray(pos)) };
}
