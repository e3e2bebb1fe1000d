/**
 * Parsing `WWW-Authenticate` (RFC 9110 section 11.6.1, challenge grammar from RFC 7235 section
 * 2.1). A registry answers 401 with a challenge saying how to authenticate: `Basic realm="..."`, or
 * the token scheme of the Docker registry auth spec (docker/distribution docs/spec/auth/token.md):
 * `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"`.
 * One header can carry several challenges, and a response can carry several headers.
 */

/** One challenge: a scheme and its parameters. */
export interface AuthChallenge {
  /** Lowercase: `bearer`, `basic`. Schemes are case-insensitive (RFC 9110 section 11.1). */
  readonly scheme: string;
  /**
   * Parameters by lowercase name (`realm`, `service`, `scope`, `error`). A Map, not an object: the
   * names come from the network and must not reach an object prototype.
   */
  readonly params: ReadonlyMap<string, string>;
}

/**
 * Every challenge in one or more `WWW-Authenticate` header values, in order. Malformed trailing
 * text is dropped rather than failing: a registry that garbles one challenge may still send a usable
 * one before it.
 *
 * @example
 * parseAuthChallenges('Bearer realm="https://auth.example/token",service="reg"');
 * // [{ scheme: "bearer", params: Map { "realm" => "https://auth.example/token", "service" => "reg" } }]
 */
export function parseAuthChallenges(header: string | readonly string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  const values = typeof header === "string" ? [header] : header;
  return values.flatMap(parseHeaderValue);
}

const TOKEN = /[!#$%&'*+.^_`|~0-9A-Za-z-]+/y;

function parseHeaderValue(text: string): AuthChallenge[] {
  const challenges: AuthChallenge[] = [];
  let i = 0;
  const skip = (chars: string): void => {
    while (i < text.length && chars.includes(text.charAt(i))) i++;
  };
  const token = (): string | undefined => {
    TOKEN.lastIndex = i;
    const m = TOKEN.exec(text);
    if (m === null) return undefined;
    i = TOKEN.lastIndex;
    return m[0];
  };
  const quoted = (): string | undefined => {
    let out = "";
    i++; // opening quote
    while (i < text.length) {
      const c = text.charAt(i);
      if (c === "\\" && i + 1 < text.length) {
        out += text.charAt(i + 1);
        i += 2;
      } else if (c === '"') {
        i++;
        return out;
      } else {
        out += c;
        i++;
      }
    }
    return undefined;
  };
  /** Is a `name=` auth-param next (as opposed to the next challenge's scheme)? */
  const paramAhead = (): boolean => {
    const save = i;
    const name = token();
    skip(" \t");
    const isParam = name !== undefined && text.charAt(i) === "=" && text.charAt(i + 1) !== "=";
    i = save;
    return isParam;
  };

  for (;;) {
    skip(" \t,");
    if (i >= text.length) break;
    const scheme = token();
    if (scheme === undefined) break;
    const params = new Map<string, string>();
    skip(" \t");
    // Whether we stopped where a new challenge may begin: after a comma, or at the end.
    let atBoundary = i >= text.length || text.charAt(i) === ",";
    while (i < text.length && paramAhead()) {
      const name = (token() ?? "").toLowerCase();
      skip(" \t");
      i++; // "="
      skip(" \t");
      const value = text.charAt(i) === '"' ? quoted() : token();
      if (value === undefined) {
        challenges.push({ scheme: scheme.toLowerCase(), params });
        return challenges;
      }
      // RFC 7235: each parameter name MUST only occur once; keep the first.
      if (!params.has(name)) params.set(name, value);
      skip(" \t");
      atBoundary = i >= text.length || text.charAt(i) === ",";
      if (!atBoundary) break;
      i++;
      skip(" \t,");
    }
    challenges.push({ scheme: scheme.toLowerCase(), params });
    if (!atBoundary) {
      // A token68 credential (`Basic abc==`) or garbage: resume at the next comma.
      const comma = text.indexOf(",", i);
      if (comma < 0) break;
      i = comma;
    }
  }
  return challenges;
}
