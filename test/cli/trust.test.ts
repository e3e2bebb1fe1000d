/**
 * `rkt trust` as a user runs it: a key file, an HTTPS URL, meta discovery, --root, PEM keys, the
 * fingerprint review on a terminal (a real pty through script(1)) and its refusal without one,
 * and the usage errors. Needs `npm run build`.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { createGpgKey, writePublicKey, type GpgKey } from "../support/gpg.js";
import { RKT_BIN, runRkt, type RunRktResult } from "../support/run-rkt.js";
import { discoveryPage, startStaticServer, type StaticServer } from "../support/static-server.js";
import { tempDir } from "../support/tmp.js";
import { pemKeyPair } from "../image/trust/fixture-keys.js";

interface Setup {
  readonly dir: string;
  readonly etc: string;
  readonly key: GpgKey;
  readonly keyFile: string;
  readonly rkt: (args: readonly string[], env?: Readonly<Record<string, string>>, input?: string) => Promise<RunRktResult>;
}

async function setup(t: TestContext): Promise<Setup> {
  const dir = await tempDir(t);
  const etc = join(dir, "etc-rkt");
  const key = await createGpgKey(dir, { userId: "Carly Container <carly@example.com>" });
  const keyFile = await writePublicKey(key, join(dir, "pubkeys.gpg"));
  const rkt = (args: readonly string[], env: Readonly<Record<string, string>> = {}, input?: string): Promise<RunRktResult> =>
    runRkt([`--local-config=${etc}`, `--system-config=${join(dir, "usr-lib-rkt")}`, ...args], { dir: join(dir, "data"), env, ...(input === undefined ? {} : { input }) });
  return { dir, etc, key, keyFile, rkt };
}

/** gpg's grouping of a fingerprint, as rkt printed it. */
function grouped(fpr: string): string {
  const g = fpr.toUpperCase().match(/.{4}/g) ?? [];
  return `${g.slice(0, 5).join(" ")}  ${g.slice(5).join(" ")}`;
}

async function httpsServer(t: TestContext, dir: string): Promise<StaticServer> {
  const srv = await startStaticServer({ dir });
  t.after(() => srv.close());
  return srv;
}

test("rkt trust --prefix FILE --skip-fingerprint-review shows the key and stores it under the prefix", async (t) => {
  const { etc, key, keyFile, rkt } = await setup(t);
  const r = await rkt(["trust", "--prefix=example.com/hello", "--skip-fingerprint-review", keyFile]);
  assert.equal(r.code, 0, r.stderr);
  const path = join(etc, "trustedkeys", "prefix.d", "example.com", "hello", key.fingerprint);
  assert.equal(
    r.stderr,
    [
      `prefix: "example.com/hello"`,
      `key: "${keyFile}"`,
      `gpg key fingerprint is: ${grouped(key.fingerprint)}`,
      `\tCarly Container <carly@example.com>`,
      `Trusting "${keyFile}" for prefix "example.com/hello" without fingerprint review.`,
      `Added key for prefix "example.com/hello" at "${path}"`,
      "",
    ].join("\n"),
  );
  assert.equal(r.stdout, "");
  assert.equal(readFileSync(path, "utf8"), key.armoredPublicKey);
  assert.equal(statSync(path).mode & 0o777, 0o644);
});

test("rkt trust --root stores a root key", async (t) => {
  const { etc, key, keyFile, rkt } = await setup(t);
  const r = await rkt(["trust", "--root", "--skip-fingerprint-review", keyFile]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^prefix: ""$/m);
  assert.match(r.stderr, new RegExp(`Added root key at "${join(etc, "trustedkeys", "root.d", key.fingerprint)}"`));
});

test("rkt trust fetches a key from an https URL, and from plain http only with --insecure-allow-http", async (t) => {
  const { dir, etc, key, rkt } = await setup(t);
  const srv = await httpsServer(t, dir);
  srv.route("/pubkeys.gpg", { body: key.armoredPublicKey });
  const env = { NODE_EXTRA_CA_CERTS: srv.caFile ?? "" };
  const url = `https://${srv.host}/pubkeys.gpg`;
  const r = await rkt(["trust", "--prefix", `${srv.host}/app`, "--skip-fingerprint-review", url], env);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`key: "${url}"`));
  assert.ok(existsSync(join(etc, "trustedkeys", "prefix.d", srv.host, "app", key.fingerprint)));

  const plain = await startStaticServer({ tls: false, routes: { "/pubkeys.gpg": { body: key.armoredPublicKey } } });
  t.after(() => plain.close());
  const httpUrl = `http://${plain.host}/pubkeys.gpg`;
  const refused = await rkt(["trust", "--prefix=other.example", "--skip-fingerprint-review", httpUrl]);
  assert.equal(refused.code, 254);
  assert.match(refused.stderr, /refusing to fetch key http:\/\/.* over plain HTTP/);
  assert.match(refused.stderr, /--insecure-allow-http/);
  assert.equal(plain.requests.length, 0);
  const allowed = await rkt(["trust", "--prefix=other.example", "--skip-fingerprint-review", "--insecure-allow-http", httpUrl]);
  assert.equal(allowed.code, 0, allowed.stderr);
  assert.ok(existsSync(join(etc, "trustedkeys", "prefix.d", "other.example", key.fingerprint)));
});

