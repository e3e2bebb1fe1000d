/** `rkt logs`: per-app output of running and exited pods, from the CRI-format log files. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { podTestStore } from "../support/pod-env.js";
import { RKT_BIN, runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";

test("logs -f follows a running app until the pod exits; --app picks one app of several", async (t) => {
  const { dir, busybox } = await podTestStore(t);
  const uuidFile = join(await tempDir(t), "uuid");
  const pod = spawn(
    RKT_BIN,
    [`--dir=${dir}`, "run", "--net=none", `--uuid-file-save=${uuidFile}`,
      busybox, "--name=ticker", "--exec=/bin/sh", "--", "-c", "for i in 1 2 3 4 5; do echo tick $i; sleep 0.3; done; printf 'no newline'",
      "---", busybox, "--name=quiet", "--exec=/bin/sh", "--", "-c", "echo from quiet >&2"],
    { stdio: "ignore" },
  );
  const exited = new Promise((resolve) => pod.once("exit", resolve));
  let uuid = "";
  for (let i = 0; i < 100 && uuid === ""; i++) {
    try {
      uuid = readFileSync(uuidFile, "utf8").trim();
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  assert.notEqual(uuid, "");
  for (let i = 0; i < 100; i++) {
    const s = await runRkt(["status", uuid], { dir });
    if (s.stdout.includes("state=running")) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const follow = await runRkt(["logs", "-f", "--app=ticker", uuid], { dir, timeoutMs: 30_000 });
  await exited;
  assert.equal(follow.code, 0, follow.stderr);
  assert.equal(follow.stdout, "tick 1\ntick 2\ntick 3\ntick 4\ntick 5\nno newline");
  const quiet = await runRkt(["logs", "--app=quiet", uuid], { dir });
  assert.equal(quiet.stdout, "");
  assert.equal(quiet.stderr, "from quiet\n");
  const stamped = await runRkt(["logs", "--timestamps", "--app=ticker", uuid], { dir });
  assert.match(stamped.stdout, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z tick 1$/m);
  const unknown = await runRkt(["logs", "--app=nope", uuid], { dir });
  assert.equal(unknown.code, 254);
  assert.match(unknown.stderr, /no app "nope"/);
});
