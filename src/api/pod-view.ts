/**
 * Pods on disk as v1alpha `Pod` messages: the state from the pod's directory and the kernel's
 * lock table (lock-table.ts), apps and annotations from the manifest, exit codes and times from
 * what the supervisor wrote, networks from net-info.json. Every kind of pod is a directory of the
 * same layout (`rkt run`, `rkt prepare`, mutable pods of `rkt app sandbox` and the CRI server),
 * so one reader serves them all.
 *
 * A manifest is parsed again only when its file changed (size and mtime), as rkt's service
 * cached them: a mutable pod's manifest changes while it runs.
 */
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { parseNetInfo, summarizeNetInfo } from "../network/net-info.js";
import { PodFiles } from "../pod/pod-files.js";
import { podManifestSchema, type PodManifest } from "../pod/pod-manifest.js";
import type { PodRef, PodState } from "../pod/pod-store.js";
import { podCgroupParent } from "../engine/pod/teardown-pod.js";
import type { ImageCatalog, ImageSnapshot } from "./image-view.js";
import type { LockTable } from "./lock-table.js";
import type { App, AppStateName, KeyValue, Network, Pod, PodStateName } from "./v1alpha-messages.js";

/**
 * A pod's state from its directory and whether its lock is held (pod-store.ts has the table).
 *
 * @example
 * podStateOf({ uuid, dir: "run", path }, LockTable.read()); // "running" or "exited"
 */
export function podStateOf(ref: PodRef, locks: LockTable): PodState {
  switch (ref.dir) {
    case "embryo":
      return "embryo";
    case "prepare":
      return locks.isLocked(ref.path) ? "preparing" : "aborted-prepare";
    case "prepared":
      return "prepared";
    case "run":
      return locks.isLocked(ref.path) ? "running" : "exited";
    case "exited-garbage":
      return locks.isLocked(ref.path) ? "deleting" : "exited-garbage";
    case "garbage":
      return locks.isLocked(ref.path) ? "deleting" : "garbage";
  }
}

/** rkt's PodState for ours (both garbage directories are GARBAGE, as in rkt). */
export function podStateName(state: PodState): PodStateName {
  switch (state) {
    case "embryo":
      return "POD_STATE_EMBRYO";
    case "preparing":
      return "POD_STATE_PREPARING";
    case "aborted-prepare":
      return "POD_STATE_ABORTED_PREPARE";
    case "prepared":
      return "POD_STATE_PREPARED";
    case "running":
      return "POD_STATE_RUNNING";
    case "exited":
      return "POD_STATE_EXITED";
    case "deleting":
      return "POD_STATE_DELETING";
    case "exited-garbage":
    case "garbage":
      return "POD_STATE_GARBAGE";
  }
}

interface CachedManifest {
  readonly mtimeNs: bigint;
  readonly size: bigint;
  readonly raw: Buffer;
  readonly manifest: PodManifest;
}

/** What a pod's files say, before the images of its apps are looked up. */
interface PodFacts {
  readonly state: PodState;
  readonly pod: Omit<Pod, "apps" | "manifest">;
  readonly apps: readonly (Omit<App, "image"> & { readonly imageId: string })[];
  readonly manifest: Buffer;
  /** Wire encodings made of it, by `detail`, with the image snapshot they were made with. */
  readonly encoded: Map<boolean, { readonly images: ImageSnapshot; readonly bytes: Buffer }>;
}

/** A pod and its encoding as one `pods` entry of a ListPodsResponse. */
export interface EncodedPod {
  readonly pod: Pod;
  readonly entry: Buffer;
}

/**
 * States in which nothing writes into the pod directory any more: the supervisor is gone (exited)
 * or never came (prepared), or the pod waits for collection. A change of state moves the
 * directory or takes its lock, which the next request sees before it trusts what it kept.
 */
const SETTLED: ReadonlySet<PodState> = new Set(["prepared", "exited", "exited-garbage", "garbage", "aborted-prepare"]);

