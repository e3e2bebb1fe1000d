/**
 * Trust on first use (`--trust-keys-from-https`): keys a prefix publishes over HTTPS are trusted
 * without asking; over plain HTTP only with the pubkey insecure option.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { trustDiscoveredKeys } from "../../../src/engine/trust/trust-discovered-keys.js";
import type { KeyCandidate } from "../../../src/engine/trust/trust-keys.js";
import { Keystore } from "../../../src/image/verify/keystore.js";
import { RktError } from "../../../src/lib/errors.js";
import { createGpgKey } from "../../support/gpg.js";
import { discoveryPage, startStaticServer } from "../../support/static-server.js";
import { tempDir } from "../../support/tmp.js";

test("trustDiscoveredKeys trusts the keys a prefix publishes over HTTPS, once", async (t) => {
  const dir = await tempDir(t);
  const srv = await startStaticServer({ dir });
  t.after(() => srv.close());
  const gpgKey = await createGpgKey(dir);
  const name = `${srv.host}/app`;
  srv.route("/app", { body: discoveryPage(name, `https://${srv.host}/{name}.{ext}`, `https://${srv.host}/pubkeys.gpg`), contentType: "text/html" });
  srv.route("/pubkeys.gpg", { body: gpgKey.armoredPublicKey });
  const ks = new Keystore({ systemConfigDir: join(dir, "sys"), localConfigDir: join(dir, "etc") });
  const http = { insecureHttp: false, insecureTls: false, extraCa: [readFileSync(srv.caFile ?? "", "utf8")] };
  const seen: KeyCandidate[] = [];
  const keys = await trustDiscoveredKeys(name, ks, { ...http, onKey: (c) => seen.push(c) });
  assert.deepEqual(keys.map((k) => [k.fingerprint, k.prefix]), [[gpgKey.fingerprint, name]]);
  assert.equal(keys[0]?.path, join(dir, "etc", "trustedkeys", "prefix.d", srv.host, "app", gpgKey.fingerprint));
  assert.deepEqual(seen.map((c) => [c.location, c.alreadyTrusted]), [[`https://${srv.host}/pubkeys.gpg`, false]]);
  assert.deepEqual(ks.keysFor(`${name}/sub`).map((k) => k.fingerprint), [gpgKey.fingerprint]);
  // Again: already trusted, nothing rewritten.
  const again = await trustDiscoveredKeys(name, ks, { ...http, onKey: (c) => seen.push(c) });
  assert.equal(again[0]?.fingerprint, gpgKey.fingerprint);
  assert.equal(seen[1]?.alreadyTrusted, true);
  // An HTTPS page that points at a key served in clear text: not trusted automatically.
  srv.route("/plain", { body: discoveryPage(`${srv.host}/plain`, `https://${srv.host}/{name}.{ext}`, `http://${srv.host}/pubkeys.gpg`), contentType: "text/html" });
  await assert.rejects(
    trustDiscoveredKeys(`${srv.host}/plain`, ks, http),
    (err: unknown) => err instanceof RktError && err.kind === "permission-denied" && /not over HTTPS: not trusting it automatically/.test(err.message) && /rkt trust --prefix/.test(err.hint ?? ""),
  );
  assert.deepEqual(ks.keysFor(`${srv.host}/plain`), []);
});

test("trustDiscoveredKeys never trusts a key over plain HTTP without the pubkey option", async (t) => {
  const dir = await tempDir(t);
  const srv = await startStaticServer({ dir, tls: false });
  t.after(() => srv.close());
  const gpgKey = await createGpgKey(dir);
  const name = `${srv.host}/app`;
  srv.route("/app", { body: discoveryPage(name, `http://${srv.host}/{name}.{ext}`, `http://${srv.host}/pubkeys.gpg`), contentType: "text/html" });
  srv.route("/pubkeys.gpg", { body: gpgKey.armoredPublicKey });
  const ks = new Keystore({ systemConfigDir: join(dir, "sys"), localConfigDir: join(dir, "etc") });
  // insecureHttp (for images) is not enough: the discovery page is not even asked over http.
  await assert.rejects(trustDiscoveredKeys(name, ks, { insecureHttp: true, insecureTls: false }), (err: unknown) => err instanceof RktError && /discovering the keys of/.test(err.message));
  assert.equal(srv.requests.length, 0);
  assert.deepEqual(ks.keysFor(name), []);
  const keys = await trustDiscoveredKeys(name, ks, { insecureHttp: false, insecureTls: false, insecurePubkey: true });
  assert.equal(keys[0]?.fingerprint, gpgKey.fingerprint);
});