test("rkt trust --prefix without a key discovers it through ac-discovery-pubkeys", async (t) => {
  const { dir, etc, key, rkt } = await setup(t);
  const srv = await httpsServer(t, dir);
  srv.route("/", { body: discoveryPage(srv.host, `https://${srv.host}/{name}-{version}.{ext}`, `https://${srv.host}/keys/pubkeys.gpg`), contentType: "text/html" });
  srv.route("/keys/pubkeys.gpg", { body: key.armoredPublicKey });
  const prefix = `${srv.host}/team/app`;
  const r = await rkt(["trust", `--prefix=${prefix}`, "--skip-fingerprint-review"], { NODE_EXTRA_CA_CERTS: srv.caFile ?? "" });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`key: "https://${srv.host}/keys/pubkeys.gpg"`));
  assert.ok(existsSync(join(etc, "trustedkeys", "prefix.d", srv.host, "team", "app", key.fingerprint)));
  assert.deepEqual(srv.requests.map((q) => q.url), ["/team/app?ac-discovery=1", "/team?ac-discovery=1", "/?ac-discovery=1", "/keys/pubkeys.gpg"]);

  srv.route("/", { body: "<html></html>", contentType: "text/html" });
  const none = await rkt(["trust", `--prefix=${srv.host}/x`, "--skip-fingerprint-review"], { NODE_EXTRA_CA_CERTS: srv.caFile ?? "" });
  assert.equal(none.code, 254);
  assert.match(none.stderr, /discovering the keys of prefix ".*\/x": appc discovery found no public keys/);
});

test("rkt trust refuses to ask without a terminal, after showing the key, and stores nothing", async (t) => {
  const { etc, key, keyFile, rkt } = await setup(t);
  const r = await rkt(["trust", "--prefix=example.com/hello", keyFile], {}, "yes\n");
  assert.equal(r.code, 254);
  assert.match(r.stderr, new RegExp(`gpg key fingerprint is: ${grouped(key.fingerprint)}`));
  assert.match(r.stderr, /cannot ask whether to trust .*: standard input is not a terminal/);
  assert.match(r.stderr, /hint: .*--skip-fingerprint-review/);
  assert.equal(existsSync(join(etc, "trustedkeys")), false);
});

/** Runs rkt under script(1) so its stdin is a terminal, typing `input`. */
function runOnTerminal(args: readonly string[], input: string): Promise<{ code: number | null; output: string }> {
  const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`;
  const child = spawn("script", ["-qec", [RKT_BIN, ...args].map(quote).join(" "), "/dev/null"], { stdio: ["pipe", "pipe", "pipe"] });
  const out: Buffer[] = [];
  child.stdout.on("data", (b: Buffer) => out.push(b));
  child.stderr.on("data", (b: Buffer) => out.push(b));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output: Buffer.concat(out).toString("utf8") }));
  });
}

test("rkt trust asks on a terminal and trusts only after yes", async (t) => {
  const { dir, etc, key, keyFile } = await setup(t);
  const base = [`--dir=${join(dir, "data")}`, `--local-config=${etc}`, "trust", "--prefix=example.com/hello", keyFile];
  const path = join(etc, "trustedkeys", "prefix.d", "example.com", "hello", key.fingerprint);
  const declined = await runOnTerminal(base, "no\n");
  assert.equal(declined.code, 0, declined.output);
  assert.match(declined.output, /Are you sure you want to trust this key \(yes\/no\)\?/);
  assert.match(declined.output, /Not trusting ".*pubkeys\.gpg"/);
  assert.equal(existsSync(path), false);
  const accepted = await runOnTerminal(base, "maybe\nyes\n");
  assert.equal(accepted.code, 0, accepted.output);
  assert.match(accepted.output, /Please enter 'yes' or 'no'/);
  assert.match(accepted.output, /after fingerprint review\./);
  assert.ok(existsSync(path));
});

test("rkt trust accepts a PEM public key (cosign) and names it by its SHA-256 fingerprint", async (t) => {
  const { dir, etc, rkt } = await setup(t);
  const { publicPem, privatePem } = pemKeyPair();
  writeFileSync(join(dir, "cosign.pub"), publicPem);
  writeFileSync(join(dir, "cosign.key"), privatePem);
  const r = await rkt(["trust", "--prefix=127.0.0.1:5000/team", "--skip-fingerprint-review", join(dir, "cosign.pub")]);
  assert.equal(r.code, 0, r.stderr);
  const fpr = /public key fingerprint \(sha256\) is: ([0-9a-f]{64})\n\tECDSA P-256 public key\n/.exec(r.stderr)?.[1];
  assert.ok(fpr !== undefined, r.stderr);
  assert.deepEqual(readdirSync(join(etc, "trustedkeys", "prefix.d", "127.0.0.1:5000", "team")), [fpr]);
  const priv = await rkt(["trust", "--prefix=127.0.0.1:5000/team", "--skip-fingerprint-review", join(dir, "cosign.key")]);
  assert.equal(priv.code, 254);
  assert.match(priv.stderr, /is a private key, not a public key/);
});

test("rkt trust usage errors: no scope, both scopes, a bad prefix, --root without a key, a missing file", async (t) => {
  const { etc, keyFile, rkt } = await setup(t);
  const cases: [string[], RegExp][] = [
    [["trust", keyFile], /--root required for non-prefixed \(root\) keys/],
    [["trust"], /--prefix or --root is required/],
    [["trust", "--root", "--prefix=example.com", keyFile], /--root and --prefix usage mutually exclusive/],
    [["trust", "--prefix=../../etc", keyFile], /invalid prefix "\.\.\/\.\.\/etc"/],
    [["trust", "--prefix=https://example.com/app", keyFile], /must not contain a URL scheme[\s\S]*omit https:\/\//],
    [["trust", "--root"], /at least one key or --prefix required/],
    [["trust", "--prefix=example.com", "--skip-fingerprint-review", `${keyFile}.missing`], /cannot read key file .*\.missing/],
  ];
  for (const [args, message] of cases) {
    const r = await rkt(args);
    assert.equal(r.code, 254, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(" "));
  }
  assert.equal(existsSync(join(etc, "trustedkeys")), false);
});
