/** `rkt app status UUID --app=NAME`: one app's state, exit code and times. */
import { appStatuses, type AppStatus } from "../../engine/app/app-lifecycle.js";
import { PodStore } from "../../pod/pod-store.js";
import { stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { appArgument, appNameFlag } from "./app-arguments.js";

export const appStatusCommand = defineCommand({
  path: ["app", "status"],
  summary: "Show the status of an app of a pod",
  usage: "app status UUID --app=NAME [--format=json|json-pretty]",
  flags: { app: appNameFlag, format: stringFlag("output format: json, json-pretty", "", ["", "json", "json-pretty"]) },
  async run(ctx, { values, positionals }) {
    const { uuid, app } = appArgument(positionals, values.app, "status");
    const [status] = await appStatuses(new PodStore(ctx.globals.dataDir), uuid, app);
    if (status === undefined) return 254;
    if (values.format !== "") {
      const json = appJson(status);
      ctx.out.stdout(`${values.format === "json-pretty" ? JSON.stringify(json, null, 2) : JSON.stringify(json)}\n`);
      return 0;
    }
    const lines = [`name=${status.name}`, `state=${status.state}`, `image_id=${status.imageId}`];
    if (status.startedAt !== undefined) lines.push(`started_at=${status.startedAt.toISOString()}`);
    if (status.finishedAt !== undefined) lines.push(`finished_at=${status.finishedAt.toISOString()}`);
    if (status.exitCode !== undefined) lines.push(`exit_code=${status.exitCode}`);
    if (status.pid !== undefined) lines.push(`pid=${status.pid}`);
    lines.push(`restarts=${status.restarts}`);
    ctx.out.stdout(`${lines.join("\n")}\n`);
    return 0;
  },
});

/** An app as JSON (rkt's field names where rkt had them). */
export function appJson(a: AppStatus): Record<string, unknown> {
  return {
    name: a.name,
    state: a.state,
    image_id: a.imageId,
    ...(a.imageName === undefined ? {} : { image_name: a.imageName }),
    ...(a.startedAt === undefined ? {} : { started_at: a.startedAt.toISOString() }),
    ...(a.finishedAt === undefined ? {} : { finished_at: a.finishedAt.toISOString() }),
    ...(a.exitCode === undefined ? {} : { exit_code: a.exitCode }),
    ...(a.pid === undefined ? {} : { pid: a.pid }),
    restarts: a.restarts,
  };
}
