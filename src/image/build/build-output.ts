/**
 * Where `rkt image build` writes, from its `--output` values: `FILE.aci` (an appc image archive;
 * aci.md: "Image archives MUST be named with the suffix .aci"), `oci:DIR[:TAG]` (an OCI image
 * layout, created or added to) or `oci-archive:FILE[:TAG]` (a tar of a layout), the same
 * spellings skopeo and `rkt fetch` use.
 */
import { resolve } from "node:path";
import { RktError } from "../../lib/errors.js";

/** One parsed `--output`. Paths are absolute. */
export type BuildOutput =
  | { readonly kind: "aci"; readonly text: string; readonly path: string }
  | { readonly kind: "oci-layout"; readonly text: string; readonly path: string; readonly tag: string | undefined }
  | { readonly kind: "oci-archive"; readonly text: string; readonly path: string; readonly tag: string | undefined };

/**
 * Reference names (`org.opencontainers.image.ref.name`) as image-spec annotations.md defines
 * them: components of alphanumerics joined by `-._:@/+` or `--`.
 */
const REF_NAME = /^[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*(?:\/[A-Za-z0-9]+(?:(?:[-._:@+]|--)[A-Za-z0-9]+)*)*$/;

/**
 * Parses one `--output` value; relative paths are resolved against `cwd`.
 *
 * @example
 * parseBuildOutput("oci:out/layout:1.0", "/src"); // { kind: "oci-layout", path: "/src/out/layout", tag: "1.0" }
 * parseBuildOutput("app.aci", "/src"); // { kind: "aci", path: "/src/app.aci" }
 */
export function parseBuildOutput(text: string, cwd: string): BuildOutput {
  for (const [prefix, kind] of [["oci:", "oci-layout"], ["oci-archive:", "oci-archive"]] as const) {
    if (!text.startsWith(prefix)) continue;
    // skopeo's rule: the path ends at the first colon, everything after it is the reference.
    const rest = text.slice(prefix.length);
    const colon = rest.indexOf(":");
    const path = colon < 0 ? rest : rest.slice(0, colon);
    const tag = colon < 0 ? undefined : rest.slice(colon + 1);
    if (path === "") throw new RktError("invalid-argument", `output "${text}" names no path`, { hint: `write ${prefix}PATH[:TAG]` });
    if (tag !== undefined) checkRefName(tag, text);
    return { kind, text, path: resolve(cwd, path), tag };
  }
  if (text.endsWith(".aci") && !text.includes(":")) return { kind: "aci", text, path: resolve(cwd, text) };
  throw new RktError("invalid-argument", `unknown output "${text}"`, {
    hint: "write FILE.aci (an appc image), oci:DIR[:TAG] (an OCI layout) or oci-archive:FILE[:TAG] (an OCI archive)",
  });
}

/** Throws unless `name` is a valid `org.opencontainers.image.ref.name`. */
export function checkRefName(name: string, what: string): void {
  if (!REF_NAME.test(name)) {
    throw new RktError("invalid-argument", `invalid tag "${name}" in ${what}`, {
      hint: "an OCI reference name is alphanumeric parts joined by - . _ : @ + or /, e.g. 1.0 or example.com/app:1.0",
    });
  }
}
