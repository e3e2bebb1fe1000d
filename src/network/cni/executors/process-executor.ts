/**
 * The real {@link CniExecutor}: finds a plugin's executable in the plugin directories and runs it
 * the way CNI SPEC.md "Parameters" says: CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME,
 * CNI_ARGS and CNI_PATH in the environment, the configuration on stdin, the result or error JSON
 * on stdout, logs on stderr. rkt never implements a plugin itself; it runs the ones installed
 * (Debian's containernetworking-plugins in /usr/lib/cni) or dropped next to the configuration.
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { RktError } from "../../../lib/errors.js";
import type { CniExecutor, PluginOutcome, PluginRequest } from "../cni-exec.js";
import { cniErrorSchema } from "../cni-result.js";

/** Where plugins are looked for when nothing else is said, before `<localConfig>/net.d`. */
export const DEFAULT_PLUGIN_DIRS: readonly string[] = ["/usr/lib/cni", "/opt/cni/bin"];

/**
 * A plugin gets no environment from rkt's own but this PATH (plugins run `iptables`, and IPAM
 * plugins are found through CNI_PATH, not PATH).
 */
const PLUGIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const MAX_STDOUT = 4 * 1024 * 1024;
const MAX_STDERR = 64 * 1024;

/** Options of {@link ProcessCniExecutor}. */
export interface ProcessCniExecutorOptions {
  /** Absolute directories searched in order for a plugin's executable; also CNI_PATH. */
  readonly pluginDirs: readonly string[];
  /** Kill a plugin (SIGKILL) that runs longer than this; default 60 s. */
  readonly timeoutMs?: number;
  /**
   * A command the plugin runs under, e.g. `["ip", "netns", "exec", "H"]` to run it in another
   * network namespace than rkt's (a macvlan master must be in the namespace the plugin runs in).
   */
  readonly prefix?: readonly string[];
  /** Extra environment for the plugin (on top of PATH and the CNI_* variables). */
  readonly env?: Readonly<Record<string, string>>;
}

/**
 * Runs real CNI plugin executables.
 *
 * @example
 * const executor = new ProcessCniExecutor({ pluginDirs: ["/usr/lib/cni", "/etc/rkt/net.d"] });
 * const result = await addNetwork(executor, net, { containerId: uuid, netns, ifname: "eth0", cniArgs: "" });
 */
export class ProcessCniExecutor implements CniExecutor {
  private readonly pluginDirs: readonly string[];
  private readonly timeoutMs: number;
  private readonly prefix: readonly string[];
  private readonly env: Readonly<Record<string, string>>;

  constructor(options: ProcessCniExecutorOptions) {
    for (const dir of options.pluginDirs) {
      if (!isAbsolute(dir)) throw new RktError("invalid-argument", `CNI plugin directory "${dir}" is not an absolute path`);
    }
    this.pluginDirs = options.pluginDirs;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.prefix = options.prefix ?? [];
    this.env = options.env ?? {};
  }

  /** The executable of plugin `type`: the first regular, executable file of that name in the plugin directories. */
  async findPlugin(type: string): Promise<string> {
    // The type was checked to be a bare file name when the configuration was parsed; check again
    // here, since this is where it becomes a path that gets executed.
    if (type === "" || type === "." || type === ".." || type.includes("/")) {
      throw new RktError("invalid-argument", `CNI plugin type "${type}" is not a file name`);
    }
    for (const dir of this.pluginDirs) {
      const path = join(dir, type);
      try {
        if ((await stat(path)).isFile()) {
          await access(path, constants.X_OK);
          return path;
        }
      } catch {
        // not here (or not executable): keep looking
      }
    }
    throw new RktError("not-found", `CNI plugin "${type}" not found in ${this.pluginDirs.join(", ")}`, {
      hint: "install containernetworking-plugins, or put the plugin's executable in <local-config>/net.d",
    });
  }

  async invoke(req: PluginRequest): Promise<PluginOutcome> {
    if (req.signal?.aborted === true) throw new RktError("unavailable", `plugin ${req.pluginType} ${req.command}: aborted`, { cause: req.signal.reason });
    const path = await this.findPlugin(req.pluginType);
    const env: Record<string, string> = {
      PATH: PLUGIN_PATH,
      ...this.env,
      CNI_COMMAND: req.command,
      CNI_CONTAINERID: req.containerId,
      CNI_NETNS: req.netns,
      CNI_IFNAME: req.ifname,
      CNI_ARGS: req.cniArgs,
      CNI_PATH: this.pluginDirs.join(":"),
    };
    const what = `plugin ${req.pluginType} ${req.command}`;
    const run = await this.spawnPlugin(path, env, req.stdin, what, req.signal);
    const text = run.stdout.trim();
    let output: unknown = undefined;
    if (text !== "") {
      try {
        output = JSON.parse(text) as unknown;
      } catch {
        throw new RktError("internal", `${what}: printed something that is not JSON${run.code === 0 ? "" : ` and exited with ${run.code}`}: ${clip(text)}${stderrTail(run.stderr)}`);
      }
    }
    if (run.code === 0) return { ok: true, output };
    const parsed = cniErrorSchema.safeParse(output);
    if (parsed.success) return { ok: false, error: parsed.data };
    throw new RktError("internal", `${what}: exited with ${run.code} without a CNI error on stdout${stderrTail(run.stderr)}`);
  }

  private async spawnPlugin(path: string, env: Record<string, string>, stdin: string, what: string, signal: AbortSignal | undefined): Promise<{ code: number; stdout: string; stderr: string }> {
    const argv = [...this.prefix, path];
    const child = spawn(argv[0] as string, argv.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let reason: "timeout" | "abort" | "overflow" | undefined;
    const kill = (why: typeof reason): void => {
      reason ??= why;
      child.kill("SIGKILL");
    };
    child.stdout.on("data", (b: Buffer) => {
      outBytes += b.length;
      if (outBytes > MAX_STDOUT) kill("overflow");
      else stdout.push(b);
    });
    child.stderr.on("data", (b: Buffer) => {
      if (errBytes < MAX_STDERR) stderr.push(b);
      errBytes += b.length;
    });
    // A plugin that exits without reading stdin makes the write fail with EPIPE; its exit status
    // and output say what happened.
    child.stdin.on("error", () => undefined);
    child.stdin.end(stdin);
    const timer = setTimeout(() => kill("timeout"), this.timeoutMs);
    const onAbort = (): void => kill("abort");
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const [code, sig] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
        child.once("error", (err) => reject(new RktError("internal", `${what}: cannot run ${argv.join(" ")}: ${err.message}`, { cause: err })));
        child.once("close", (c, s) => resolve([c, s]));
      });
      const err = Buffer.concat(stderr).toString("utf8");
      if (reason === "timeout") throw new RktError("unavailable", `${what}: did not finish within ${this.timeoutMs / 1000} s and was killed${stderrTail(err)}`);
      if (reason === "abort") throw new RktError("unavailable", `${what}: aborted`, { cause: signal?.reason });
      if (reason === "overflow") throw new RktError("internal", `${what}: printed more than ${MAX_STDOUT} bytes`);
      if (code === null) throw new RktError("internal", `${what}: killed by ${sig ?? "a signal"}${stderrTail(err)}`);
      return { code, stdout: Buffer.concat(stdout).toString("utf8"), stderr: err };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

function clip(text: string): string {
  return text.length > 300 ? `${text.slice(0, 300)}...` : text;
}

function stderrTail(stderr: string): string {
  const t = stderr.trim();
  if (t === "") return "";
  const lines = t.split("\n");
  return ` (stderr: ${clip(lines.slice(-5).join(" | "))})`;
}
