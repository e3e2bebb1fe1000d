/**
 * Retrying transient registry failures with exponential backoff and jitter. Only failures that a
 * later attempt can fix are retried (connection reset, timeout, 429, 502, 503, 504); an auth
 * failure or a missing tag fails at once, because repeating it only delays the error.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { RktError, type ErrorKind, type RktErrorOptions } from "../../../lib/errors.js";

/** How many times to try and how long to wait between tries. */
export interface RetryPolicy {
  /** Total attempts, the first included. */
  readonly attempts: number;
  /** The delay ceiling after the first failure; it doubles after each further failure. */
  readonly baseDelayMs: number;
  /** No delay exceeds this, Retry-After included. */
  readonly maxDelayMs: number;
}

/** Four attempts over about 2 s at most: long enough for a registry restart, short for a user. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = { attempts: 4, baseDelayMs: 250, maxDelayMs: 8_000 };

/**
 * An RktError that a later attempt may not repeat. Callers outside the retry loop see a plain
 * RktError.
 */
export class RetryableError extends RktError {
  /** The server's Retry-After, when it sent one (RFC 9110 section 10.2.3). */
  readonly retryAfterMs: number | undefined;

  constructor(kind: ErrorKind, message: string, options: RktErrorOptions & { readonly retryAfterMs?: number | undefined } = {}) {
    super(kind, message, options);
    this.retryAfterMs = options.retryAfterMs;
  }
}

/**
 * The wait after the `failures`-th failure: a ceiling of base * 2^(failures-1), capped, of which
 * a random half is waited ("equal jitter"), so that many clients failing together do not retry
 * together.
 */
export function backoffDelay(failures: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, failures - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Options of withRetries. */
export interface RetryOptions {
  readonly policy: RetryPolicy;
  readonly signal?: AbortSignal | undefined;
  readonly random?: () => number;
}

/**
 * Runs `attempt` until it succeeds, throws something other than a RetryableError, or the policy's
 * attempts are used up (then the last error is thrown with the attempt count added). Aborting the
 * signal stops the waiting at once.
 *
 * @example
 * const bytes = await withRetries(() => fetchOnce(), { policy: DEFAULT_RETRY_POLICY, signal });
 */
export async function withRetries<T>(attempt: () => Promise<T>, options: RetryOptions): Promise<T> {
  const { policy, signal } = options;
  for (let n = 1; ; n++) {
    signal?.throwIfAborted();
    try {
      return await attempt();
    } catch (err) {
      if (!(err instanceof RetryableError) || signal?.aborted === true) throw err;
      if (n >= policy.attempts) {
        throw new RktError(err.kind, `${err.message} (gave up after ${n} attempts)`, { hint: err.hint, cause: err });
      }
      const delay = err.retryAfterMs === undefined ? backoffDelay(n, policy, options.random) : Math.min(err.retryAfterMs, policy.maxDelayMs);
      await sleep(delay, undefined, signal === undefined ? {} : { signal });
    }
  }
}

/**
 * Retry-After as milliseconds: delay-seconds or an HTTP-date (RFC 9110 section 10.2.3); undefined
 * when absent or unreadable.
 */
export function parseRetryAfter(value: string | undefined, now: number): number | undefined {
  if (value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
