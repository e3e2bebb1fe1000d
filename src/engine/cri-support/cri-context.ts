/**
 * Everything the CRI use cases share: the stores, where the kubelet's CNI configuration is, and
 * how rkt starts pods (the same run options `rkt app sandbox` builds from its flags). The CRI
 * server builds one at start-up; nothing in it changes while it serves.
 */
import type { AuthConfig } from "../../config/auth-config.js";
import type { InsecureOptions } from "../../config/insecure-options.js";
import type { RegistryMirror } from "../../config/registry-mirrors.js";
import type { ImageStore } from "../../image/store/image-store.js";
import type { PodStore } from "../../pod/pod-store.js";
import type { KubeletCni } from "./kubelet-network.js";

/** See the module comment. */
export interface CriContext {
  readonly pods: PodStore;
  readonly images: ImageStore;
  readonly cni: KubeletCni;
  /** `--insecure-options` of the server (what apps may loosen, plain HTTP to registries). */
  readonly insecure: InsecureOptions;
  /** `--local-config` (rkt's configuration; the pods' teardown reads it). */
  readonly localConfig: string;
  /** Where the native stage1 programs are (dist/). */
  readonly stage1Dir: string;
  /** Registry credentials of rkt's auth.d (the kubelet's own, per pull, come first). */
  readonly auth: AuthConfig;
  /** Registry mirrors of rkt's registries.d. */
  readonly mirrors: readonly RegistryMirror[];
  /** Where the server keeps its own few facts (the pod CIDR). */
  readonly stateDir: string;
  /** Non-fatal events worth a line in the server's log. */
  readonly log: (line: string) => void;
}