/**
 * Reads pods into Pod messages. A settled pod's files are read once and kept (500 pods of which
 * most have exited list in a few milliseconds); a running pod is read on every request.
 */
export class PodReader {
  private readonly manifests = new Map<string, CachedManifest>();
  private readonly settled = new Map<string, PodFacts>();

  constructor(private readonly catalog: ImageCatalog) {}

  /**
   * The Pod message of `ref`. The manifest bytes only with `detail`.
   *
   * @example
   * const pod = reader.pod(ref, LockTable.read(), catalog.snapshot(), true);
   */
  pod(ref: PodRef, locks: LockTable, images: ImageSnapshot, detail: boolean): Pod {
    return this.build(this.factsOf(ref, locks), images, detail);
  }

  /**
   * The Pod message of `ref` and its encoding by `encode`, which is kept for a settled pod as
   * long as the image snapshot is the same: encoding is most of what listing hundreds of
   * exited pods costs.
   */
  encoded(ref: PodRef, locks: LockTable, images: ImageSnapshot, detail: boolean, encode: (pod: Pod) => Buffer): EncodedPod {
    const facts = this.factsOf(ref, locks);
    const pod = this.build(facts, images, detail);
    const hit = facts.encoded.get(detail);
    if (hit !== undefined && hit.images === images) return { pod, entry: hit.bytes };
    const entry = encode(pod);
    if (SETTLED.has(facts.state)) facts.encoded.set(detail, { images, bytes: entry });
    return { pod, entry };
  }

  private factsOf(ref: PodRef, locks: LockTable): PodFacts {
    const state = podStateOf(ref, locks);
    let facts = this.settled.get(ref.path);
    if (facts?.state !== state) {
      facts = this.facts(ref, state);
      if (SETTLED.has(state)) this.settled.set(ref.path, facts);
      else this.settled.delete(ref.path);
    }
    return facts;
  }

  private build(facts: PodFacts, images: ImageSnapshot, detail: boolean): Pod {
    return {
      ...facts.pod,
      apps: facts.apps.map(({ imageId, ...app }) => ({ ...app, image: this.catalog.appImage(images, imageId) })),
      manifest: detail ? facts.manifest : Buffer.alloc(0),
    };
  }

  /** Forgets what it kept of pods that are no longer at `paths` (moved or removed). */
  retain(paths: ReadonlySet<string>): void {
    for (const p of this.settled.keys()) if (!paths.has(p)) this.settled.delete(p);
    for (const p of this.manifests.keys()) if (!paths.has(dirname(p))) this.manifests.delete(p);
  }

