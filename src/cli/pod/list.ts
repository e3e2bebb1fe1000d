/** `rkt list`: every pod, with its apps, state and times, as rkt printed it. */
import { podInfo, type PodInfo } from "../../engine/pod/pod-info.js";
import { PodStore } from "../../pod/pod-store.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { absoluteTime, relativeTime } from "../output/human.js";
import { formatImageId } from "../output/image-id.js";
import { renderTable } from "../output/table.js";

export const listCommand = defineCommand({
  path: ["list"],
  summary: "List pods",
  usage: "list [--full] [--no-legend] [--format=json|json-pretty]",
  flags: {
    full: boolFlag("use long output format"),
    noLegend: boolFlag("suppress a legend with the list"),
    format: stringFlag("choose the output format: json, json-pretty", "", ["", "json", "json-pretty"]),
  },
  run(ctx, { values }) {
    const pods = new PodStore(ctx.globals.dataDir);
    const infos = pods
      .list()
      .map((r) => podInfo(pods, r))
      .sort((a, b) => (a.created?.getTime() ?? 0) - (b.created?.getTime() ?? 0));
    if (values.format !== "") {
      const json = infos.map(podJson);
      ctx.out.stdout(`${values.format === "json-pretty" ? JSON.stringify(json, null, 2) : JSON.stringify(json)}\n`);
      return Promise.resolve(0);
    }
    const now = new Date();
    const time = (d: Date | undefined): string => (d === undefined ? "-" : values.full ? absoluteTime(d) : relativeTime(d, now));
    const header = values.full ? ["UUID", "APP", "IMAGE NAME", "IMAGE ID", "STATE", "CREATED", "STARTED", "NETWORKS"] : ["UUID", "APP", "IMAGE NAME", "STATE", "CREATED", "STARTED", "NETWORKS"];
    const rows: string[][] = [];
    for (const p of infos) {
      const apps = p.apps.length > 0 ? p.apps : [undefined];
      apps.forEach((a, i) => {
        const first = i === 0;
        const cells = [
          first ? (values.full ? p.uuid : p.uuid.slice(0, 8)) : "",
          a?.name ?? "-",
          a?.imageName ?? a?.imageId ?? "-",
          ...(values.full ? [a === undefined ? "-" : formatImageId(a.imageId, 12)] : []),
          first ? displayState(p) : "",
          first ? time(p.created) : "",
          first ? time(p.started) : "",
          first ? p.networks.map((n) => `${n.name}:ip4=${n.ip4 ?? ""}`).join(",") : "",
        ];
        rows.push(cells);
      });
    }
    ctx.out.stdout(renderTable(header, rows, { legend: !values.noLegend }));
    return Promise.resolve(0);
  },
});

function displayState(p: PodInfo): string {
  return p.state === "aborted-prepare" ? "aborted prepare" : p.state === "exited-garbage" ? "exited garbage" : p.state;
}

export function podJson(p: PodInfo): Record<string, unknown> {
  return {
    name: p.uuid,
    state: p.state,
    networks: p.networks,
    app_names: p.apps.map((a) => a.name),
    apps: p.apps.map((a) => ({ name: a.name, state: a.state, image_id: a.imageId, ...(a.imageName === undefined ? {} : { image_name: a.imageName }), ...(a.exitCode === undefined ? {} : { exit_code: a.exitCode }) })),
    ...(p.created === undefined ? {} : { created_at: p.created.getTime() * 1e6 }),
    ...(p.started === undefined ? {} : { started_at: p.started.getTime() * 1e6 }),
    ...(p.pid === undefined ? {} : { pid: p.pid }),
  };
}
