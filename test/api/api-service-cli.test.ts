/**
 * `rkt api-service` as a user runs it: the built CLI listening on a unix socket and on TCP,
 * answering a client, and leaving cleanly (exit 0, socket removed) on SIGTERM; bad addresses
 * are refused with rkt's exit code 254. Needs `npm run build`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { RKT_BIN, runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";
import { apiClient } from "./api-fixtures.js";

test("rkt api-service serves on a unix socket and TCP until SIGTERM, then removes its socket", async (t) => {
  const dir = await tempDir(t, "rkt-api-cli-");
  const socket = join(dir, "api.sock");
  const child = spawn(RKT_BIN, [`--dir=${dir}`, "api-service", `--listen=unix://${socket}`, "--listen=127.0.0.1:0"], { stdio: ["ignore", "ignore", "pipe"] });
  t.after(() => child.kill("SIGKILL"));
  let stderr = "";
  await new Promise<void>((resolve, reject) => {
    child.stderr.on("data", (b: Buffer) => {
      stderr += b.toString();
      if (stderr.includes("API service running on")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`exited ${code}: ${stderr}`)));
  });
  const tcp = /running on unix:\/\/\S+, (127\.0\.0\.1:\d+)/.exec(stderr)?.[1];
  assert.ok(tcp !== undefined, stderr);
  for (const address of [`unix://${socket}`, tcp]) {
    const client = apiClient(address);
    const { info } = (await client.call("GetInfo", {})) as { info: { api_version: string; global_flags: { dir: string } } };
    assert.equal(info.api_version, "1.0.0-alpha");
    assert.equal(info.global_flags.dir, dir);
    client.close();
  }
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  assert.equal(await exited, 0, stderr);
  assert.equal(existsSync(socket), false, "socket removed");
});

test("rkt api-service refuses a malformed listen address with exit code 254", async (t) => {
  const dir = await tempDir(t, "rkt-api-cli-");
  const r = await runRkt(["api-service", "--listen=nowhere"], { dir });
  assert.equal(r.code, 254);
  assert.match(r.stderr, /invalid listen address "nowhere"/);
});
