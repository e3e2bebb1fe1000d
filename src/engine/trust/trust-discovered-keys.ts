/**
 * Trust on first use for `--trust-keys-from-https`: when an image is fetched by name and the key
 * store trusts no key for it, rkt discovers the keys its publisher lists in
 * `ac-discovery-pubkeys` meta tags and trusts those served over HTTPS without asking
 * (rkt/pubkey/pubkey.go `AddKeys` with `TrustKeysFromHTTPS`). Plain HTTP, for the discovery page
 * or the key, only with `--insecure-options=pubkey`: a key fetched in clear text proves nothing.
 */
import { discoverPublicKeys } from "../../image/fetch/appc/discovery.js";
import type { HttpOptions } from "../../image/fetch/appc/http-get.js";
import { inspectPublicKey } from "../../image/verify/inspect-public-key.js";
import type { Keystore, TrustedKey } from "../../image/verify/keystore.js";
import { RktError, wrap } from "../../lib/errors.js";
import type { KeyCandidate } from "./trust-keys.js";
import { readKeyLocation } from "./read-key-location.js";

/** Options of {@link trustDiscoveredKeys} beyond the HTTP ones. */
export interface TrustDiscoveredKeysOptions extends HttpOptions {
  /** `--insecure-options=pubkey`: allow discovery pages and keys over plain HTTP. */
  readonly insecurePubkey?: boolean;
  /** Called for every key found (to print what is being trusted, as rkt did). */
  readonly onKey?: (candidate: KeyCandidate) => void;
}

/**
 * Discovers the keys published for `prefix` (usually the image name) and trusts them for that
 * prefix; keys already trusted for it are returned as they are. `options.insecureHttp` is ignored
 * here: plain HTTP needs `insecurePubkey`. Throws RktError when discovery finds no key, a key is
 * unreadable, or a key is only published over plain HTTP (hint: trust it yourself).
 *
 * @example
 * const keys = await trustDiscoveredKeys("example.com/app", keystore, { insecureHttp: false, insecureTls: false });
 */
export async function trustDiscoveredKeys(prefix: string, keystore: Keystore, options: TrustDiscoveredKeysOptions): Promise<TrustedKey[]> {
  const insecure = options.insecurePubkey === true;
  const http: HttpOptions = { ...options, insecureHttp: insecure };
  let locations: string[];
  try {
    locations = await discoverPublicKeys(prefix, http);
  } catch (err) {
    throw wrap(`discovering the keys of "${prefix}" (--trust-keys-from-https)`, err);
  }
  const out: TrustedKey[] = [];
  for (const location of locations) {
    let url: URL;
    try {
      url = new URL(location);
    } catch {
      throw new RktError("invalid-argument", `the discovery page of "${prefix}" lists an invalid key URL "${location}"`);
    }
    if (url.protocol !== "https:" && !insecure) {
      throw new RktError("permission-denied", `the key of "${prefix}" is published at ${location}, not over HTTPS: not trusting it automatically`, {
        hint: `check the key yourself and trust it with rkt trust --prefix "${prefix}" --insecure-allow-http ${location}, or pass --insecure-options=pubkey`,
      });
    }
    let key;
    try {
      const info = await inspectPublicKey(await readKeyLocation(location, http), location);
      const existing = keystore.keysFor(prefix).find((k) => k.fingerprint === info.fingerprint);
      options.onKey?.({ location, scope: { prefix }, info, alreadyTrusted: existing !== undefined });
      key = existing ?? (await keystore.addKey(info.text, { prefix }, location));
    } catch (err) {
      throw wrap(`trusting key ${location} for "${prefix}"`, err);
    }
    out.push(key);
  }
  return out;
}
