/**
 * Status and UpdateRuntimeConfig: whether this node can run pods (RuntimeReady: the stage1
 * supervisor and the OCI runtime are installed) and give them a network (NetworkReady: the
 * kubelet's CNI directory has a usable network), and the node's pod CIDR the kubelet hands down,
 * kept in the server's state directory.
 */
import { access, constants, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { RktError } from "../../lib/errors.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { runtimeFor } from "../../stage1/stage1-flavor.js";
import type { CriContext } from "./cri-context.js";
import { kubeletNetwork } from "./kubelet-network.js";

/** A CRI `RuntimeCondition`. */
export interface RuntimeCondition {
  readonly type: string;
  readonly status: boolean;
  readonly reason: string;
  readonly message: string;
}

/**
 * The runtime's conditions (RuntimeReady, NetworkReady) and, verbosely, what they were judged
 * from.
 *
 * @example
 * const { conditions } = await runtimeStatus(ctx);
 * conditions.find((c) => c.type === "NetworkReady")?.status; // false without a CNI config
 */
export async function runtimeStatus(ctx: CriContext): Promise<{ conditions: RuntimeCondition[]; info: Record<string, unknown> }> {
  const missing: string[] = [];
  if (!(await executable(join(ctx.stage1Dir, "rkt-supervisor")))) missing.push(`${join(ctx.stage1Dir, "rkt-supervisor")} (run scripts/install.sh)`);
  const runtimeBinary = runtimeFor("default", () => undefined).binary;
  if (!(await onPath(runtimeBinary))) missing.push(`${runtimeBinary} (apt-get install runc)`);
  const runtime: RuntimeCondition =
    missing.length === 0 ? { type: "RuntimeReady", status: true, reason: "", message: "" } : { type: "RuntimeReady", status: false, reason: "RuntimeNotInstalled", message: `missing: ${missing.join(", ")}` };
  const net = await kubeletNetwork(ctx.cni);
  const network: RuntimeCondition = net.ready ? { type: "NetworkReady", status: true, reason: "", message: "" } : { type: "NetworkReady", status: false, reason: net.reason, message: net.message };
  return {
    conditions: [runtime, network],
    info: { cniConfDir: ctx.cni.confDir, cniBinDirs: ctx.cni.binDirs, network: net.ready ? { name: net.network.name, source: net.network.source } : null, podCIDR: await podCidr(ctx), dataDir: ctx.pods.dataDir },
  };
}

/** UpdateRuntimeConfig: records the node's pod CIDR ("" leaves it as it was, api.proto). */
export async function updatePodCidr(ctx: CriContext, cidr: string): Promise<void> {
  if (cidr === "") return;
  if (!/^[0-9a-fA-F.:]+\/\d{1,3}(,[0-9a-fA-F.:]+\/\d{1,3})*$/.test(cidr)) throw new RktError("invalid-argument", `"${cidr}" is not a CIDR (or a comma-separated list of them)`);
  await mkdir(ctx.stateDir, { recursive: true, mode: 0o700 });
  atomicWriteFileSync(join(ctx.stateDir, "pod-cidr"), cidr);
}

/** The pod CIDR last given by the kubelet, or "". */
export async function podCidr(ctx: CriContext): Promise<string> {
  try {
    return (await readFile(join(ctx.stateDir, "pod-cidr"), "utf8")).trim();
  } catch {
    return "";
  }
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The directories a root service finds programs in (the server's own PATH is not consulted). */
const SYSTEM_PATH = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

async function onPath(name: string): Promise<boolean> {
  if (name.startsWith("/")) return executable(name);
  for (const dir of SYSTEM_PATH) if (await executable(join(dir, name))) return true;
  return false;
}
