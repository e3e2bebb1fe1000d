/**
 * Ready-made images that most tests need, built by code with oci-builder.ts: a runnable busybox
 * image, a three-layer image exercising whiteouts and links (with its expected file view), and a
 * two-platform index.
 */
import { readFileSync } from "node:fs";
import type { Compression, LayerEntry } from "./layer-tar.js";
import { buildImage, buildIndex, type BuiltImage, type BuiltIndex, type ImageFormat, type LayerSpec } from "./oci-builder.js";
import type { Platform } from "./oci-layout.js";
import type { ExpectedView } from "./tree-view.js";

/** The host's static busybox (Debian busybox-static); the only binary the fixtures ship. */
export const BUSYBOX_PATH = "/bin/busybox";

/** Applets linked to /bin/busybox in {@link busyboxImage}. */
export const BUSYBOX_APPLETS: readonly string[] = [
  "sh", "true", "false", "echo", "cat", "ls", "sleep", "env", "id", "pwd", "mkdir", "rm", "touch",
  "test", "printf", "wc", "grep", "head", "tail", "hostname", "ps", "kill", "uname", "whoami",
  "sed", "stat", "ln", "date", "mount", "cp", "mv", "chmod", "readlink", "nc", "wget", "ip",
];

/** UID and GID of the user "app" that busyboxImage defines in /etc/passwd and /etc/group. */
export const APP_UID = 1000;

/** Where a fixture goes and in which form. */
export interface FixtureOptions {
  /** The OCI layout directory to write into. */
  readonly dir: string;
  /** Name in index.json. Default "latest". */
  readonly ref?: string;
  /** Default "oci". */
  readonly format?: ImageFormat;
  /** Default "gzip". */
  readonly compression?: Compression;
}

/** The single layer of {@link busyboxImage}, reusable as a base layer of other test images. */
export function busyboxLayer(): LayerSpec {
  const entries: LayerEntry[] = [
    { type: "dir", path: "bin" },
    { type: "file", path: "bin/busybox", content: readFileSync(BUSYBOX_PATH), mode: 0o755 },
    ...BUSYBOX_APPLETS.map((name): LayerEntry => ({ type: "symlink", path: `bin/${name}`, target: "busybox" })),
    { type: "dir", path: "etc" },
    { type: "file", path: "etc/passwd", content: `root:x:0:0:root:/root:/bin/sh\napp:x:${APP_UID}:${APP_UID}:app:/home/app:/bin/sh\n` },
    { type: "file", path: "etc/group", content: `root:x:0:\napp:x:${APP_UID}:\n` },
    { type: "dir", path: "home" },
    { type: "dir", path: "home/app", uid: APP_UID, gid: APP_UID },
    { type: "dir", path: "root", mode: 0o700 },
    { type: "dir", path: "tmp", mode: 0o1777 },
  ];
  return { entries, createdBy: "busybox from the host's busybox-static" };
}

/**
 * A runnable image: one layer with /bin/busybox, applet symlinks ({@link BUSYBOX_APPLETS}),
 * /etc/passwd and /etc/group with root and "app" (uid/gid 1000), /tmp. Config: Cmd ["sh"],
 * PATH set, WorkingDir "/".
 *
 * @example
 * const image = await busyboxImage({ dir, format: "docker" });
 * await pushImage(dir, registry, "busybox");
 */
export async function busyboxImage(options: FixtureOptions & { readonly platform?: Platform }): Promise<BuiltImage> {
  return buildImage({
    dir: options.dir,
    ref: options.ref ?? "latest",
    format: options.format ?? "oci",
    compression: options.compression ?? "gzip",
    ...(options.platform === undefined ? {} : { platform: options.platform }),
    layers: [busyboxLayer()],
    config: {
      Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      Cmd: ["sh"],
      WorkingDir: "/",
    },
  });
}

