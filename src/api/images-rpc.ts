/**
 * ListImages and InspectImage (api.proto `PublicAPI`): the images of the store with their
 * names, labels, annotations and sizes. Thin: parse the request, read, filter.
 */
import { findImage } from "../engine/image/find-image.js";
import type { ApiContext } from "./api-context.js";
import { checkImageFilters, matchesImageFilters } from "./image-filter.js";
import { bad } from "./pod-filter.js";
import type { Image, InspectImageRequest, ListImagesRequest } from "./v1alpha-messages.js";

/**
 * ListImages: images matching any filter (all without filters), oldest import first; manifests
 * only with `detail`. Malformed filters: INVALID_ARGUMENT.
 *
 * @example
 * listImages(ctx, { filters: [], detail: false }).images.map((i) => i.name);
 */
export function listImages(ctx: ApiContext, request: ListImagesRequest): { images: Image[] } {
  checkImageFilters(request.filters);
  const snapshot = ctx.catalog.snapshot();
  const images: Image[] = [];
  for (const record of snapshot.records) {
    const image = ctx.catalog.image(snapshot, record, request.detail);
    if (matchesImageFilters({ image, refs: snapshot.namesById.get(record.id) ?? [] }, request.filters)) images.push(image);
  }
  images.sort((a, b) => Number(a.import_timestamp) - Number(b.import_timestamp) || a.id.localeCompare(b.id));
  return { images };
}

/**
 * InspectImage: one image by ID (either form, or a unique prefix) or store name, with its
 * manifest. Unknown: NOT_FOUND; empty or ambiguous: INVALID_ARGUMENT.
 *
 * @example
 * inspectImage(ctx, { id: "sha256-0123abcd" }).image.name;
 */
export function inspectImage(ctx: ApiContext, request: InspectImageRequest): { image: Image } {
  if (request.id === "") throw bad("InspectImage needs an image id", "ListImages gives the images' IDs");
  const record = findImage(ctx.images, request.id);
  const snapshot = ctx.catalog.snapshot();
  return { image: ctx.catalog.image(snapshot, record, true) };
}
