/**
 * `rkt image discovery-page --prefix=PREFIX --aci-template=URL_TEMPLATE [--pubkeys=URL]
 * [--output=FILE]`: print (or write) the HTML page with the appc discovery meta tags, for serving
 * as `https://PREFIX?ac-discovery=1` from static hosting (e.g. as PREFIX/index.html).
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { discoveryPage } from "../../image/build/discovery-page.js";
import { RktError } from "../../lib/errors.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { boolFlag, stringFlag } from "../args/flags.js";
import { defineCommand } from "../command.js";

/** The `rkt image discovery-page` command (see the module comment). */
export const imageDiscoveryPageCommand = defineCommand({
  path: ["image", "discovery-page"],
  summary: "Print the appc discovery page (meta tags) for hosting ACIs statically",
  usage: "image discovery-page --prefix=PREFIX --aci-template=URL_TEMPLATE [--pubkeys=URL] [--output=FILE]",
  flags: {
    prefix: stringFlag("the image name prefix the page serves, e.g. example.com/app"),
    aciTemplate: stringFlag("URL template of the ACIs and signatures, with {ext} (and {name} {version} {os} {arch}), e.g. https://example.com/{name}-{version}-{os}-{arch}.{ext}"),
    pubkeys: stringFlag("URL of the armored public keys that sign the images"),
    output: stringFlag("write the page to this file instead of stdout"),
    overwrite: boolFlag("replace the output file if it exists"),
  },
  run(ctx, { values, positionals }) {
    if (positionals.length > 0) throw new RktError("invalid-argument", `unexpected argument "${positionals[0] ?? ""}"`, { hint: "everything is given by flags; see rkt help image discovery-page" });
    if (values.prefix === "") throw new RktError("invalid-argument", "--prefix is required", { hint: "e.g. --prefix=example.com/app" });
    if (values.aciTemplate === "") throw new RktError("invalid-argument", "--aci-template is required", { hint: "e.g. --aci-template=https://example.com/{name}-{version}-{os}-{arch}.{ext}" });
    const page = discoveryPage({ prefix: values.prefix, aciTemplate: values.aciTemplate, pubkeys: values.pubkeys === "" ? undefined : values.pubkeys });
    if (values.output === "") {
      ctx.out.stdout(page);
      return Promise.resolve(0);
    }
    const file = resolve(values.output);
    if (!values.overwrite && existsSync(file)) {
      throw new RktError("already-exists", `${file} already exists`, { hint: "pass --overwrite to replace it" });
    }
    atomicWriteFileSync(file, page);
    return Promise.resolve(0);
  },
});
