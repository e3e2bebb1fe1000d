/** `rkt app list UUID`: the apps of a pod and their states (`NAME STATE`). */
import { appStatuses } from "../../engine/app/app-lifecycle.js";
import { PodStore } from "../../pod/pod-store.js";
import { RktError } from "../../lib/errors.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { renderTable } from "../output/table.js";
import { appJson } from "./status.js";

export const appListCommand = defineCommand({
  path: ["app", "list"],
  summary: "List the apps of a pod",
  usage: "app list [--no-legend] [--format=json|json-pretty] UUID",
  flags: { noLegend: boolFlag("suppress the table header"), format: stringFlag("output format: json, json-pretty", "", ["", "json", "json-pretty"]) },
  async run(ctx, { values, positionals }) {
    const [uuid] = positionals;
    if (uuid === undefined || positionals.length !== 1) throw new RktError("invalid-argument", "expected exactly one pod UUID", { hint: "usage: rkt app list UUID" });
    const apps = await appStatuses(new PodStore(ctx.globals.dataDir), uuid);
    if (values.format !== "") {
      const json = apps.map(appJson);
      ctx.out.stdout(`${values.format === "json-pretty" ? JSON.stringify(json, null, 2) : JSON.stringify(json)}\n`);
      return 0;
    }
    const rows = apps.map((a) => [a.name, a.state]);
    ctx.out.stdout(renderTable(["NAME", "STATE"], rows, { legend: !values.noLegend }));
    return 0;
  },
});
