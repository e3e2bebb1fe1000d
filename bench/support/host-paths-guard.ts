/**
 * Peers leave traces outside the directories we give them: podman creates netavark's run
 * directory /run/containers/networks even with its storage, tmp and network config redirected,
 * and skopeo keeps a blob-info cache in /var/lib/containers/cache. A guard remembers which of
 * those paths did not exist before the benchmark and removes exactly those afterwards, so the
 * host is left as it was found.
 */
import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";

/** Paths the peers may create on the host although their storage is redirected. */
export const PEER_HOST_PATHS: readonly string[] = ["/run/containers", "/var/lib/containers"];

/**
 * Records which of `paths` are absent now; the returned function removes those of them that
 * exist by then (and leaves alone the ones that were there before).
 *
 * @example
 * const restore = guardHostPaths(PEER_HOST_PATHS);
 * cleanup.defer("remove what the peers created on the host", restore);
 */
export function guardHostPaths(paths: readonly string[]): () => Promise<void> {
  const absent = paths.filter((p) => !existsSync(p));
  return async () => {
    for (const p of absent) await rm(p, { recursive: true, force: true });
  };
}
