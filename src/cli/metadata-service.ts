/**
 * `rkt metadata-service [--listen-port=PORT]`: run the appc metadata service (src/metadata) until
 * SIGINT/SIGTERM: pods started with `rkt run --mds-register` register on the unix socket, their
 * apps read their metadata and sign with their identity over HTTP. Needs root (the registration
 * socket lives in /run/rkt).
 */
import { DEFAULT_METADATA_PORT, METADATA_REGISTRATION_SOCKET } from "../metadata/metadata-defaults.js";
import { startMetadataService } from "../metadata/metadata-service.js";
import { RktError } from "../lib/errors.js";
import { boolFlag, stringFlag } from "./args/flags.js";
import { defineCommand } from "./command.js";

/** `rkt metadata-service`. */
export const metadataServiceCommand = defineCommand({
  path: ["metadata-service"],
  summary: "Run the metadata service",
  usage: `metadata-service [--listen-port=${DEFAULT_METADATA_PORT}]`,
  flags: {
    listenPort: stringFlag("port the apps' metadata API listens on", String(DEFAULT_METADATA_PORT)),
    listenAddress: { ...stringFlag("address the apps' metadata API listens on (pods reach it through their gateway)", "0.0.0.0"), hidden: true },
    registrationSocket: { ...stringFlag("unix socket `rkt run --mds-register` registers pods on", METADATA_REGISTRATION_SOCKET), hidden: true },
    quiet: boolFlag("do not log requests"),
  },
  async run(ctx, { values }) {
    const port = Number(values.listenPort);
    if (!/^\d{1,5}$/.test(values.listenPort) || port > 65535) {
      throw new RktError("invalid-argument", `invalid --listen-port "${values.listenPort}"`, { hint: `a TCP port, e.g. --listen-port=${DEFAULT_METADATA_PORT}` });
    }
    ctx.out.stderr("metadata service starting...\n");
    const service = await startMetadataService({
      registrationSocket: values.registrationSocket,
      listenAddress: values.listenAddress,
      listenPort: port,
      ...(values.quiet ? {} : { log: (line: string) => ctx.out.stderr(`${line}\n`) }),
    });
    ctx.out.stderr(`metadata service running on ${values.listenAddress}:${service.port}, registrations on ${values.registrationSocket}\n`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    ctx.out.stderr("metadata service exiting...\n");
    await service.close();
    return 0;
  },
});