  private facts(ref: PodRef, state: PodState): PodFacts {
    const files = new PodFiles(ref.path);
    const pod: Omit<Pod, "apps" | "manifest"> = {
      id: ref.uuid,
      pid: -1,
      state: podStateName(state),
      networks: [],
      annotations: [],
      cgroup: "",
      created_at: isoToNs(read(files.created)),
      started_at: "0",
      gc_marked_at: "0",
    };
    const empty: PodFacts = { state, pod, apps: [], manifest: Buffer.alloc(0), encoded: new Map() };
    // rkt: an embryo, a pod being prepared and an aborted one have no apps or manifest to show.
    if (state === "embryo" || state === "preparing" || state === "aborted-prepare") return empty;
    const cached = this.manifest(files.manifest);
    if (cached === undefined) return empty;
    const { manifest } = cached;
    pod.annotations = [
      ...(manifest.annotations ?? []).map((a) => ({ Key: a.name, value: a.value })),
      ...Object.entries(manifest.userAnnotations ?? {}).map(([Key, value]) => ({ Key, value })),
    ];
    const ran = state !== "prepared";
    let started: bigint | undefined;
    const apps = manifest.apps.map((a) => {
      const exitText = ran ? read(files.appFile(a.name, "exit")) : undefined;
      const exitCode = exitText !== undefined && /^-?\d+$/.test(exitText) ? Number(exitText) : undefined;
      const startedNs = ran ? rfc3339ToNs(read(files.appFile(a.name, "started"))) : undefined;
      if (startedNs !== undefined && (started === undefined || startedNs < started)) started = startedNs;
      const appState: AppStateName = exitCode !== undefined || (ran && state !== "running") ? "APP_STATE_EXITED" : state === "running" && startedNs !== undefined ? "APP_STATE_RUNNING" : "APP_STATE_UNDEFINED";
      return {
        name: a.name,
        imageId: a.image.id,
        state: appState,
        exit_code: exitCode ?? -1,
        annotations: (a.annotations ?? []).map((x) => ({ Key: x.name, value: x.value })),
      };
    });
    if (ran) {
      const pid = read(files.supervisor("pid"));
      if (pid !== undefined && /^\d+$/.test(pid)) pod.pid = Number(pid);
      if (started !== undefined) pod.started_at = started.toString();
      pod.networks = networksOf(files.netInfo);
      if (state === "running") pod.cgroup = podCgroupParent(ref.uuid);
      if (ref.dir === "exited-garbage" || ref.dir === "garbage") {
        pod.gc_marked_at = (statSync(ref.path, { bigint: true, throwIfNoEntry: false })?.ctimeNs ?? 0n).toString();
      }
    }
    return { state, pod, apps, manifest: cached.raw, encoded: new Map() };
  }

  private manifest(path: string): CachedManifest | undefined {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    if (st === undefined) {
      this.manifests.delete(path);
      return undefined;
    }
    const hit = this.manifests.get(path);
    if (hit !== undefined && hit.mtimeNs === st.mtimeNs && hit.size === st.size) return hit;
    // File times tick coarsely: keep only a manifest whose mtime had settled when it was read.
    const settled = BigInt(Date.now()) * 1_000_000n - st.mtimeNs > 50_000_000n;
    try {
      const raw = readFileSync(path);
      const parsed = podManifestSchema.safeParse(JSON.parse(raw.toString("utf8")));
      if (!parsed.success) return undefined;
      const entry = { mtimeNs: st.mtimeNs, size: st.size, raw, manifest: parsed.data };
      if (settled) this.manifests.set(path, entry);
      else this.manifests.delete(path);
      return entry;
    } catch {
      return undefined;
    }
  }
}

function networksOf(path: string): Network[] {
  const text = read(path);
  if (text === undefined) return [];
  try {
    return summarizeNetInfo(parseNetInfo(text)).map((n) => ({
      name: n.name,
      ipv4: n.ip4 ?? "",
      ipv6: n.ips.find((ip) => ip.version === "6")?.address.split("/")[0] ?? "",
    }));
  } catch {
    return [];
  }
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return undefined;
  }
}

/** An ISO 8601 time (`pod-created`) in nanoseconds, as a decimal string; "0" if unreadable. */
function isoToNs(text: string | undefined): string {
  return (rfc3339ToNs(text) ?? 0n).toString();
}

/**
 * RFC 3339 with up to 9 fractional digits (what the supervisor writes) to nanoseconds since the
 * epoch, exactly; undefined for anything else.
 *
 * @example
 * rfc3339ToNs("2024-05-01T10:00:00.123456789Z"); // 1714557600123456789n
 */
export function rfc3339ToNs(text: string | undefined): bigint | undefined {
  if (text === undefined) return undefined;
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(text);
  if (m === null) return undefined;
  const seconds = Date.parse(`${m[1] ?? ""}${m[3] ?? ""}`);
  if (Number.isNaN(seconds)) return undefined;
  return BigInt(seconds) * 1_000_000n + BigInt((m[2] ?? "").padEnd(9, "0"));
}

/** Key-values as a map (later keys win). */
export function keyValueMap(list: readonly KeyValue[]): Map<string, string> {
  return new Map(list.map((kv) => [kv.Key, kv.value]));
}
