/**
 * The service's one source of events: the data directory's events journal, followed once and
 * fanned out to every ListenEvents stream (and to GetLogs streams waiting for a pod to end).
 *
 * Every rkt process records its state changes in the journal (src/events/event-journal.ts), so
 * events from any `rkt run`, `rkt gc`, `rkt fetch` or CRI call arrive here within milliseconds of
 * the change, whether the service was running then or not (history is read back from the same
 * file). Two things are added on top of the file:
 *
 * - A pod's `pod-exited` is written by its teardown as the last thing before the pod lock goes, so
 *   it is passed on only once the lock is really free (a client that looks the pod up after the
 *   event sees it exited, never still running).
 * - A pod whose supervisor was killed (SIGKILL, OOM) never writes `pod-exited`: while someone
 *   listens, the pods believed running are checked against the kernel's lock table every
 *   `reconcileMs`, and one found free twice in a row gets a `pod-exited` with `observed=true`.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { JournalFollower, type JournalEntry } from "../events/journal-follower.js";
import { podAppNames } from "../events/event-journal.js";
import { nowNs, type RktEvent } from "../events/rkt-event.js";
import { POD_DIRS } from "../pod/pod-store.js";
import { LockTable } from "./lock-table.js";

/** A listener of the hub: one event, with the key of its journal line. */
export type HubListener = (entry: JournalEntry) => void;

/** How {@link EventHub} runs. */
export interface EventHubOptions {
  readonly dataDir: string;
  /** How often pods believed running are checked while anyone listens (default 1000 ms). */
  readonly reconcileMs?: number;
}

/** How long a `pod-exited` waits for the pod lock to go before it is passed on anyway. */
const EXIT_CONFIRM_MAX_MS = 10_000;
const NAME_CACHE_MAX = 10_000;

/** See the module comment. */
export class EventHub {
  private readonly follower: JournalFollower;
  private readonly listeners = new Set<HubListener>();
  private readonly names = new Map<string, string>();
  private readonly pending = new Map<string, JournalEntry>();
  private readonly running = new Set<string>();
  private readonly seenFree = new Set<string>();
  private reconcileTimer: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: EventHubOptions) {
    this.follower = new JournalFollower(options.dataDir, (entry) => this.onJournal(entry));
  }

  /** Notes which pods run now and starts following the journal from its end. */
  start(): void {
    const locks = LockTable.read();
    for (const uuid of listDir(join(this.options.dataDir, "pods", "run"))) {
      if (locks.isLocked(this.runPath(uuid))) this.running.add(uuid);
    }
    this.follower.start();
  }

  /**
   * Events recorded at or after `sinceNs` that listeners were already given (or that were
   * recorded before the hub started), oldest first, names filled in. Call it and
   * {@link subscribe} in the same tick to see every event exactly once.
   */
  history(sinceNs: bigint): JournalEntry[] {
    const names = new Map(this.names);
    const out: JournalEntry[] = [];
    for (const entry of this.follower.history(0n)) {
      if (entry.event.name !== "") names.set(entry.event.id, entry.event.name);
      if (this.pending.has(entry.key) || entry.event.timeNs < sinceNs) continue;
      out.push(entry.event.name !== "" ? entry : { key: entry.key, event: { ...entry.event, name: names.get(entry.event.id) ?? this.nameOnDisk(entry.event) } });
    }
    return out;
  }

  /** Calls `listener` for every event from now on; returns the function that stops it. */
  subscribe(listener: HubListener): () => void {
    this.listeners.add(listener);
    if (this.reconcileTimer === undefined && this.options.reconcileMs !== 0) {
      this.reconcileTimer = setInterval(() => this.reconcile(), this.options.reconcileMs ?? 1000);
      this.reconcileTimer.unref();
    }
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0 && this.reconcileTimer !== undefined) {
        clearInterval(this.reconcileTimer);
        this.reconcileTimer = undefined;
      }
    };
  }

  /** Reads the journal now instead of waiting for inotify (tests, and a client's first request). */
  poll(): void {
    this.follower.poll();
  }

  /** Stops following; listeners get nothing more. */
  close(): void {
    this.follower.close();
    if (this.reconcileTimer !== undefined) clearInterval(this.reconcileTimer);
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.listeners.clear();
  }

  private onJournal(entry: JournalEntry): void {
    if (entry.event.type === "pod-exited" && LockTable.read().isLocked(this.runPath(entry.event.id))) {
      this.pending.set(entry.key, entry);
      this.confirmExit(entry, Date.now(), 1);
      return;
    }
    this.publish(entry);
  }

  /** Passes `entry` on once its pod's lock is free (or after EXIT_CONFIRM_MAX_MS). */
  private confirmExit(entry: JournalEntry, since: number, delay: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (!this.pending.has(entry.key)) return;
      if (LockTable.read().isLocked(this.runPath(entry.event.id)) && Date.now() - since < EXIT_CONFIRM_MAX_MS) {
        this.confirmExit(entry, since, Math.min(delay * 2, 50));
        return;
      }
      this.pending.delete(entry.key);
      this.publish(entry);
    }, delay);
    this.timers.add(timer);
  }

  private publish(entry: JournalEntry): void {
    const { event } = entry;
    let named = entry;
    if (event.name !== "") this.remember(event.id, event.name);
    else named = { key: entry.key, event: { ...event, name: this.names.get(event.id) ?? this.nameOnDisk(event) } };
    if (event.type === "pod-started") this.running.add(event.id);
    if (event.type === "pod-exited" || event.type === "pod-removed" || event.type === "pod-garbage-collected") {
      this.running.delete(event.id);
      this.seenFree.delete(event.id);
    }
    for (const l of [...this.listeners]) l(named);
  }

  /** Pods believed running whose lock is free twice in a row ended without telling: say so. */
  private reconcile(): void {
    if (this.running.size === 0) return;
    const locks = LockTable.read();
    for (const uuid of [...this.running]) {
      const path = this.runPath(uuid);
      if (locks.isLocked(path)) {
        this.seenFree.delete(uuid);
        continue;
      }
      if ([...this.pending.values()].some((e) => e.event.id === uuid)) continue;
      if (!this.seenFree.has(uuid)) {
        this.seenFree.add(uuid);
        continue;
      }
      const event: RktEvent = { type: "pod-exited", id: uuid, name: "", timeNs: nowNs(), data: { observed: "true" } };
      this.publish({ key: `observed:${uuid}:${event.timeNs}`, event });
    }
  }

  private remember(id: string, name: string): void {
    if (this.names.size >= NAME_CACHE_MAX && !this.names.has(id)) {
      const oldest = this.names.keys().next().value;
      if (oldest !== undefined) this.names.delete(oldest);
    }
    this.names.set(id, name);
  }

  /** A pod event's name from the pod's manifest, when the pod still exists. */
  private nameOnDisk(event: RktEvent): string {
    if (!event.type.startsWith("pod-") || !/^[0-9a-f-]{36}$/.test(event.id)) return "";
    for (const dir of POD_DIRS) {
      const path = join(this.options.dataDir, "pods", dir, event.id);
      if (existsSync(path)) {
        const name = podAppNames(path);
        if (name !== "") this.remember(event.id, name);
        return name;
      }
    }
    return "";
  }

  private runPath(uuid: string): string {
    return join(this.options.dataDir, "pods", "run", uuid);
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
