/**
 * The files inside one pod directory. Stage0 (Node) writes the plan; the supervisor (stage1,
 * native) writes what happened; both sides agree on these names and nothing else.
 *
 * ```
 * pod                          the pod manifest (appc JSON)
 * pod-created                  creation time
 * stage1                       the stage1 flavor chosen at prepare (default | fly | sandbox)
 * run-options.json             options given at run time (network, hostname, dns, interactive)
 * net-info.json                CNI networks joined (configs and results), for DEL at teardown
 * apps/<app>/config.json       the OCI runtime config (the app's bundle is apps/<app>)
 * apps/<app>/rootfs/           the app's root filesystem: an overlay over shared layer trees
 * apps/<app>/start             NUL-separated argv that starts the app detached (supervisor runs it)
 * apps/<app>/signal            optional NUL-separated argv to signal it (signal name appended)
 * apps/<app>/pid               the app's host pid (written by the runtime)
 * apps/<app>/log               its output, in the Kubernetes CRI log format
 * apps/<app>/started, exit, finished    written by the supervisor
 * apps/<app>/{restart,stdin,log-path}  mutable pods: restart policy, stdin mode, log location
 * apps/<app>/{restarts,attach.sock,console.sock}  mutable pods: written/served by the supervisor
 * overlay/<app>/{upper,work}   the app's writable layer
 * volumes/<name>/              empty volumes
 * etc/{hosts,resolv.conf,hostname}      generated files bind-mounted into apps
 * supervisor/{apps,finally,pid,console.sock,log}
 * supervisor/control.sock      mutable pods: the supervisor's control socket (src/stage1/supervisor-control.ts)
 * mutate.lock                  mutable pods: serializes changes to the manifest
 * ```
 */
import { join } from "node:path";

export class PodFiles {
  constructor(readonly dir: string) {}

  get manifest(): string {
    return join(this.dir, "pod");
  }
  get created(): string {
    return join(this.dir, "pod-created");
  }
  get stage1(): string {
    return join(this.dir, "stage1");
  }
  /** The networks the pod joined (src/network/net-info.ts): what CNI DEL needs at teardown. */
  get netInfo(): string {
    return join(this.dir, "net-info.json");
  }
  get runOptions(): string {
    return join(this.dir, "run-options.json");
  }
  app(name: string): string {
    return join(this.dir, "apps", name);
  }
  appFile(name: string, file: "config.json" | "rootfs" | "start" | "signal" | "pid" | "log" | "started" | "exit" | "finished" | "image-id"): string {
    return join(this.dir, "apps", name, file);
  }
  overlay(name: string): { upper: string; work: string } {
    return { upper: join(this.dir, "overlay", name, "upper"), work: join(this.dir, "overlay", name, "work") };
  }
  volume(name: string): string {
    return join(this.dir, "volumes", name);
  }
  etc(file: "hosts" | "resolv.conf" | "hostname"): string {
    return join(this.dir, "etc", file);
  }
  supervisor(file: "apps" | "finally" | "pid" | "console.sock"): string {
    return join(this.dir, "supervisor", file);
  }
}

/** The OCI runtime container ID of an app: unique per pod and app, readable in `runc list`. */
export function containerId(uuid: string, app: string): string {
  return `rkt-${uuid}-${app}`;
}
