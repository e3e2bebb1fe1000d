/**
 * appc meta discovery (appc spec 0.8.11, discovery.md): how an image name such as
 * `example.com/app/web:1.0` becomes the URLs of its ACI, its signature and its publisher's keys.
 *
 * For each prefix of the name's path, longest first (`example.com/app/web`, `example.com/app`,
 * `example.com`), rkt GETs `https://PREFIX?ac-discovery=1` and reads the `ac-discovery` and
 * `ac-discovery-pubkeys` meta tags (discovery-meta-tags.ts). Only tags whose PREFIX starts the
 * name apply (a plain string prefix, as appc/spec's `strings.HasPrefix`). A page that cannot be
 * fetched, or has no usable tag, sends the walk one level up. Plain HTTP is tried after HTTPS
 * only when `insecureHttp` allows it.
 *
 * An `ac-discovery` template is expanded with `{name}` and every label (`{version}`, `{os}`,
 * `{arch}`, any other label the user gave), then `{ext}` becomes `aci` for the image and
 * `aci.asc` for its signature. A template that still names a variable nobody supplied is
 * skipped: guessing would fetch the wrong file.
 */
import type { Readable } from "node:stream";
import { describe, RktError } from "../../../lib/errors.js";
import type { AppImageName } from "../../formats/appc/app-name.js";
import { parseDiscoveryMetaTags, type DiscoveryMetaTag } from "./discovery-meta-tags.js";
import { httpGet, type HttpOptions } from "./http-get.js";

/** Where an ACI and its detached signature can be downloaded. */
export interface AciEndpoint {
  /** The ACI (`{ext}` = `aci`). */
  readonly url: string;
  /** Its armored detached signature (`{ext}` = `aci.asc`). */
  readonly ascUrl: string;
}

/** What discovery found for an image name. */
export interface AppDiscovery {
  /** In page order; try them in turn. */
  readonly aci: readonly AciEndpoint[];
  /** Public key URLs from `ac-discovery-pubkeys` tags of the pages visited. */
  readonly publicKeys: readonly string[];
}

/** Discovery pages are HTML written by anyone: read at most this much of one. */
export const MAX_DISCOVERY_PAGE_BYTES = 1 << 20;

/** One page that gave nothing, and why (for the error when the whole walk fails). */
interface FailedAttempt {
  readonly url: string;
  readonly error: RktError;
}

/**
 * Finds the ACI and signature URLs of `app` (see the module comment). Throws RktError
 * "not-found" when no page on the walk has a usable `ac-discovery` tag, listing every page
 * tried and why it gave nothing.
 *
 * @example
 * const found = await discoverApp(parseAppImageName("example.com/app:1.0"), { insecureHttp: false, insecureTls: false });
 * found.aci[0]; // { url: "https://example.com/app-1.0-linux-amd64.aci", ascUrl: ".../app-1.0-linux-amd64.aci.asc" }
 */
export async function discoverApp(app: AppImageName, options: HttpOptions): Promise<AppDiscovery> {
  const vars = new Map<string, string>(app.labels);
  if (!vars.has("version")) vars.set("version", "latest");
  // {name} is the image name even if someone passed a label called "name".
  vars.set("name", app.name);
  const failed: FailedAttempt[] = [];
  const publicKeys: string[] = [];
  for (const prefix of walk(app.name)) {
    const page = await fetchPage(prefix, options, failed);
    if (page === undefined) continue;
    const aci: AciEndpoint[] = [];
    let skipped = 0;
    for (const tag of page.tags) {
      if (!app.name.startsWith(tag.prefix)) continue;
      if (tag.name === "ac-discovery-pubkeys") {
        if (!publicKeys.includes(tag.uri)) publicKeys.push(tag.uri);
        continue;
      }
      const endpoint = expandTemplate(tag.uri, vars);
      if (endpoint === undefined) skipped++;
      else aci.push(endpoint);
    }
    if (aci.length > 0) return { aci, publicKeys };
    const why = skipped > 0 ? `its ac-discovery templates for "${app.name}" use variables the name does not give (${[...vars.keys()].map((k) => `{${k}}`).join(" ")} {ext} are known)` : `no ac-discovery meta tag for "${app.name}"`;
    failed.push({ url: page.url, error: new RktError("not-found", why) });
  }
  throw walkFailed(`appc discovery found no image for "${app.name}"`, failed);
}

/**
 * Finds the public key URLs published for `prefix` with `ac-discovery-pubkeys` tags, walking up
 * the path like {@link discoverApp}; the first page with keys for the prefix answers. Throws
 * RktError "not-found" listing the pages tried when none has.
 *
 * @example
 * await discoverPublicKeys("example.com/app", { insecureHttp: false, insecureTls: false }); // ["https://example.com/pubkeys.gpg"]
 */
