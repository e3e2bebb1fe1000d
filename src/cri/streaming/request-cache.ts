/**
 * One-time tokens for streaming URLs, as kubelet's CRI streaming server hands them out: the CRI
 * Exec/Attach/PortForward RPC stores the request under a random token and returns a URL with
 * it; the first connection to that URL consumes it. Tokens expire (default one minute) and at
 * most `maxInFlight` wait at once, so a client that never connects cannot grow the cache.
 */
import { randomBytes } from "node:crypto";
import { RktError } from "../../lib/errors.js";

/** Options of {@link RequestCache}. */
export interface RequestCacheOptions {
  /** How long a token stays valid. Default 60 000 ms. */
  readonly ttlMs?: number;
  /** Unconsumed tokens allowed at once. Default 1000. */
  readonly maxInFlight?: number;
  /** The clock (tests). */
  readonly now?: () => number;
}

interface Entry<T> {
  readonly value: T;
  readonly expires: number;
}

/**
 * Tokens to requests.
 *
 * @example
 * const cache = new RequestCache<string>();
 * const token = cache.insert("exec request");
 * cache.consume(token); // "exec request"; a second consume gives undefined
 */
export class RequestCache<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly ttl: number;
  private readonly max: number;
  private readonly now: () => number;

  constructor(options: RequestCacheOptions = {}) {
    this.ttl = options.ttlMs ?? 60_000;
    this.max = options.maxInFlight ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** Stores `value` and returns its token (URL-safe). Throws "resource-exhausted" when full. */
  insert(value: T): string {
    this.sweep();
    if (this.entries.size >= this.max) {
      throw new RktError("resource-exhausted", `too many streaming requests waiting for their client (${this.max})`, { hint: "tokens expire after a minute; retry then" });
    }
    const token = randomBytes(16).toString("base64url");
    this.entries.set(token, { value, expires: this.now() + this.ttl });
    return token;
  }

  /** The request stored under `token`, removed; undefined if unknown, used or expired. */
  consume(token: string): T | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    this.entries.delete(token);
    return entry.expires > this.now() ? entry.value : undefined;
  }

  /** Tokens waiting to be used. */
  get size(): number {
    this.sweep();
    return this.entries.size;
  }

  private sweep(): void {
    const now = this.now();
    // Entries are in insertion order, which is expiry order.
    for (const [token, entry] of this.entries) {
      if (entry.expires > now) break;
      this.entries.delete(token);
    }
  }
}
