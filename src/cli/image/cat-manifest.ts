/**
 * `rkt image cat-manifest IMAGE`: print the image's manifest as stored: the OCI/Docker manifest,
 * or for an ACI its appc image manifest (the `manifest` file of the archive), as rkt printed it.
 */
import { findImage } from "../../engine/image/find-image.js";
import { ImageStore } from "../../image/store/image-store.js";
import { RktError } from "../../lib/errors.js";
import { boolFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";

export const imageCatManifestCommand = defineCommand({
  path: ["image", "cat-manifest"],
  summary: "Inspect and print the image manifest",
  usage: "image cat-manifest [--pretty-print] IMAGE",
  flags: {
    prettyPrint: boolFlag("apply indent to format the output", true),
    config: boolFlag("print the image configuration instead of the manifest"),
  },
  run(ctx, { values, positionals }) {
    if (positionals.length !== 1) throw new RktError("invalid-argument", "expected exactly one image", { hint: "usage: rkt image cat-manifest IMAGE" });
    const store = ImageStore.open(ctx.globals.dataDir);
    const rec = findImage(store, positionals[0] ?? "");
    if (rec.format === "aci" && values.config) {
      throw new RktError("invalid-argument", "an ACI has no configuration apart from its image manifest", { hint: "run it without --config" });
    }
    // An ACI's ID is its archive; its manifest is kept as the config blob.
    const bytes = store.readBlob(values.config || rec.format === "aci" ? rec.configDigest : rec.id);
    const text = values.prettyPrint ? JSON.stringify(JSON.parse(bytes.toString("utf8")), null, "\t") : bytes.toString("utf8");
    ctx.out.stdout(text.endsWith("\n") ? text : `${text}\n`);
    return Promise.resolve(0);
  },
});
