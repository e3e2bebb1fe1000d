/**
 * Workshop: "build your own image". A binary becomes an ACI with `rkt image build`, is signed with
 * the publisher's gpg key (`--sign`), made discoverable with `rkt image discovery-page` on a static
 * HTTPS host, the key is trusted with `rkt trust --prefix` (found by discovery), and the image runs
 * by name: signature verified by default. Then the ways it must fail: the key not trusted, the
 * ACI swapped on the server, a discovery page that points at another image. Nothing of a refused
 * image is stored.
 *
 * The "web host" is test/support/static-server.ts: port 443 on its own 127.x.y.z address (appc
 * names carry no port), with a test CA handed to rkt through NODE_EXTRA_CA_CERTS.
 */
import assert from "node:assert/strict";
import { copyFile, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { createGpgKey, type GpgKey } from "../support/gpg.js";
import { runRkt, type RunRktResult } from "../support/run-rkt.js";
import { startStaticServer, type StaticServer } from "../support/static-server.js";
import { tempDir } from "../support/tmp.js";

interface Published {
  readonly server: StaticServer;
  readonly name: string;
  readonly key: GpgKey;
  readonly aci: string;
  readonly env: Record<string, string>;
}

/** Builds, signs and publishes `<host>/inspector:0.0.1` (a busybox that greets), as the workshop did. */
async function publish(t: TestContext, greeting = "hello from the inspector"): Promise<Published> {
  const work = await tempDir(t);
  const key = await createGpgKey(work, { userId: "Workshop Publisher <publisher@example.com>" });
  const server = await startStaticServer({ dir: work });
  t.after(() => server.close());
  const name = `${server.host}/inspector`;
  const context = join(work, "context");
  await mkdir(join(context, "bin"), { recursive: true });
  await copyFile("/bin/busybox", join(context, "bin", "busybox"));
  const aci = join(work, "inspector-0.0.1-linux-amd64.aci");
  const build = await runRkt(
    ["image", "build", `--name=${name}`, "--label=version=0.0.1", "--copy=bin/busybox:/bin/busybox", "--exec=/bin/busybox", "--arg=echo", `--arg=${greeting}`, `--output=${aci}`, "--sign", `--sign-key=${key.fingerprint}`, context],
    { dir: await tempDir(t), env: { GNUPGHOME: key.home } },
  );
  assert.equal(build.code, 0, build.stderr);
  const page = await runRkt(["image", "discovery-page", `--prefix=${name}`, `--aci-template=https://${server.host}/inspector-{version}-{os}-{arch}.{ext}`, `--pubkeys=https://${server.host}/pubkeys.gpg`], { dir: await tempDir(t) });
  assert.equal(page.code, 0, page.stderr);
  server.route("/inspector", { body: page.stdout, contentType: "text/html" });
  server.route("/inspector-0.0.1-linux-amd64.aci", { file: aci });
  server.route("/inspector-0.0.1-linux-amd64.aci.asc", { file: `${aci}.asc` });
  server.route("/pubkeys.gpg", { body: key.armoredPublicKey });
  return { server, name, key, aci, env: { NODE_EXTRA_CA_CERTS: server.caFile ?? "" } };
}

async function rkt(p: Published, dir: string, config: string, args: readonly string[]): Promise<RunRktResult> {
  return runRkt([`--local-config=${config}`, ...args], { dir, env: p.env });
}

async function stored(dir: string): Promise<string[]> {
  return readdir(join(dir, "cas", "images")).catch(() => []);
}

test("workshop: build an ACI, sign it, publish it, trust the key by discovery, run it by name", async (t) => {
  const p = await publish(t);
  const dir = await tempDir(t);
  const config = await tempDir(t);

  // Not trusted yet: refused, with the way out in the hint, and nothing stored.
  const refused = await rkt(p, dir, config, ["fetch", `${p.name}:0.0.1`]);
  assert.equal(refused.code, 254, refused.stderr);
  assert.match(refused.stderr, new RegExp(`rkt trust --prefix "${p.name.replaceAll(".", "\\.")}"`));
  assert.deepEqual(await stored(dir), []);

  const trust = await rkt(p, dir, config, ["trust", `--prefix=${p.name}`, "--skip-fingerprint-review"]);
  assert.equal(trust.code, 0, trust.stderr);
  assert.match(trust.stdout + trust.stderr, new RegExp(`Added key for prefix "${p.name.replaceAll(".", "\\.")}"`));
  assert.match(trust.stdout + trust.stderr, /Workshop Publisher/);

  const run = await rkt(p, dir, config, ["run", "--net=none", `${p.name}:0.0.1`]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /hello from the inspector/);
  assert.doesNotMatch(run.stderr, /verification has been disabled/);
  const asked = p.server.requests.map((r) => r.url);
  assert.ok(asked.includes("/inspector?ac-discovery=1"), asked.join(" "));
  assert.ok(asked.includes("/inspector-0.0.1-linux-amd64.aci.asc"), asked.join(" "));

  // In the store under its appc name, with rkt's sha512 image ID.
  const list = await rkt(p, dir, config, ["image", "list", "--no-legend"]);
  assert.match(list.stdout, new RegExp(`^sha512-[0-9a-f]{12}\\s+${p.name.replaceAll(".", "\\.")}:0\\.0\\.1\\s`, "m"));
  const gc = await rkt(p, dir, config, ["gc", "--grace-period=0s"]);
  assert.equal(gc.code, 0, gc.stderr);
});

test("workshop: a tampered ACI on the server and a page pointing at another image are refused, nothing stored", async (t) => {
  const p = await publish(t);
  const dir = await tempDir(t);
  const config = await tempDir(t);
  const trust = await rkt(p, dir, config, ["trust", `--prefix=${p.name}`, "--skip-fingerprint-review"]);
  assert.equal(trust.code, 0, trust.stderr);

  // One byte of the ACI changed on the server (its gzip trailer: the manifest still reads).
  const bytes = await readFile(p.aci);
  bytes[bytes.length - 1] = (bytes[bytes.length - 1]! + 1) % 256;
  p.server.route("/inspector-0.0.1-linux-amd64.aci", { body: bytes });
  const tampered = await rkt(p, dir, config, ["fetch", `${p.name}:0.0.1`]);
  assert.equal(tampered.code, 254, tampered.stderr);
  assert.match(tampered.stderr, /tamper|BAD signature|does not match/i);
  assert.deepEqual(await stored(dir), []);

  // The page of a name serves another name's ACI (signed by its own, also trusted, key).
  const other = await publish(t, "hello from a swapped image");
  const trustOther = await rkt(other, dir, config, ["trust", `--prefix=${other.name}`, "--skip-fingerprint-review"]);
  assert.equal(trustOther.code, 0, trustOther.stderr);
  const p2 = await publish(t);
  p2.server.route("/inspector-0.0.1-linux-amd64.aci", { file: other.aci });
  p2.server.route("/inspector-0.0.1-linux-amd64.aci.asc", { file: `${other.aci}.asc` });
  const trustP2 = await rkt(p2, dir, config, ["trust", `--prefix=${p2.name}`, "--skip-fingerprint-review"]);
  assert.equal(trustP2.code, 0, trustP2.stderr);
  const swapped = await rkt(p2, dir, config, ["fetch", `${p2.name}:0.0.1`]);
  assert.equal(swapped.code, 254, swapped.stderr);
  assert.match(swapped.stderr, /is named ".*" in its manifest/);
  assert.deepEqual(await stored(dir), []);
});

test("workshop: the signed ACI file fetched directly verifies with its .asc beside it, and --signature names another", async (t) => {
  const p = await publish(t);
  const dir = await tempDir(t);
  const config = await tempDir(t);
  const keyFile = join(await tempDir(t), "pub.asc");
  await writeFile(keyFile, p.key.armoredPublicKey);
  const trust = await rkt(p, dir, config, ["trust", `--prefix=${p.name}`, "--skip-fingerprint-review", keyFile]);
  assert.equal(trust.code, 0, trust.stderr);
  const r = await rkt(p, dir, config, ["fetch", p.aci]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^sha512-[0-9a-f]{32}\n$/);

  const lone = join(await tempDir(t), "lone.aci");
  await copyFile(p.aci, lone);
  const unsigned = await rkt(p, await tempDir(t), config, ["fetch", lone]);
  assert.equal(unsigned.code, 254);
  assert.match(unsigned.stderr, /--signature/);
  const withSig = await rkt(p, await tempDir(t), config, ["fetch", lone, `--signature=${p.aci}.asc`]);
  assert.equal(withSig.code, 0, withSig.stderr);
});
