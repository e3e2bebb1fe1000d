/**
 * Pods on disk, rkt's way: a pod is a directory whose parent names its state, and a lock on the
 * directory itself says whether someone is working on it. No daemon keeps state; any rkt process
 * learns a pod's state by looking (rkt-features.md §4, "Lifecycle"):
 *
 * | state            | directory                  | lock                 |
 * |------------------|----------------------------|----------------------|
 * | embryo           | pods/embryo/UUID           | -                    |
 * | preparing        | pods/prepare/UUID          | held                 |
 * | aborted prepare  | pods/prepare/UUID          | free                 |
 * | prepared         | pods/prepared/UUID         | -                    |
 * | running          | pods/run/UUID              | held (by stage1)     |
 * | exited           | pods/run/UUID              | free                 |
 * | exited, deleting | pods/exited-garbage/UUID   | held                 |
 * | exited garbage   | pods/exited-garbage/UUID   | free                 |
 * | deleting/garbage | pods/garbage/UUID          | held / free          |
 *
 * Transitions are rename(2)s, atomic on one filesystem: two racing `run-prepared` of one pod cannot
 * both win.
 */
import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { errnoCode, RktError } from "../lib/errors.js";
import { atomicWriteFileSync } from "../sys/atomic-write.js";
import { FileLock } from "../sys/file-lock.js";
import { podManifestSchema, type PodManifest } from "./pod-manifest.js";

export const POD_DIRS = ["embryo", "prepare", "prepared", "run", "exited-garbage", "garbage"] as const;
export type PodDir = (typeof POD_DIRS)[number];

export type PodState =
  | "embryo"
  | "preparing"
  | "aborted-prepare"
  | "prepared"
  | "running"
  | "exited"
  | "deleting"
  | "exited-garbage"
  | "garbage";

export interface PodRef {
  readonly uuid: string;
  readonly dir: PodDir;
  readonly path: string;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export class PodStore {
  readonly podsDir: string;

  constructor(readonly dataDir: string) {
    this.podsDir = join(dataDir, "pods");
  }

  path(dir: PodDir, uuid: string): string {
    return join(this.podsDir, dir, uuid);
  }

  /** Creates a new pod in `embryo` and locks it; the caller moves it on. */
  createEmbryo(uuid: string = randomUUID()): { ref: PodRef; lock: FileLock } {
    const path = this.path("embryo", uuid);
    mkdirSync(join(this.podsDir, "embryo"), { recursive: true, mode: 0o750 });
    mkdirSync(path, { mode: 0o750 });
    const lock = FileLock.tryAcquire(path, "exclusive");
    if (lock === undefined) throw new RktError("internal", `cannot lock new pod ${uuid}`);
    atomicWriteFileSync(join(path, "pod-created"), new Date().toISOString());
    return { ref: { uuid, dir: "embryo", path }, lock };
  }

  /**
   * Moves a pod to another state directory. The lock travels with the directory (it is on the
   * directory inode, not its name).
   */
  move(ref: PodRef, to: PodDir): PodRef {
    const dest = this.path(to, ref.uuid);
    mkdirSync(join(this.podsDir, to), { recursive: true, mode: 0o750 });
    try {
      renameSync(ref.path, dest);
    } catch (err) {
      if (errnoCode(err) === "ENOENT") {
        throw new RktError("failed-precondition", `pod "${ref.uuid}" is no longer ${ref.dir} (another rkt process moved it)`);
      }
      throw err;
    }
    return { uuid: ref.uuid, dir: to, path: dest };
  }

  /** Every pod, in any state. */
  list(): PodRef[] {
    const out: PodRef[] = [];
    for (const dir of POD_DIRS) {
      let names: string[];
      try {
        names = readdirSync(join(this.podsDir, dir));
      } catch {
        continue;
      }
      for (const uuid of names) if (UUID_RE.test(uuid)) out.push({ uuid, dir, path: this.path(dir, uuid) });
    }
    return out;
  }

  /**
   * Finds a pod by full UUID or unique prefix, as rkt accepted everywhere. A pod seen mid-rename
   * is looked up again.
   */
  find(text: string): PodRef {
    const prefix = text.trim().toLowerCase();
    if (prefix.length === 0) throw new RktError("invalid-argument", "empty pod UUID", { hint: "give a UUID or a unique prefix (see `rkt list`)" });
    if (!/^[0-9a-f-]+$/.test(prefix)) throw new RktError("invalid-argument", `"${text}" is not a pod UUID`, { hint: "see `rkt list` for pod UUIDs" });
    for (let attempt = 0; attempt < 3; attempt++) {
      const matches = this.list().filter((p) => p.uuid.startsWith(prefix));
      const uuids = new Set(matches.map((m) => m.uuid));
      if (uuids.size > 1) {
        throw new RktError("invalid-argument", `UUID prefix "${text}" is ambiguous: it matches ${uuids.size} pods`, { hint: "give more characters of the UUID" });
      }
      const hit = matches[0];
      if (hit !== undefined && statSync(hit.path, { throwIfNoEntry: false }) !== undefined) return hit;
      if (hit === undefined) break;
    }
    throw new RktError("not-found", `no pod with UUID "${text}"`, { hint: "see `rkt list`" });
  }

  /** A pod's state, from its directory and a probe of its lock. */
  state(ref: PodRef): PodState {
    switch (ref.dir) {
      case "embryo":
        return "embryo";
      case "prepare":
        return FileLock.isLocked(ref.path) ? "preparing" : "aborted-prepare";
      case "prepared":
        return "prepared";
      case "run":
        return FileLock.isLocked(ref.path) ? "running" : "exited";
      case "exited-garbage":
        return FileLock.isLocked(ref.path) ? "deleting" : "exited-garbage";
      case "garbage":
        return "garbage";
    }
  }

  readManifest(ref: PodRef): PodManifest {
    let text: string;
    try {
      text = readFileSync(join(ref.path, "pod"), "utf8");
    } catch (err) {
      throw new RktError("not-found", `pod "${ref.uuid}" has no manifest (it may still be in preparation)`, { cause: err });
    }
    const parsed = podManifestSchema.safeParse(JSON.parse(text));
    if (!parsed.success) throw new RktError("data-loss", `pod "${ref.uuid}" has a damaged manifest`, { cause: parsed.error });
    return parsed.data;
  }

  writeManifest(ref: PodRef, manifest: PodManifest): void {
    atomicWriteFileSync(join(ref.path, "pod"), `${JSON.stringify(manifest, null, 2)}\n`);
  }
}
