/** `rkt app rm UUID --app=NAME`: stop and remove an app from a mutable pod. */
import { removeApp } from "../../engine/app/app-lifecycle.js";
import { PodStore } from "../../pod/pod-store.js";
import { stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { requireRoot } from "../pod/run.js";
import { appArgument, appNameFlag, parseTimeout } from "./app-arguments.js";

export const appRmCommand = defineCommand({
  path: ["app", "rm"],
  summary: "Remove an app from a mutable pod (stopping it first)",
  usage: "app rm UUID --app=NAME [--timeout=SECONDS]",
  flags: { app: appNameFlag, timeout: stringFlag("seconds between TERM and KILL if it runs (default 10)") },
  async run(ctx, { values, positionals }) {
    requireRoot("app rm");
    const { uuid, app } = appArgument(positionals, values.app, "rm");
    await removeApp(new PodStore(ctx.globals.dataDir), uuid, app, parseTimeout(values.timeout));
    return 0;
  },
});
