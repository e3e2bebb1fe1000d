/**
 * ContainerStats, ListContainerStats, PodSandboxStats, ListPodSandboxStats: usage read from each
 * container's cgroup (its OCI config's cgroupsPath), the size of its writable layer (the overlay
 * upper directory), and for a sandbox the sum of its containers plus its network interfaces'
 * counters. CPU usage in nano-cores needs two readings: it is computed from the previous reading
 * of the same cgroup in this process, and left out on the first.
 */
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { PodFiles } from "../../pod/pod-files.js";
import { readCgroupStats, type CgroupStats } from "../../sys/cgroup-stats.js";
import { appStatuses } from "../app/app-lifecycle.js";
import type { CriContext } from "./cri-context.js";
import { requireContainer } from "./cri-container.js";
import { criContainerId, parseContainerId } from "./cri-ids.js";
import { containerRecord } from "./cri-records.js";
import { criSandboxes, labelsMatch, requireSandbox, type FoundSandbox } from "./cri-sandbox.js";
import { nowNanos, type CriContainerStats, type CriCpuUsage, type CriMemoryUsage, type CriNetworkInterfaceUsage, type CriPodSandboxStats } from "./cri-types.js";

/** Entries walked at most when measuring a writable layer (a huge one is reported as partial). */
const MAX_LAYER_ENTRIES = 200_000;

const previous = new Map<string, { cpu: bigint; at: bigint }>();

/** ContainerStats. Throws "not-found" for an unknown container. */
export function containerStats(ctx: CriContext, id: string): CriContainerStats {
  const { uuid, app } = parseContainerId(id);
  const { sandbox } = requireContainer(ctx, uuid, app);
  return statsOf(sandbox, app);
}

/** The filter of ListContainerStats. */
export interface ContainerStatsFilter {
  readonly id: string;
  readonly pod_sandbox_id: string;
  readonly label_selector: Readonly<Record<string, string>>;
}

/** ListContainerStats: running containers only (api.proto: "stats of all running containers"). */
export async function listContainerStats(ctx: CriContext, filter: ContainerStatsFilter | null): Promise<CriContainerStats[]> {
  const out: CriContainerStats[] = [];
  for (const s of criSandboxes(ctx)) {
    if (s.state !== "SANDBOX_READY") continue;
    if (filter !== null && filter.pod_sandbox_id !== "" && !s.ref.uuid.startsWith(filter.pod_sandbox_id)) continue;
    const running = new Set((await appStatuses(ctx.pods, s.ref.uuid).catch(() => [])).filter((a) => a.state === "running" || a.state === "stopping").map((a) => a.name));
    for (const a of s.manifest.apps) {
      const record = containerRecord(a, s.ref.uuid);
      if (record === undefined || !running.has(a.name)) continue;
      const id = criContainerId(s.ref.uuid, a.name);
      if (filter !== null && ((filter.id !== "" && !id.startsWith(filter.id)) || !labelsMatch(record.labels, filter.label_selector))) continue;
      out.push(statsOf(s, a.name));
    }
  }
  return out;
}

/** PodSandboxStats. Throws "not-found" for an unknown sandbox. */
export async function podSandboxStats(ctx: CriContext, id: string): Promise<CriPodSandboxStats> {
  return sandboxStats(ctx, requireSandbox(ctx, id));
}

/** The filter of ListPodSandboxStats. */
export interface SandboxStatsFilter {
  readonly id: string;
  readonly label_selector: Readonly<Record<string, string>>;
}

/** ListPodSandboxStats: ready sandboxes. */
export async function listPodSandboxStats(ctx: CriContext, filter: SandboxStatsFilter | null): Promise<CriPodSandboxStats[]> {
  const out: CriPodSandboxStats[] = [];
  for (const s of criSandboxes(ctx)) {
    if (s.state !== "SANDBOX_READY") continue;
    if (filter !== null && ((filter.id !== "" && !s.ref.uuid.startsWith(filter.id)) || !labelsMatch(s.labels, filter.label_selector))) continue;
    out.push(await sandboxStats(ctx, s));
  }
  return out;
}

async function sandboxStats(ctx: CriContext, s: FoundSandbox): Promise<CriPodSandboxStats> {
  const statuses = s.state === "SANDBOX_READY" ? await appStatuses(ctx.pods, s.ref.uuid).catch(() => []) : [];
  const running = statuses.filter((a) => a.state === "running" || a.state === "stopping");
  const containers = s.manifest.apps.filter((a) => containerRecord(a, s.ref.uuid) !== undefined && running.some((r) => r.name === a.name)).map((a) => statsOf(s, a.name));
  const at = nowNanos();
  const sum = (pick: (c: CriContainerStats) => { value: string | number } | null | undefined): { value: string } => ({
    value: containers.reduce((acc, c) => acc + BigInt(pick(c)?.value ?? 0), 0n).toString(),
  });
  const pid = running.find((a) => a.pid !== undefined)?.pid;
  const interfaces = pid === undefined || s.record.namespaces.network === "NODE" ? [] : netDev(pid);
  const processes = s.manifest.apps.reduce((acc, a) => acc + (cgroupOf(s, a.name)?.processCount ?? 0n), 0n);
  return {
    attributes: { id: s.ref.uuid, metadata: s.record.metadata, labels: s.labels, annotations: s.annotations },
    linux: {
      cpu: { timestamp: at, usage_core_nano_seconds: sum((c) => c.cpu?.usage_core_nano_seconds), usage_nano_cores: sum((c) => c.cpu?.usage_nano_cores) },
      memory: {
        timestamp: at,
        working_set_bytes: sum((c) => c.memory?.working_set_bytes),
        available_bytes: null,
        usage_bytes: sum((c) => c.memory?.usage_bytes),
        rss_bytes: sum((c) => c.memory?.rss_bytes),
        page_faults: sum((c) => c.memory?.page_faults),
        major_page_faults: sum((c) => c.memory?.major_page_faults),
      },
      network: interfaces.length === 0 ? null : { timestamp: at, default_interface: interfaces.find((i) => i.name === "eth0") ?? interfaces[0] ?? null, interfaces: interfaces.filter((i) => i.name !== "eth0") },
      process: { timestamp: at, process_count: { value: processes.toString() } },
      containers,
    },
  };
}

