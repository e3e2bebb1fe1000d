/**
 * `rkt run --mds-register`: before the apps start, register the pod with the metadata service
 * (src/metadata) and give every app `AC_METADATA_URL=http://HOST:PORT/TOKEN` (appc ACE spec),
 * where TOKEN is a fresh random secret of this pod (32 bytes, base64url) and HOST the address at
 * which the pod reaches the host: its first network's gateway, or 127.0.0.1 with the host's
 * network. The token is in the apps' OCI configs only, which become readable by root alone; it
 * is never in the pod manifest (which the API service shows).
 *
 * The service forgets the pod when its lock goes (the registration names the pod directory), so
 * nothing needs to unregister it.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { RktError } from "../../lib/errors.js";
import type { ImageStore } from "../../image/store/image-store.js";
import { parseNetInfo, summarizeNetInfo } from "../../network/net-info.js";
import type { PodFiles } from "../../pod/pod-files.js";
import type { PodManifest } from "../../pod/pod-manifest.js";
import type { PodRef } from "../../pod/pod-store.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";

/** What {@link registerPodMetadata} needs. */
export interface MetadataRegistrationInput {
  readonly images: ImageStore;
  readonly ref: PodRef;
  readonly files: PodFiles;
  readonly manifest: PodManifest;
  /** The registration socket (`/run/rkt/metadata-svc.sock`). */
  readonly socket: string;
  /** The pod shares the host's network (then the service is at 127.0.0.1). */
  readonly hostNetwork: boolean;
  readonly warn: (message: string) => void;
  readonly signal?: AbortSignal | undefined;
}

/**
 * Registers the pod and adds AC_METADATA_URL to each app's OCI config (written by prepareApp).
 * Throws RktError "unavailable" when no metadata service answers on the socket.
 *
 * @example
 * await registerPodMetadata({ images, ref, files, manifest, socket, hostNetwork: false, warn });
 */
export async function registerPodMetadata(input: MetadataRegistrationInput): Promise<void> {
  const { images, ref, files, manifest } = input;
  const token = randomBytes(32).toString("base64url");
  const apps = manifest.apps.map((a) => ({ name: a.name, imageManifest: imageManifestOf(images, a.image.id) }));
  // Loaded here: only pods started with --mds-register pay for the client.
  const { registerPod } = await import("../../metadata/register-pod.js");
  const { port } = await registerPod(input.socket, { uuid: ref.uuid, token, manifest, podDir: ref.path, apps }, input.signal);
  const host = input.hostNetwork ? "127.0.0.1" : gatewayOf(files);
  if (host === undefined) input.warn("--mds-register: the pod has no network that reaches the host, so its apps cannot reach the metadata service (use --net=default or --net=host)");
  const url = `http://${host ?? "127.0.0.1"}:${port}/${token}`;
  for (const app of manifest.apps) addEnvironment(files.appFile(app.name, "config.json"), "AC_METADATA_URL", url);
}

/** The image manifest the service serves for an app: the ACI's manifest, or the OCI/Docker manifest. */
function imageManifestOf(images: ImageStore, id: string): Buffer {
  const record = images.getImage(id);
  if (record === undefined) throw new RktError("not-found", `image ${id} is no longer in the store`);
  return images.readBlob(record.aci !== undefined ? record.configDigest : record.id);
}

/** The gateway of the pod's first network that has one: the host's address as the pod sees it. */
function gatewayOf(files: PodFiles): string | undefined {
  let text: string;
  try {
    text = readFileSync(files.netInfo, "utf8");
  } catch {
    return undefined;
  }
  for (const n of summarizeNetInfo(parseNetInfo(text))) {
    const gw = n.ips.find((ip) => ip.version === "4" && ip.gateway !== undefined)?.gateway;
    if (gw !== undefined) return gw;
  }
  return undefined;
}

/** Adds NAME=VALUE to an OCI config's process.env; the config is then readable by root only. */
function addEnvironment(configPath: string, name: string, value: string): void {
  const config = JSON.parse(readFileSync(configPath, "utf8")) as { process?: { env?: string[] } };
  if (config.process === undefined) throw new RktError("internal", `${configPath} has no process`);
  config.process.env = [...(config.process.env ?? []).filter((e) => !e.startsWith(`${name}=`)), `${name}=${value}`];
  atomicWriteFileSync(configPath, JSON.stringify(config, null, 2), 0o600);
}
