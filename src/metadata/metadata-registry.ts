/**
 * The pods the metadata service knows: registered by `rkt run --mds-register` over the
 * registration socket (root only), looked up by the token that `rkt run` gave the pod's apps
 * (AC_METADATA_URL). A token reaches only its own pod's data: there is no way to name another
 * pod in the public API, and an unknown token gets 401.
 *
 * A registration may name the pod's directory: the pod is then forgotten as soon as its lock is
 * no longer held (it exited), so the token of an exited pod stops working even when nobody
 * unregisters it.
 */
import { LockTable } from "../api/lock-table.js";
import type { PodManifest } from "../pod/pod-manifest.js";

/** A registered pod. */
export interface MetadataPod {
  readonly uuid: string;
  readonly token: string;
  readonly manifest: PodManifest;
  /** The pod manifest as registered, served verbatim. */
  readonly manifestJson: string;
  /** The pod's directory, when the registrar gave it (liveness check). */
  readonly podDir?: string | undefined;
  /** Image manifests (JSON text) of the apps, by app name. */
  readonly apps: Map<string, string>;
}

/** See the module comment. */
export class MetadataRegistry {
  private readonly byToken = new Map<string, MetadataPod>();
  private readonly byUuid = new Map<string, MetadataPod>();

  /** Registers (or re-registers) pod `pod.uuid`; an earlier token of the pod stops working. */
  register(pod: Omit<MetadataPod, "apps">): void {
    this.unregister(pod.uuid);
    const entry: MetadataPod = { ...pod, apps: new Map() };
    this.byUuid.set(pod.uuid, entry);
    this.byToken.set(pod.token, entry);
  }

  /** Adds an app's image manifest; false when the pod is not registered. */
  registerApp(uuid: string, app: string, imageManifestJson: string): boolean {
    const pod = this.byUuid.get(uuid);
    if (pod === undefined) return false;
    pod.apps.set(app, imageManifestJson);
    return true;
  }

  /** Forgets a pod; false when it was not registered. */
  unregister(uuid: string): boolean {
    const pod = this.byUuid.get(uuid);
    if (pod === undefined) return false;
    this.byUuid.delete(uuid);
    this.byToken.delete(pod.token);
    return true;
  }

  /** The live pod a token belongs to, or undefined (unknown token, or its pod has ended). */
  lookup(token: string): MetadataPod | undefined {
    const pod = this.byToken.get(token);
    if (pod === undefined) return undefined;
    if (pod.podDir !== undefined && !LockTable.read().isLocked(pod.podDir)) {
      this.unregister(pod.uuid);
      return undefined;
    }
    return pod;
  }

  /** How many pods are registered. */
  get size(): number {
    return this.byUuid.size;
  }
}
