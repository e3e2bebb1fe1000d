/** `rkt fetch IMAGE...`: fetch images into the store and print their IDs. */
import { loadAuthConfig } from "../config/auth-config.js";
import { insecureWarnings } from "../config/insecure-options.js";
import { fetchImage } from "../engine/image/fetch-images.js";
import { ImageStore } from "../image/store/image-store.js";
import { RktError } from "../lib/errors.js";
import { boolFlag, listFlag, stringFlag } from "./args/flags.js";
import { defineCommand } from "./command.js";
import { formatImageId } from "./output/image-id.js";
import { ProgressView } from "./output/progress.js";

export const fetchCommand = defineCommand({
  path: ["fetch"],
  summary: "Fetch image(s) and store them in the local store",
  usage: "fetch [--pull-policy=new|update|never] [--full] IMAGE...",
  flags: {
    pullPolicy: stringFlag("when to fetch: new (only if not in the store), update (always check the source), never (store only)", "update", ["new", "update", "never"]),
    full: boolFlag("print the full image hash after fetching"),
    signature: listFlag("local signature file to use in validating the preceding image"),
    storeOnly: boolFlag("deprecated: same as --pull-policy=never", false, true),
    noStore: boolFlag("deprecated: same as --pull-policy=update", false, true),
  },
  async run(ctx, { values, positionals }) {
    if (positionals.length === 0) {
      throw new RktError("invalid-argument", "no image given", { hint: "usage: rkt fetch [--pull-policy=new|update|never] IMAGE..." });
    }
    if (values.signature.length > 0 && values.signature.length !== positionals.length) {
      throw new RktError("invalid-argument", `${values.signature.length} --signature file(s) for ${positionals.length} images`, {
        hint: "give one --signature per image, in the order of the images (rkt fetch A.aci --signature A.asc B.aci --signature B.asc)",
      });
    }
    const policy = values.storeOnly ? "never" : values.noStore ? "update" : (values.pullPolicy as "new" | "update" | "never");
    for (const w of insecureWarnings(ctx.globals.insecure)) ctx.out.stderr(`warning: ${w}\n`);
    const { globals } = ctx;
    const store = ImageStore.open(globals.dataDir);
    const auth = loadAuthConfig([globals.systemConfigDir, globals.localConfigDir, globals.userConfigDir]);
    const trust = { systemConfigDir: globals.systemConfigDir, localConfigDir: globals.localConfigDir, trustKeysFromHttps: globals.trustKeysFromHttps };
    for (const [i, image] of positionals.entries()) {
      const view = ctx.out.stderrIsTTY ? new ProgressView(ctx.out) : undefined;
      try {
        const rec = await fetchImage(store, image, {
          pullPolicy: policy,
          insecure: globals.insecure,
          auth,
          trust,
          signature: values.signature[i],
          warn: (m) => ctx.out.stderr(`warning: ${m}\n`),
          signal: ctx.signal,
          ...(view === undefined ? {} : { onProgress: view.update }),
        });
        view?.finish();
        ctx.out.stdout(`${formatImageId(rec.id, values.full ? "full" : 32)}\n`);
      } finally {
        view?.finish();
      }
    }
    return 0;
  },
});