function statsOf(s: FoundSandbox, app: string): CriContainerStats {
  const record = s.manifest.apps.find((a) => a.name === app);
  const cri = record === undefined ? undefined : containerRecord(record, s.ref.uuid);
  const id = criContainerId(s.ref.uuid, app);
  const at = nowNanos();
  const cg = cgroupOf(s, app);
  return {
    attributes: { id, metadata: cri?.metadata ?? { name: app, attempt: 0 }, labels: cri?.labels ?? {}, annotations: cri?.annotations ?? {} },
    cpu: cg === undefined ? null : cpuUsage(id, cg, at),
    memory: cg === undefined ? null : memoryUsage(cg, at),
    writable_layer: writableLayer(new PodFiles(s.ref.path).overlay(app).upper, at),
  };
}

function cgroupOf(s: FoundSandbox, app: string): CgroupStats | undefined {
  let path: string | undefined;
  try {
    path = (JSON.parse(readFileSync(new PodFiles(s.ref.path).appFile(app, "config.json"), "utf8")) as { linux?: { cgroupsPath?: string } }).linux?.cgroupsPath;
  } catch {
    return undefined;
  }
  return path === undefined ? undefined : readCgroupStats(path);
}

function cpuUsage(id: string, cg: CgroupStats, at: string): CriCpuUsage | null {
  if (cg.cpuUsageNanos === undefined) return null;
  const now = BigInt(at);
  const last = previous.get(id);
  previous.set(id, { cpu: cg.cpuUsageNanos, at: now });
  const elapsed = last === undefined ? 0n : now - last.at;
  const nanoCores = last !== undefined && elapsed > 0n && cg.cpuUsageNanos >= last.cpu ? ((cg.cpuUsageNanos - last.cpu) * 1_000_000_000n) / elapsed : undefined;
  return { timestamp: at, usage_core_nano_seconds: { value: cg.cpuUsageNanos.toString() }, usage_nano_cores: nanoCores === undefined ? null : { value: nanoCores.toString() } };
}

function memoryUsage(cg: CgroupStats, at: string): CriMemoryUsage | null {
  if (cg.memoryUsageBytes === undefined) return null;
  const v = (n: bigint | undefined): { value: string } => ({ value: (n ?? 0n).toString() });
  const ws = cg.workingSetBytes ?? 0n;
  return {
    timestamp: at,
    working_set_bytes: v(ws),
    available_bytes: cg.memoryLimitBytes === undefined ? null : v(cg.memoryLimitBytes > ws ? cg.memoryLimitBytes - ws : 0n),
    usage_bytes: v(cg.memoryUsageBytes),
    rss_bytes: v(cg.rssBytes),
    page_faults: v(cg.pageFaults),
    major_page_faults: v(cg.majorPageFaults),
  };
}

/** Bytes and inodes of an app's writable layer (what it wrote over its image). */
function writableLayer(upper: string, at: string): CriContainerStats["writable_layer"] {
  let bytes = 0n;
  let inodes = 0n;
  const stack = [upper];
  let seen = 0;
  while (stack.length > 0 && seen < MAX_LAYER_ENTRIES) {
    const dir = stack.pop() ?? "";
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      seen++;
      const path = join(dir, name);
      const st = lstatSync(path, { throwIfNoEntry: false, bigint: true });
      if (st === undefined) continue;
      inodes++;
      bytes += st.blocks * 512n;
      if (st.isDirectory()) stack.push(path);
    }
  }
  return { timestamp: at, fs_id: { mountpoint: upper }, used_bytes: { value: bytes.toString() }, inodes_used: { value: inodes.toString() } };
}

/** Counters of the interfaces in the network namespace of process `pid` (/proc/PID/net/dev). */
function netDev(pid: number): CriNetworkInterfaceUsage[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/dev`, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .slice(2)
    .flatMap((line) => {
      const [name = "", rest = ""] = line.split(":");
      const f = rest.trim().split(/\s+/);
      if (name.trim() === "" || name.trim() === "lo" || f.length < 16) return [];
      const v = (i: number): { value: string } => ({ value: f[i] ?? "0" });
      return [{ name: name.trim(), rx_bytes: v(0), rx_errors: v(2), tx_bytes: v(8), tx_errors: v(10) }];
    });
}
