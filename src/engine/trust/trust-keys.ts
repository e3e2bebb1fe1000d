/**
 * The use case behind `rkt trust`: read each key (a file or URL, or the keys a prefix publishes
 * through `ac-discovery-pubkeys` meta tags when none is given), inspect it, let the caller show
 * it and decide (the fingerprint review), and write the accepted ones to the local key store.
 *
 * rkt's flow (rkt/pubkey/pubkey.go `AddKeys`), with the review left to the front end: the CLI asks
 * on the terminal; other callers may accept or refuse by policy.
 */
import { discoverPublicKeys } from "../../image/fetch/appc/discovery.js";
import type { HttpOptions } from "../../image/fetch/appc/http-get.js";
import { inspectPublicKey, type PublicKeyInfo } from "../../image/verify/inspect-public-key.js";
import { checkKeyPrefix, type KeyScope, type Keystore, type TrustedKey } from "../../image/verify/keystore.js";
import { RktError, wrap } from "../../lib/errors.js";
import { readKeyLocation } from "./read-key-location.js";

/** One key read and inspected, waiting for a decision. */
export interface KeyCandidate {
  /** The file or URL it came from. */
  readonly location: string;
  /** The scope it would be trusted for. */
  readonly scope: KeyScope;
  readonly info: PublicKeyInfo;
  /** Whether the key store already trusts this fingerprint for the scope's names. */
  readonly alreadyTrusted: boolean;
}

/** What `rkt trust` asks for. */
export interface TrustKeysRequest {
  readonly scope: KeyScope;
  /** Key files or URLs. Empty: discover the prefix's keys (prefix scope only). */
  readonly locations: readonly string[];
  /** `--insecure-allow-http`: plain http for discovery and key URLs. */
  readonly insecureAllowHttp: boolean;
  /** TLS, auth headers, cancellation for discovery and key downloads. */
  readonly http: Omit<HttpOptions, "insecureHttp">;
}

/** How the front end takes part. */
export interface TrustKeysHooks {
  /** Called with the key locations that discovery found (no locations given). */
  discovered?(locations: readonly string[]): void;
  /** Shows a key and says whether to trust it; may throw to stop (e.g. nobody to ask). */
  review(candidate: KeyCandidate): Promise<boolean>;
  /** Called after a key was written. */
  trusted?(key: TrustedKey, candidate: KeyCandidate): void;
  /** Called for a key the review declined. */
  declined?(candidate: KeyCandidate): void;
}

/**
 * Runs `rkt trust` (see the module comment). Keys are handled in order; the first failure
 * (unreadable key, refused review) stops the rest, with keys before it already trusted.
 * Returns the keys written.
 *
 * @example
 * await trustKeys(keystore, { scope: { prefix: "example.com/app" }, locations: [], insecureAllowHttp: false, http },
 *   { review: async (c) => c.info.fingerprint === expected });
 */
export async function trustKeys(keystore: Keystore, request: TrustKeysRequest, hooks: TrustKeysHooks): Promise<TrustedKey[]> {
  const { scope } = request;
  const http: HttpOptions = { ...request.http, insecureHttp: request.insecureAllowHttp };
  if ("prefix" in scope) checkKeyPrefix(scope.prefix);
  let locations = request.locations;
  if (locations.length === 0) {
    if (!("prefix" in scope)) {
      throw new RktError("invalid-argument", "no key given: a root key must be named (file or URL), it is never discovered", {
        hint: "rkt trust --root PUBKEY",
      });
    }
    try {
      locations = await discoverPublicKeys(scope.prefix, http);
    } catch (err) {
      throw wrap(`discovering the keys of prefix "${scope.prefix}"`, err);
    }
    hooks.discovered?.(locations);
  }
  const written: TrustedKey[] = [];
  const name = "prefix" in scope ? scope.prefix : undefined;
  for (const location of locations) {
    // Both name the location in their errors.
    const info = await inspectPublicKey(await readKeyLocation(location, http), location);
    const alreadyTrusted = name !== undefined ? keystore.keysFor(name).some((k) => k.fingerprint === info.fingerprint) : false;
    const candidate: KeyCandidate = { location, scope, info, alreadyTrusted };
    if (!(await hooks.review(candidate))) {
      hooks.declined?.(candidate);
      continue;
    }
    const key = await keystore.addKey(info.text, scope, location);
    written.push(key);
    hooks.trusted?.(key, candidate);
  }
  return written;
}
