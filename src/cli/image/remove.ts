/** `rkt image rm IMAGE...`: remove images by ID or name. */
import { removeImages } from "../../engine/image/remove-images.js";
import { ImageStore } from "../../image/store/image-store.js";
import { describe, RktError } from "../../lib/errors.js";
import { defineCommand } from "../command.js";
import { formatImageId } from "../output/image-id.js";

export const imageRemoveCommand = defineCommand({
  path: ["image", "rm"],
  summary: "Remove one or more images with the given IDs or names from the local store",
  usage: "image rm IMAGE...",
  flags: {},
  async run(ctx, { positionals }) {
    if (positionals.length === 0) throw new RktError("invalid-argument", "no image given", { hint: "usage: rkt image rm IMAGE..." });
    const store = ImageStore.open(ctx.globals.dataDir);
    const { removed, errors } = await removeImages(store, positionals, ctx.signal);
    for (const r of removed) {
      ctx.out.stderr(`successfully removed image: "${formatImageId(r.id, "full")}"${r.names.length > 0 ? ` ("${r.names.join('", "')}")` : ""}\n`);
    }
    for (const e of errors) ctx.out.stderr(`image rm: ${describe(e.error)}\n`);
    if (removed.length > 0) ctx.out.stderr(`${removed.length} image(s) successfully removed\n`);
    return errors.length > 0 ? 254 : 0;
  },
});
