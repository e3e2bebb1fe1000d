/** `rkt status UUID`: a pod's state and its apps' exit codes, as key=value lines or JSON. */
import { setTimeout as sleep } from "node:timers/promises";
import { podInfo, type PodInfo } from "../../engine/pod/pod-info.js";
import { PodStore } from "../../pod/pod-store.js";
import { RktError } from "../../lib/errors.js";
import { parseDuration, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { podJson } from "./list.js";
import { podArgument } from "./pod-arguments.js";

export const statusCommand = defineCommand({
  path: ["status"],
  summary: "Check the status of a rkt pod",
  usage: "status [--wait[=DURATION]] [--format=json|json-pretty] UUID",
  flags: {
    wait: { kind: "string", help: "wait for the pod to exit (true, or a duration)", default: "", bare: "true" },
    waitReady: { kind: "string", help: "wait for the pod to be running (true, or a duration)", default: "", bare: "true" },
    format: stringFlag("choose the output format: json, json-pretty", "", ["", "json", "json-pretty"]),
    uuidFile: stringFlag("read the pod UUID from this file"),
  },
  async run(ctx, { values, positionals }) {
    const pods = new PodStore(ctx.globals.dataDir);
    const uuid = podArgument(positionals, values.uuidFile, "status");
    let ref = pods.find(uuid);
    const deadline = (text: string): number | undefined => (text === "" || text === "false" ? undefined : text === "true" ? Number.POSITIVE_INFINITY : parseDuration(text, "wait"));
    const waitExit = deadline(values.wait);
    const waitReady = deadline(values.waitReady);
    const start = Date.now();
    for (;;) {
      const info = podInfo(pods, ref);
      const done = waitExit !== undefined ? !["running", "preparing", "embryo", "prepared"].includes(info.state) : waitReady !== undefined ? info.state !== "prepared" && info.state !== "preparing" && info.apps.every((a) => a.state !== "created") : true;
      const limit = waitExit ?? waitReady ?? 0;
      if (done || Date.now() - start > limit) {
        if (!done) throw new RktError("unavailable", `pod "${ref.uuid}" did not reach the awaited state within ${values.wait || values.waitReady}`);
        print((t) => ctx.out.stdout(t), info, values.format);
        return 0;
      }
      await sleep(100, undefined, { signal: ctx.signal });
      ref = pods.find(ref.uuid);
    }
  },
});

function print(write: (t: string) => void, info: PodInfo, format: string): void {
  if (format !== "") {
    const json = podJson(info);
    write(`${format === "json-pretty" ? JSON.stringify(json, null, 2) : JSON.stringify(json)}\n`);
    return;
  }
  const lines = [`state=${info.state}`];
  if (info.created !== undefined) lines.push(`created=${info.created.toISOString()}`);
  if (info.started !== undefined) lines.push(`started=${info.started.toISOString()}`);
  if (info.state === "running" || info.state === "exited") lines.push(`networks=${info.networks.map((n) => `${n.name}:ip4=${n.ip4 ?? ""}`).join(",")}`);
  if (info.pid !== undefined) lines.push(`pid=${info.pid}`);
  const exited = info.state === "exited" || info.state === "exited-garbage";
  lines.push(`exited=${exited}`);
  for (const app of info.apps) if (app.exitCode !== undefined) lines.push(`app-${app.name}=${app.exitCode}`);
  write(`${lines.join("\n")}\n`);
}
