/**
 * RuntimeService RPCs about the runtime itself: Version, Status (RuntimeReady, NetworkReady),
 * UpdateRuntimeConfig (the node's pod CIDR), RuntimeConfig (runtime.v1 only: the cgroup driver).
 */
import type { CriContext } from "../engine/cri-support/cri-context.js";
import { runtimeStatus, updatePodCidr } from "../engine/cri-support/runtime-status.js";
import type { CriVersion } from "./cri-protos.js";
import type { CriHandlers } from "./cri-handlers.js";

/** The kubelet's runtime API version that every CRI runtime answers (kubelet: kubeRuntimeAPIVersion). */
const KUBE_RUNTIME_API_VERSION = "0.1.0";

/** The runtime RPCs of CRI `version` over `ctx`; `rktVersion` is rkt's own. */
export function runtimeStatusHandlers(ctx: CriContext, version: CriVersion, rktVersion: string): CriHandlers {
  return {
    Version: () => Promise.resolve({ version: KUBE_RUNTIME_API_VERSION, runtime_name: "rkt", runtime_version: rktVersion, runtime_api_version: version }),
    Status: async (req: { readonly verbose: boolean }) => {
      const { conditions, info } = await runtimeStatus(ctx);
      return {
        status: { conditions },
        info: req.verbose ? { info: JSON.stringify(info) } : {},
        runtime_handlers: [{ name: "", features: { recursive_read_only_mounts: false, user_namespaces: false } }],
        features: { supplemental_groups_policy: false },
      };
    },
    UpdateRuntimeConfig: async (req: { readonly runtime_config: { readonly network_config: { readonly pod_cidr: string } | null } | null }) => {
      await updatePodCidr(ctx, req.runtime_config?.network_config?.pod_cidr ?? "");
      return {};
    },
    // rkt writes cgroupfs paths (the kubelet must use --cgroup-driver=cgroupfs).
    RuntimeConfig: () => Promise.resolve({ linux: { cgroup_driver: "CGROUPFS" } }),
  };
}
