/**
 * The events journal: one append-only file under the data directory that every rkt process adds
 * a line to when it changes a pod's or an image's state (`events/journal`, see rkt-event.ts for
 * a line). There is no daemon to ask what happened; `rkt api-service` follows this file (inotify)
 * to stream events, and reads it back for `since_time`.
 *
 * Writers open it with O_APPEND and write each line in one write(2) of under 4 KiB: the kernel
 * appends it whole at the end, so concurrent writers need no lock (a lock would let a stuck reader
 * or writer block `rkt run`). Recording is best effort: a full disk or a read-only store never
 * fails the pod operation that caused the event.
 *
 * Past {@link JOURNAL_ROTATE_BYTES} the writer that notices renames the file to `journal.1`
 * (replacing the one before), so the journal holds between one and two generations.
 *
 * ```
 * events/journal      current generation (0640)
 * events/journal.1    previous generation
 * ```
 */
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { formatEventLine, nowNs, type RktEventType } from "./rkt-event.js";

/** Size past which the journal is rotated to `journal.1`. */
export const JOURNAL_ROTATE_BYTES = 16 * 1024 * 1024;

/** Where the journal of data directory `dataDir` lives. */
export interface JournalPaths {
  readonly dir: string;
  readonly current: string;
  readonly previous: string;
}

/**
 * The journal's paths under `dataDir`.
 *
 * @example
 * journalPaths("/var/lib/rkt").current; // "/var/lib/rkt/events/journal"
 */
export function journalPaths(dataDir: string): JournalPaths {
  const dir = join(dataDir, "events");
  return { dir, current: join(dir, "journal"), previous: join(dir, "journal.1") };
}

/**
 * Appends one event to the journal of `dataDir`. Never throws (see the module comment).
 *
 * @example
 * recordEvent("/var/lib/rkt", "image-imported", "sha256:…", "localhost/busybox:latest");
 */
export function recordEvent(dataDir: string, type: RktEventType, id: string, name = "", data: Readonly<Record<string, string>> = {}): void {
  try {
    const paths = journalPaths(dataDir);
    mkdirSync(paths.dir, { recursive: true, mode: 0o750 });
    const fd = openSync(paths.current, "a", 0o640);
    try {
      writeSync(fd, formatEventLine({ type, id, name, timeNs: nowNs(), data }));
      const size = fstatSync(fd).size;
      // Rotate only the file this process wrote to: another writer may have rotated already.
      if (size > JOURNAL_ROTATE_BYTES && statSync(paths.current, { throwIfNoEntry: false })?.ino === fstatSync(fd).ino) {
        renameSync(paths.current, paths.previous);
      }
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort, see above
  }
}

/**
 * Records a pod event; `podDir` (if the pod still exists) gives the event its name, the pod's app
 * names from its manifest.
 *
 * @example
 * recordPodEvent(pods.dataDir, "pod-prepared", ref.uuid, ref.path);
 */
export function recordPodEvent(dataDir: string, type: RktEventType, uuid: string, podDir?: string, data: Readonly<Record<string, string>> = {}): void {
  recordEvent(dataDir, type, uuid, podDir === undefined ? "" : podAppNames(podDir), data);
}

/** The app names of the pod manifest in `podDir`, comma-separated; "" when it cannot be read. */
export function podAppNames(podDir: string): string {
  try {
    const manifest = JSON.parse(readFileSync(join(podDir, "pod"), "utf8")) as { apps?: { name?: unknown }[] };
    return (manifest.apps ?? []).map((a) => (typeof a.name === "string" ? a.name : "")).filter((n) => n !== "").join(",");
  } catch {
    return "";
  }
}

/**
 * A shell command that records `pod-exited` for pod `uuid`, for the end of a pod's `finally`
 * step: the supervisor's last act before the pod lock goes, run by `/bin/sh` without starting
 * Node. The exit code comes from `RKT_EXIT_CODE` (set by the supervisor); the time from
 * `date +%s%N`. Errors are silenced, as for {@link recordEvent}.
 *
 * @example
 * const script = `teardown...; ${exitEventShell("/var/lib/rkt", uuid)}; exit "$RKT_EXIT_CODE"`;
 */
export function exitEventShell(dataDir: string, uuid: string): string {
  const paths = journalPaths(dataDir);
  const q = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
  // The UUID is checked by the caller's PodStore (hex and dashes), so it needs no JSON escaping.
  const format = `{"v":1,"t":"%s","type":"pod-exited","id":"${uuid}","data":{"exitCode":"%s"}}\\n`;
  // A subshell, so the umask (the journal is 0640, as recordEvent makes it) stays its own.
  return `( umask 027 && mkdir -p ${q(paths.dir)} && printf ${q(format)} "$(date +%s%N)" "\${RKT_EXIT_CODE:-}" >> ${q(paths.current)} ) 2>/dev/null`;
}
