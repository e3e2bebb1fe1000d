/**
 * The server side of a streaming RPC, reduced to what ListenEvents and GetLogs need: queue
 * messages (written in order, respecting the client's flow control), end with OK or an error
 * status, and learn once when the stream is over for any reason (client cancelled or
 * disconnected, deadline, ended here). A client that stops reading is cut off with
 * RESOURCE_EXHAUSTED once {@link MAX_QUEUED} messages wait, so one slow client cannot make the
 * service hold unbounded memory.
 *
 * @example
 * const sink = new StreamSink(call);
 * sink.onDone(() => unsubscribe());
 * sink.send({ events: [...] });
 * sink.end();
 */
import type { ServerWritableStream } from "@grpc/grpc-js";
import { RktError } from "../lib/errors.js";
import { toServiceError } from "../lib/grpc-status.js";

/** Messages that may wait for a slow client before it is cut off. */
export const MAX_QUEUED = 1000;

/** See the module comment. */
export class StreamSink<T> {
  private readonly queue: T[] = [];
  private blocked = false;
  private done = false;
  private ending = false;
  private readonly doneHandlers: (() => void)[] = [];

  constructor(private readonly call: ServerWritableStream<unknown, T>) {
    const finish = (): void => this.finish();
    call.on("cancelled", finish);
    call.on("close", finish);
    call.on("finish", finish);
    call.on("error", finish);
    call.on("drain", () => {
      this.blocked = false;
      this.flush();
    });
  }

  /** Whether the stream is over (nothing more will be sent). */
  get closed(): boolean {
    return this.done || this.ending || this.call.cancelled;
  }

  /** Calls `fn` once when the stream is over (at once if it already is). */
  onDone(fn: () => void): void {
    if (this.done) fn();
    else this.doneHandlers.push(fn);
  }

  /** Queues a message; false when the stream is over. */
  send(message: T): boolean {
    if (this.closed) return false;
    if (this.queue.length >= MAX_QUEUED) {
      this.fail(new RktError("resource-exhausted", `the client reads too slowly: ${MAX_QUEUED} messages are waiting`, { hint: "read the stream faster, or narrow the filter" }));
      return false;
    }
    this.queue.push(message);
    this.flush();
    return true;
  }

  /** Ends the stream with OK once everything queued is written. */
  end(): void {
    if (this.closed) return;
    this.ending = true;
    this.flush();
  }

  /** Ends the stream with the status of `err` (queued messages are dropped). */
  fail(err: unknown): void {
    if (this.done || this.call.cancelled) return;
    this.queue.length = 0;
    this.ending = true;
    this.call.emit("error", toServiceError(err));
  }

  private flush(): void {
    while (!this.blocked && this.queue.length > 0 && !this.call.cancelled) {
      const next = this.queue.shift() as T;
      if (!this.call.write(next)) this.blocked = true;
    }
    if (this.ending && this.queue.length === 0 && !this.done && !this.call.writableEnded) this.call.end();
  }

  private finish(): void {
    if (this.done) return;
    this.done = true;
    for (const fn of this.doneHandlers.splice(0)) fn();
  }
}
