/** `rkt image render` and `rkt image extract`: write an image's filesystem to a directory. */
import { renderImage } from "../../engine/image/render-image.js";
import { ImageStore } from "../../image/store/image-store.js";
import { RktError } from "../../lib/errors.js";
import { boolFlag } from "../args/flags.js";
import { defineCommand, type Command } from "../command.js";

function renderLike(verb: "render" | "extract", summary: string): Command {
  return defineCommand({
    path: ["image", verb],
    summary,
    usage: `image ${verb} [--rootfs-only] [--overwrite] IMAGE DIR`,
    flags: {
      rootfsOnly: boolFlag("write only the root filesystem, without manifest and config"),
      overwrite: boolFlag("overwrite the output directory"),
    },
    async run(ctx, { values, positionals }) {
      const [image, dir] = positionals;
      if (image === undefined || dir === undefined || positionals.length !== 2) {
        throw new RktError("invalid-argument", "expected an image and an output directory", { hint: `usage: rkt image ${verb} IMAGE DIR` });
      }
      await renderImage(ImageStore.open(ctx.globals.dataDir), image, dir, { rootfsOnly: values.rootfsOnly, overwrite: values.overwrite, extract: verb === "extract", signal: ctx.signal });
      return 0;
    },
  });
}

export const imageRenderCommand = renderLike("render", "Render an image as a pod would see it (layers applied) into a directory");
export const imageExtractCommand = renderLike("extract", "Extract an image's root filesystem (and manifest) into a directory");
