/**
 * Registry mirrors: another address that serves a registry's repositories, while images keep the
 * registry's name (a pull-through cache in a cluster, or a registry on 127.0.0.1 for offline
 * work). `registries.d/*.json` under the system, local and user configuration directories (later
 * ones win per registry, as for auth.d), e.g. /etc/rkt/registries.d/mirrors.json:
 *
 * ```json
 * {"rktKind": "registryMirrors", "rktVersion": "v1",
 *  "registries": ["docker.io", "registry.k8s.io"],
 *  "mirrors": [{"location": "127.0.0.1:5000/cache", "insecure": true}]}
 * ```
 *
 * `location` is `host[:port][/path]`: `registry.k8s.io/pause:3.9` is then pulled as
 * `127.0.0.1:5000/cache/pause:3.9` and stored as `registry.k8s.io/pause:3.9`. Mirrors are tried in
 * order, then the registry itself. `insecure` allows plain HTTP and unverified TLS for that mirror
 * only. Mirrors change where bytes come from, never what is accepted: every blob and manifest is
 * still verified against its digest, and signatures against the keys trusted for the image's
 * name.
 */
import { RktError } from "../lib/errors.js";
import * as z from "../lib/schema.js";
import { readConfigFiles } from "./config-files.js";

/** One mirror of one registry. */
export interface RegistryMirror {
  /** The registry mirrored, as written in the file, lowercased (`docker.io`, `registry.k8s.io`). */
  readonly registry: string;
  /** `host[:port]` of the mirror. */
  readonly host: string;
  /** A path put before the repository on the mirror ("" for none). */
  readonly pathPrefix: string;
  /** Plain HTTP and unverified TLS are allowed for this mirror. */
  readonly insecure: boolean;
}

const LOCATION = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?(\/[a-z0-9._/-]*)?$/;

const fileSchema = z.object({
  rktKind: z.literal("registryMirrors"),
  rktVersion: z.literal("v1"),
  registries: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
  mirrors: z.array(z.object({ location: z.string().check(z.regex(LOCATION, "a mirror location is host[:port][/path]")), insecure: z.optional(z.boolean()) })).check(z.minLength(1)),
});

/**
 * Reads registries.d from each directory in precedence order (lowest first): the mirrors of each
 * registry, in order; a later file naming a registry replaces what earlier ones said about it.
 *
 * @example
 * const mirrors = loadRegistryMirrors(["/usr/lib/rkt", "/etc/rkt"]);
 * mirrors.filter((m) => m.registry === "docker.io").map((m) => m.host); // ["127.0.0.1:5000"]
 */
export function loadRegistryMirrors(configDirs: readonly string[]): RegistryMirror[] {
  const byRegistry = new Map<string, RegistryMirror[]>();
  for (const { path, json } of readConfigFiles(configDirs, "registries.d")) {
    if (typeof json !== "object" || json === null || (json as { rktKind?: unknown }).rktKind !== "registryMirrors") continue;
    const parsed = fileSchema.safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RktError("invalid-argument", `invalid registry mirror configuration ${path}: ${issue === undefined ? "" : `${issue.path.join(".")}: ${issue.message}`}`, {
        hint: 'expected {"rktKind": "registryMirrors", "rktVersion": "v1", "registries": ["docker.io"], "mirrors": [{"location": "host:port[/path]", "insecure": false}]}',
      });
    }
    for (const registry of parsed.data.registries.map((r) => r.toLowerCase())) {
      byRegistry.set(
        registry,
        parsed.data.mirrors.map((m) => {
          const slash = m.location.indexOf("/");
          return {
            registry,
            host: (slash < 0 ? m.location : m.location.slice(0, slash)).toLowerCase(),
            pathPrefix: slash < 0 ? "" : m.location.slice(slash + 1).replace(/\/+$/, ""),
            insecure: m.insecure === true,
          };
        }),
      );
    }
  }
  return [...byRegistry.values()].flat();
}
