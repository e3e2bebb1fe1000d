/**
 * Images made by tools we did not write (umoci, skopeo), so the engine is tested against other
 * producers' choices (tar details, JSON formatting, annotations, archive layouts) and not only
 * against our own builder.
 */
import { copyFile, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { execTool } from "./exec-tool.js";
import { APP_UID, BUSYBOX_APPLETS, BUSYBOX_PATH } from "./image-fixtures.js";
import { findInLayout, type Descriptor } from "./oci-layout.js";
import { withTempDir } from "./tmp.js";

/** An image a third-party tool wrote into an OCI layout. */
export interface ThirdPartyImage {
  /** The OCI layout directory. */
  readonly dir: string;
  /** Its name in index.json. */
  readonly ref: string;
  /** The manifest descriptor listed in index.json. */
  readonly descriptor: Descriptor;
}

/**
 * A busybox image made entirely by umoci in a new OCI layout at `dir`: `umoci init`, `new`,
 * `unpack`, busybox and its applet symlinks and /etc/passwd added to the rootfs, `repack`,
 * `config` (Cmd ["sh"], PATH), `gc`. Digests differ between runs (umoci records real mtimes).
 *
 * @example
 * const image = await umociImage(join(dir, "umoci"));
 * await pushImage(image.dir, registry, "umoci/busybox", { ref: image.ref });
 */
export async function umociImage(dir: string, ref = "latest"): Promise<ThirdPartyImage> {
  const image = `${dir}:${ref}`;
  await execTool("umoci", ["init", "--layout", dir]);
  await execTool("umoci", ["new", "--image", image]);
  await withTempDir(async (work) => {
    const bundle = join(work, "bundle");
    await execTool("umoci", ["unpack", "--image", image, bundle]);
    const rootfs = join(bundle, "rootfs");
    await mkdir(join(rootfs, "bin"), { recursive: true });
    await mkdir(join(rootfs, "etc"), { recursive: true });
    await copyFile(BUSYBOX_PATH, join(rootfs, "bin", "busybox"));
    for (const applet of BUSYBOX_APPLETS) await symlink("busybox", join(rootfs, "bin", applet));
    await writeFile(join(rootfs, "etc", "passwd"), `root:x:0:0:root:/root:/bin/sh\napp:x:${APP_UID}:${APP_UID}:app:/:/bin/sh\n`);
    await writeFile(join(rootfs, "etc", "group"), `root:x:0:\napp:x:${APP_UID}:\n`);
    await execTool("umoci", ["repack", "--image", image, bundle]);
  }, "rkt-umoci-");
  await execTool("umoci", [
    "config", "--image", image,
    "--config.cmd", "sh",
    "--config.env", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "--config.workingdir", "/",
  ]);
  await execTool("umoci", ["gc", "--layout", dir]);
  return { dir, ref, descriptor: await findInLayout(dir, ref) };
}

/**
 * Writes the image `ref` (default: the only one) of an OCI layout as an OCI archive (a tar of
 * the layout) with `skopeo copy oci:... oci-archive:...`, named `ref ?? "latest"` inside.
 */
export async function skopeoArchive(layoutDir: string, outTar: string, ref?: string): Promise<void> {
  await skopeoCopy(`oci:${layoutDir}${ref === undefined ? "" : `:${ref}`}`, `oci-archive:${outTar}:${ref ?? "latest"}`);
}

/**
 * Writes the image `ref` of an OCI layout as a `docker save`-style archive (manifest.json,
 * layer tars, config) with `skopeo copy oci:... docker-archive:...`, tagged `tag` inside
 * (RepoTags). Only a single-platform image fits this format.
 */
export async function skopeoDockerArchive(layoutDir: string, outTar: string, options: { ref?: string; tag?: string } = {}): Promise<void> {
  const src = `oci:${layoutDir}${options.ref === undefined ? "" : `:${options.ref}`}`;
  await skopeoCopy(src, `docker-archive:${outTar}:${options.tag ?? "rkt-test/image:latest"}`);
}

async function skopeoCopy(src: string, dest: string): Promise<void> {
  await execTool("skopeo", ["--insecure-policy", "copy", "--quiet", src, dest]);
}
