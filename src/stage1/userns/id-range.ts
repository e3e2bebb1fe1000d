/**
 * Host UID/GID ranges for pods with a user namespace (`--private-users`): 65536 ids per pod, the
 * same numbers for users and groups, no range shared by two running pods, so that root in one pod
 * is nobody to another pod's files and processes.
 *
 * Ranges come from systemd's "container UID range" (524288-1879048191, docs UIDS-GIDS.md), which
 * regular users and distribution packages stay out of, skipping anything /etc/subuid or
 * /etc/subgid hands out. One is picked at random among the free ones (as rkt picked a random
 * shift), so that a range is not reused at once.
 *
 * The allocations live in `<dir>/ranges/<owner>` (`<base> <size>`), changed under the flock of
 * `<dir>/lock`. A pod frees its range when it is torn down; an allocation whose owner is no
 * longer live (the caller decides: a pod no longer running) is swept at the next allocation, so a
 * pod killed without teardown does not keep its range forever.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { FileLock } from "../../sys/file-lock.js";

/** A range of host ids: container id 0 is host id `base`. */
export interface IdRange {
  readonly base: number;
  readonly size: number;
}

/** The ids a pod gets: 0-65535 inside, like a whole traditional system (rkt's choice). */
export const POD_ID_RANGE_SIZE = 65536;

const FIRST = 524_288;
const END = 1_879_048_192;

/** The file recording `owner`'s range (for a shell teardown to remove). */
export function idRangeRecord(dir: string, owner: string): string {
  return join(dir, "ranges", owner);
}

/**
 * Allocates a free range for `owner` (or returns the one it already has). `isLive(owner)` says
 * whether another allocation still counts; stale ones are removed here.
 *
 * @example
 * const range = await allocateIdRange("/var/lib/rkt/userns", uuid, (u) => podIsRunning(u));
 * range.base; // e.g. 1310720
 */
export async function allocateIdRange(dir: string, owner: string, isLive: (owner: string) => boolean, signal?: AbortSignal): Promise<IdRange> {
  if (!/^[A-Za-z0-9._-]+$/.test(owner)) throw new RktError("internal", `invalid id range owner ${JSON.stringify(owner)}`);
  const lock = await FileLock.acquire(join(dir, "lock"), "exclusive", signal);
  try {
    const taken: IdRange[] = [...reservedRanges()];
    for (const [name, range] of readRecords(dir)) {
      if (name === owner) return range;
      if (isLive(name)) taken.push(range);
      else rmSync(idRangeRecord(dir, name), { force: true });
    }
    const free: number[] = [];
    for (let base = FIRST; base + POD_ID_RANGE_SIZE <= END; base += POD_ID_RANGE_SIZE) {
      if (!taken.some((r) => base < r.base + r.size && r.base < base + POD_ID_RANGE_SIZE)) free.push(base);
    }
    const base = free[Math.floor(Math.random() * free.length)];
    if (base === undefined) throw new RktError("resource-exhausted", "no free host UID range is left for a pod with --private-users", { hint: "stop or garbage-collect pods (rkt gc)" });
    const range = { base, size: POD_ID_RANGE_SIZE };
    atomicWriteFileSync(idRangeRecord(dir, owner), `${range.base} ${range.size}\n`);
    return range;
  } finally {
    lock.release();
  }
}

/** Frees `owner`'s range; nothing happens when it has none. */
export function releaseIdRange(dir: string, owner: string): void {
  rmSync(idRangeRecord(dir, owner), { force: true });
}

function readRecords(dir: string): [string, IdRange][] {
  let names: string[];
  try {
    names = readdirSync(join(dir, "ranges"));
  } catch {
    return [];
  }
  const out: [string, IdRange][] = [];
  for (const name of names) {
    if (name.startsWith(".")) continue;
    const m = /^(\d+) (\d+)\n?$/.exec(readFileSync(join(dir, "ranges", name), "utf8"));
    if (m !== null) out.push([name, { base: Number(m[1]), size: Number(m[2]) }]);
  }
  return out;
}

/** The ranges /etc/subuid and /etc/subgid delegate to users (`name:start:count` lines). */
function reservedRanges(): IdRange[] {
  const out: IdRange[] = [];
  for (const file of ["/etc/subuid", "/etc/subgid"]) {
    let text = "";
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n")) {
      const [, start, count] = line.trim().split(":");
      if (start !== undefined && count !== undefined && /^\d+$/.test(start) && /^\d+$/.test(count)) out.push({ base: Number(start), size: Number(count) });
    }
  }
  return out;
}
