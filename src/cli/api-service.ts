/**
 * `rkt api-service [--listen=ADDR]...`: serve rkt's read-only gRPC API (v1alpha.PublicAPI) for
 * the data directory until SIGINT/SIGTERM. Needs no root: read access to the data directory is
 * enough (README, "API service and metadata service").
 */
import { API_VERSION, DEFAULT_API_LISTEN, startApiService } from "../api/api-server.js";
import { AC_VERSION } from "../pod/pod-manifest.js";
import { listFlag } from "./args/flags.js";
import { defineCommand } from "./command.js";

declare const RKT_VERSION: string | undefined;

/** `rkt api-service`. */
export const apiServiceCommand = defineCommand({
  path: ["api-service"],
  summary: "Run the API service (gRPC, read-only)",
  usage: `api-service [--listen=${DEFAULT_API_LISTEN}] [--listen=unix:///run/rkt/api.sock]`,
  flags: {
    listen: listFlag(`address to listen for client API requests: HOST:PORT or unix:///PATH; repeatable (default ${DEFAULT_API_LISTEN})`),
  },
  async run(ctx, { values }) {
    const g = ctx.globals;
    ctx.out.stderr("API service starting...\n");
    const service = await startApiService({
      dataDir: g.dataDir,
      listen: values.listen.length === 0 ? [DEFAULT_API_LISTEN] : values.listen,
      info: {
        rkt_version: typeof RKT_VERSION === "string" ? RKT_VERSION : "0.1.0+dev",
        appc_version: AC_VERSION,
        api_version: API_VERSION,
        global_flags: {
          dir: g.dataDir,
          system_config_dir: g.systemConfigDir,
          local_config_dir: g.localConfigDir,
          user_config_dir: g.userConfigDir,
          insecure_flags: [...g.insecure].join(","),
          trust_keys_from_https: g.trustKeysFromHttps,
        },
      },
    });
    ctx.out.stderr(`API service running on ${service.addresses.join(", ")}\n`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    ctx.out.stderr("API service exiting...\n");
    await service.close();
    return 0;
  },
});
