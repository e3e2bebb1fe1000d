/**
 * What happened to a pod or an image, as one line of the events journal (event-journal.ts):
 *
 * ```json
 * {"v":1,"t":"1717171717123456789","type":"pod-started","id":"<pod uuid>","name":"web,db","data":{"flavor":"default"}}
 * ```
 *
 * `t` is the wall-clock time in nanoseconds since the epoch, as a decimal string (JSON numbers
 * cannot hold it exactly). `name` is the pod's app names (comma-separated) or the image's name;
 * writers that do not know it (the shell teardown) leave it out and readers fill it in. `data`
 * holds string pairs only, so the line maps straight onto rkt's `Event.data` key-values.
 */
import * as z from "../lib/schema.js";

/** Every event type the journal records, pods first. */
export const EVENT_TYPES = [
  "pod-prepared",
  "pod-prepare-aborted",
  "pod-started",
  "pod-exited",
  "pod-garbage-collected",
  "pod-removed",
  "image-imported",
  "image-removed",
] as const;

/** One of {@link EVENT_TYPES}. */
export type RktEventType = (typeof EVENT_TYPES)[number];

/** An event as read from the journal. */
export interface RktEvent {
  readonly type: RktEventType;
  /** The pod's UUID or the image's ID (`sha256:<hex>`). */
  readonly id: string;
  /** App names of the pod (comma-separated) or the image's name; empty when unknown. */
  readonly name: string;
  /** Nanoseconds since the epoch. */
  readonly timeNs: bigint;
  readonly data: Readonly<Record<string, string>>;
}

const lineSchema = z.object({
  v: z.literal(1),
  t: z.string().check(z.regex(/^\d{1,20}$/)),
  type: z.enum(EVENT_TYPES),
  id: z.string().check(z.minLength(1), z.maxLength(256)),
  name: z.optional(z.string()),
  data: z.optional(z.record(z.string(), z.string())),
});

/**
 * Parses one journal line; undefined for a line that is not a valid event (a torn or foreign
 * line is skipped, never fatal: the journal is a record for readers, not a source of truth).
 *
 * @example
 * parseEventLine('{"v":1,"t":"1","type":"pod-removed","id":"…"}')?.type; // "pod-removed"
 */
export function parseEventLine(line: string): RktEvent | undefined {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return undefined;
  }
  const parsed = lineSchema.safeParse(json);
  if (!parsed.success) return undefined;
  const { t, type, id, name, data } = parsed.data;
  return { type, id, name: name ?? "", timeNs: BigInt(t), data: data ?? {} };
}

/**
 * Formats an event as one journal line, newline included. Names and values are cut so a line
 * stays well under PIPE_BUF (4 KiB): appends of that size reach the file whole, so concurrent
 * writers never interleave inside a line.
 *
 * @example
 * formatEventLine({ type: "image-removed", id: "sha256:…", name: "localhost/x:1", timeNs: 1n, data: {} });
 */
export function formatEventLine(event: RktEvent): string {
  const data = Object.fromEntries(Object.entries(event.data).slice(0, 16).map(([k, v]) => [k.slice(0, 64), v.slice(0, 256)]));
  const line: Record<string, unknown> = { v: 1, t: event.timeNs.toString(), type: event.type, id: event.id.slice(0, 256) };
  if (event.name !== "") line.name = event.name.slice(0, 1024);
  if (Object.keys(data).length > 0) line.data = data;
  return `${JSON.stringify(line)}\n`;
}

/** The current wall-clock time in nanoseconds (microsecond resolution). */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}
