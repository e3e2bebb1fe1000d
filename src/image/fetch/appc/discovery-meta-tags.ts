/**
 * The appc meta discovery tags of an HTML page (appc spec 0.8.11, discovery.md "Meta Discovery"):
 *
 * ```html
 * <meta name="ac-discovery" content="example.com/app https://example.com/{name}-{version}-{os}-{arch}.{ext}">
 * <meta name="ac-discovery-pubkeys" content="example.com/app https://example.com/pubkeys.gpg">
 * ```
 *
 * The page comes from the network, so it is read as hostile text: no DOM, a small scanner that
 * accepts attributes in any order, double, single or no quotes, any case in tag and attribute
 * names, character references in values, and ignores what is inside comments, scripts and
 * styles (a browser would not see a tag there either). Anything it cannot read is skipped.
 */

/** One `ac-discovery` or `ac-discovery-pubkeys` tag. */
export interface DiscoveryMetaTag {
  readonly name: "ac-discovery" | "ac-discovery-pubkeys";
  /** The name prefix the tag applies to (first word of `content`). */
  readonly prefix: string;
  /** A URL template (ac-discovery) or a key URL (ac-discovery-pubkeys): the rest of `content`. */
  readonly uri: string;
}

/**
 * Finds the discovery meta tags of `html`, in page order.
 *
 * @example
 * parseDiscoveryMetaTags(`<META content='a.com/x https://a.com/k.gpg' name=ac-discovery-pubkeys>`);
 * // [{ name: "ac-discovery-pubkeys", prefix: "a.com/x", uri: "https://a.com/k.gpg" }]
 */
export function parseDiscoveryMetaTags(html: string): DiscoveryMetaTag[] {
  const text = html.replace(/<!--[\s\S]*?(?:-->|$)/g, " ").replace(/<(script|style|textarea|title)\b[\s\S]*?(?:<\/\1\s*>|$)/gi, " ");
  const tags: DiscoveryMetaTag[] = [];
  const start = /<meta(?=[\s/>])/gi;
  for (let m = start.exec(text); m !== null; m = start.exec(text)) {
    const { attributes, end } = readAttributes(text, m.index + m[0].length);
    start.lastIndex = end;
    const name = attributes.get("name")?.trim().toLowerCase();
    if (name !== "ac-discovery" && name !== "ac-discovery-pubkeys") continue;
    const content = attributes.get("content")?.trim() ?? "";
    const split = /\s+/.exec(content);
    if (split === null) continue;
    const prefix = content.slice(0, split.index);
    const uri = content.slice(split.index + split[0].length).trim();
    if (prefix === "" || uri === "") continue;
    tags.push({ name, prefix, uri });
  }
  return tags;
}

/** Reads a tag's attributes from `pos` to its closing `>`; the first of a repeated attribute wins (HTML). */
function readAttributes(text: string, pos: number): { attributes: Map<string, string>; end: number } {
  const attributes = new Map<string, string>();
  let i = pos;
  const n = text.length;
  const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\f";
  while (i < n) {
    while (i < n && (isSpace(text[i]) || text[i] === "/")) i++;
    if (i >= n || text[i] === ">") break;
    const nameStart = i;
    while (i < n && !isSpace(text[i]) && text[i] !== "=" && text[i] !== ">" && text[i] !== "/") i++;
    const name = text.slice(nameStart, i).toLowerCase();
    while (i < n && isSpace(text[i])) i++;
    let value = "";
    if (text[i] === "=") {
      i++;
      while (i < n && isSpace(text[i])) i++;
      const quote = text[i];
      if (quote === '"' || quote === "'") {
        const close = text.indexOf(quote, i + 1);
        const stop = close < 0 ? n : close;
        value = text.slice(i + 1, stop);
        i = stop + 1;
      } else {
        const valueStart = i;
        while (i < n && !isSpace(text[i]) && text[i] !== ">") i++;
        value = text.slice(valueStart, i);
      }
    }
    if (name !== "" && !attributes.has(name)) attributes.set(name, decodeCharacterReferences(value));
  }
  return { attributes, end: Math.min(i + 1, n) };
}

const NAMED: Readonly<Record<string, string>> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: "\u00a0" };

/** Decodes `&amp;`, `&#38;`, `&#x26;` and the few named references a URL could carry. */
function decodeCharacterReferences(value: string): string {
  return value.replace(/&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#")) {
      const code = ref[1] === "x" || ref[1] === "X" ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
    }
    return NAMED[ref.toLowerCase()] ?? whole;
  });
}
