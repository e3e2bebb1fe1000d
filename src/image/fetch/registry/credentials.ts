/**
 * Registry credentials and how they go on the wire. Credentials come from rkt's configuration
 * (`/etc/rkt/auth.d/*.json`, kind `dockerAuth`); the client only sees a lookup function, asked
 * lazily, so a registry that never challenges never causes a lookup.
 */
import { RktError } from "../../../lib/errors.js";

/** A user name and password (or access token used as a password) for one registry. */
export interface RegistryCredentials {
  readonly username: string;
  readonly password: string;
}

/** Credentials for a registry `host[:port]`, or undefined to stay anonymous. */
export type CredentialsProvider = (registry: string) => RegistryCredentials | undefined;

/**
 * The `Authorization` value for HTTP Basic (RFC 7617 section 2). A user name containing ":" cannot
 * be encoded unambiguously, so it is refused (without echoing it: it is part of a secret).
 *
 * @example
 * basicAuthorization({ username: "alice", password: "s3cret" }); // "Basic YWxpY2U6czNjcmV0"
 */
export function basicAuthorization(credentials: RegistryCredentials): string {
  if (credentials.username.includes(":")) {
    throw new RktError("invalid-argument", "registry user names must not contain ':' (RFC 7617)", {
      hint: "fix the dockerAuth credentials in /etc/rkt/auth.d",
    });
  }
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, "utf8").toString("base64")}`;
}
