/**
 * The containers.conf a sandboxed podman needs on these machines (../shared/reference/machine.md):
 * the VM has no CAP_SYS_RESOURCE, so podman's default rlimits (nofile 1048576) make runc fail
 * with EPERM unless `default_ulimits` fits the caller's hard limits. scripts/install.sh writes
 * the same settings to /etc/containers/containers.conf; a benchmark should not depend on that
 * file being there (or unchanged), so it points podman at its own copy with CONTAINERS_CONF.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { PodmanSandbox } from "./podman-sandbox.js";

/** The settings of scripts/install.sh (podman reads only this file when CONTAINERS_CONF names it). */
export const BENCH_CONTAINERS_CONF = `# written by rkt's bench/ for a sandboxed podman (see scripts/install.sh)
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
`;

/**
 * Writes containers.conf into the sandbox and returns the environment for its podman commands
 * (pass it as `env` to `sandbox.run`, or with {@link podmanSpawnEnv} to a background podman).
 *
 * @example
 * const env = await sandboxContainersConf(podman);
 * await podman.run(["run", "--rm", image, "true"], { env });
 */
export async function sandboxContainersConf(sandbox: PodmanSandbox): Promise<Record<string, string>> {
  const file = join(sandbox.dir, "containers.conf");
  await writeFile(file, BENCH_CONTAINERS_CONF);
  return { CONTAINERS_CONF: file };
}

/** The environment `sandbox.run` gives podman (TMPDIR in the sandbox), for podman started by hand. */
export function podmanSpawnEnv(sandbox: PodmanSandbox, env: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return { ...process.env, TMPDIR: join(sandbox.dir, "tmp"), ...env };
}
