/**
 * Side-by-side timing in rounds: every contender runs once as a warm-up, then once per round with
 * the order rotated per round, so drift on a shared machine (other people's tests starting and
 * stopping) falls on every contender alike. A run that fails (not an interrupt) is recorded and
 * repeated, up to twice, and never counted. A contender may report the parts of its run (the
 * steps of a multi-command unit) beside its wall time; they are kept per sample.
 */

/** One timed run: its wall time, plus the parts it consisted of (ms, by name). */
export interface TimedSample {
  readonly wallMs: number;
  readonly parts?: Readonly<Record<string, number>>;
}

/** A timed contender: `run` times one run; `after` tidies up, untimed, after every attempt. */
export interface Contender {
  readonly name: string;
  run(): Promise<TimedSample>;
  after?(): Promise<void>;
}

/** Runs that failed and were repeated, by name, with the last line of why. */
export class RetryLog {
  readonly #failures = new Map<string, string[]>();

  /** Notes one failed attempt of `name`. */
  record(name: string, why: string): void {
    this.#failures.set(name, [...(this.#failures.get(name) ?? []), why]);
  }

  /** Report lines for the failed attempts of `names` (empty when none failed). */
  notes(names: readonly string[]): string[] {
    return names.flatMap((name) => {
      const f = this.#failures.get(name) ?? [];
      return f.length === 0 ? [] : ["", `note: ${f.length} run(s) of "${name}" failed and were repeated (not counted); last error: ${f[f.length - 1]}`];
    });
  }

  /** Every failure, for the raw results file. */
  toJSON(): Record<string, string[]> {
    return Object.fromEntries(this.#failures);
  }
}

/** How {@link runRounds} and {@link withRetries} report. */
export interface RoundOptions {
  readonly signal: AbortSignal;
  readonly retries: RetryLog;
  /** Progress lines (stderr). */
  readonly log: (line: string) => void;
  /** Prefix of progress lines. */
  readonly label: string;
}

/**
 * `fn()`, repeated up to twice when it fails (not when `signal` is aborted); `after` runs after
 * every attempt, successful or not.
 *
 * @example
 * const r = await withRetries("rkt rm", opts, () => store.rkt(["rm", uuid]));
 */
export async function withRetries<T>(name: string, options: RoundOptions, fn: () => Promise<T>, after?: () => Promise<void>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await fn();
      await after?.();
      return result;
    } catch (err) {
      if (options.signal.aborted || attempt >= 2) throw err;
      const why = (err instanceof Error ? err.message : String(err)).split("\n").filter((l) => l.trim() !== "").slice(-1)[0] ?? "?";
      options.log(`${options.label}: ${name}: failed, repeating: ${why}`);
      options.retries.record(name, why);
      await after?.().catch(() => undefined);
    }
  }
}

/**
 * One warm-up of each contender, then `rounds` rounds with every contender once, the order
 * rotated by one per round. Returns the samples of the rounds (not the warm-ups), by name.
 *
 * @example
 * const samples = await runRounds([rkt, podman], 15, { signal, retries, log, label: "start" });
 * median(samples.get("rkt")!.map((s) => s.wallMs));
 */
export async function runRounds(contenders: readonly Contender[], rounds: number, options: RoundOptions): Promise<Map<string, TimedSample[]>> {
  const once = (c: Contender): Promise<TimedSample> => withRetries(c.name, options, () => c.run(), c.after?.bind(c));
  for (const c of contenders) await once(c);
  const samples = new Map<string, TimedSample[]>(contenders.map((c) => [c.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let i = 0; i < contenders.length; i++) {
      const c = contenders[(i + round) % contenders.length]!;
      samples.get(c.name)!.push(await once(c));
    }
    if ((round + 1) % 5 === 0 || round + 1 === rounds) options.log(`${options.label}: ${round + 1}/${rounds} rounds`);
  }
  return samples;
}
