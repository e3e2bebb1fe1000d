/** `rkt image gc`: remove unused images and the content only they used. */
import { gcImages } from "../../engine/image/remove-images.js";
import { ImageStore } from "../../image/store/image-store.js";
import { parseDuration, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";
import { humanSize } from "../output/human.js";
import { formatImageId } from "../output/image-id.js";

export const imageGcCommand = defineCommand({
  path: ["image", "gc"],
  summary: "Garbage collect images and content in the local store that are no longer used",
  usage: "image gc [--grace-period=24h0m0s]",
  flags: {
    gracePeriod: stringFlag("duration since an image was last used before it is removed", "24h0m0s"),
  },
  async run(ctx, { values }) {
    const grace = parseDuration(values.gracePeriod, "grace-period");
    const store = ImageStore.open(ctx.globals.dataDir);
    const r = await gcImages(store, grace, new Date(), ctx.signal);
    for (const img of r.removed) ctx.out.stderr(`removed image "${formatImageId(img.id, "full")}"${img.names.length > 0 ? ` ("${img.names.join('", "')}")` : ""}\n`);
    ctx.out.stderr(`image gc: ${r.removed.length} image(s), ${r.blobs} blob(s) and ${r.layers} layer tree(s) removed, ${humanSize(r.bytes)} freed\n`);
    return 0;
  },
});
