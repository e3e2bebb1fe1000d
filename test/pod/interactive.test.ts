/**
 * `rkt run --interactive`: a real terminal to the pod's app. The test gets a pseudo-terminal from
 * util-linux's script(1), the way a user's terminal would be, and types into it.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { podTestStore } from "../support/pod-env.js";
import { RKT_BIN, runRkt } from "../support/run-rkt.js";

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, "'\\''")}'`;
}

test("interactive: a tty reaches the app, window size passes through, Ctrl-] three times ends the pod", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const rkt = [RKT_BIN, `--dir=${dir}`, "run", "--net=none", "--interactive", busybox, "--exec=/bin/sh"].map(shellQuote).join(" ");
  const child = spawn("script", ["-qfec", `stty rows 33 cols 111; ${rkt}`, "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (b: Buffer) => (output += b.toString()));
  child.stderr.on("data", (b: Buffer) => (output += b.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const waitFor = async (re: RegExp, what: string): Promise<void> => {
    for (let i = 0; i < 150; i++) {
      if (re.test(output)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`timed out waiting for ${what}; output so far: ${JSON.stringify(output)}`);
  };
  try {
    await waitFor(/\/ # /, "the shell prompt");
    child.stdin.write("[ -t 0 ] && echo TTY-$((6*7)); /bin/busybox stty size\n");
    await waitFor(/TTY-42/, "the tty check");
    await waitFor(/33 111/, "the window size");
    child.stdin.write("\x1d\x1d\x1d");
    const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r("timeout"), 15_000))]);
    assert.notEqual(code, "timeout", "Ctrl-] x3 ended the pod");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  const list = JSON.parse((await runRkt(["list", "--format=json"], { dir })).stdout) as { state: string }[];
  assert.deepEqual(list.map((p) => p.state), ["exited"]);
});
