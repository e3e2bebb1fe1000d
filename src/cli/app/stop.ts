/** `rkt app stop UUID --app=NAME`: stop an app of a mutable pod (TERM, then KILL after the timeout). */
import { stopApp } from "../../engine/app/app-lifecycle.js";
import { PodStore } from "../../pod/pod-store.js";
import { stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { requireRoot } from "../pod/run.js";
import { appArgument, appNameFlag, parseTimeout } from "./app-arguments.js";

export const appStopCommand = defineCommand({
  path: ["app", "stop"],
  summary: "Stop an app of a mutable pod",
  usage: "app stop UUID --app=NAME [--timeout=SECONDS]",
  flags: { app: appNameFlag, timeout: stringFlag("seconds between TERM and KILL (default 10)") },
  async run(ctx, { values, positionals }) {
    requireRoot("app stop");
    const { uuid, app } = appArgument(positionals, values.app, "stop");
    await stopApp(new PodStore(ctx.globals.dataDir), uuid, app, parseTimeout(values.timeout));
    return 0;
  },
});
