/**
 * Registry credentials from rkt's configuration directories: `auth.d/*.json` under the system
 * (`/usr/lib/rkt`), local (`/etc/rkt`) and user config dirs, later ones overriding earlier ones,
 * as rkt did. Two kinds:
 *
 * ```json
 * {"rktKind": "dockerAuth", "rktVersion": "v1", "registries": ["registry-1.docker.io"],
 *  "credentials": {"user": "alice", "password": "s3cret"}}
 * {"rktKind": "auth", "rktVersion": "v1", "domains": ["example.com"], "type": "basic",
 *  "credentials": {"user": "alice", "password": "s3cret"}}
 * ```
 *
 * The same registry or domain twice within one directory is an error (rkt's rule), naming both
 * files.
 */
import { RktError } from "../lib/errors.js";
import { readConfigFiles } from "./config-files.js";
import * as z from "../lib/schema.js";

export interface BasicCredentials {
  readonly username: string;
  readonly password: string;
}

export type AuthHeaders =
  | { readonly type: "basic"; readonly username: string; readonly password: string }
  | { readonly type: "oauth"; readonly token: string };

export interface AuthConfig {
  /** Credentials for a Docker registry host (`host[:port]`). */
  dockerCredentials(registry: string): BasicCredentials | undefined;
  /** Credentials for an appc / HTTPS domain. */
  domainAuth(host: string): AuthHeaders | undefined;
}

/**
 * The schemas of auth.d files. Built on first use, not at import: most hosts have no auth.d file,
 * and constructing zod schemas costs every `rkt fetch` start-up time.
 */
function buildSchemas() {
  const credentials = z.object({ user: z.string(), password: z.string() });
  return {
    kind: z.object({ rktKind: z.string(), rktVersion: z.string() }),
    dockerAuth: z.object({
      rktKind: z.literal("dockerAuth"),
      rktVersion: z.literal("v1"),
      registries: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
      credentials,
    }),
    auth: z.object({
      rktKind: z.literal("auth"),
      rktVersion: z.literal("v1"),
      domains: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
      type: z.enum(["basic", "oauth"]),
      credentials: z.union([credentials, z.object({ token: z.string() })]),
    }),
  };
}

let schemas: ReturnType<typeof buildSchemas> | undefined;

/** Reads auth.d from each directory in precedence order (lowest first). */
export function loadAuthConfig(configDirs: readonly string[]): AuthConfig {
  const docker = new Map<string, BasicCredentials>();
  const domains = new Map<string, AuthHeaders>();
  // Duplicates are an error within one directory only: a later directory overrides an earlier one.
  let seenRoot: string | undefined;
  let seenDocker = new Map<string, string>();
  let seenDomain = new Map<string, string>();
  for (const { root, path, json } of readConfigFiles(configDirs, "auth.d")) {
    if (root !== seenRoot) {
      seenRoot = root;
      seenDocker = new Map();
      seenDomain = new Map();
    }
    schemas ??= buildSchemas();
    const kind = schemas.kind.safeParse(json);
    if (!kind.success) throw new RktError("invalid-argument", `configuration file ${path} has no rktKind/rktVersion`);
    if (kind.data.rktKind === "dockerAuth") {
      const parsed = schemas.dockerAuth.safeParse(json);
      if (!parsed.success) throw invalid(path, parsed.error.message);
      for (const reg of parsed.data.registries) {
        const prev = seenDocker.get(reg);
        if (prev !== undefined) throw new RktError("invalid-argument", `registry "${reg}" has credentials in both ${prev} and ${path}`);
        seenDocker.set(reg, path);
        docker.set(reg, { username: parsed.data.credentials.user, password: parsed.data.credentials.password });
      }
    } else if (kind.data.rktKind === "auth") {
      const parsed = schemas.auth.safeParse(json);
      if (!parsed.success) throw invalid(path, parsed.error.message);
      const c = parsed.data.credentials;
      let headers: AuthHeaders;
      if (parsed.data.type === "basic" && "user" in c) headers = { type: "basic", username: c.user, password: c.password };
      else if (parsed.data.type === "oauth" && "token" in c) headers = { type: "oauth", token: c.token };
      else throw invalid(path, `credentials do not fit type "${parsed.data.type}"`);
      for (const d of parsed.data.domains) {
        const prev = seenDomain.get(d);
        if (prev !== undefined) throw new RktError("invalid-argument", `domain "${d}" has credentials in both ${prev} and ${path}`);
        seenDomain.set(d, path);
        domains.set(d, headers);
      }
    }
    // Other kinds (paths, stage1) live in their own directories; ignore strays.
  }
  return {
    dockerCredentials: (registry) => docker.get(registry) ?? (registry === "registry-1.docker.io" ? docker.get("docker.io") ?? docker.get("index.docker.io") : undefined),
    domainAuth: (host) => domains.get(host),
  };
}

function invalid(path: string, why: string): RktError {
  return new RktError("invalid-argument", `invalid configuration file ${path}: ${why}`);
}

/**
 * The request headers auth.d gives for `url` (appc discovery pages, keys, ACIs): an
 * `Authorization` header for a `basic` or `oauth` domain matching the URL's host (with its port,
 * then without), or none. Never for plain http: credentials are not sent in clear text.
 *
 * @example
 * const headers = domainAuthHeaders(loadAuthConfig(dirs), new URL("https://example.com/app?ac-discovery=1"));
 */
export function domainAuthHeaders(auth: AuthConfig, url: URL): Record<string, string> {
  if (url.protocol !== "https:") return {};
  const found = auth.domainAuth(url.host) ?? auth.domainAuth(url.hostname);
  if (found === undefined) return {};
  if (found.type === "basic") return { authorization: `Basic ${Buffer.from(`${found.username}:${found.password}`).toString("base64")}` };
  return { authorization: `Bearer ${found.token}` };
}
