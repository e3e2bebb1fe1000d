/** `rkt image build` and `rkt image discovery-page` through the built CLI (run `npm run build` first). */
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { gunzipSync } from "node:zlib";
import { execTool } from "../support/exec-tool.js";
import { createGpgKey, gpg } from "../support/gpg.js";
import { tarHeaders } from "../support/layer-tar.js";
import { runRkt } from "../support/run-rkt.js";
import { startStaticServer } from "../support/static-server.js";
import { tempDir } from "../support/tmp.js";

const UNSIGNED = "--insecure-options=image";

async function context(t: TestContext): Promise<string> {
  const dir = join(await tempDir(t), "ctx");
  mkdirSync(join(dir, "bin"), { recursive: true });
  writeFileSync(join(dir, "bin", "hello"), "#!/bin/sh\necho hello\n", { mode: 0o755 });
  symlinkSync("hello", join(dir, "bin", "hi"));
  writeFileSync(join(dir, "motd"), "welcome\n");
  return dir;
}

async function aciManifest(file: string): Promise<Record<string, unknown>> {
  const tar = gunzipSync(readFileSync(file));
  const [first] = await tarHeaders(tar);
  assert.equal(first?.name, "manifest");
  return JSON.parse(tar.subarray(512, 512 + first.size).toString("utf8")) as Record<string, unknown>;
}

const FLAGS = [
  "--name=example.com/hello",
  "--label=version=1.0",
  "--copy=bin:/usr/bin",
  "--copy=motd:/etc/",
  "--exec=/usr/bin/hello",
  "--arg=--loud",
  "--arg=two words",
  "--user=1000",
  "--group=1000",
  "--working-dir=/tmp",
  "--env=GREETING=hi",
  "--port=http:tcp:8080",
  "--mount-point=data:/var/data:ro",
  "--annotation=authors=tester",
];

test("rkt image build writes an ACI and an OCI layout from flags, and rkt fetch reads both", async (t) => {
  const ctx = await context(t);
  const out = await tempDir(t);
  const r = await runRkt(["image", "build", ...FLAGS, `--output=${join(out, "hello.aci")}`, `--output=oci:${join(out, "layout")}`, ctx], { dir: await tempDir(t) });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[0] ?? "", new RegExp(`^${join(out, "hello.aci")} sha512-[0-9a-f]{128}$`));
  assert.match(lines[1] ?? "", new RegExp(`^oci:${join(out, "layout")}:example\\.com/hello:1\\.0 sha256:[0-9a-f]{64}$`));
  const aciId = (lines[0] ?? "").split(" ")[1] ?? "";
  const manifestDigest = (lines[1] ?? "").split(" ")[1] ?? "";

  const manifest = await aciManifest(join(out, "hello.aci"));
  assert.deepEqual(manifest.app, {
    exec: ["/usr/bin/hello", "--loud", "two words"],
    user: "1000",
    group: "1000",
    workingDirectory: "/tmp",
    environment: [{ name: "GREETING", value: "hi" }],
    mountPoints: [{ name: "data", path: "/var/data", readOnly: true }],
    ports: [{ name: "http", protocol: "tcp", port: 8080 }],
  });
  assert.deepEqual(manifest.annotations, [{ name: "authors", value: "tester" }]);
  const config = JSON.parse((await execTool("skopeo", ["inspect", "--config", `oci:${join(out, "layout")}:example.com/hello:1.0`])).toString("utf8")) as { config: Record<string, unknown> };
  assert.deepEqual(config.config.Entrypoint, ["/usr/bin/hello", "--loud", "two words"]);
  assert.equal(config.config.User, "1000:1000");

  const ociStore = await tempDir(t);
  const fetchOci = await runRkt(["fetch", UNSIGNED, `oci:${join(out, "layout")}`], { dir: ociStore });
  assert.equal(fetchOci.code, 0, fetchOci.stderr);
  assert.equal(fetchOci.stdout.trim(), `sha256-${manifestDigest.slice(7, 39)}`);
  const list = JSON.parse((await runRkt(["image", "list", "--format=json"], { dir: ociStore })).stdout) as { name: string }[];
  assert.deepEqual(list.map((i) => i.name), ["example.com/hello:1.0"]);

  const aciStore = await tempDir(t);
  const fetchAci = await runRkt(["fetch", UNSIGNED, join(out, "hello.aci")], { dir: aciStore });
  assert.equal(fetchAci.code, 0, fetchAci.stderr);
  assert.equal(fetchAci.stdout.trim(), aciId.slice(0, 39));
});

