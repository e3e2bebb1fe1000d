/**
 * The security tests' store: an rkt data dir holding busybox plus `/bin/breakout-probe`, a static
 * C program compiled here from breakout-probe.c with the host's gcc (`cc -static`), so the
 * attempts are real system calls and not what busybox happens to offer. Cleaned up like
 * podTestStore: pods stopped and collected, nothing left on the host.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { readFileSync } from "node:fs";
import { execTool } from "../support/exec-tool.js";
import { busyboxLayer } from "../support/image-fixtures.js";
import { buildImage } from "../support/oci-builder.js";
import { collectAll } from "../support/pod-env.js";
import { runRkt } from "../support/run-rkt.js";
import { makeTempDir, removeTempDir, tempDir } from "../support/tmp.js";

/** A data dir with the probe image, and the image's ID. */
export interface ProbeStore {
  readonly dir: string;
  readonly image: string;
}

const SOURCE = fileURLToPath(new URL("./breakout-probe.c", import.meta.url));

/** Compiles the probe and fetches busybox + probe into a fresh store (see the module comment). */
export async function probeStore(t: TestContext): Promise<ProbeStore> {
  const dir = await makeTempDir("rkt-security-");
  t.after(async () => {
    try {
      await collectAll(dir);
    } finally {
      await removeTempDir(dir);
    }
  });
  const work = await tempDir(t);
  const binary = join(work, "breakout-probe");
  await execTool("cc", ["-static", "-O", "-Wall", "-o", binary, SOURCE]);
  const layout = join(work, "layout");
  await buildImage({
    dir: layout,
    layers: [
      busyboxLayer(),
      { entries: [{ type: "dir", path: "mnt" }, { type: "file", path: "bin/breakout-probe", content: readFileSync(binary), mode: 0o755 }], createdBy: "breakout-probe" },
    ],
    config: { Env: ["PATH=/bin"], Cmd: ["/bin/sh"], WorkingDir: "/" },
  });
  const r = await runRkt(["fetch", "--insecure-options=image", layout], { dir });
  assert.equal(r.code, 0, r.stderr);
  return { dir, image: r.stdout.trim() };
}
