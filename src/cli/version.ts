/** `rkt version`: versions and features, in rkt's format. */
import { defineCommand } from "./command.js";

declare const RKT_VERSION: string | undefined;

export const versionCommand = defineCommand({
  path: ["version"],
  summary: "Print the version and exit",
  usage: "version",
  flags: {},
  run(ctx) {
    const version = typeof RKT_VERSION === "string" ? RKT_VERSION : "0.1.0+dev";
    ctx.out.stdout(
      [
        `rkt Version: ${version}`,
        "appc Version: 0.8.11",
        `Node Version: ${process.version}`,
        `Node OS/Arch: ${process.platform}/${process.arch === "x64" ? "amd64" : process.arch}`,
        "Features: -TPM -SDJOURNAL +OCI",
        "",
      ].join("\n"),
    );
    return Promise.resolve(0);
  },
});