test("rkt image build reads a JSON spec, flags override it, and SOURCE_DATE_EPOCH fixes the digest", async (t) => {
  const ctx = await context(t);
  const dir = await tempDir(t);
  const spec = join(dir, "build.json");
  writeFileSync(
    spec,
    JSON.stringify({
      name: "example.com/hello",
      labels: { version: "1.0" },
      copy: [{ from: "bin/hello", to: "/hello", mode: "0700" }],
      exec: ["/hello", "from-spec"],
      environment: { A: "spec", B: "spec" },
    }),
  );
  const build = async (name: string, args: string[], epoch: string): Promise<string> => {
    const r = await runRkt(["image", "build", `--spec=${spec}`, ...args, `--output=${join(dir, name)}`, ctx], { dir, env: { SOURCE_DATE_EPOCH: epoch } });
    assert.equal(r.code, 0, r.stderr);
    return r.stdout.trim().split(" ")[1] ?? "";
  };
  const id = await build("a.aci", ["--env=B=flag", "--label=version=2.0", "--arg=from-flag"], "1600000000");
  const manifest = await aciManifest(join(dir, "a.aci"));
  assert.deepEqual((manifest.app as { exec: unknown }).exec, ["/hello", "from-flag"]);
  assert.deepEqual((manifest.app as { environment: unknown }).environment, [
    { name: "A", value: "spec" },
    { name: "B", value: "flag" },
  ]);
  assert.ok((manifest.labels as { name: string; value: string }[]).some((l) => l.name === "version" && l.value === "2.0"));
  const headers = await tarHeaders(gunzipSync(readFileSync(join(dir, "a.aci"))));
  assert.ok(headers.every((h) => h.mtime.getTime() === 1_600_000_000_000));
  assert.equal(headers.find((h) => h.name === "rootfs/hello")?.mode, 0o700);

  assert.equal(await build("b.aci", ["--env=B=flag", "--label=version=2.0", "--arg=from-flag"], "1600000000"), id);
  assert.notEqual(await build("c.aci", ["--env=B=flag", "--label=version=2.0", "--arg=from-flag"], "1600000001"), id);
});

test("rkt image build --sign signs with the gpg key of GNUPGHOME", async (t) => {
  const dir = await tempDir(t);
  const key = await createGpgKey(dir);
  const ctx = await context(t);
  const aci = join(dir, "hello.aci");
  const r = await runRkt(["image", "build", "--name=example.com/hello", "--copy=bin:/bin", "--sign", `--output=${aci}`, ctx], { dir, env: { GNUPGHOME: key.home } });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /signed .*hello\.aci: .*hello\.aci\.asc/);
  await gpg(key.home, ["--verify", `${aci}.asc`, aci]);
  const again = await runRkt(["image", "build", "--name=example.com/hello", "--copy=bin:/bin", "--sign", `--sign-key=${key.fingerprint}`, `--output=${aci}`, ctx], { dir, env: { GNUPGHOME: key.home } });
  assert.equal(again.code, 254, "the ACI exists");
  assert.match(again.stderr, /already exists/);
  assert.match(again.stderr, /--overwrite/);
});

test("rkt image build fails with 254 and a clear message for bad input, writing nothing", async (t) => {
  const ctx = await context(t);
  const out = await tempDir(t);
  const dir = await tempDir(t);
  const aci = `--output=${join(out, "x.aci")}`;
  const cases: [string[], RegExp][] = [
    [["--name=example.com/x", "--copy=missing:/m", aci, ctx], /copy source "missing" does not exist/],
    [["--name=example.com/x", "--copy=../../../etc/passwd:/p", aci, ctx], /outside the context directory/],
    [["--name=Not Valid", aci, ctx], /invalid image name/],
    [["--copy=bin:/bin", aci, ctx], /an ACI needs an image name/],
    [["--name=example.com/x", `--output=${join(out, "x.zip")}`, ctx], /unknown output/],
    [["--name=example.com/x", "--port=http:8080", aci, ctx], /invalid --port "http:8080"/],
    [["--name=example.com/x", "--copy=bin", aci, ctx], /invalid --copy "bin"/],
    [["--name=example.com/x", "--arg=x", aci, ctx], /--arg without an executable/],
    [["--name=example.com/x", aci, join(ctx, "nope")], /context directory .* does not exist/],
  ];
  for (const [args, pattern] of cases) {
    const r = await runRkt(["image", "build", ...args], { dir });
    assert.equal(r.code, 254, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, pattern);
    assert.equal(r.stdout, "");
  }
  const epoch = await runRkt(["image", "build", "--name=example.com/x", aci, ctx], { dir, env: { SOURCE_DATE_EPOCH: "yesterday" } });
  assert.equal(epoch.code, 254);
  assert.match(epoch.stderr, /SOURCE_DATE_EPOCH="yesterday"/);
  assert.deepEqual(readdirSync(out), []);
});

