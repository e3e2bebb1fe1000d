/**
 * appc meta discovery against a real HTTPS server on a loopback address with a test CA: template
 * expansion, walking up the name, pages without tags, plain HTTP only when allowed, hostile
 * HTML, bounded reads, redirects and auth headers.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test, type TestContext } from "node:test";
import { parseAppImageName } from "../../../src/image/formats/appc/app-name.js";
import { parseDiscoveryMetaTags } from "../../../src/image/fetch/appc/discovery-meta-tags.js";
import { discoverApp, discoverPublicKeys } from "../../../src/image/fetch/appc/discovery.js";
import { httpGet, readAll, type HttpOptions } from "../../../src/image/fetch/appc/http-get.js";
import { RktError } from "../../../src/lib/errors.js";
import { discoveryPage, startStaticServer, type StaticServer, type StaticServerOptions } from "../../support/static-server.js";
import { tempDir } from "../../support/tmp.js";

const html = (body: string): { body: string; contentType: string } => ({ body, contentType: "text/html" });
const linuxAmd64 = { os: "linux", arch: "amd64" };

async function server(t: TestContext, options: StaticServerOptions = {}): Promise<{ srv: StaticServer; http: HttpOptions }> {
  const srv = await startStaticServer({ dir: await tempDir(t), ...options });
  t.after(() => srv.close());
  const extraCa = srv.caFile === undefined ? [] : [readFileSync(srv.caFile, "utf8")];
  return { srv, http: { insecureHttp: false, insecureTls: false, extraCa } };
}

function paths(srv: StaticServer): string[] {
  return srv.requests.map((r) => r.url);
}

test("discoverApp expands {name} {version} {os} {arch} {ext} from the name's own page", async (t) => {
  const { srv, http } = await server(t);
  srv.route("/app", html(discoveryPage(`${srv.host}/app`, `https://${srv.host}/dl/{name}-{version}-{os}-{arch}.{ext}`, `https://${srv.host}/pubkeys.gpg`)));
  const found = await discoverApp(parseAppImageName(`${srv.host}/app:1.0`, linuxAmd64), http);
  assert.deepEqual(found.aci, [
    { url: `https://${srv.host}/dl/${srv.host}/app-1.0-linux-amd64.aci`, ascUrl: `https://${srv.host}/dl/${srv.host}/app-1.0-linux-amd64.aci.asc` },
  ]);
  assert.deepEqual(found.publicKeys, [`https://${srv.host}/pubkeys.gpg`]);
  assert.deepEqual(paths(srv), ["/app?ac-discovery=1"]);
});

test("discoverApp walks up the name's path when a page is missing or has no tag for the name", async (t) => {
  const { srv, http } = await server(t);
  srv.route("/team", html(discoveryPage(`${srv.host}/other`, `https://${srv.host}/{name}.{ext}`)));
  srv.route("/", html(discoveryPage(srv.host, `https://${srv.host}/images/{name}-{version}.{ext}`)));
  const found = await discoverApp(parseAppImageName(`${srv.host}/team/app`, linuxAmd64), http);
  assert.equal(found.aci[0]?.url, `https://${srv.host}/images/${srv.host}/team/app-latest.aci`);
  assert.deepEqual(paths(srv), ["/team/app?ac-discovery=1", "/team?ac-discovery=1", "/?ac-discovery=1"]);
});

test("discoverApp skips a template naming a variable the name does not give", async (t) => {
  const { srv, http } = await server(t);
  const page = `<html><head>
<meta name="ac-discovery" content="${srv.host}/app https://${srv.host}/{name}-{channel}.{ext}">
<meta name="ac-discovery" content="${srv.host}/app https://${srv.host}/{name}-{version}.{ext}">
</head></html>`;
  srv.route("/app", html(page));
  const found = await discoverApp(parseAppImageName(`${srv.host}/app:2`, linuxAmd64), http);
  assert.deepEqual(found.aci.map((e) => e.url), [`https://${srv.host}/${srv.host}/app-2.aci`]);
  const withChannel = await discoverApp(parseAppImageName(`${srv.host}/app:2,channel=beta`, linuxAmd64), http);
  assert.equal(withChannel.aci.length, 2);
  srv.route("/app", html(`<meta name="ac-discovery" content="${srv.host}/app https://${srv.host}/{name}-{flavour}.{ext}">`));
  await assert.rejects(discoverApp(parseAppImageName(`${srv.host}/app`, linuxAmd64), http), /use variables the name does not give/);
});

test("discoverApp fails with every page tried when no page has tags", async (t) => {
  const { srv, http } = await server(t);
  srv.route("/app", html("<html><head><title>nothing here</title></head></html>"));
  await assert.rejects(discoverApp(parseAppImageName(`${srv.host}/app`, linuxAmd64), http), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "not-found");
    assert.match(err.message, new RegExp(`^appc discovery found no image for "${srv.host}/app":`));
    assert.match(err.message, /\/app\?ac-discovery=1: no ac-discovery meta tag for/);
    assert.match(err.message, /\?ac-discovery=1: HTTP 404/);
    return true;
  });
});

test("discovery uses plain HTTP only when insecureHttp allows it", async (t) => {
  const { srv, http } = await server(t, { tls: false });
  srv.route("/app", html(discoveryPage(`${srv.host}/app`, `http://${srv.host}/{name}.{ext}`, `http://${srv.host}/k.gpg`)));
  await assert.rejects(discoverApp(parseAppImageName(`${srv.host}/app`, linuxAmd64), http), (err: unknown) => err instanceof RktError && /connection refused/.test(err.message));
  assert.equal(srv.requests.length, 0, "nothing asked over http");
  const found = await discoverApp(parseAppImageName(`${srv.host}/app`, linuxAmd64), { ...http, insecureHttp: true });
  assert.equal(found.aci[0]?.url, `http://${srv.host}/${srv.host}/app.aci`);
  assert.deepEqual(await discoverPublicKeys(`${srv.host}/app`, { ...http, insecureHttp: true }), [`http://${srv.host}/k.gpg`]);
  await assert.rejects(httpGet(`http://${srv.host}/app`, http), (err: unknown) => err instanceof RktError && err.kind === "permission-denied" && /refusing plain HTTP/.test(err.message));
});

test("discovery reports an untrusted certificate with the TLS hint", async (t) => {
  const { srv } = await server(t);
  srv.route("/app", html(discoveryPage(`${srv.host}/app`, `https://${srv.host}/{name}.{ext}`)));
  await assert.rejects(discoverApp(parseAppImageName(`${srv.host}/app`, linuxAmd64), { insecureHttp: false, insecureTls: false }), (err: unknown) => {
    assert.ok(err instanceof RktError);
    assert.equal(err.kind, "failed-precondition");
    assert.match(err.message, /TLS certificate of .* is not trusted/);
    assert.match(err.hint ?? "", /--insecure-options=tls/);
    return true;
  });
  const found = await discoverApp(parseAppImageName(`${srv.host}/app`, linuxAmd64), { insecureHttp: false, insecureTls: true });
  assert.equal(found.aci.length, 1);
});

test("discoverPublicKeys walks up to the page listing keys for the prefix", async (t) => {
  const { srv, http } = await server(t);
  srv.route("/", html(`${discoveryPage(srv.host, `https://${srv.host}/{name}.{ext}`, `https://${srv.host}/root.gpg`)}<meta name="ac-discovery-pubkeys" content="elsewhere.example https://elsewhere.example/k.gpg">`));
  assert.deepEqual(await discoverPublicKeys(`${srv.host}/team/app`, http), [`https://${srv.host}/root.gpg`]);
  assert.deepEqual(paths(srv), ["/team/app?ac-discovery=1", "/team?ac-discovery=1", "/?ac-discovery=1"]);
  srv.route("/", html(discoveryPage(srv.host, `https://${srv.host}/{name}.{ext}`)));
  await assert.rejects(discoverPublicKeys(`${srv.host}/team/app`, http), /found no public keys for .*no ac-discovery-pubkeys meta tag/s);
});

test("discovery reads at most 1 MiB of a page", async (t) => {
  const { srv, http } = await server(t);
  const tag = discoveryPage(`${srv.host}/app`, `https://${srv.host}/{name}.{ext}`);
  srv.route("/app", html(tag + "<!-- padding -->".repeat(300_000)));
  assert.equal((await discoverApp(parseAppImageName(`${srv.host}/app`, linuxAmd64), http)).aci.length, 1, "tags first, junk after: found");
  srv.route("/app", html(" ".repeat(2 << 20) + tag));
  await assert.rejects(discoverApp(parseAppImageName(`${srv.host}/app`, linuxAmd64), http), /no ac-discovery meta tag/);
});

test("httpGet follows redirects, refuses an https to http downgrade, and sends the caller's headers", async (t) => {
  const { srv, http } = await server(t);
  srv.route("/moved", { status: 302, body: "", headers: { location: "/key.gpg" } });
  srv.route("/key.gpg", { body: "KEY" });
  srv.route("/downgrade", { status: 301, body: "", headers: { location: `http://${srv.host}/key.gpg` } });
  const res = await httpGet(`https://${srv.host}/moved`, { ...http, headers: (url): Record<string, string> => (url.host === srv.host ? { authorization: "Bearer s3cret" } : {}) });
  assert.equal(res.status, 200);
  assert.equal(res.finalUrl, `https://${srv.host}/key.gpg`);
  assert.equal((await readAll(res.body)).toString(), "KEY");
  assert.deepEqual(srv.requests.map((r) => r.headers.authorization), ["Bearer s3cret", "Bearer s3cret"]);
  await assert.rejects(httpGet(`https://${srv.host}/downgrade`, http), (err: unknown) => err instanceof RktError && err.kind === "permission-denied" && /refusing to downgrade/.test(err.message));
  await assert.rejects(readAll((await httpGet(`https://${srv.host}/key.gpg`, { ...http, maxBytes: 2 })).body), (err: unknown) => err instanceof RktError && err.kind === "resource-exhausted");
});

test("parseDiscoveryMetaTags reads tags however the HTML is written and ignores comments and scripts", () => {
  const page = `<!DOCTYPE html><HTML><HEAD>
<META CONTENT='a.com/x https://a.com/{name}-{version}.{ext}' NAME="AC-Discovery">
<meta content=a.com/x name=ac-discovery-pubkeys>
<meta name="ac-discovery-pubkeys"
      content="  a.com   https://a.com/keys.gpg?x=1&amp;y=2  "/>
<meta name="description" content="a.com/x https://evil.example/">
<meta name="ac-discovery" content="a.com/y">
<!-- <meta name="ac-discovery" content="a.com https://evil.example/{name}.{ext}"> -->
<script>document.write('<meta name="ac-discovery" content="a.com https://evil.example/x">')</script>
<meta name="ac-discovery" content="a.com/z https://a.com/z>{name}.{ext}">
<meta name="ac-discovery" content="a.com/z https://a.com/&#x7b;name&#125;.{ext}">
</HEAD></HTML>`;
  assert.deepEqual(parseDiscoveryMetaTags(page), [
    { name: "ac-discovery", prefix: "a.com/x", uri: "https://a.com/{name}-{version}.{ext}" },
    { name: "ac-discovery-pubkeys", prefix: "a.com", uri: "https://a.com/keys.gpg?x=1&y=2" },
    { name: "ac-discovery", prefix: "a.com/z", uri: "https://a.com/z>{name}.{ext}" },
    { name: "ac-discovery", prefix: "a.com/z", uri: "https://a.com/{name}.{ext}" },
  ]);
  assert.deepEqual(parseDiscoveryMetaTags("<meta name='ac-discovery' content='unterminated"), []);
  assert.deepEqual(parseDiscoveryMetaTags(""), []);
});
