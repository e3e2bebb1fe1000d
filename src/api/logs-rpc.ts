/**
 * GetLogs (api.proto `PublicAPI`): an app's output as its supervisor recorded it (the CRI log
 * format, read-logs.ts), for running and exited pods alike (rkt needed journald and lost the
 * logs of exited pods). Lines are the app's lines without their newline; `P` (partial) records
 * are joined with the line they continue.
 *
 * - `app_name` empty: every app of the pod, merged by time.
 * - `since_time` / `until_time` (seconds): lines whose record time is in [since, until).
 * - `lines` N > 0: only the last N lines of what matched.
 * - `follow`: after what is there, new lines as they are written (inotify on the log's
 *   directory), until the pod no longer runs and everything written was sent, `until_time`
 *   passes, or the client goes. A mutable pod's app may log elsewhere (`apps/NAME/log-path`,
 *   chosen by the kubelet); that file is read instead.
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, statSync, watch, type FSWatcher } from "node:fs";
import { basename, dirname } from "node:path";
import { parseLogLine } from "../engine/pod/read-logs.js";
import { RktError } from "../lib/errors.js";
import { PodFiles } from "../pod/pod-files.js";
import type { ServerWritableStream } from "@grpc/grpc-js";
import type { ApiContext } from "./api-context.js";
import { LockTable } from "./lock-table.js";
import { bad } from "./pod-filter.js";
import { podStateOf, rfc3339ToNs } from "./pod-view.js";
import { StreamSink } from "./stream-sink.js";
import type { GetLogsRequest } from "./v1alpha-messages.js";

/** Lines per response. */
const CHUNK = 500;
/** How often a followed pod is checked without an event or a write. */
const FOLLOW_CHECK_MS = 1000;

interface LogLine {
  readonly timeNs: bigint;
  readonly text: string;
}

/**
 * Serves one GetLogs call. Unknown pod or app: NOT_FOUND; malformed request: INVALID_ARGUMENT.
 *
 * @example
 * server.addService(service, { GetLogs: (call) => getLogs(ctx, call) });
 */
export function getLogs(ctx: ApiContext, call: ServerWritableStream<GetLogsRequest, { lines: string[] }>): void {
  const sink = new StreamSink(call);
  try {
    serve(ctx, call.request, sink);
  } catch (err) {
    sink.fail(err);
  }
}

function serve(ctx: ApiContext, request: GetLogsRequest, sink: StreamSink<{ lines: string[] }>): void {
  if (request.pod_id === "") throw bad("GetLogs needs a pod_id", "ListPods gives the pods' UUIDs");
  if (request.lines < 0) throw bad(`lines must not be negative (got ${request.lines})`);
  const since = BigInt(request.since_time) * 1_000_000_000n;
  const until = BigInt(request.until_time) * 1_000_000_000n;
  if (since < 0n || until < 0n) throw bad("since_time and until_time are seconds since the epoch, not negative");
  if (since > 0n && until > 0n && since >= until) throw bad(`since_time (${request.since_time}) is not before until_time (${request.until_time})`);
  const ref = ctx.pods.find(request.pod_id);
  const manifest = ctx.pods.readManifest(ref);
  const names = manifest.apps.map((a) => a.name);
  if (request.app_name !== "" && !names.includes(request.app_name)) {
    throw new RktError("not-found", `pod "${ref.uuid}" has no app "${request.app_name}"`, { hint: names.length > 0 ? `apps: ${names.join(", ")}` : "the pod has no apps" });
  }
  const files = new PodFiles(ref.path);
  const cursors = (request.app_name === "" ? names : [request.app_name]).map((app) => new LogCursor(logPathOf(files, app)));
  const inRange = (l: LogLine): boolean => (since === 0n || l.timeNs >= since) && (until === 0n || l.timeNs < until);

  const running = (): boolean => {
    try {
      return podStateOf(ctx.pods.find(ref.uuid), LockTable.read()) === "running";
    } catch {
      return false;
    }
  };
  const following = request.follow && running() && (until === 0n || Number(until / 1_000_000n) > Date.now());
  // A last line without a newline is complete only once nothing more will be written.
  let lines = cursors.flatMap((c) => (following ? c.read() : [...c.read(), ...c.rest()])).filter(inRange);
  if (cursors.length > 1) lines.sort(byTime);
  if (request.lines > 0) lines = lines.slice(-request.lines);
  const sendAll = (batch: readonly LogLine[]): void => {
    for (let i = 0; i < batch.length; i += CHUNK) sink.send({ lines: batch.slice(i, i + CHUNK).map((l) => l.text) });
  };
  sendAll(lines);
  if (!following) {
    for (const c of cursors) c.close();
    sink.end();
    return;
  }

  // Follow: new lines as they come; the end is checked on the pod's events and every second.
  const pump = (): void => {
    if (sink.closed) return;
    const fresh = cursors.flatMap((c) => c.read()).filter(inRange);
    if (cursors.length > 1) fresh.sort(byTime);
    sendAll(fresh);
  };
  const checkEnd = (): void => {
    pump();
    if (sink.closed) return;
    if (!running()) {
      pump();
      sendAll(cursors.flatMap((c) => c.rest()).filter(inRange));
      sink.end();
    }
  };
  const watchers = cursors.map((c) => c.watch(pump));
  const unsubscribe = ctx.hub.subscribe((entry) => {
    if (entry.event.id === ref.uuid && entry.event.type !== "pod-started") checkEnd();
  });
  const interval = setInterval(checkEnd, FOLLOW_CHECK_MS);
  const timers: NodeJS.Timeout[] = [interval];
  if (until > 0n) timers.push(setTimeout(() => {
    pump();
    sink.end();
  }, Number(until / 1_000_000n) - Date.now()));
  sink.onDone(() => {
    unsubscribe();
    for (const t of timers) clearTimeout(t);
    for (const w of watchers) w?.close();
    for (const c of cursors) c.close();
  });
}

