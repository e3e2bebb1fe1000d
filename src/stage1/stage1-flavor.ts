/**
 * Stage1 flavors, rkt's swappable execution engines. Each is an OCI runtime plus the rules for
 * the runtime config it gets:
 *
 * | flavor    | runtime | isolation                                                           |
 * |-----------|---------|---------------------------------------------------------------------|
 * | `default` | runc    | mount, PID, UTS, IPC and network namespaces; cgroups                |
 * | `crun`    | crun    | as default; needs a cgroup v2 or v1-only host (refuses hybrid mode) |
 * | `fly`     | runc    | the host's namespaces, a chroot-like root (rkt's stage1-fly)        |
 * | `sandbox` | runsc   | gVisor's user-space kernel (ptrace platform) for untrusted images   |
 *
 * All flavors share the native supervisor (src/stage1/supervisor): only the start/stop commands
 * and the config differ.
 */
import { existsSync, readFileSync } from "node:fs";
import { RktError } from "../lib/errors.js";

export const STAGE1_FLAVORS = ["default", "crun", "fly", "sandbox"] as const;
export type Stage1Flavor = (typeof STAGE1_FLAVORS)[number];

/** Where every runtime keeps its container state: one place, so `rkt gc` finds leftovers. */
export const RUNTIME_ROOT = "/run/rkt/runtime";

export interface OciRuntime {
  readonly flavor: Stage1Flavor;
  readonly binary: string;
  /** The runtime's `--root` state directory. */
  readonly root: string;
  /**
   * Starts the container detached, writing its pid to `pidFile`. `netns` is the pod's pinned
   * network namespace, for runtimes that must themselves run inside it.
   */
  startArgv(bundle: string, id: string, pidFile: string, consoleSocket: string | undefined, netns: string | undefined): string[];
  /** Signals the container (signal name appended by the supervisor), when kill(2) on the pid is not right. */
  signalArgv(id: string): string[] | undefined;
  deleteArgv(id: string): string[];
  killArgv(id: string, signal: string): string[];
  execArgv(id: string, tty: boolean, cwd: string | undefined, env: readonly string[], cmd: readonly string[]): string[];
  stateArgv(id: string): string[];
}

function runtime(flavor: Stage1Flavor, binary: string, globalArgs: readonly string[]): OciRuntime {
  const root = `${RUNTIME_ROOT}/${binary.split("/").pop() ?? binary}`;
  const g = [binary, "--root", root, ...globalArgs];
  return {
    flavor,
    binary,
    root,
    startArgv: (bundle, id, pidFile, consoleSocket, netns) => [
      // gVisor builds its network stack from the namespace it runs in, and refuses the host's.
      ...(binary.endsWith("runsc") && netns !== undefined ? ["nsenter", `--net=${netns}`] : []),
      ...g,
      "run",
      "--detach",
      "--bundle",
      bundle,
      "--pid-file",
      pidFile,
      ...(consoleSocket === undefined ? [] : ["--console-socket", consoleSocket]),
      id,
    ],
    // gVisor's pid is the sandbox, not the app: signal through the runtime.
    signalArgv: (id) => (binary.endsWith("runsc") ? [...g, "kill", id] : undefined),
    deleteArgv: (id) => [...g, "delete", "--force", id],
    killArgv: (id, signal) => [...g, "kill", id, signal],
    execArgv: (id, tty, cwd, env, cmd) => [...g, "exec", ...(tty ? ["--tty"] : []), ...(cwd === undefined ? [] : ["--cwd", cwd]), ...env.flatMap((e) => ["--env", e]), id, ...cmd],
    stateArgv: (id) => [...g, "state", id],
  };
}

/**
 * The runtime for a flavor. crun is detected: on a hybrid cgroup host (v1 controllers plus a v2
 * mount at /sys/fs/cgroup/unified) it refuses every container, so rkt says so and uses runc.
 */
export function runtimeFor(flavor: Stage1Flavor, warn: (message: string) => void): OciRuntime {
  switch (flavor) {
    case "default":
    case "fly":
      return runtime(flavor, "runc", []);
    case "crun": {
      const why = crunUnsupportedReason();
      if (why !== undefined) {
        warn(`stage1 "crun" cannot run here (${why}); using the default stage1 (runc) instead`);
        return runtime("default", "runc", []);
      }
      return runtime("crun", "crun", []);
    }
    case "sandbox":
      if (!existsSync("/usr/bin/runsc") && !existsSync("/usr/local/bin/runsc")) {
        throw new RktError("failed-precondition", "stage1 \"sandbox\" needs gVisor's runsc, which is not installed", { hint: "apt-get install runsc, or choose another stage1" });
      }
      // ptrace: the kvm platform hung here. --network=none gives the app gVisor's own loopback
      // only; joining CNI networks through gVisor's netstack (--network=sandbox) is not wired up.
      return runtime("sandbox", "runsc", ["--platform=ptrace", "--network=none"]);
  }
}

export function parseFlavor(name: string): Stage1Flavor {
  if ((STAGE1_FLAVORS as readonly string[]).includes(name)) return name as Stage1Flavor;
  throw new RktError("invalid-argument", `unknown stage1 "${name}"`, { hint: `available: ${STAGE1_FLAVORS.join(", ")}` });
}

function crunUnsupportedReason(): string | undefined {
  if (!existsSync("/usr/bin/crun")) return "crun is not installed";
  const mounts = readFileSync("/proc/self/mounts", "utf8");
  const hybrid = /\scgroup\s/.test(mounts) && /\s\/sys\/fs\/cgroup\/unified\scgroup2\s/.test(mounts);
  return hybrid ? "the host mixes cgroup v1 controllers with a cgroup v2 mount (hybrid mode), which crun refuses" : undefined;
}
