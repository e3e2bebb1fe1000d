/**
 * Where `rkt trust` reads a key from: a local file, or an https URL (plain http only when the
 * user allowed it, `--insecure-allow-http`), as rkt's pubkey manager did. Keys are small: at
 * most 1 MiB is read.
 */
import { readFileSync, statSync } from "node:fs";
import { describe, errnoCode, RktError } from "../../lib/errors.js";
import { httpGet, readAll, type HttpOptions } from "../../image/fetch/appc/http-get.js";

/** The largest key file read. */
export const MAX_KEY_BYTES = 1 << 20;

/** Whether a key location is a URL (`scheme://...`) rather than a file path. */
export function isUrlLocation(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location);
}

/**
 * Reads the key at `location` (a file path or an http(s) URL). `http.insecureHttp` allows plain
 * http URLs. Throws RktError naming the location: missing file, refused scheme, HTTP status other
 * than 200, a file too large to be a key.
 *
 * @example
 * const bytes = await readKeyLocation("https://example.com/pubkeys.gpg", { insecureHttp: false, insecureTls: false });
 */
export async function readKeyLocation(location: string, http: HttpOptions): Promise<Buffer> {
  if (!isUrlLocation(location)) return readKeyFile(location);
  const url = new URL(location);
  if (url.protocol === "http:" && !http.insecureHttp) {
    throw new RktError("permission-denied", `refusing to fetch key ${location} over plain HTTP`, {
      hint: "use an https:// URL, or pass --insecure-allow-http if you trust the network to this host",
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new RktError("invalid-argument", `cannot fetch key ${location}: only local files and http or https URLs are supported`);
  }
  const res = await httpGet(location, { ...http, maxBytes: MAX_KEY_BYTES });
  if (res.status !== 200) {
    res.body.destroy();
    throw new RktError(res.status === 404 ? "not-found" : "unavailable", `fetching key ${location}: HTTP ${res.status}`);
  }
  try {
    return await readAll(res.body);
  } catch (err) {
    if (err instanceof RktError) throw err;
    throw new RktError("unavailable", `fetching key ${location}: ${describe(err)}`, { cause: err });
  }
}

function readKeyFile(path: string): Buffer {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new RktError("invalid-argument", `key file ${path} is not a regular file`);
    if (st.size > MAX_KEY_BYTES) throw new RktError("invalid-argument", `key file ${path} is ${st.size} bytes, too large for a public key`);
    return readFileSync(path);
  } catch (err) {
    if (err instanceof RktError) throw err;
    const code = errnoCode(err);
    throw new RktError(code === "ENOENT" ? "not-found" : code === "EACCES" ? "permission-denied" : "internal", `cannot read key file ${path}: ${describe(err)}`, { cause: err });
  }
}
