/**
 * `rkt cri`: the Kubernetes Container Runtime Interface server, the one long-running rkt process
 * (started by the operator like any node service; the kubelet's --container-runtime-endpoint
 * points at its socket). Pods and containers live on as mutable pods without it: stopping or
 * restarting the server loses nothing, it finds them again on disk.
 */
import { join, dirname } from "node:path";
import { loadAuthConfig } from "../config/auth-config.js";
import { loadRegistryMirrors } from "../config/registry-mirrors.js";
import type { CriContext } from "../engine/cri-support/cri-context.js";
import { ImageStore } from "../image/store/image-store.js";
import { RktError } from "../lib/errors.js";
import { PodStore } from "../pod/pod-store.js";
import { CriServer } from "../cri/cri-server.js";
import { EngineStreamingBackend } from "../cri/streaming/engine-backend.js";
import { StreamingServer } from "../cri/streaming/streaming-server.js";
import { requireContainer } from "../engine/cri-support/cri-container.js";
import { parseContainerId } from "../engine/cri-support/cri-ids.js";
import { stringFlag } from "./args/flags.js";
import { defineCommand } from "./command.js";
import { requireRoot } from "./pod/run.js";

declare const RKT_VERSION: string | undefined;

export const criCommand = defineCommand({
  path: ["cri"],
  summary: "Serve the Kubernetes CRI (runtime.v1 and v1alpha2) on a unix socket",
  usage: "cri [--listen=unix:///run/rkt/cri.sock] [--state-dir=DIR] [--cni-conf-dir=/etc/cni/net.d] [--cni-bin-dir=/opt/cni/bin] [--streaming-address=127.0.0.1:0]",
  flags: {
    listen: stringFlag("the unix socket to serve on", "unix:///run/rkt/cri.sock"),
    stateDir: stringFlag("where the server keeps its own state (default: <dir>/cri)"),
    cniConfDir: stringFlag("the kubelet's CNI configuration directory: the first network in it is the pod network", "/etc/cni/net.d"),
    cniBinDir: stringFlag("CNI plugin directories, comma-separated", "/opt/cni/bin"),
    streamingAddress: stringFlag('host:port of the streaming server for exec, attach and port-forward ("" for none)', "127.0.0.1:0"),
  },
  async run(ctx, { values }) {
    requireRoot("cri");
    const g = ctx.globals;
    const configDirs = [g.systemConfigDir, g.localConfigDir, g.userConfigDir];
    const binDirs = values.cniBinDir.split(",").filter((d) => d !== "");
    for (const d of [values.cniConfDir, ...binDirs]) {
      if (!d.startsWith("/")) throw new RktError("invalid-argument", `CNI directory "${d}" is not an absolute path`);
    }
    const log = (line: string): void => ctx.out.stderr(`${new Date().toISOString()} rkt cri: ${line}\n`);
    const criContext: CriContext = {
      pods: new PodStore(g.dataDir),
      images: ImageStore.open(g.dataDir),
      cni: { confDir: values.cniConfDir, binDirs },
      insecure: g.insecure,
      localConfig: g.localConfigDir,
      stage1Dir: dirname(ctx.self.script),
      auth: loadAuthConfig(configDirs),
      mirrors: loadRegistryMirrors(configDirs),
      stateDir: values.stateDir === "" ? join(g.dataDir, "cri") : values.stateDir,
      log,
    };
    // Exec, Attach and PortForward hand out URLs of the streaming server; it runs commands and
    // relays streams through the engine, for containers the CRI knows.
    const streaming =
      values.streamingAddress === ""
        ? undefined
        : new StreamingServer({
            address: values.streamingAddress,
            backend: new EngineStreamingBackend({
              pods: criContext.pods,
              resolveContainer: (id) => {
                const { uuid, app } = parseContainerId(id);
                requireContainer(criContext, uuid, app);
                return { podUuid: uuid, app };
              },
            }),
            log,
          });
    const streamingUrl = streaming === undefined ? undefined : (await streaming.start()).url;
    const server = new CriServer({
      listen: values.listen,
      ctx: criContext,
      streaming,
      rktVersion: typeof RKT_VERSION === "string" ? RKT_VERSION : "0.1.0+dev",
      log,
    });
    let socket: string;
    try {
      socket = await server.start();
    } catch (err) {
      await streaming?.stop();
      throw err;
    }
    log(`serving CRI runtime.v1 and runtime.v1alpha2 on unix://${socket} (pods in ${g.dataDir}, CNI ${values.cniConfDir}${streamingUrl === undefined ? "" : `, streaming at ${streamingUrl}`})`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) resolve();
      else ctx.signal.addEventListener("abort", () => resolve(), { once: true });
    });
    log("stopping (pods keep running)");
    await server.stop();
    await streaming?.stop();
    return 0;
  },
});