export async function discoverPublicKeys(prefix: string, options: HttpOptions): Promise<string[]> {
  const failed: FailedAttempt[] = [];
  for (const pre of walk(prefix)) {
    const page = await fetchPage(pre, options, failed);
    if (page === undefined) continue;
    const keys: string[] = [];
    for (const tag of page.tags) {
      if (tag.name === "ac-discovery-pubkeys" && prefix.startsWith(tag.prefix) && !keys.includes(tag.uri)) keys.push(tag.uri);
    }
    if (keys.length > 0) return keys;
    failed.push({ url: page.url, error: new RktError("not-found", `no ac-discovery-pubkeys meta tag for "${prefix}"`) });
  }
  throw walkFailed(`appc discovery found no public keys for "${prefix}"`, failed);
}

/** `a.com/b/c` -> `a.com/b/c`, `a.com/b`, `a.com`. */
function walk(name: string): string[] {
  const parts = name.split("/");
  return parts.map((_, i) => parts.slice(0, parts.length - i).join("/"));
}

/**
 * Expands an `ac-discovery` template; undefined when it names an unknown variable or does not
 * become an http(s) URL.
 */
function expandTemplate(template: string, vars: ReadonlyMap<string, string>): AciEndpoint | undefined {
  let unknown = false;
  const expanded = template.replace(/\{([^{}]*)\}/g, (whole, key: string) => {
    if (key === "ext") return whole;
    const value = vars.get(key);
    if (value === undefined) unknown = true;
    return value ?? whole;
  });
  if (unknown) return undefined;
  const url = expanded.replaceAll("{ext}", "aci");
  const ascUrl = expanded.replaceAll("{ext}", "aci.asc");
  for (const u of [url, ascUrl]) {
    let parsed: URL;
    try {
      parsed = new URL(u);
    } catch {
      return undefined;
    }
    if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return undefined;
  }
  return { url, ascUrl };
}

/**
 * GETs `https://PREFIX?ac-discovery=1` (then `http://` when allowed) and parses its tags.
 * Records the failure and returns undefined when no scheme gave a 200 page.
 */
async function fetchPage(prefix: string, options: HttpOptions, failed: FailedAttempt[]): Promise<{ url: string; tags: DiscoveryMetaTag[] } | undefined> {
  const schemes = options.insecureHttp ? ["https", "http"] : ["https"];
  for (const scheme of schemes) {
    let url: string;
    try {
      const u = new URL(`${scheme}://${prefix}`);
      u.searchParams.set("ac-discovery", "1");
      url = u.href;
    } catch {
      failed.push({ url: `${scheme}://${prefix}`, error: new RktError("invalid-argument", "not a valid host and path") });
      return undefined;
    }
    try {
      const res = await httpGet(url, options);
      if (res.status !== 200) {
        res.body.destroy();
        failed.push({ url, error: new RktError("not-found", `HTTP ${res.status}`) });
        continue;
      }
      const html = await readPrefix(res.body, MAX_DISCOVERY_PAGE_BYTES);
      return { url, tags: parseDiscoveryMetaTags(html) };
    } catch (err) {
      if (options.signal?.aborted === true) throw err;
      failed.push({ url, error: err instanceof RktError ? err : new RktError("unavailable", describe(err), { cause: err }) });
    }
  }
  return undefined;
}

/** Reads at most `limit` bytes of a page (its head is what matters) and drops the rest. */
async function readPrefix(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    total += chunk.length;
    if (total >= limit) break;
  }
  body.destroy();
  return Buffer.concat(chunks).subarray(0, limit).toString("utf8");
}

/** The error for a walk that found nothing: every page tried and why, with the most useful hint. */
function walkFailed(message: string, failed: readonly FailedAttempt[]): RktError {
  const lines = failed.map((f) => `${f.url}: ${f.error.message}`);
  const transport = failed.find((f) => f.error.kind !== "not-found");
  const allTransport = failed.length > 0 && failed.every((f) => f.error.kind !== "not-found");
  const hint =
    transport?.error.hint ??
    "check the image name; its publisher's web server must answer https://NAME?ac-discovery=1 (or a shorter prefix of NAME) with ac-discovery meta tags";
  return new RktError(allTransport && transport !== undefined ? transport.error.kind : "not-found", `${message}:\n  ${lines.join("\n  ")}`, {
    hint,
    cause: transport?.error,
  });
}
