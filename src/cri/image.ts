/**
 * ImageService RPCs: ListImages, ImageStatus, PullImage, RemoveImage, ImageFsInfo, over the
 * engine's src/engine/cri-support/cri-images.ts (which says why CRI pulls skip signature
 * verification).
 */
import type { CriContext } from "../engine/cri-support/cri-context.js";
import { imageFsInfo, imageStatus, listImages, pullImage, removeImage } from "../engine/cri-support/cri-images.js";
import type { CriAuthConfig, CriImageSpec } from "../engine/cri-support/cri-types.js";
import type { CriHandlers } from "./cri-handlers.js";

/** The image RPCs over `ctx`. */
export function imageHandlers(ctx: CriContext): CriHandlers {
  return {
    ListImages: (req: { readonly filter: { readonly image: CriImageSpec | null } | null }) => Promise.resolve({ images: listImages(ctx, req.filter) }),
    // api.proto: an absent image is no error; the response's image is then unset.
    ImageStatus: (req: { readonly image: CriImageSpec | null; readonly verbose: boolean }) => Promise.resolve(imageStatus(ctx, req.image, req.verbose)),
    PullImage: async (req: { readonly image: CriImageSpec | null; readonly auth: CriAuthConfig | null }) => ({ image_ref: await pullImage(ctx, req.image, req.auth) }),
    // api.proto: idempotent.
    RemoveImage: async (req: { readonly image: CriImageSpec | null }) => {
      await removeImage(ctx, req.image);
      return {};
    },
    ImageFsInfo: () => Promise.resolve({ image_filesystems: imageFsInfo(ctx), container_filesystems: [] }),
  };
}
