/** `rkt image cat-manifest IMAGE`: print the image's manifest as stored. */
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
    const bytes = store.readBlob(values.config ? rec.configDigest : rec.id);
    const text = values.prettyPrint ? JSON.stringify(JSON.parse(bytes.toString("utf8")), null, "\t") : bytes.toString("utf8");
    ctx.out.stdout(text.endsWith("\n") ? text : `${text}\n`);
    return Promise.resolve(0);
  },
});
