/**
 * Cleanup for benchmark scripts: steps registered as resources are created, run in reverse order
 * at the end, on failure, and on Ctrl-C (SIGINT) or SIGTERM. A benchmark starts registries,
 * podman storage and stores of hundreds of megabytes; none of it may outlive the run.
 */

interface Step {
  readonly what: string;
  readonly fn: () => Promise<void> | void;
}

/**
 * A stack of cleanup steps plus the AbortSignal that tells running work to stop.
 *
 * @example
 * const cleanup = new Cleanup();
 * cleanup.onInterrupt();
 * try {
 *   const registry = await startRegistry();
 *   cleanup.defer("stop the registry", () => registry.stop());
 *   // ... pass cleanup.signal to anything that spawns
 * } finally {
 *   await cleanup.run();
 * }
 */
export class Cleanup {
  readonly #steps: Step[] = [];
  readonly #abort = new AbortController();
  #running: Promise<void> | undefined;

  /** Aborted on SIGINT/SIGTERM: children spawned with it are killed. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Registers `fn` to run at the end (last registered runs first). */
  defer(what: string, fn: () => Promise<void> | void): void {
    this.#steps.push({ what, fn });
  }

  /**
   * Runs every step once, newest first. A failing step is reported on stderr and the others
   * still run. Calling it again returns the same promise.
   */
  run(): Promise<void> {
    this.#running ??= (async () => {
      for (let step = this.#steps.pop(); step !== undefined; step = this.#steps.pop()) {
        try {
          await step.fn();
        } catch (err) {
          process.stderr.write(`cleanup: ${step.what}: ${err instanceof Error ? err.message : String(err)}\n`);
        }
      }
    })();
    return this.#running;
  }

  /**
   * On the first SIGINT or SIGTERM: abort running work (commands are stopped and awaited), and
   * leave the exit code at 130 (or 143). The caller's `finally` then runs the cleanup; if the
   * work does not unwind within 20 s, the cleanup runs anyway and the process exits. A second
   * signal exits at once.
   */
  onInterrupt(): void {
    let interrupted = false;
    const handler = (sig: NodeJS.Signals): void => {
      const code = sig === "SIGINT" ? 130 : 143;
      if (interrupted) process.exit(code);
      interrupted = true;
      process.exitCode = code;
      process.stderr.write(`\n${sig}: stopping and cleaning up (again to exit at once)\n`);
      this.#abort.abort(new Error(`interrupted by ${sig}`));
      setTimeout(() => void this.run().finally(() => process.exit(code)), 20_000).unref();
    };
    process.on("SIGINT", handler);
    process.on("SIGTERM", handler);
  }
}
