/** What `rkt run`, `rkt prepare` and `rkt run-prepared` share: requests and options from flags. */
import { dirname } from "node:path";
import { writeFileSync } from "node:fs";
import { loadAuthConfig } from "../../config/auth-config.js";
import { configuredStage1 } from "../../config/stage1-config.js";
import type { FetchOptions, PullPolicy } from "../../engine/image/fetch-images.js";
import type { PodRequest } from "../../engine/pod/app-request.js";
import type { RunOptions } from "../../engine/pod/run-pod.js";
import { parseFlavor, type Stage1Flavor } from "../../stage1/stage1-flavor.js";
import { RktError } from "../../lib/errors.js";
import type { FlagValues } from "../args/flags.js";
import { parseAppSections } from "../args/app-sections.js";
import type { CommandContext } from "../command.js";
import { readEnvFile } from "../../pod/app/app-env.js";
import { METADATA_REGISTRATION_SOCKET } from "../../metadata/metadata-defaults.js";
import { appFlags, appRequestFrom, keyValue, parseMount, parseVolume, podPrepareFlags, podRunFlags, stage1Flags } from "./pod-flags.js";

export async function podRequestFrom(ctx: CommandContext, v: FlagValues<typeof podPrepareFlags>, positionals: readonly string[], command: string): Promise<PodRequest> {
  const sections = parseAppSections(positionals, appFlags, command);
  const fromFiles = (await Promise.all(v.setEnvFile.map((f) => readEnvFile(f, ctx.signal)))).flat();
  return {
    apps: sections.map((s) => appRequestFrom(s.image, s.values, s.given, s.args)),
    volumes: v.volume.map(parseVolume),
    podMounts: v.mount.map(parseMount),
    ...(v.privateUsers ? { privateUsers: true } : {}),
    environment: {
      inherited: v.inheritEnv ? Object.entries(ctx.env).filter((e): e is [string, string] => e[1] !== undefined) : [],
      fromFiles,
      set: v.setEnv.map((e) => keyValue(e, "set-env")),
    },
  };
}

export function fetchOptionsFrom(ctx: CommandContext, pullPolicy: string, storeOnly: boolean, noStore: boolean): FetchOptions {
  const g = ctx.globals;
  const policy: PullPolicy = storeOnly ? "never" : noStore ? "update" : (pullPolicy as PullPolicy);
  return {
    pullPolicy: policy,
    insecure: g.insecure,
    auth: loadAuthConfig([g.systemConfigDir, g.localConfigDir, g.userConfigDir]),
    trust: { systemConfigDir: g.systemConfigDir, localConfigDir: g.localConfigDir, trustKeysFromHttps: g.trustKeysFromHttps },
    warn: (m) => ctx.out.stderr(`warning: ${m}\n`),
    signal: ctx.signal,
  };
}

export function flavorFrom(ctx: CommandContext, v: FlagValues<typeof stage1Flags>): Stage1Flavor {
  for (const [flag, value] of [["stage1-path", v.stage1Path], ["stage1-url", v.stage1Url], ["stage1-hash", v.stage1Hash], ["stage1-from-dir", v.stage1FromDir]] as const) {
    if (value !== "") {
      throw new RktError("unimplemented", `--${flag}: stage1 images are not supported; stage1 flavors are built in`, { hint: "use --stage1-name=default|crun|fly|sandbox" });
    }
  }
  const g = ctx.globals;
  const name = v.stage1Name !== "" ? v.stage1Name : (configuredStage1([g.systemConfigDir, g.localConfigDir, g.userConfigDir]) ?? "default");
  return parseFlavor(name);
}

export function runOptionsFrom(ctx: CommandContext, v: FlagValues<typeof podRunFlags>, detach: boolean): RunOptions {
  const net = v.net.length === 0 ? ["default"] : v.net;
  if (v.ipc === "parent") throw new RktError("unimplemented", "--ipc=parent is not supported yet");
  const launch = ctx.env.RKT_LAUNCH_FD;
  return {
    net,
    ports: v.port.map(parsePort),
    localConfig: ctx.globals.localConfigDir,
    ...(v.mdsRegister ? { metadataService: { socket: ctx.env.RKT_METADATA_SOCKET ?? METADATA_REGISTRATION_SOCKET } } : {}),
    ...(v.hostname === "" ? {} : { hostname: v.hostname }),
    dns: { servers: v.dns, search: v.dnsSearch, options: v.dnsOpt, ...(v.dnsDomain === "" ? {} : { domain: v.dnsDomain }) },
    hostsEntries: v.hostsEntry.map((e) => keyValue(e, "hosts-entry")),
    interactive: v.interactive,
    ...(v.interactive && process.stdout.isTTY ? { consoleSize: { rows: process.stdout.rows, columns: process.stdout.columns } } : {}),
    detach,
    insecure: ctx.globals.insecure,
    stage1Dir: dirname(ctx.self.script),
    rktArgv: [ctx.self.node, ctx.self.script, `--dir=${ctx.globals.dataDir}`, `--local-config=${ctx.globals.localConfigDir}`],
    ...(launch !== undefined && /^\d+$/.test(launch) ? { launchFd: Number(launch) } : {}),
    warn: (m) => ctx.out.stderr(`warning: ${m}\n`),
    signal: ctx.signal,
  };
}

/** `NAME:[HOSTIP:]HOSTPORT` */
function parsePort(text: string): { name: string; hostIP?: string; hostPort: number } {
  const m = /^([a-z0-9-]+):(?:(\d{1,3}(?:\.\d{1,3}){3}):)?(\d{1,5})$/.exec(text);
  const hostPort = Number(m?.[3]);
  if (m === null || hostPort < 1 || hostPort > 65535) {
    throw new RktError("invalid-argument", `invalid --port "${text}"`, { hint: "use NAME:[HOSTIP:]HOSTPORT, e.g. --port=80-tcp:8080" });
  }
  return { name: m[1] ?? "", ...(m[2] === undefined ? {} : { hostIP: m[2] }), hostPort };
}

export function saveUuid(path: string, uuid: string): void {
  if (path === "") return;
  try {
    writeFileSync(path, uuid);
  } catch (err) {
    throw new RktError("invalid-argument", `cannot write --uuid-file-save ${path}: ${(err as Error).message}`);
  }
}
