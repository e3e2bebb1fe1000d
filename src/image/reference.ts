/**
 * Docker image references: `docker://[REGISTRY[:PORT]/]NAME[:TAG|@DIGEST]`, normalized the way
 * Docker does (distribution/reference "normalize.go" rules): a first path component is a registry
 * only when it contains "." or ":", is "localhost", or has uppercase letters; otherwise the image
 * is on Docker Hub, where one-component names live under "library/". The repository grammar is
 * the distribution-spec's (spec.md, "Pulling manifests": `<name>` regular expression; total length
 * under 256), the tag grammar its `<reference>` tag rule (`[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`).
 */
import { RktError } from "../lib/errors.js";
import { DIGEST_FORMAT_HINT, isDigest } from "./formats/digest.js";

/** A parsed, normalized Docker image reference. */
export interface DockerReference {
  /** `host[:port]`, lowercase; Docker Hub is `registry-1.docker.io`, the host its API lives on. */
  readonly registry: string;
  /** The repository path on that registry: `library/redis`, `team/app`. */
  readonly repository: string;
  /** The tag; `latest` when neither tag nor digest was given. */
  readonly tag?: string | undefined;
  /** The manifest digest (`sha256:...`); when present it wins over the tag for fetching. */
  readonly digest?: string | undefined;
  /**
   * The canonical name rkt records: `registry-1.docker.io/library/redis:3.2`,
   * `host:5000/repo@sha256:...`, or `host/repo:tag@sha256:...` when both were given.
   */
  readonly name: string;
}

/** Docker Hub's API host; `docker.io` and `index.docker.io` are aliases for it. */
export const DOCKER_HUB_REGISTRY = "registry-1.docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", DOCKER_HUB_REGISTRY]);

const USAGE_HINT = "expected docker://[REGISTRY[:PORT]/]NAME[:TAG|@DIGEST], e.g. docker://redis:7 or docker://localhost:5000/team/app@sha256:...";

const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DOMAIN_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?";
const HOST = new RegExp(`^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[0-9A-Fa-f:.]+\\])(?::([0-9]{1,5}))?$`);

/**
 * Parses a Docker image reference, with or without the `docker://` prefix (the prefix is how
 * users write it; internal callers may pass the bare form).
 *
 * Throws RktError("invalid-argument") naming the input and what is wrong with it.
 *
 * @example
 * parseDockerReference("docker://redis:3.2").name; // "registry-1.docker.io/library/redis:3.2"
 * parseDockerReference("localhost:5000/app@sha256:" + "0".repeat(64)).registry; // "localhost:5000"
 */
export function parseDockerReference(input: string): DockerReference {
  const fail = (reason: string): never => {
    throw new RktError("invalid-argument", `invalid image reference "${input}": ${reason}`, { hint: USAGE_HINT });
  };
  let rest = input.startsWith("docker://") ? input.slice("docker://".length) : input;
  if (rest.includes("://")) fail("only docker:// references name registry images");
  if (rest === "") fail("the name is empty");
  if (/[\s\x00-\x1f\x7f]/.test(rest)) fail("it contains whitespace or control characters");

  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isDigest(digest)) fail(`"${digest}" is not a valid digest: ${DIGEST_FORMAT_HINT}`);
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) fail(`"${tag}" is not a valid tag: up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"`);
  }

  let registry = DOCKER_HUB_REGISTRY;
  let path = rest;
  const slash = rest.indexOf("/");
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes(".") || first.includes(":") || first === "localhost" || first !== first.toLowerCase()) {
      if (!isValidRegistryHost(first)) fail(`"${first}" is not a valid registry host[:port]`);
      registry = normalizeRegistry(first);
      path = rest.slice(slash + 1);
    }
  }
  if (path === "") fail("the repository name is empty");
  if (registry === DOCKER_HUB_REGISTRY && !path.includes("/")) path = `library/${path}`;
  const problem = repositoryProblem(path);
  if (problem !== undefined) fail(problem);

  if (tag === undefined && digest === undefined) tag = "latest";
  const name = `${registry}/${path}${tag === undefined ? "" : `:${tag}`}${digest === undefined ? "" : `@${digest}`}`;
  return { registry, repository: path, ...(tag === undefined ? {} : { tag }), ...(digest === undefined ? {} : { digest }), name };
}

/**
 * What to put after `/manifests/` when fetching: the digest when there is one (it pins the
 * content), otherwise the tag.
 */
export function manifestReference(ref: DockerReference): string {
  return ref.digest ?? ref.tag ?? "latest";
}

/**
 * Whether `repository` follows the distribution-spec `<name>` grammar (lowercase components
 * separated by "/", each `[a-z0-9]+` joined by ".", "_", "__" or runs of "-"; under 256
 * characters). The registry client checks this before putting a name into a URL path.
 */
export function isValidRepository(repository: string): boolean {
  return repositoryProblem(repository) === undefined;
}

/** Whether `tag` follows the tag grammar `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`. */
export function isValidTag(tag: string): boolean {
  return TAG.test(tag);
}

/** Whether `host` is a `hostname[:port]` or `[ipv6][:port]` a reference may name as its registry. */
export function isValidRegistryHost(host: string): boolean {
  const m = HOST.exec(host);
  if (m === null) return false;
  return m[1] === undefined || Number(m[1]) <= 65535;
}

/** Lowercase (host names are case-insensitive, RFC 4343) and fold Docker Hub's aliases. */
function normalizeRegistry(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB_REGISTRY : lower;
}

function repositoryProblem(path: string): string | undefined {
  if (path.length >= 256) return `the repository name is ${path.length} characters long; the limit is 255`;
  for (const component of path.split("/")) {
    if (component === "") return `the repository name "${path}" has an empty path component`;
    if (component !== component.toLowerCase()) return `the repository name "${path}" must be lowercase`;
    if (!PATH_COMPONENT.test(component)) {
      return `"${component}" in "${path}" is not a valid repository component: lowercase letters and digits, separated by ".", "_", "__" or "-"`;
    }
  }
  return undefined;
}
