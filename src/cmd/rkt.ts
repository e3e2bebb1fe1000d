/** The `rkt` entry point: argv, env and signals in; exit code out. Nothing else lives here. */
import { main } from "../cli/main.js";
import { processOutput } from "../cli/output/output.js";

const controller = new AbortController();
let interrupted = 0;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    interrupted++;
    // First signal: stop cleanly (downloads abort, temp files are removed). Second: give up now.
    if (interrupted > 1) process.exit(130);
    controller.abort(new Error(`interrupted by ${sig}`));
  });
}

const code = await main(process.argv.slice(2), process.env, processOutput(), controller.signal, { node: process.execPath, script: process.argv[1] ?? "" });
// Exit as soon as the output is flushed: idle keep-alive sockets or timers of a finished download
// must not hold a finished command open. An empty write calls back after the earlier ones.
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
