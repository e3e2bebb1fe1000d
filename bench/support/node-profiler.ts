/**
 * CPU profiles of every Node process a command starts, not only the first one. `rkt run` starts
 * Node twice: stage0 (under rkt-launch) and, at the pod's end, `rkt stage1-teardown` (exec'd by
 * the native supervisor with /usr/bin/node and no Node flags). `node --cpu-prof` reaches only the
 * first, and Node 20 refuses --cpu-prof in NODE_OPTIONS; `--require` is allowed there, and the
 * environment travels through rkt-launch and the supervisor. So a small preload starts V8's
 * profiler through node:inspector, and at exit writes `<pid>.cpuprofile` (read it with
 * cpu-profile-summary.ts, or open it in Chrome DevTools) and `<pid>.json`: the process's argv
 * and `performance.nodeTiming` (when V8 started, when Node's bootstrap completed, ... in ms from
 * the process's start), i.e. Node's own start-up cost before any rkt code runs.
 */
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** Node's start-up milestones, ms from the process's start (`performance.nodeTiming`). */
export interface NodeTiming {
  readonly v8Start: number;
  readonly environment: number;
  readonly bootstrapComplete: number;
  readonly loopStart: number;
}

/** What the preload wrote for one Node process. */
export interface ProfiledProcess {
  readonly pid: number;
  readonly argv: readonly string[];
  readonly nodeTiming: NodeTiming;
  /** `performance.now()` at exit: the process's whole life in ms. */
  readonly lifeMs: number;
  readonly profileFile: string;
}

// CommonJS, because --require loads it before the (ESM) entry point. Plain JavaScript: it runs
// in the profiled process, outside this project's build.
const PRELOAD = `"use strict";
const { Session } = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");
const { performance } = require("node:perf_hooks");
const dir = process.env.RKT_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post("Profiler.enable");
  session.post("Profiler.start");
  process.on("exit", () => {
    const lifeMs = performance.now();
    // An in-thread inspector session answers synchronously, so this completes before exit.
    session.post("Profiler.stop", (err, result) => {
      if (err) return;
      writeFileSync(join(dir, process.pid + ".cpuprofile"), JSON.stringify(result.profile));
      writeFileSync(join(dir, process.pid + ".json"), JSON.stringify({ argv: process.argv, nodeTiming: performance.nodeTiming.toJSON(), lifeMs }));
    });
  });
}
`;

/**
 * Prepares `dir` (created if needed) and returns the environment that makes every Node process
 * started with it write its profile there.
 *
 * @example
 * const env = await profilerEnv(dir);
 * await timedRun(rktBin, ["run", ...], { env });
 * const runs = await profiledProcesses(dir);
 */
export async function profilerEnv(dir: string): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true });
  const preload = join(dir, "preload.cjs");
  await writeFile(preload, PRELOAD);
  return { NODE_OPTIONS: `--require "${preload}"`, RKT_BENCH_PROFILE_DIR: dir };
}

/** The processes profiled into `dir`, oldest pid first (pids may wrap: sort by what you need). */
export async function profiledProcesses(dir: string): Promise<ProfiledProcess[]> {
  const out: ProfiledProcess[] = [];
  for (const name of await readdir(dir)) {
    const m = /^(\d+)\.json$/.exec(name);
    if (m === null) continue;
    const data = JSON.parse(await readFile(join(dir, name), "utf8")) as { argv: string[]; nodeTiming: NodeTiming; lifeMs: number };
    out.push({ pid: Number(m[1]), argv: data.argv, nodeTiming: data.nodeTiming, lifeMs: data.lifeMs, profileFile: join(dir, `${m[1]}.cpuprofile`) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