function byTime(a: LogLine, b: LogLine): number {
  return a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0;
}

/** The CRI log of `app`: `apps/NAME/log`, or where `apps/NAME/log-path` says (mutable pods). */
function logPathOf(files: PodFiles, app: string): string {
  try {
    const custom = readFileSync(`${files.app(app)}/log-path`, "utf8").trim();
    if (custom.startsWith("/")) return custom;
  } catch {
    // the default place
  }
  return files.appFile(app, "log");
}

/** Reads a CRI log incrementally: complete lines, with `P` records joined to their line. */
class LogCursor {
  private fd: number | undefined;
  private ino = 0;
  private offset = 0;
  private carry = Buffer.alloc(0);
  private partial: { timeNs: bigint; text: string } | undefined;

  constructor(private readonly path: string) {}

  /** Lines written since the last call. */
  read(): LogLine[] {
    const st = statSync(this.path, { throwIfNoEntry: false });
    if (st === undefined) return [];
    if (this.fd === undefined || st.ino !== this.ino || st.size < this.offset) {
      // First read, or the file was replaced or truncated (a rotated CRI log): start over on it.
      this.close();
      try {
        this.fd = openSync(this.path, "r");
      } catch {
        return [];
      }
      this.ino = fstatSync(this.fd).ino;
      this.offset = 0;
      this.carry = Buffer.alloc(0);
    }
    const size = fstatSync(this.fd).size;
    if (size <= this.offset) return [];
    const chunk = Buffer.alloc(size - this.offset);
    const got = readSync(this.fd, chunk, 0, chunk.length, this.offset);
    this.offset += got;
    const data = Buffer.concat([this.carry, chunk.subarray(0, got)]);
    const out: LogLine[] = [];
    let pos = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, pos);
      if (nl < 0) break;
      const rec = parseLogLine(data.toString("utf8", pos, nl));
      pos = nl + 1;
      if (rec === undefined) continue;
      const timeNs = rfc3339ToNs(rec.time) ?? 0n;
      const whole = rec.text.endsWith("\n");
      const text = whole ? rec.text.slice(0, -1) : rec.text;
      if (this.partial !== undefined) {
        this.partial = { timeNs: this.partial.timeNs, text: this.partial.text + text };
      } else {
        this.partial = { timeNs, text };
      }
      if (whole) {
        out.push(this.partial);
        this.partial = undefined;
      }
    }
    this.carry = Buffer.from(data.subarray(pos));
    return out;
  }

  /** A last partial line (output that ended without a newline), once the writer is done. */
  rest(): LogLine[] {
    const p = this.partial;
    this.partial = undefined;
    return p === undefined ? [] : [p];
  }

  /** Calls `onChange` when the log's directory changes; undefined if it cannot be watched. */
  watch(onChange: () => void): FSWatcher | undefined {
    try {
      const name = basename(this.path);
      const w = watch(dirname(this.path), { persistent: false }, (_e, file) => {
        if (file === null || file === name) onChange();
      });
      w.on("error", () => w.close());
      return w;
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }
}
