/**
 * podman with all of its state in one temp directory: image storage (--root), run state
 * (--runroot), libpod's tmp dir, network config, and TMPDIR (where it stages blobs). The host's
 * podman storage is never read or written, and the settings that this machine needs
 * (machine.md: cgroupfs, file events logger, runc) are passed as flags, so the benchmark does not
 * depend on /etc/containers/containers.conf.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { makeTempDir } from "../../test/support/tmp.js";
import { removeTreeWithMounts } from "./remove-tree-with-mounts.js";
import { CommandFailedError, timedRun, type TimedRunOptions, type TimedRunResult } from "./timed-run.js";

/**
 * A private podman: `run()` times a podman command against the sandboxed storage.
 *
 * @example
 * const podman = await PodmanSandbox.create();
 * cleanup.defer("remove podman's storage", () => podman.destroy());
 * await podman.removeImage(ref);
 * const r = await podman.run(["pull", "--tls-verify=false", ref], { cpu: true });
 */
export class PodmanSandbox {
  readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  /** Makes the temp directory; podman initialises its storage there on first use. */
  static async create(): Promise<PodmanSandbox> {
    const dir = await makeTempDir("rkt-bench-podman-");
    await mkdir(join(dir, "tmp"));
    return new PodmanSandbox(dir);
  }

  /** podman's global flags that confine it to the sandbox. */
  globalArgs(): string[] {
    return [
      `--root=${join(this.dir, "root")}`,
      `--runroot=${join(this.dir, "runroot")}`,
      `--tmpdir=${join(this.dir, "libpod-tmp")}`,
      `--network-config-dir=${join(this.dir, "networks")}`,
      "--storage-driver=overlay",
      "--cgroup-manager=cgroupfs",
      "--events-backend=file",
      "--runtime=runc",
    ];
  }

  /** Runs `podman <sandbox flags> args...` (see {@link timedRun}). */
  async run(args: readonly string[], options: TimedRunOptions = {}): Promise<TimedRunResult> {
    return timedRun("podman", [...this.globalArgs(), ...args], { ...options, env: { TMPDIR: join(this.dir, "tmp"), ...options.env } });
  }

  /** `podman rmi -f ref` when present, then checks that it is gone. */
  async removeImage(ref: string, signal?: AbortSignal): Promise<void> {
    const opts = signal === undefined ? {} : { signal };
    if (await this.hasImage(ref, signal)) await this.run(["rmi", "--force", ref], opts);
    if (await this.hasImage(ref, signal)) throw new Error(`podman rmi -f ${ref}: the image is still there`);
  }

  /** `podman image exists ref`: exit 0 yes, 1 no. */
  async hasImage(ref: string, signal?: AbortSignal): Promise<boolean> {
    try {
      await this.run(["image", "exists", ref], signal === undefined ? {} : { signal });
      return true;
    } catch (err) {
      if (err instanceof CommandFailedError && err.exitCode === 1) return false;
      throw err;
    }
  }

  /**
   * Removes every image (so podman releases its layers), unmounts what its overlay driver
   * mounted under the sandbox, and deletes the directory.
   */
  async destroy(): Promise<void> {
    await this.run(["rmi", "--all", "--force"], { timeoutMs: 120_000 }).catch(() => undefined);
    await removeTreeWithMounts(this.dir);
  }
}
