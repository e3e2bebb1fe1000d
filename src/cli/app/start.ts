/** `rkt app start UUID --app=NAME`: start an app of a mutable pod. */
import { startApp } from "../../engine/app/app-lifecycle.js";
import { PodStore } from "../../pod/pod-store.js";
import { defineCommand } from "../command.js";
import { requireRoot } from "../pod/run.js";
import { appArgument, appNameFlag } from "./app-arguments.js";

export const appStartCommand = defineCommand({
  path: ["app", "start"],
  summary: "Start an app of a mutable pod",
  usage: "app start UUID --app=NAME",
  flags: { app: appNameFlag },
  async run(ctx, { values, positionals }) {
    requireRoot("app start");
    const { uuid, app } = appArgument(positionals, values.app, "start");
    await startApp(new PodStore(ctx.globals.dataDir), uuid, app);
    return 0;
  },
});
