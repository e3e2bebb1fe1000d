/**
 * The HTML page that makes ACIs discoverable from static hosting (appc discovery.md): a client
 * looking for `example.com/app` fetches `https://example.com/app?ac-discovery=1` (then the parent
 * paths) and reads
 *
 *     <meta name="ac-discovery" content="PREFIX URL-TEMPLATE">
 *     <meta name="ac-discovery-pubkeys" content="PREFIX KEYS-URL">
 *
 * The template is filled with `{name}`, `{version}`, `{os}`, `{arch}` (and any other label) and
 * `{ext}`, which is `aci` for the image and `aci.asc` for its signature, so a template without
 * `{ext}` could never name both ("the templates must contain {ext}").
 */
import { RktError } from "../../lib/errors.js";
import { AC_IDENTIFIER } from "./check-build-spec.js";

/** What the page announces. */
export interface DiscoveryPageInput {
  /** The name prefix the templates serve (`example.com` or `example.com/app`). */
  readonly prefix: string;
  /** URL template of the images and signatures, with `{ext}`. */
  readonly aciTemplate: string;
  /** URL of the armored public keys that sign them (`ac-discovery-pubkeys`). */
  readonly pubkeys?: string | undefined;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * The discovery page, after checking the prefix (an AC Identifier), the template (absolute URL,
 * `{ext}`, placeholders that are label names) and the keys URL.
 *
 * @example
 * discoveryPage({ prefix: "example.com/app", aciTemplate: "https://example.com/aci/{name}-{version}-{os}-{arch}.{ext}" });
 */
export function discoveryPage(input: DiscoveryPageInput): string {
  if (!AC_IDENTIFIER.test(input.prefix)) {
    throw new RktError("invalid-argument", `invalid prefix "${input.prefix}": not an image name prefix`, { hint: "e.g. example.com or example.com/app (lowercase, no scheme)" });
  }
  checkAciTemplate(input.aciTemplate);
  if (input.pubkeys !== undefined) absoluteUrl(input.pubkeys, "--pubkeys");
  const tags = [`<meta name="ac-discovery" content="${attr(`${input.prefix} ${input.aciTemplate}`)}">`];
  if (input.pubkeys !== undefined) tags.push(`<meta name="ac-discovery-pubkeys" content="${attr(`${input.prefix} ${input.pubkeys}`)}">`);
  return `<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>${text(input.prefix)}</title>\n${tags.join("\n")}\n</head>\n<body></body>\n</html>\n`;
}

/**
 * Throws unless `template` is an absolute URL template with `{ext}` whose placeholders are
 * `{name}` or label names.
 */
export function checkAciTemplate(template: string): void {
  if (/\s/.test(template)) throw new RktError("invalid-argument", `ACI template "${template}" contains white space`, { hint: "the meta tag separates prefix and template by a space" });
  const names = [...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? "");
  if (!names.includes("ext")) {
    throw new RktError("invalid-argument", `ACI template "${template}" has no {ext}`, {
      hint: "appc fills {ext} with aci for the image and aci.asc for its signature, e.g. https://example.com/{name}-{version}-{os}-{arch}.{ext}",
    });
  }
  for (const name of names) {
    if (name !== "name" && name !== "ext" && !AC_IDENTIFIER.test(name)) {
      throw new RktError("invalid-argument", `ACI template "${template}": {${name}} is not a placeholder`, { hint: "use {name}, {ext} and label names such as {version} {os} {arch}" });
    }
  }
  if (/[{}]/.test(template.replace(PLACEHOLDER, ""))) throw new RktError("invalid-argument", `ACI template "${template}" has an unbalanced brace`);
  absoluteUrl(template.replace(PLACEHOLDER, "x"), "the ACI template");
}

/**
 * Fills a discovery template as a client would (discovery.md: a simple substitution of each
 * `{label}`), or returns undefined when a placeholder has no value.
 *
 * @example
 * renderAciTemplate("https://h/{name}-{version}.{ext}", { name: "example.com/app", version: "1.0", ext: "aci" });
 * // "https://h/example.com/app-1.0.aci"
 */
export function renderAciTemplate(template: string, values: Readonly<Record<string, string>>): string | undefined {
  let missing = false;
  const url = template.replace(PLACEHOLDER, (_, name: string) => {
    const v = values[name];
    if (v === undefined) missing = true;
    return v ?? "";
  });
  return missing ? undefined : url;
}

function absoluteUrl(text: string, what: string): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new RktError("invalid-argument", `${what} "${text}" is not an absolute URL`, { hint: "write it with its scheme, e.g. https://example.com/..." });
  }
  if (url.host === "" && url.protocol !== "file:") throw new RktError("invalid-argument", `${what} "${text}" names no host`);
}

function attr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function text(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
