/**
 * Phases of a finished `rkt run` without tracing it: the pod directory records when each step
 * happened. Stage0 writes `pod-created` once it has the pod's UUID and manifest, then each app's
 * `config.json` after the namespaces and the overlay mount; the supervisor writes `supervisor/pid`
 * as it starts; runc writes `apps/NAME/pid` once the container is created (before it starts);
 * the supervisor writes `apps/NAME/started` (content: RFC 3339, ns) when `runc run --detach`
 * returned, and `finished` when it saw the app exit. With the caller's spawn and exit times around
 * them, that cuts a run into phases at no cost to the run itself.
 *
 * File modification times come from the kernel's coarse clock (one tick: 4 ms at HZ=250), so
 * phases built on them are good to a few milliseconds; `started`/`finished` are exact.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Phase } from "./strace-phases.js";

/** The phase names in order. */
export const TIMELINE_PHASES = [
  "spawn → pod created: bin/rkt + rkt-launch + Node start-up, bundle load, flags, image lookup, manifest",
  "→ apps' config.json written: pod files, namespaces (unshare), overlay mount, OCI config",
  "→ rkt-supervisor running: supervisor plan, spawn",
  "→ first container created (runc writes its pid file): runc run's create",
  "→ last app started (runc run --detach returned for every app)",
  "→ last app exit seen by the supervisor",
  "→ rkt run exits: teardown (Node start-up, runc delete, unmounts, cgroups), rkt-launch exit",
] as const;

/** ms since the epoch from a file's mtime. */
function mtimeMs(path: string): number {
  return Number(statSync(path, { bigint: true }).mtimeNs) / 1e6;
}

/** ms since the epoch from an RFC 3339 timestamp with up to 9 fractional digits. */
function rfc3339Ms(path: string): number {
  const text = readFileSync(path, "utf8").trim();
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text);
  if (m === null) throw new Error(`${path}: not an RFC 3339 UTC time: ${text}`);
  const frac = (m[2] ?? "").padEnd(9, "0");
  return Date.parse(`${m[1]!}Z`) + Number(frac) / 1e6;
}

/**
 * The phases of the run that made `podDir`, given when the caller spawned `rkt run` and when it
 * exited (ms since the epoch, e.g. `performance.timeOrigin + performance.now()`).
 *
 * @example
 * const t0 = performance.timeOrigin + performance.now();
 * const r = await timedRun(rkt, ["run", ...]);
 * const phases = podTimeline(podDir, t0, t0 + r.wallMs);
 */
export function podTimeline(podDir: string, spawnMs: number, exitMs: number): Phase[] {
  const apps = readdirSync(join(podDir, "apps"));
  const each = (f: (app: string) => number): number[] => apps.map(f);
  const marks = [
    spawnMs,
    mtimeMs(join(podDir, "pod-created")),
    Math.max(...each((a) => mtimeMs(join(podDir, "apps", a, "config.json")))),
    mtimeMs(join(podDir, "supervisor", "pid")),
    Math.min(...each((a) => mtimeMs(join(podDir, "apps", a, "pid")))),
    Math.max(...each((a) => rfc3339Ms(join(podDir, "apps", a, "started")))),
    Math.max(...each((a) => rfc3339Ms(join(podDir, "apps", a, "finished")))),
    exitMs,
  ];
  return TIMELINE_PHASES.map((name, i) => ({ name, ms: marks[i + 1]! - marks[i]! }));
}
