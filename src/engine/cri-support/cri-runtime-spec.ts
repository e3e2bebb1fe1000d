/**
 * What a CRI container needs in its OCI runtime config (runtime-spec config.md, config-linux.md)
 * beyond what rkt's app model expresses, applied to the config rkt built for the app before it
 * first starts: the kubelet's bind mounts with their propagation, the exact cgroup limits the
 * kubelet computed (CPU period/quota/shares, cpusets, memory and swap), oom_score_adj, the
 * sandbox's sysctls, the node's PID or IPC namespace, and the kubelet's cgroup parent. Pure: the
 * caller reads and writes config.json.
 */
import { posix } from "node:path";
import { RktError } from "../../lib/errors.js";
import type { RuntimeSpec, SpecMount, SpecNamespace } from "../../stage1/oci/runtime-spec-types.js";
import type { ContainerRecord, SandboxRecord } from "./cri-records.js";

/** The runtime config fields this module sets that rkt's own builder has no type for. */
interface CriSpecLinux {
  readonly sysctl?: Readonly<Record<string, string>>;
  readonly rootfsPropagation?: string;
  readonly resources?: {
    readonly cpu?: { readonly shares?: number; readonly quota?: number; readonly period?: number; readonly cpus?: string; readonly mems?: string };
    readonly memory?: { readonly limit?: number; readonly swap?: number };
  };
}

/** What the adjustments depend on. */
export interface CriSpecInput {
  readonly uuid: string;
  readonly app: string;
  readonly sandbox: SandboxRecord;
  readonly container: ContainerRecord;
  /** The container's own PID namespace mode (CONTAINER unless the kubelet says NODE or POD). */
  readonly pidMode: "POD" | "CONTAINER" | "NODE" | "TARGET";
  /** Whether this host lets rkt set a negative oom_score_adj (CAP_SYS_RESOURCE). */
  readonly negativeOomAllowed: boolean;
}

const PROPAGATION = { PROPAGATION_PRIVATE: "rprivate", PROPAGATION_HOST_TO_CONTAINER: "rslave", PROPAGATION_BIDIRECTIONAL: "rshared" } as const;

/**
 * Returns `spec` with the CRI's settings applied (see the module comment).
 *
 * @example
 * const next = criRuntimeSpec(JSON.parse(readFileSync(config, "utf8")), { uuid, app, sandbox, container, pidMode: "CONTAINER", negativeOomAllowed: false });
 */
export function criRuntimeSpec(spec: RuntimeSpec, input: CriSpecInput): RuntimeSpec {
  const { sandbox, container } = input;
  const mounts: SpecMount[] = [...(spec.mounts ?? [])];
  let rootfsPropagation: string | undefined;
  for (const m of container.mounts) {
    if (!posix.isAbsolute(m.container_path)) throw new RktError("invalid-argument", `mount destination ${JSON.stringify(m.container_path)} is not an absolute path`);
    const destination = posix.normalize(m.container_path).replace(/(.)\/+$/, "$1");
    const propagation = PROPAGATION[m.propagation];
    // A mount can only receive (rslave) or send (rshared) events if the container's root does.
    if (propagation === "rshared") rootfsPropagation = "rshared";
    else if (propagation === "rslave" && rootfsPropagation === undefined) rootfsPropagation = "rslave";
    const mount: SpecMount = { destination, type: "bind", source: m.host_path, options: ["rbind", m.readonly ? "ro" : "rw", propagation] };
    // The kubelet's /etc/hosts (and any mount over a path rkt or the image already mounts) wins.
    const at = mounts.findIndex((x) => posix.normalize(x.destination) === destination);
    if (at >= 0) mounts[at] = mount;
    else mounts.push(mount);
  }

  const r = container.resources;
  const num = (v: string): number => Number(v);
  const cpu = {
    ...(num(r.cpu_shares) > 0 ? { shares: num(r.cpu_shares) } : {}),
    ...(num(r.cpu_quota) > 0 ? { quota: num(r.cpu_quota) } : {}),
    ...(num(r.cpu_period) > 0 ? { period: num(r.cpu_period) } : {}),
    ...(r.cpuset_cpus === "" ? {} : { cpus: r.cpuset_cpus }),
    ...(r.cpuset_mems === "" ? {} : { mems: r.cpuset_mems }),
  };
  const memory = {
    ...(num(r.memory_limit_in_bytes) > 0 ? { limit: num(r.memory_limit_in_bytes) } : {}),
    ...(num(r.memory_swap_limit_in_bytes) > 0 ? { swap: num(r.memory_swap_limit_in_bytes) } : {}),
  };
  const linux = (spec.linux ?? {}) as NonNullable<RuntimeSpec["linux"]> & CriSpecLinux;
  const resources = {
    ...linux.resources,
    ...(Object.keys(cpu).length > 0 ? { cpu: { ...linux.resources?.cpu, ...cpu } } : {}),
    ...(Object.keys(memory).length > 0 ? { memory: { ...linux.resources?.memory, ...memory } } : {}),
  };

  const hostPid = input.pidMode === "NODE" || sandbox.namespaces.pid === "NODE";
  const hostIpc = sandbox.namespaces.ipc === "NODE";
  const namespaces = (linux.namespaces ?? []).filter((ns: SpecNamespace) => !(hostPid && ns.type === "pid") && !(hostIpc && ns.type === "ipc"));

  let oom = num(r.oom_score_adj);
  // The kubelet gives Guaranteed pods -997; without CAP_SYS_RESOURCE the kernel refuses any
  // negative value, and the container would not start at all.
  if (oom < 0 && !input.negativeOomAllowed) oom = 0;
  const adjustOom = r.oom_score_adj !== "0";

  const next: RuntimeSpec & { linux: CriSpecLinux } = {
    ...spec,
    process: { ...spec.process, ...(adjustOom ? { oomScoreAdj: oom } : {}) },
    mounts,
    linux: {
      ...linux,
      namespaces,
      resources,
      ...(Object.keys(sandbox.sysctls).length > 0 ? { sysctl: { ...sandbox.sysctls } } : {}),
      ...(rootfsPropagation === undefined ? {} : { rootfsPropagation }),
      ...(sandbox.cgroupParent === "" ? {} : { cgroupsPath: `${sandbox.cgroupParent.replace(/\/+$/, "")}/rkt-${input.uuid}-${input.app}` }),
    },
  };
  return next;
}
