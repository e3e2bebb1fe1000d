/** `rkt image push [--sign-key=FILE] IMAGE docker://HOST[:PORT]/REPO[:TAG]`: upload (and sign) a stored image. */
import { loadAuthConfig } from "../../config/auth-config.js";
import { insecureWarnings, type InsecureOption } from "../../config/insecure-options.js";
import { pushImage } from "../../engine/image/push-image.js";
import { ImageStore } from "../../image/store/image-store.js";
import { RktError } from "../../lib/errors.js";
import { stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";

const USAGE = "image push [--sign-key=FILE] [--sign-passphrase-file=FILE] IMAGE docker://HOST[:PORT]/REPO[:TAG]";

export const imagePushCommand = defineCommand({
  path: ["image", "push"],
  summary: "Push a stored OCI image to a registry, optionally signed (cosign format)",
  usage: USAGE,
  flags: {
    signKey: stringFlag("sign the pushed image with this private key (cosign's encrypted key or a PEM private key); the signature goes to the tag sha256-<digest>.sig"),
    signPassphraseFile: stringFlag("read the signing key's passphrase from the first line of this file"),
  },
  async run(ctx, { values, positionals }) {
    const [image, destination] = positionals;
    if (image === undefined || destination === undefined || positionals.length !== 2) {
      throw new RktError("invalid-argument", "expected an image and a destination", { hint: `usage: rkt ${USAGE}` });
    }
    if (values.signKey === "" && values.signPassphraseFile !== "") {
      throw new RktError("invalid-argument", "--sign-passphrase-file needs --sign-key", { hint: `usage: rkt ${USAGE}` });
    }
    const { globals } = ctx;
    // Only the transport options matter to a push; "image" (signature checks) does not apply.
    const transport = new Set<InsecureOption>([...globals.insecure].filter((o) => o === "http" || o === "tls"));
    for (const w of insecureWarnings(transport)) ctx.out.stderr(`warning: ${w}\n`);
    const report = await pushImage(ImageStore.open(globals.dataDir), image, destination, {
      insecure: globals.insecure,
      auth: loadAuthConfig([globals.systemConfigDir, globals.localConfigDir, globals.userConfigDir]),
      sign: values.signKey === "" ? undefined : { keyFile: values.signKey, passphraseFile: values.signPassphraseFile === "" ? undefined : values.signPassphraseFile },
      signal: ctx.signal,
      onProgress: (line) => ctx.out.stderr(`${line}\n`),
    });
    ctx.out.stdout(`${report.digest}\n`);
    return 0;
  },
});
