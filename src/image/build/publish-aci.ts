/**
 * Lays out a built ACI for static hosting under a web root: the image (and its signature) at the
 * path its discovery template gives, and the discovery page at the image name's path, so that
 * serving the directory as the name's host makes `rkt fetch NAME` work (appc discovery.md: the
 * client GETs `https://NAME?ac-discovery=1`, a static server answers with `NAME-PATH/index.html`,
 * then fills the template with `{ext}` = `aci` and `aci.asc`).
 *
 * The directory is taken as the web root of both the name's host and the template's host: for
 * `example.com/app` and `https://example.com/aci/{name}-{version}-{os}-{arch}.{ext}` it gets
 * `app/index.html` and `aci/example.com/app-1.0-linux-amd64.aci` (+ `.asc`).
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { RktError } from "../../lib/errors.js";
import { atomicWriteFileSync } from "../../sys/atomic-write.js";
import { checkAciTemplate, discoveryPage, renderAciTemplate } from "./discovery-page.js";
import { PendingFile } from "./pending-file.js";

/** Where and how to publish. */
export interface PublishTarget {
  /** The web root. */
  readonly dir: string;
  /** The `ac-discovery` URL template, with `{ext}`. */
  readonly aciTemplate: string;
  /** The `ac-discovery-pubkeys` URL, if any. */
  readonly pubkeys?: string | undefined;
}

/** The files a publish writes, relative to the web root. */
export interface PublishLayout {
  /** The discovery page: `<name path>/index.html`. */
  readonly page: string;
  readonly aci: string;
  readonly signature: string;
}

/**
 * Where the files of image `name` with `labels` go under the web root; throws when the template
 * is invalid or names a label the image does not have. `version` defaults to "latest", as
 * discovery fills it for a name given without a version.
 *
 * @example
 * publishLayout("example.com/app", { version: "1.0", os: "linux", arch: "amd64" }, "https://example.com/aci/{name}-{version}.{ext}");
 * // { page: "app/index.html", aci: "aci/example.com/app-1.0.aci", signature: "aci/example.com/app-1.0.aci.asc" }
 */
export function publishLayout(name: string, labels: Readonly<Record<string, string>>, aciTemplate: string): PublishLayout {
  checkAciTemplate(aciTemplate);
  const values = { ...labels, version: labels.version ?? "latest", name };
  const path = (ext: string): string => {
    const url = renderAciTemplate(aciTemplate, { ...values, ext });
    if (url === undefined) {
      throw new RktError("invalid-argument", `ACI template "${aciTemplate}" uses a label image ${name} does not have`, { hint: `its labels: ${Object.keys(values).join(", ")}` });
    }
    return webPath(new URL(url).pathname, aciTemplate);
  };
  const namePath = name.includes("/") ? name.slice(name.indexOf("/") + 1) : "";
  return { page: namePath === "" ? "index.html" : `${namePath}/index.html`, aci: path("aci"), signature: path("aci.asc") };
}

/**
 * Copies the ACI (and signature) and writes the discovery page under `target.dir`; returns the
 * layout written.
 */
export function publishAci(target: PublishTarget, image: { readonly name: string; readonly labels: Readonly<Record<string, string>>; readonly aciFile: string; readonly signatureFile?: string | undefined }): PublishLayout {
  const layout = publishLayout(image.name, image.labels, target.aciTemplate);
  const page = discoveryPage({ prefix: image.name, aciTemplate: target.aciTemplate, pubkeys: target.pubkeys });
  place(image.aciFile, join(target.dir, layout.aci));
  if (image.signatureFile !== undefined) place(image.signatureFile, join(target.dir, layout.signature));
  atomicWriteFileSync(join(target.dir, layout.page), page);
  return layout;
}

function place(from: string, to: string): void {
  mkdirSync(dirname(to), { recursive: true, mode: 0o755 });
  const pending = PendingFile.beside(to);
  try {
    copyFileSync(from, pending.path);
    pending.commit();
  } finally {
    pending.discard();
  }
}

/** A URL path as a relative path under the web root; nothing that climbs out of it. */
function webPath(pathname: string, template: string): string {
  const parts = pathname.split("/").filter((p) => p !== "").map((p) => decodeURIComponent(p));
  if (parts.length === 0 || parts.some((p) => p === "." || p === ".." || p.includes("/") || p.includes("\0"))) {
    throw new RktError("invalid-argument", `ACI template "${template}" gives the path ${pathname}, which is not a file under the web root`);
  }
  return parts.join("/");
}
