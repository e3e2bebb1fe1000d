/**
 * ListImages filters (rkt's semantics, api.proto `ImageFilter`): within one filter every
 * condition must hold; an image is listed when it matches any filter, or when there are none.
 * Name conditions look at every name the image has in the store (an image fetched under two
 * names matches either), without the tag, as rkt compared the manifest name; `full_names` also
 * accepts the name with its tag.
 */
import { apiImageId, digestForm, splitTag } from "./image-view.js";
import { bad, checkKeys, checkNonEmpty, containsAll } from "./pod-filter.js";
import type { Image, ImageFilter } from "./v1alpha-messages.js";

/** An Image with every name it has in the store (`name:tag` as stored). */
export interface NamedImage {
  readonly image: Image;
  readonly refs: readonly string[];
}

/**
 * Throws RktError "invalid-argument" naming the first malformed condition of `filters`.
 *
 * @example
 * checkImageFilters([{ ...emptyFilter, imported_after: "-1" }]); // throws
 */
export function checkImageFilters(filters: readonly ImageFilter[]): void {
  filters.forEach((f, i) => {
    const where = `filters[${i}]`;
    for (const id of f.ids) if (digestForm(id) === undefined) throw bad(`${where}.ids: "${id}" is not an image ID`, "give a full ID, sha256-<64 hex digits>");
    checkNonEmpty(f.prefixes, `${where}.prefixes`);
    checkNonEmpty(f.base_names, `${where}.base_names`);
    checkNonEmpty(f.keywords, `${where}.keywords`);
    checkNonEmpty(f.full_names, `${where}.full_names`);
    checkKeys(f.labels, `${where}.labels`);
    checkKeys(f.annotations, `${where}.annotations`);
    const after = BigInt(f.imported_after);
    const before = BigInt(f.imported_before);
    if (after < 0n || before < 0n) throw bad(`${where}: import times are seconds since the epoch, not negative`);
    if (after > 0n && before > 0n && after >= before) throw bad(`${where}: imported_after (${after}) is not before imported_before (${before})`);
  });
}

/**
 * Whether the image passes `filters` (any of them; all images when empty).
 *
 * @example
 * named.filter((n) => matchesImageFilters(n, request.filters));
 */
export function matchesImageFilters(named: NamedImage, filters: readonly ImageFilter[]): boolean {
  return filters.length === 0 || filters.some((f) => matchesImageFilter(named, f));
}

function matchesImageFilter({ image, refs }: NamedImage, f: ImageFilter): boolean {
  if (f.ids.length > 0 && !f.ids.some((id) => apiImageId(digestForm(id) ?? "") === image.id)) return false;
  const names = new Set([image.name, ...refs.map((r) => splitTag(r).name)].filter((n) => n !== ""));
  const any = (values: readonly string[], test: (value: string, name: string) => boolean): boolean =>
    values.length === 0 || values.some((v) => [...names].some((n) => test(v, n)));
  if (!any(f.prefixes, (p, n) => n.startsWith(p))) return false;
  if (!any(f.base_names, (b, n) => n.slice(n.lastIndexOf("/") + 1) === b)) return false;
  if (!any(f.keywords, (k, n) => n.includes(k))) return false;
  if (f.full_names.length > 0 && !f.full_names.some((full) => names.has(full) || refs.includes(full))) return false;
  const imported = BigInt(image.import_timestamp);
  if (BigInt(f.imported_after) > 0n && imported <= BigInt(f.imported_after)) return false;
  if (BigInt(f.imported_before) > 0n && imported >= BigInt(f.imported_before)) return false;
  return containsAll(image.labels, f.labels) && containsAll(image.annotations, f.annotations);
}
