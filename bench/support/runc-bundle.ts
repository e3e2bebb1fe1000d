/**
 * The floor for running a container: a plain OCI runtime bundle that `runc run` starts without
 * any engine around it. The root filesystem is the image's layers unpacked in order with the
 * system tar (enough for images without whiteouts, like the busybox fixture); config.json is
 * `runc spec`'s default (new PID, network, IPC, UTS and mount namespaces, read-only root, its
 * default mounts, capabilities and masked paths) with no terminal and the given command.
 */
import { readFile, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { blobPath } from "../../test/support/oci-layout.js";
import { makeTempDir } from "../../test/support/tmp.js";
import { removeTreeWithMounts } from "./remove-tree-with-mounts.js";
import { timedRun, type TimedRunResult } from "./timed-run.js";

/** A bundle plus a private runc state directory (`runc --root`), so its containers are ours alone. */
export interface RuncBundle {
  readonly bundle: string;
  readonly stateRoot: string;
  /** `runc --root STATE run --bundle BUNDLE ID`: runs the container in the foreground, timed. */
  run(id: string, signal?: AbortSignal): Promise<TimedRunResult>;
  /** Deletes any container left in the state directory (an interrupted run) and removes everything. */
  remove(): Promise<void>;
}

/**
 * Builds a bundle from an image's layer blobs (in an OCI layout, lowest first).
 *
 * @example
 * const image = await busyboxImage({ dir: layout });
 * const runc = await makeRuncBundle(layout, image.layers.map((l) => l.descriptor.digest), ["/bin/true"]);
 * cleanup.defer("remove the runc bundle", () => runc.remove());
 * await runc.run("bench-1");
 */
export async function makeRuncBundle(layout: string, layerDigests: readonly string[], args: readonly string[]): Promise<RuncBundle> {
  const dir = await makeTempDir("rkt-bench-runc-");
  const bundle = join(dir, "bundle");
  const stateRoot = join(dir, "state");
  const rootfs = join(bundle, "rootfs");
  await mkdir(rootfs, { recursive: true });
  await mkdir(stateRoot);
  for (const digest of layerDigests) await timedRun("tar", ["-xf", blobPath(layout, digest), "-C", rootfs]);
  await timedRun("runc", ["spec", "--bundle", bundle]);
  const configPath = join(bundle, "config.json");
  const config = JSON.parse(await readFile(configPath, "utf8")) as { process: { terminal: boolean; args: string[] } };
  config.process.terminal = false;
  config.process.args = [...args];
  await writeFile(configPath, JSON.stringify(config, null, 2));
  return {
    bundle,
    stateRoot,
    run: (id, signal) => timedRun("runc", ["--root", stateRoot, "run", "--bundle", bundle, id], signal === undefined ? {} : { signal }),
    remove: async () => {
      const list = await timedRun("runc", ["--root", stateRoot, "list", "--quiet"]).catch(() => undefined);
      for (const id of (list?.stdout ?? "").split("\n").filter((s) => s !== "")) {
        await timedRun("runc", ["--root", stateRoot, "delete", "--force", id]).catch(() => undefined);
      }
      await removeTreeWithMounts(dir);
    },
  };
}
