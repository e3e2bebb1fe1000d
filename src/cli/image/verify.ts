/** `rkt image verify IMAGE...`: check stored content against what was recorded at fetch. */
import { verifyImage } from "../../engine/image/verify-image.js";
import { ImageStore } from "../../image/store/image-store.js";
import { RktError } from "../../lib/errors.js";
import { defineCommand } from "../command.js";
import { formatImageId } from "../output/image-id.js";

export const imageVerifyCommand = defineCommand({
  path: ["image", "verify"],
  summary: "Verify the integrity of stored images (blobs and unpacked layer trees)",
  usage: "image verify IMAGE...",
  flags: {},
  async run(ctx, { positionals }) {
    if (positionals.length === 0) throw new RktError("invalid-argument", "no image given", { hint: "usage: rkt image verify IMAGE..." });
    const store = ImageStore.open(ctx.globals.dataDir);
    let failed = 0;
    for (const image of positionals) {
      const report = await verifyImage(store, image);
      const label = `"${formatImageId(report.id, "full")}"${report.names[0] === undefined ? "" : ` ("${report.names[0]}")`}`;
      if (report.problems.length === 0) {
        ctx.out.stdout(`successfully verified checksum for image: ${label}\n`);
      } else {
        failed++;
        ctx.out.stderr(`image verify: image ${label} failed verification:\n${report.problems.map((p) => `  ${p}\n`).join("")}`);
      }
    }
    if (failed > 0) ctx.out.stderr("  hint: remove damaged images with `rkt image rm` and fetch them again\n");
    return failed > 0 ? 254 : 0;
  },
});
