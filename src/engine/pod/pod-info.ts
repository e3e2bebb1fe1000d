/**
 * What `rkt list` and `rkt status` report about a pod, read from its directory: state from the
 * directory and lock, apps from the manifest, exit codes and times from what the supervisor wrote.
 */
import { readFileSync, statSync } from "node:fs";
import { parseNetInfo, summarizeNetInfo } from "../../network/net-info.js";
import { PodFiles } from "../../pod/pod-files.js";
import type { PodRef, PodState, PodStore } from "../../pod/pod-store.js";

export interface AppInfo {
  readonly name: string;
  readonly imageName: string | undefined;
  readonly imageId: string;
  readonly state: "created" | "running" | "exited" | "unknown";
  readonly exitCode: number | undefined;
  readonly pid: number | undefined;
  readonly startedAt: Date | undefined;
  readonly finishedAt: Date | undefined;
}

export interface PodInfo {
  readonly uuid: string;
  readonly state: PodState;
  readonly path: string;
  readonly created: Date | undefined;
  readonly started: Date | undefined;
  /** The supervisor's pid while the pod runs. */
  readonly pid: number | undefined;
  readonly apps: readonly AppInfo[];
  readonly networks: readonly { name: string; ip4?: string }[];
}

export function podInfo(pods: PodStore, ref: PodRef): PodInfo {
  const files = new PodFiles(ref.path);
  const state = pods.state(ref);
  let apps: AppInfo[] = [];
  try {
    const manifest = pods.readManifest(ref);
    apps = manifest.apps.map((a) => {
      const exitCode = readInt(files.appFile(a.name, "exit"));
      const startedAt = readDate(files.appFile(a.name, "started"));
      const appState: AppInfo["state"] =
        exitCode !== undefined ? "exited" : state === "running" && startedAt !== undefined ? "running" : state === "exited" || state === "exited-garbage" ? "exited" : "created";
      return {
        name: a.name,
        imageName: a.image.name,
        imageId: a.image.id,
        state: appState,
        exitCode,
        pid: readInt(files.appFile(a.name, "pid")),
        startedAt,
        finishedAt: readDate(files.appFile(a.name, "finished")),
      };
    });
  } catch {
    // an embryo or a damaged pod: no apps to show
  }
  const startedTimes = apps.map((a) => a.startedAt).filter((d): d is Date => d !== undefined);
  return {
    uuid: ref.uuid,
    state,
    path: ref.path,
    created: readDate(files.created),
    started: startedTimes.length > 0 ? new Date(Math.min(...startedTimes.map((d) => d.getTime()))) : undefined,
    pid: state === "running" ? readInt(files.supervisor("pid")) : undefined,
    apps,
    networks: readNetworks(files.netInfo),
  };
}

function readNetworks(path: string): { name: string; ip4?: string }[] {
  const text = read(path);
  if (text === undefined) return [];
  try {
    return summarizeNetInfo(parseNetInfo(text)).map((n) => ({ name: n.name, ...(n.ip4 === undefined ? {} : { ip4: n.ip4 }) }));
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

function readInt(path: string): number | undefined {
  const t = read(path);
  if (t === undefined || !/^-?\d+$/.test(t)) return undefined;
  return Number(t);
}

function readDate(path: string): Date | undefined {
  const t = read(path);
  if (t === undefined) return undefined;
  const d = new Date(t);
  if (!Number.isNaN(d.getTime())) return d;
  const st = statSync(path, { throwIfNoEntry: false });
  return st?.mtime;
}

/** The exit code `rkt run` would have returned: the first failing app's, else 0. */
export function podExitCode(info: PodInfo): number | undefined {
  if (info.apps.some((a) => a.exitCode === undefined)) return undefined;
  return info.apps.find((a) => a.exitCode !== 0)?.exitCode ?? 0;
}
