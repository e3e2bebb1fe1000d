/** `rkt image export IMAGE FILE`: write an image as an OCI archive. */
import { exportImage } from "../../engine/image/export-image.js";
import { ImageStore } from "../../image/store/image-store.js";
import { RktError } from "../../lib/errors.js";
import { boolFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";

export const imageExportCommand = defineCommand({
  path: ["image", "export"],
  summary: "Export a stored image to an OCI archive file",
  usage: "image export [--overwrite] IMAGE FILE",
  flags: { overwrite: boolFlag("overwrite the output file if it exists") },
  async run(ctx, { values, positionals }) {
    const [image, file] = positionals;
    if (image === undefined || file === undefined || positionals.length !== 2) {
      throw new RktError("invalid-argument", "expected an image and an output file", { hint: "usage: rkt image export IMAGE FILE" });
    }
    await exportImage(ImageStore.open(ctx.globals.dataDir), image, file, { overwrite: values.overwrite, signal: ctx.signal });
    return 0;
  },
});
