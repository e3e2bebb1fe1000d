/**
 * Where the wall time of one `rkt run` goes, from an strace of it:
 * `strace -f --seccomp-bpf -ttt -s 256 -q -e trace=execve -e signal=none -o FILE` (strace prints
 * a `+++ exited with N +++` line for every process whatever it traces).
 * Every process of the pod's life (the bin/rkt shell wrapper, rkt-launch, the Node stage0, the
 * namespace helper, rkt-supervisor, runc, the app, the Node stage1-teardown, runc delete) announces
 * itself with an execve and leaves with an exit, so the timestamps of those events cut the run into
 * phases. strace slows every traced event a little (and Go's runc more, as it spawns threads), so
 * the phases add up to more than an untraced run: read them as shares.
 */
import { readFileSync } from "node:fs";
import { basename } from "node:path";

/** One line of the trace. */
interface TraceEvent {
  readonly pid: number;
  /** Milliseconds (epoch). */
  readonly ms: number;
  readonly kind: "execve" | "exited" | "other";
  /** execve's program path. */
  readonly path: string;
  readonly text: string;
}

/** A named span of the run, in milliseconds from the start of bin/rkt. */
export interface Phase {
  readonly name: string;
  readonly ms: number | undefined;
}

/** The phases of one traced run, in order, plus two spans that overlap them. */
export interface RunPhases {
  readonly totalMs: number;
  /** Consecutive: they add up to `totalMs` when every marker was found. */
  readonly phases: readonly Phase[];
  /** Overlapping the phases, for reference (the Node stage0's whole life, ...). */
  readonly spans: readonly Phase[];
}

/** The phase names in order, so a report can list them even where a run lacks one. */
export const PHASE_NAMES = [
  "bin/rkt (sh wrapper) + rkt-launch, until node execs",
  "stage0 Node: start-up, bundle load, flags, image lookup, pod dir + manifest",
  "pod namespaces: unshare + hostname + ip link set lo up (sh, 2 tools)",
  "stage0: overlay mount, OCI config.json, supervisor plan, spawn rkt-supervisor",
  "rkt-supervisor starts until runc execs",
  "runc run --detach: create + start, until the app execs",
  "app runs (/bin/true)",
  "runc run returns, supervisor records the exit, execs stage1-teardown",
  "teardown Node: start-up until runc delete execs",
  "teardown: runc delete --force",
  "teardown: unmount overlay + namespace pins, cgroups, exit",
  "rkt-launch reaps the pod and exits",
] as const;

export const SPAN_NAMES = [
  "stage0 Node process, exec to exit",
  "stage0 Node still exiting after the supervisor started",
  "runc run --detach process, exec to exit",
  "teardown Node process, exec to exit",
] as const;

const LINE = /^(\d+)\s+(\d+\.\d+)\s+(.*)$/;

function parse(file: string): TraceEvent[] {
  const events: TraceEvent[] = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    const m = LINE.exec(line);
    if (m === null) continue;
    const pid = Number(m[1]);
    const ms = Number(m[2]) * 1000;
    const text = m[3]!;
    let kind: TraceEvent["kind"] = "other";
    let path = "";
    if (text.startsWith("execve(")) {
      kind = "execve";
      path = /^execve\("([^"]*)"/.exec(text)?.[1] ?? "";
    } else if (text.startsWith("+++ exited") || text.startsWith("+++ killed")) {
      kind = "exited";
    }
    events.push({ pid, ms, kind, path, text });
  }
  return events;
}

/**
 * Cuts a traced `rkt run` of one app whose command is `appPath` into phases.
 *
 * @example
 * const p = runPhases("/tmp/trace.txt", "/bin/true");
 * for (const ph of p.phases) console.log(ph.name, ph.ms);
 */
export function runPhases(file: string, appPath: string): RunPhases {
  const events = parse(file);
  const first = events[0];
  if (first === undefined) throw new Error(`${file}: no strace events`);
  const launcher = first.pid;
  const find = (pred: (e: TraceEvent) => boolean, after = -Infinity): TraceEvent | undefined => events.find((e) => e.ms >= after && pred(e));
  const exitOf = (pid: number | undefined): TraceEvent | undefined => (pid === undefined ? undefined : find((e) => e.kind === "exited" && e.pid === pid));
  const execOf = (pred: (prog: string, e: TraceEvent) => boolean, after = -Infinity): TraceEvent | undefined =>
    find((e) => e.kind === "execve" && pred(basename(e.path), e), after);

  const nodeExec = execOf((p, e) => p === "node" && e.pid !== launcher && e.text.includes('"run"'));
  const ns = execOf((p) => p === "unshare");
  const nsEnd = exitOf(ns?.pid);
  const sup = execOf((p) => p === "rkt-supervisor");
  const runcRun = execOf((p, e) => p === "runc" && e.text.includes('"run"'));
  const app = find((e) => e.kind === "execve" && e.path === appPath && e.pid !== runcRun?.pid);
  const appEnd = exitOf(app?.pid);
  const teardown = sup === undefined ? undefined : execOf((p, e) => p === "node" && e.pid === sup.pid && e.text.includes('"stage1-teardown"'));
  const runcDelete = execOf((p, e) => p === "runc" && e.text.includes('"delete"'));
  const runcDeleteEnd = exitOf(runcDelete?.pid);
  const teardownEnd = exitOf(sup?.pid);
  const launcherEnd = exitOf(launcher);
  const stage0End = exitOf(nodeExec?.pid);
  const runcRunEnd = exitOf(runcRun?.pid);

  const t0 = first.ms;
  const end = launcherEnd?.ms ?? events[events.length - 1]!.ms;
  const marks = [t0, nodeExec, ns, nsEnd, sup, runcRun, app, appEnd, teardown, runcDelete, runcDeleteEnd, teardownEnd, launcherEnd].map((m) =>
    typeof m === "number" ? m : m?.ms,
  );
  const between = (a: number | undefined, b: number | undefined): number | undefined => (a === undefined || b === undefined ? undefined : b - a);
  const phases = PHASE_NAMES.map((name, i) => ({ name, ms: between(marks[i], marks[i + 1]) }));
  const spans: Phase[] = [
    { name: SPAN_NAMES[0], ms: between(nodeExec?.ms, stage0End?.ms) },
    { name: SPAN_NAMES[1], ms: between(sup?.ms, stage0End?.ms) },
    { name: SPAN_NAMES[2], ms: between(runcRun?.ms, runcRunEnd?.ms) },
    { name: SPAN_NAMES[3], ms: between(teardown?.ms, teardownEnd?.ms) },
  ];
  return { totalMs: end - t0, phases, spans };
}