/** The layers of {@link multiLayerImage}; {@link MULTI_LAYER_VIEW} is what applying them in order gives. */
export function multiLayerLayers(): LayerSpec[] {
  return [
    {
      createdBy: "base files",
      entries: [
        { type: "dir", path: "etc" },
        { type: "file", path: "etc/hostname", content: "base\n" },
        { type: "file", path: "exec.sh", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
        { type: "dir", path: "data" },
        { type: "file", path: "data/a.txt", content: "a\n" },
        { type: "file", path: "data/b.txt", content: "b\n" },
        { type: "file", path: "data/overwritten.txt", content: "v1\n" },
        { type: "file", path: "data/reborn.txt", content: "first life\n" },
        { type: "dir", path: "data/keep" },
        { type: "file", path: "data/keep/k.txt", content: "keep\n" },
        { type: "dir", path: "data/gone-dir" },
        { type: "file", path: "data/gone-dir/x.txt", content: "x\n" },
        { type: "dir", path: "opaque-dir" },
        { type: "file", path: "opaque-dir/old.txt", content: "old\n" },
        { type: "dir", path: "opaque-dir/sub" },
        { type: "file", path: "opaque-dir/sub/old2.txt", content: "old2\n" },
        { type: "file", path: "swap", content: "a file, later a directory\n" },
      ],
    },
    {
      createdBy: "deletions: whiteouts and an opaque directory",
      entries: [
        { type: "dir", path: "data" },
        { type: "whiteout", path: "data/b.txt" },
        { type: "whiteout", path: "data/gone-dir" },
        { type: "whiteout", path: "data/reborn.txt" },
        { type: "file", path: "data/overwritten.txt", content: "v2\n" },
        { type: "file", path: "data/c.txt", content: "c\n" },
        { type: "dir", path: "opaque-dir" },
        { type: "opaque", path: "opaque-dir" },
        { type: "file", path: "opaque-dir/new.txt", content: "new\n" },
      ],
    },
    {
      createdBy: "links, a recreated file, a file replaced by a directory",
      entries: [
        { type: "dir", path: "data" },
        { type: "file", path: "data/orig.txt", content: "orig\n" },
        { type: "hardlink", path: "data/hard.txt", target: "data/orig.txt" },
        { type: "symlink", path: "data/link-to-a", target: "a.txt" },
        { type: "file", path: "data/reborn.txt", content: "second life\n" },
        { type: "dir", path: "etc" },
        { type: "symlink", path: "etc/abs-link", target: "/etc/hostname" },
        { type: "dir", path: "swap" },
        { type: "file", path: "swap/inside.txt", content: "inside\n" },
      ],
    },
  ];
}

/**
 * The complete file view of {@link multiLayerImage} once its three layers are applied (image-spec
 * layer.md "Applying Changesets"): exactly these paths, none of the `absent` ones, and
 * data/hard.txt hard-linked to data/orig.txt. Check a rendered tree with `checkView`.
 */
export const MULTI_LAYER_VIEW: ExpectedView = {
  present: {
    etc: { type: "dir" },
    "etc/hostname": { type: "file", content: "base\n" },
    "etc/abs-link": { type: "symlink", target: "/etc/hostname" },
    "exec.sh": { type: "file", content: "#!/bin/sh\necho hi\n", mode: 0o755 },
    data: { type: "dir" },
    "data/a.txt": { type: "file", content: "a\n" },
    "data/c.txt": { type: "file", content: "c\n" },
    "data/overwritten.txt": { type: "file", content: "v2\n" },
    "data/reborn.txt": { type: "file", content: "second life\n" },
    "data/keep": { type: "dir" },
    "data/keep/k.txt": { type: "file", content: "keep\n" },
    "data/orig.txt": { type: "file", content: "orig\n" },
    "data/hard.txt": { type: "file", content: "orig\n" },
    "data/link-to-a": { type: "symlink", target: "a.txt" },
    "opaque-dir": { type: "dir" },
    "opaque-dir/new.txt": { type: "file", content: "new\n" },
    swap: { type: "dir" },
    "swap/inside.txt": { type: "file", content: "inside\n" },
  },
  absent: [
    "data/b.txt",
    "data/gone-dir",
    "data/gone-dir/x.txt",
    "opaque-dir/old.txt",
    "opaque-dir/sub",
    "data/.wh.b.txt",
    "data/.wh.gone-dir",
    "data/.wh.reborn.txt",
    "opaque-dir/.wh..wh..opq",
  ],
  hardlinks: [["data/orig.txt", "data/hard.txt"]],
};

/**
 * Three layers: base files; deletions (whiteouts of a file and a directory, an opaque directory
 * with new content); then a hard link, symlinks (relative and absolute), a file recreated after
 * its whiteout, and a file replaced by a directory. Config: Cmd ["/exec.sh"]. The result must look
 * like {@link MULTI_LAYER_VIEW}.
 */
export async function multiLayerImage(options: FixtureOptions): Promise<BuiltImage> {
  return buildImage({
    dir: options.dir,
    ref: options.ref ?? "latest",
    format: options.format ?? "oci",
    compression: options.compression ?? "gzip",
    layers: multiLayerLayers(),
    config: { Cmd: ["/exec.sh"], Labels: { "org.example.fixture": "multi-layer" } },
  });
}

/** The platforms of {@link multiPlatformIndex}, in index order. */
export const MULTI_PLATFORMS: readonly Platform[] = [
  { os: "linux", architecture: "amd64" },
  { os: "linux", architecture: "arm64" },
];

/** Path of the marker file in each image of {@link multiPlatformIndex}; it holds `<architecture>\n`. */
export const PLATFORM_MARKER = "platform";

/**
 * An index (OCI image index, or Docker manifest list for format "docker") of two images,
 * linux/amd64 and linux/arm64, each with /platform containing its architecture and a newline.
 * With `busybox`, each image also gets the host's busybox layer first (the host binary in both,
 * so the host's platform can run `cat /platform`).
 */
export async function multiPlatformIndex(options: FixtureOptions & { readonly busybox?: boolean }): Promise<BuiltIndex> {
  return buildIndex({
    dir: options.dir,
    ref: options.ref ?? "latest",
    format: options.format ?? "oci",
    images: MULTI_PLATFORMS.map((platform) => ({
      platform,
      compression: options.compression ?? "gzip",
      config: { Env: ["PATH=/bin"], Cmd: ["cat", `/${PLATFORM_MARKER}`] },
      layers: [
        ...(options.busybox === true ? [busyboxLayer()] : []),
        { entries: [{ type: "file", path: PLATFORM_MARKER, content: `${platform.architecture}\n` }] },
      ],
    })),
  });
}
