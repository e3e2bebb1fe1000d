/**
 * Pod networking the way the kubelet sets it up for every CRI runtime: the network is the first
 * configuration (in file-name order) of the CNI configuration directory (default /etc/cni/net.d),
 * and its plugins are found in the CNI binary directories (default /opt/cni/bin). No rkt default
 * network and no `default-restricted`: a Kubernetes pod has exactly the cluster network. When the
 * directory has no configuration, the network is not ready (the kubelet then keeps the node
 * NotReady and schedules only host-network pods), and pods get loopback only.
 */
import { access, constants } from "node:fs/promises";
import { join } from "node:path";
import { describe } from "../../lib/errors.js";
import { loadNetworkConfigs, type NetworkConfig } from "../../network/cni/network-config.js";
import type { SelectedNetwork } from "../../network/cni/select-networks.js";

/** Where the kubelet's CNI configuration and plugins are. */
export interface KubeletCni {
  readonly confDir: string;
  readonly binDirs: readonly string[];
}

/** The pod network, or why there is none. */
export type KubeletNetwork = { readonly ready: true; readonly network: NetworkConfig } | { readonly ready: false; readonly reason: string; readonly message: string };

/**
 * Reads the CNI directory and picks the pod network; checks that every plugin it chains is
 * installed.
 *
 * @example
 * const n = await kubeletNetwork({ confDir: "/etc/cni/net.d", binDirs: ["/opt/cni/bin"] });
 * if (n.ready) n.network.name; // "cbr0"
 */
export async function kubeletNetwork(cni: KubeletCni): Promise<KubeletNetwork> {
  let configs: readonly NetworkConfig[];
  try {
    configs = await loadNetworkConfigs({ netDir: cni.confDir, builtins: false });
  } catch (err) {
    return { ready: false, reason: "NetworkPluginNotReady", message: `the CNI configuration in ${cni.confDir} is not usable: ${describe(err)}` };
  }
  const network = configs[0];
  if (network === undefined) return { ready: false, reason: "NetworkPluginNotReady", message: `no CNI network configuration in ${cni.confDir}` };
  for (const plugin of network.plugins) {
    if (!(await findExecutable(cni.binDirs, plugin.type))) {
      return { ready: false, reason: "NetworkPluginNotReady", message: `CNI plugin "${plugin.type}" of network "${network.name}" (${network.source}) is not in ${cni.binDirs.join(", ")}` };
    }
  }
  return { ready: true, network };
}

/**
 * The network to join for a pod, as run options want it: interface eth0, and the CNI_ARGS the
 * kubelet's runtimes pass (plugins such as Calico read the pod's namespace and name from them;
 * `IgnoreUnknown` tells the others not to refuse them).
 */
export function selectedNetwork(network: NetworkConfig, pod: { readonly name: string; readonly namespace: string; readonly uid: string }): SelectedNetwork {
  const args = [["IgnoreUnknown", "1"], ["K8S_POD_NAMESPACE", pod.namespace], ["K8S_POD_NAME", pod.name], ["K8S_POD_UID", pod.uid]].filter(([, v]) => v !== "" && !/[;=\s]/.test(v ?? ""));
  return { config: network, ifname: "eth0", cniArgs: args.map(([k, v]) => `${k ?? ""}=${v ?? ""}`).join(";") };
}

async function findExecutable(dirs: readonly string[], name: string): Promise<boolean> {
  for (const dir of dirs) {
    try {
      await access(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}
