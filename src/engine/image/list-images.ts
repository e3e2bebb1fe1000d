/** `rkt image list`: every image with its names, sizes and times. */
import type { ImageRecord } from "../../image/store/image-record.js";
import type { ImageStore } from "../../image/store/image-store.js";

export interface ImageListing {
  readonly record: ImageRecord;
  /** Names pointing at the image; empty for an image known only by ID. */
  readonly names: readonly string[];
}

export function listImages(store: ImageStore): ImageListing[] {
  const refs = store.listRefs();
  return store.listImages().map((record) => ({ record, names: store.namesOf(record.id, refs) }));
}
