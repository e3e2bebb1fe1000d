/**
 * Reading a small file (such as /etc/passwd) from an image's rootfs, which is hostile content: the
 * path is resolved inside the rootfs by secureJoin (a symlink to the host's /etc/shadow becomes the
 * rootfs's own etc/shadow), the final component is opened with O_NOFOLLOW, and only a regular file
 * of bounded size is read (a FIFO would block rkt forever, a 10 GB "passwd" would exhaust memory).
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { secureJoin } from "../../image/layer/secure-join.js";
import { errnoCode, RktError, wrap } from "../../lib/errors.js";

/** Options of {@link readImageFile}. */
export interface ReadImageFileOptions {
  /** Larger files are an error. Default 4 MiB, far above any real /etc/passwd. */
  readonly maxBytes?: number;
  /** Names the image in errors. */
  readonly imageName?: string;
}

const DEFAULT_MAX_BYTES = 4 * 1024 * 1024;

/**
 * The content of `path` (inside the rootfs) as text, or `undefined` when it does not exist.
 * Fails when it is not a regular file or is larger than `maxBytes`.
 *
 * @example
 * const passwd = await readImageFile(rootfs, "/etc/passwd", { imageName: "docker://nginx" });
 * if (passwd === undefined) console.log("the image has no /etc/passwd");
 */
export async function readImageFile(rootfs: string, path: string, options: ReadImageFileOptions = {}): Promise<string | undefined> {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const where = `${path} in ${options.imageName === undefined ? `rootfs ${rootfs}` : `image ${options.imageName}`}`;
  let resolved: string;
  try {
    resolved = await secureJoin(rootfs, path);
  } catch (err) {
    throw wrap(`reading ${where}`, err);
  }
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    handle = await open(resolved, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw wrap(`reading ${where}`, err);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new RktError("invalid-argument", `reading ${where}: not a regular file`);
    if (stat.size > maxBytes) throw new RktError("invalid-argument", `reading ${where}: ${stat.size} bytes is more than the ${maxBytes} rkt reads`);
    // Read at most maxBytes + 1, whatever stat said: a file can grow between stat and read.
    const buf = Buffer.alloc(Math.min(maxBytes + 1, stat.size + 1));
    let length = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length === buf.length) break;
    }
    if (length > maxBytes) throw new RktError("invalid-argument", `reading ${where}: more than the ${maxBytes} bytes rkt reads`);
    return buf.subarray(0, length).toString("utf8");
  } finally {
    await handle.close();
  }
}