test("rkt image discovery-page prints or writes the meta tags and checks the template", async (t) => {
  const dir = await tempDir(t);
  const args = ["image", "discovery-page", "--prefix=example.com/hello", "--aci-template=https://example.com/{name}-{version}-{os}-{arch}.{ext}", "--pubkeys=https://example.com/keys.asc"];
  const r = await runRkt(args, { dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /<meta name="ac-discovery" content="example\.com\/hello https:\/\/example\.com\/\{name\}-\{version\}-\{os\}-\{arch\}\.\{ext\}">/);
  assert.match(r.stdout, /<meta name="ac-discovery-pubkeys" content="example\.com\/hello https:\/\/example\.com\/keys\.asc">/);
  const file = join(dir, "index.html");
  const w = await runRkt([...args, `--output=${file}`], { dir });
  assert.equal(w.code, 0, w.stderr);
  assert.equal(w.stdout, "");
  assert.equal(readFileSync(file, "utf8"), r.stdout);
  const again = await runRkt([...args, `--output=${file}`], { dir });
  assert.equal(again.code, 254);
  assert.match(again.stderr, /already exists/);
  const bad = await runRkt(["image", "discovery-page", "--prefix=example.com", "--aci-template=https://example.com/{name}.aci"], { dir });
  assert.equal(bad.code, 254);
  assert.match(bad.stderr, /has no \{ext\}/);
  const missing = await runRkt(["image", "discovery-page", "--prefix=example.com"], { dir });
  assert.equal(missing.code, 254);
  assert.match(missing.stderr, /--aci-template is required/);
});

test("rkt image build --publish-dir lays out a signed ACI and its discovery page that rkt fetch finds by name", async (t) => {
  const dir = await tempDir(t);
  const key = await createGpgKey(dir);
  const ctx = await context(t);
  const server = await startStaticServer({ dir });
  t.after(() => server.close());
  const web = join(dir, "web");
  const name = `${server.host}/hello`;
  const build = await runRkt(
    [
      "image", "build", `--name=${name}`, "--label=version=1.0", "--copy=bin:/bin", "--exec=/bin/hello", "--sign",
      `--output=${join(dir, "hello.aci")}`, `--publish-dir=${web}`,
      `--aci-template=https://${server.host}/aci/{name}-{version}-{os}-{arch}.{ext}`, `--pubkeys=https://${server.host}/pubkeys.gpg`, ctx,
    ],
    { dir, env: { GNUPGHOME: key.home } },
  );
  assert.equal(build.code, 0, build.stderr);
  const manifest = await aciManifest(join(dir, "hello.aci"));
  const label = (n: string): string => (manifest.labels as { name: string; value: string }[]).find((l) => l.name === n)?.value ?? "";
  const aciPath = `aci/${name}-1.0-${label("os")}-${label("arch")}.aci`;
  assert.match(build.stderr, new RegExp(`published ${join(web, "hello", "index.html")}`));
  assert.deepEqual(readFileSync(join(web, aciPath)), readFileSync(join(dir, "hello.aci")));
  await gpg(key.home, ["--verify", join(web, `${aciPath}.asc`), join(web, aciPath)]);

  // Serve the web root as a static host would: the name's path answers with its index.html.
  server.route("/hello", { file: join(web, "hello", "index.html"), contentType: "text/html" });
  server.route(`/${aciPath}`, { file: join(web, aciPath) });
  server.route(`/${aciPath}.asc`, { file: join(web, `${aciPath}.asc`) });
  server.route("/pubkeys.gpg", { body: key.armoredPublicKey });
  const env = { NODE_EXTRA_CA_CERTS: server.caFile ?? "" };
  const store = await tempDir(t);
  const keyFile = join(dir, "key.asc");
  writeFileSync(keyFile, key.armoredPublicKey);
  // Keys go to the test's own configuration directories, never the host's /etc/rkt.
  const config = [`--local-config=${join(store, "etc")}`, `--system-config=${join(store, "lib")}`];
  const trust = await runRkt(["trust", ...config, `--prefix=${name}`, "--skip-fingerprint-review", keyFile], { dir: store, env });
  assert.equal(trust.code, 0, trust.stderr);
  const fetch = await runRkt(["fetch", ...config, `${name}:1.0`], { dir: store, env });
  assert.equal(fetch.code, 0, fetch.stderr);
  assert.match(fetch.stdout.trim(), /^sha512-[0-9a-f]{32}$/);
  assert.ok(server.requests.some((r) => r.url === "/hello?ac-discovery=1"));
});
