/**
 * The authentication state of one registry client: which scheme the registry asked for, the Basic
 * credentials, and bearer tokens cached per scope. Flow (docker/distribution docs/spec/auth/
 * token.md, "How to authenticate"): try anonymously; on 401, read the challenge; for `Bearer`, get
 * a token from the realm (with Basic credentials when we have them) and retry; for `Basic`, retry
 * with the credentials. Tokens are cached per scope until shortly before they expire; concurrent
 * requests for one scope share one token request.
 */
import { RktError } from "../../../lib/errors.js";
import type { AuthChallenge } from "./auth-challenge.js";
import { basicAuthorization, type CredentialsProvider, type RegistryCredentials } from "./credentials.js";

/** What to ask a token server for (token.md, "Requesting a Token"). */
export interface TokenRequest {
  /** The challenge's `realm`: the token endpoint. */
  readonly realm: URL;
  /** The challenge's `service`, passed back as the `service` query parameter. */
  readonly service: string | undefined;
  /** Each becomes a `scope` query parameter: `repository:library/redis:pull`. */
  readonly scopes: readonly string[];
  /** Sent as Basic auth to the token server; undefined asks for an anonymous token. */
  readonly credentials: RegistryCredentials | undefined;
}

/** A token server's answer (token.md, "Token Response Fields"). */
export interface IssuedToken {
  readonly token: string;
  /** `expires_in`; the spec's default is 60 seconds. */
  readonly expiresInSeconds: number | undefined;
}

/** Performs a token request over the network; the client provides it. */
export type TokenFetcher = (request: TokenRequest) => Promise<IssuedToken>;

/** Inputs of RegistryAuth. */
export interface RegistryAuthOptions {
  /** `host[:port]`, passed to the credentials provider. */
  readonly registry: string;
  readonly credentials?: CredentialsProvider | undefined;
  readonly fetchToken: TokenFetcher;
  /** Milliseconds since the epoch; passed in so tests control expiry. */
  readonly now: () => number;
}

/** token.md: "When omitted, this defaults to 60 seconds." */
const DEFAULT_TOKEN_SECONDS = 60;

/**
 * Authentication state for one registry, shared by every request of one client. Scopes are
 * `repository:<name>:pull` (docs/spec/auth/scope.md, "Resource Scope Grammar").
 *
 * @example
 * const auth = new RegistryAuth({ registry, credentials, fetchToken, now: Date.now });
 * const header = await auth.authorization("repository:library/redis:pull");
 */
export class RegistryAuth {
  private readonly options: RegistryAuthOptions;
  private credentialsLookedUp = false;
  private credentialsValue: RegistryCredentials | undefined;
  /** Set once the registry challenged with Basic and we have credentials. */
  private useBasic = false;
  /** The last Bearer challenge: where further tokens come from without another 401. */
  private bearer: { readonly realm: URL; readonly service: string | undefined } | undefined;
  private readonly tokens = new Map<string, { readonly token: string; readonly expiresAt: number }>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(options: RegistryAuthOptions) {
    this.options = options;
  }

  /** Whether any credentials are configured for this registry (for error hints). */
  hasCredentials(): boolean {
    return this.credentials() !== undefined;
  }

  /**
   * The Authorization header value for a request in `scope`, or undefined to go anonymously. Once
   * a Bearer challenge is known, a scope without a cached token gets one up front, saving the 401
   * round trip for every repository after the first.
   */
  async authorization(scope: string): Promise<string | undefined> {
    if (this.useBasic) {
      const creds = this.credentials();
      return creds === undefined ? undefined : basicAuthorization(creds);
    }
    const cached = this.tokens.get(scope);
    if (cached !== undefined && cached.expiresAt > this.options.now()) return `Bearer ${cached.token}`;
    if (this.bearer === undefined) return undefined;
    return `Bearer ${await this.token(scope, [])}`;
  }

  /**
   * Reacts to a 401 for a request sent with `sent` (its Authorization, or undefined): returns true
   * when there is something new to try (a fresh token, or Basic credentials not sent yet), false
   * when retrying would only get another 401. Throws when the token server refuses (see the
   * client's token fetcher).
   */
  async respond(challenges: readonly AuthChallenge[], scope: string, sent: string | undefined): Promise<boolean> {
    const bearer = challenges.find((c) => c.scheme === "bearer" && c.params.has("realm"));
    if (bearer !== undefined) {
      // Parallel requests (layers) all meet the same 401; when another one already got a newer
      // token for this scope, use it instead of asking again.
      const cached = this.tokens.get(scope);
      if (cached !== undefined && `Bearer ${cached.token}` !== sent && cached.expiresAt > this.options.now()) return true;
      const realmText = bearer.params.get("realm") ?? "";
      let realm: URL;
      try {
        realm = new URL(realmText);
      } catch {
        throw new RktError("unavailable", `registry ${this.options.registry} sent a token challenge with an invalid realm URL`);
      }
      this.bearer = { realm, service: bearer.params.get("service") };
      this.tokens.delete(scope);
      const extra = (bearer.params.get("scope") ?? "").split(" ").filter((s) => s !== "");
      await this.token(scope, extra);
      return true;
    }
    const basic = challenges.find((c) => c.scheme === "basic");
    if (basic !== undefined && !this.useBasic && this.credentials() !== undefined) {
      this.useBasic = true;
      return true;
    }
    return false;
  }

  /** A valid token for `scope`, fetching one (once, however many callers wait) when needed. */
  private async token(scope: string, challengeScopes: readonly string[]): Promise<string> {
    const cached = this.tokens.get(scope);
    if (cached !== undefined && cached.expiresAt > this.options.now()) return cached.token;
    const inFlight = this.pending.get(scope);
    if (inFlight !== undefined) return inFlight;
    const bearer = this.bearer;
    if (bearer === undefined) throw new RktError("internal", "bearer token requested before any bearer challenge");
    const scopes = [...new Set([scope, ...challengeScopes].filter((s) => s !== ""))];
    const request = (async () => {
      const issued = await this.options.fetchToken({ realm: bearer.realm, service: bearer.service, scopes, credentials: this.credentials() });
      // Expiry counts from when the exchange completed (token.md, "issued_at": "If issued_at is
      // omitted, the expiration is from when the token exchange completed"); local time avoids
      // trusting the server's clock. A margin keeps a token from expiring mid-request.
      const lifetime = Math.max(issued.expiresInSeconds ?? DEFAULT_TOKEN_SECONDS, 1) * 1000;
      this.tokens.set(scope, { token: issued.token, expiresAt: this.options.now() + lifetime - Math.min(10_000, lifetime / 2) });
      return issued.token;
    })();
    this.pending.set(scope, request);
    try {
      return await request;
    } finally {
      this.pending.delete(scope);
    }
  }

  private credentials(): RegistryCredentials | undefined {
    if (!this.credentialsLookedUp) {
      this.credentialsValue = this.options.credentials?.(this.options.registry);
      this.credentialsLookedUp = true;
    }
    return this.credentialsValue;
  }
}
