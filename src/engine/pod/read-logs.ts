/**
 * `rkt logs`: an app's output as the supervisor recorded it, in the Kubernetes CRI log format
 * (`<RFC3339Nano> <stdout|stderr> <F|P> <text>`: P marks a partial line continued by the next
 * record). Kept with the pod until it is collected, so exited pods have logs too (rkt's most
 * common complaint was that they did not).
 */
import { createReadStream, statSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { RktError } from "../../lib/errors.js";
import { PodFiles } from "../../pod/pod-files.js";
import type { PodRef, PodStore } from "../../pod/pod-store.js";

export interface LogRecord {
  readonly time: string;
  readonly stream: "stdout" | "stderr";
  /** The text, with a newline unless the record was partial. */
  readonly text: string;
}

export interface ReadLogsOptions {
  readonly app?: string | undefined;
  readonly follow: boolean;
  readonly signal?: AbortSignal;
  readonly onRecord: (app: string, r: LogRecord) => void;
}

const RECORD = /^(\S+) (stdout|stderr) ([FP]) (.*)$/s;

export function parseLogLine(line: string): LogRecord | undefined {
  const m = RECORD.exec(line);
  if (m === null) return undefined;
  return { time: m[1] ?? "", stream: m[2] as "stdout" | "stderr", text: m[3] === "P" ? (m[4] ?? "") : `${m[4] ?? ""}\n` };
}

export async function readLogs(pods: PodStore, ref: PodRef, options: ReadLogsOptions): Promise<void> {
  const manifest = pods.readManifest(ref);
  const apps = options.app === undefined ? manifest.apps.map((a) => a.name) : [options.app];
  if (options.app !== undefined && !manifest.apps.some((a) => a.name === options.app)) {
    throw new RktError("not-found", `pod "${ref.uuid}" has no app "${options.app}"`, { hint: `apps: ${manifest.apps.map((a) => a.name).join(", ")}` });
  }
  if (options.follow && apps.length !== 1) {
    throw new RktError("invalid-argument", `--follow needs one app; pod "${ref.uuid}" has ${apps.length}`, { hint: "choose one with --app" });
  }
  const files = new PodFiles(ref.path);
  for (const app of apps) {
    const path = files.appFile(app, "log");
    let offset = 0;
    let carry = "";
    for (;;) {
      const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
      if (size > offset) {
        const chunk = await readRange(path, offset, size);
        offset = size;
        const lines = (carry + chunk).split("\n");
        carry = lines.pop() ?? "";
        for (const line of lines) {
          const rec = parseLogLine(line);
          if (rec !== undefined) options.onRecord(app, rec);
        }
      }
      if (!options.follow) break;
      // Follow until the pod is no longer running and everything written was read.
      const current = pods.find(ref.uuid);
      if (pods.state(current) !== "running" && (statSync(path, { throwIfNoEntry: false })?.size ?? 0) <= offset) break;
      try {
        await sleep(100, undefined, options.signal === undefined ? undefined : { signal: options.signal });
      } catch {
        break;
      }
    }
  }
}

async function readRange(path: string, start: number, endExclusive: number): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of createReadStream(path, { start, end: endExclusive - 1 })) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}
