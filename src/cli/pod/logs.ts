/** `rkt logs [--app=NAME] [-f] UUID`: print the output of a pod's apps, running or exited. */
import { readLogs } from "../../engine/pod/read-logs.js";
import { PodStore } from "../../pod/pod-store.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { podArgument } from "./pod-arguments.js";

export const logsCommand = defineCommand({
  path: ["logs"],
  summary: "Print the output of a pod's apps (running or exited)",
  usage: "logs [--app=NAME] [-f|--follow] [--timestamps] UUID",
  flags: {
    app: stringFlag("only this app's output"),
    follow: { kind: "bool", help: "keep printing new output until the pod exits", default: false, short: "f" },
    timestamps: boolFlag("prefix each line with its time"),
    uuidFile: stringFlag("read the pod UUID from this file"),
  },
  async run(ctx, { values, positionals }) {
    const pods = new PodStore(ctx.globals.dataDir);
    const ref = pods.find(podArgument(positionals, values.uuidFile, "logs"));
    await readLogs(pods, ref, {
      ...(values.app === "" ? {} : { app: values.app }),
      follow: values.follow,
      signal: ctx.signal,
      onRecord: (_app, r) => {
        const text = values.timestamps ? `${r.time} ${r.text}` : r.text;
        if (r.stream === "stdout") ctx.out.stdout(text);
        else ctx.out.stderr(text);
      },
    });
    return 0;
  },
});
