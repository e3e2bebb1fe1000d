/**
 * ListenEvents (api.proto `PublicAPI`), which rkt declared and never implemented: a stream of
 * pod and image events, from the events journal every rkt process writes (event-hub.ts).
 *
 * - `since_time` set: the journal's events from then on first (rkt's draft only promised events
 *   after the service started; the journal keeps about two 16 MiB generations), then live ones.
 *   Unset: live events only.
 * - `until_time` set: events before then; the stream ends with OK at that moment.
 * - The response headers are sent at once, so a client knows when it is listening.
 * - Events that arrive together go out in one response.
 */
import { Metadata, type ServerWritableStream } from "@grpc/grpc-js";
import type { JournalEntry } from "../events/journal-follower.js";
import type { RktEventType } from "../events/rkt-event.js";
import type { ApiContext } from "./api-context.js";
import { apiImageId } from "./image-view.js";
import { bad, checkNonEmpty } from "./pod-filter.js";
import { StreamSink } from "./stream-sink.js";
import { EVENT_TYPE_NAMES, type Event, type EventFilter, type EventTypeName, type ListenEventsRequest } from "./v1alpha-messages.js";

/** The journal's event types as rkt's EventType names. */
const TYPE_NAMES: Readonly<Record<RktEventType, EventTypeName>> = {
  "pod-prepared": "EVENT_TYPE_POD_PREPARED",
  "pod-prepare-aborted": "EVENT_TYPE_POD_PREPARE_ABORTED",
  "pod-started": "EVENT_TYPE_POD_STARTED",
  "pod-exited": "EVENT_TYPE_POD_EXITED",
  "pod-garbage-collected": "EVENT_TYPE_POD_GARBAGE_COLLECTED",
  "pod-removed": "EVENT_TYPE_POD_REMOVED",
  "image-imported": "EVENT_TYPE_IMAGE_IMPORTED",
  "image-removed": "EVENT_TYPE_IMAGE_REMOVED",
};

const EMPTY_FILTER: EventFilter = { types: [], ids: [], names: [], since_time: "0", until_time: "0" };

/**
 * Serves one ListenEvents call until the client goes, `until_time` passes or the service stops.
 *
 * @example
 * server.addService(service, { ListenEvents: (call) => listenEvents(ctx, call) });
 */
export function listenEvents(ctx: ApiContext, call: ServerWritableStream<ListenEventsRequest, { events: Event[] }>): void {
  const sink = new StreamSink(call);
  const filter = call.request.filter ?? EMPTY_FILTER;
  let since: bigint;
  let until: bigint;
  try {
    ({ since, until } = checkEventFilter(filter));
  } catch (err) {
    sink.fail(err);
    return;
  }
  call.sendMetadata(new Metadata());
  let batch: Event[] = [];
  const flush = (): void => {
    if (batch.length > 0) sink.send({ events: batch });
    batch = [];
  };
  const accept = (entry: JournalEntry): void => {
    const event = toApiEvent(entry);
    if (!matchesEventFilter(entry, event, filter, since, until)) return;
    if (batch.length === 0) setImmediate(flush);
    batch.push(event);
  };
  // History and subscription in one tick: every event once, none lost in between.
  const past = since > 0n ? ctx.hub.history(since) : [];
  const unsubscribe = ctx.hub.subscribe(accept);
  sink.onDone(unsubscribe);
  for (const entry of past) accept(entry);
  if (until > 0n) {
    const ms = Number(until / 1_000_000n) - Date.now();
    const stop = (): void => {
      flush();
      sink.end();
    };
    if (ms <= 0) setImmediate(stop);
    else {
      const timer = setTimeout(stop, ms);
      sink.onDone(() => clearTimeout(timer));
    }
  }
}

/** Checks a filter; returns its time bounds in nanoseconds (0: unset). */
function checkEventFilter(filter: EventFilter): { since: bigint; until: bigint } {
  for (const t of filter.types) {
    if (typeof t !== "string" || !(EVENT_TYPE_NAMES as readonly string[]).includes(t) || t === "EVENT_TYPE_UNDEFINED") throw bad(`filter.types: unknown event type ${String(t)}`);
  }
  checkNonEmpty(filter.ids, "filter.ids");
  checkNonEmpty(filter.names, "filter.names");
  const since = BigInt(filter.since_time);
  const until = BigInt(filter.until_time);
  if (since < 0n || until < 0n) throw bad("filter: times are seconds since the epoch, not negative");
  if (since > 0n && until > 0n && since >= until) throw bad(`filter: since_time (${since}) is not before until_time (${until})`);
  return { since: since * 1_000_000_000n, until: until * 1_000_000_000n };
}

function matchesEventFilter(entry: JournalEntry, event: Event, filter: EventFilter, since: bigint, until: bigint): boolean {
  const t = entry.event.timeNs;
  if (since > 0n && t < since) return false;
  if (until > 0n && t >= until) return false;
  if (filter.types.length > 0 && !filter.types.includes(event.type)) return false;
  if (filter.ids.length > 0 && !filter.ids.some((id) => id === event.id || apiImageId(id) === event.id)) return false;
  if (filter.names.length > 0 && !filter.names.some((n) => n === event.from || event.from.split(",").includes(n))) return false;
  return true;
}

/** A journal event as rkt's Event: image IDs in appc form, the exact time in `timeNanos`. */
function toApiEvent(entry: JournalEntry): Event {
  const e = entry.event;
  return {
    type: TYPE_NAMES[e.type],
    id: e.type.startsWith("image-") ? apiImageId(e.id) : e.id,
    from: e.name,
    time: (e.timeNs / 1_000_000_000n).toString(),
    data: [...Object.entries(e.data).map(([Key, value]) => ({ Key, value })), { Key: "timeNanos", value: e.timeNs.toString() }],
  };
}
