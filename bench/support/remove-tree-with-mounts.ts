/**
 * Removes a directory tree that a tool may have mounted things under (podman's overlay driver
 * can bind-mount its home onto itself; a pod or a killed pull can leave an overlay mounted).
 * Mounts are detached deepest first, then the tree goes; the test helper's removeTempDir then
 * finds nothing mounted and cannot delete through a mount.
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { removeTempDir } from "../../test/support/tmp.js";
import { execTool } from "../../test/support/exec-tool.js";

/**
 * Unmounts (lazily) every mount point at or under `dir`, deepest first, then removes `dir`.
 *
 * @example
 * await removeTreeWithMounts(podmanDir);
 */
export async function removeTreeWithMounts(dir: string): Promise<void> {
  const root = resolve(dir);
  const mounts = (await mountPoints()).filter((m) => m === root || m.startsWith(`${root}/`));
  for (const m of mounts.sort((a, b) => b.length - a.length)) await execTool("umount", ["--lazy", m]);
  await removeTempDir(root);
}

async function mountPoints(): Promise<string[]> {
  const text = await readFile("/proc/self/mountinfo", "utf8");
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    // mountinfo escapes space, tab, newline and backslash as \ooo octal.
    if (field !== undefined) out.push(field.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}
