/**
 * The breakout suite (issue 7): from inside a pod with rkt's defaults, every first step of a known
 * container escape fails; under `--insecure-options=all-run` most of them work, which shows the
 * default is what stops them. The probe (breakout-probe.c) makes each attempt as a real system
 * call; the table of attempts and results is printed with the test output (and kept in the
 * README's Security section).
 */
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readSync, statSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { runRkt } from "../support/run-rkt.js";
import { tempDir } from "../support/tmp.js";
import { probeStore } from "./probe-image.js";

/**
 * Whether root on this host can read `path` at all: some hosts (this suite's CI VM among them)
 * refuse even root raw disk reads, and kernels without CONFIG_PROC_KCORE have no /proc/kcore.
 * What the host itself refuses, all-run cannot be expected to allow.
 */
function hostCanRead(path: string): boolean {
  try {
    const fd = openSync(path, "r");
    try {
      return readSync(fd, Buffer.alloc(1), 0, 1, 0) === 1;
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
}

const hostDisk = ["/dev/vda", "/dev/sda", "/dev/nvme0n1"].find((d) => existsSync(d));
const diskReadable = hostDisk !== undefined && hostCanRead(hostDisk);

/**
 * What each attempt gives, in probe order. `loose`: all-run lets it through (the others still meet
 * the pod's namespaces, or the host's own refusal). `contained`: it works under all-run even with
 * `--private-users`, because it only touches namespaces the pod's user namespace owns.
 */
const ATTEMPTS: readonly { readonly name: string; readonly loose: boolean; readonly contained?: boolean }[] = [
  { name: "mount a tmpfs", loose: true, contained: true },
  { name: "unshare a mount namespace", loose: true, contained: true },
  { name: "setns into a network namespace", loose: true, contained: true },
  // A kernel built without modules (no /proc/modules) answers ENOSYS to everyone.
  { name: "load a kernel module", loose: existsSync("/proc/modules") },
  { name: "ptrace a process outside the pod", loose: false },
  { name: "write /proc/sys", loose: true },
  { name: "write /sys", loose: true },
  { name: "write the app's cgroup limits", loose: false },
  { name: "read /proc/kcore", loose: hostCanRead("/proc/kcore") },
  { name: "read /proc/kallsyms", loose: true },
  { name: "read the host disk through /dev", loose: false },
  { name: "mknod the host disk and read it", loose: diskReadable },
  { name: "mknod /dev/kmsg and read the host's log", loose: true },
  { name: "sethostname", loose: true, contained: true },
  { name: "keyctl (the user keyring)", loose: true, contained: true },
  { name: "reach the host root through /proc/1/root", loose: false },
];

function parse(stdout: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const tab = line.indexOf("\t");
    if (tab > 0) out.set(line.slice(0, tab), line.slice(tab + 1));
  }
  return out;
}

const succeeded = (result: string | undefined): boolean => result?.startsWith("ok") === true;

test("breakout attempts fail in a default pod, and most succeed under --insecure-options=all-run; --private-users contains all-run", async (t) => {
  const { dir, image } = await probeStore(t);
  const marker = join(await tempDir(t), "host-marker");
  writeFileSync(marker, "the host's root\n");
  const dev = statSync("/", { bigint: true }).dev;
  const major = Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn));
  const minor = Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn));
  const probe = async (global: string[], pod: string[]): Promise<Map<string, string>> => {
    const r = await runRkt([...global, "run", "--net=none", ...pod, image, "--exec=/bin/breakout-probe", "--", String(major), String(minor), marker, String(process.pid)], { dir });
    assert.equal(r.code, 0, r.stderr);
    return parse(r.stdout);
  };
  const hostName = hostname();

  const def = await probe([], []);
  const loose = await probe(["--insecure-options=all-run"], []);
  const userns = await probe([], ["--private-users"]);
  const usernsLoose = await probe(["--insecure-options=all-run"], ["--private-users"]);
  assert.equal(hostname(), hostName, "the host's hostname changed");

  const columns: [string, Map<string, string>][] = [["default pod", def], ["all-run", loose], ["--private-users", userns], ["all-run + --private-users", usernsLoose]];
  const width = Math.max(...ATTEMPTS.map((a) => a.name.length));
  const cell = (text: string, i: number): string => (i === columns.length - 1 ? text : text.padEnd(16));
  const rows = [
    `${"attempt".padEnd(width)}  ${columns.map(([title], i) => cell(title, i)).join("  ")}`,
    ...ATTEMPTS.map((a) => `${a.name.padEnd(width)}  ${columns.map(([, results], i) => cell(results.get(a.name) ?? "?", i)).join("  ")}`),
  ];
  console.log(rows.join("\n"));

  for (const a of ATTEMPTS) {
    assert.ok(def.has(a.name), `the probe did not report "${a.name}"`);
    assert.ok(!succeeded(def.get(a.name)), `"${a.name}" succeeded in a default pod: ${def.get(a.name) ?? ""}`);
    if (a.loose) assert.ok(succeeded(loose.get(a.name)), `"${a.name}" failed under all-run (${loose.get(a.name) ?? "?"}), so the test cannot tell the default stopped it`);
    else assert.ok(!succeeded(loose.get(a.name)), `"${a.name}" succeeded even under all-run: ${loose.get(a.name) ?? ""}`);
    assert.ok(!succeeded(userns.get(a.name)), `"${a.name}" succeeded in a pod with --private-users: ${userns.get(a.name) ?? ""}`);
    // With a user namespace, all-run's capabilities are the pod's own: whatever reaches the host
    // (modules, /proc/sys, /sys, devices, the kernel's memory) stays refused.
    if (a.contained === true) assert.ok(succeeded(usernsLoose.get(a.name)), `"${a.name}" failed under all-run + --private-users: ${usernsLoose.get(a.name) ?? "?"}`);
    else assert.ok(!succeeded(usernsLoose.get(a.name)), `"${a.name}" succeeded under all-run + --private-users: ${usernsLoose.get(a.name) ?? ""}`);
  }
  // The reasons, not just the failures: each default layer does its part.
  assert.equal(def.get("mount a tmpfs"), "EPERM");
  assert.equal(def.get("load a kernel module"), "EPERM");
  assert.equal(def.get("keyctl (the user keyring)"), "EPERM", "seccomp denies keyctl");
  assert.equal(def.get("write /proc/sys"), "EROFS", "read-only kernel paths");
  assert.equal(def.get("read /proc/kallsyms"), "EMPTY", "masked kernel paths");
  if (existsSync("/proc/kcore")) assert.equal(def.get("read /proc/kcore"), "EMPTY", "masked kernel paths");
  assert.equal(def.get("mknod /dev/kmsg and read the host's log"), "EPERM", "the device cgroup allows the node but not its use");
  assert.equal(def.get("reach the host root through /proc/1/root"), "ENOENT");
});
