import assert from "node:assert/strict";
import { test } from "node:test";
import { parseAuthChallenges } from "../../../src/image/fetch/registry/auth-challenge.js";

const simple = (header: string | string[]) => parseAuthChallenges(header).map((c) => ({ scheme: c.scheme, params: Object.fromEntries(c.params) }));

test("parseAuthChallenges reads a registry Bearer challenge", () => {
  assert.deepEqual(simple('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/redis:pull"'), [
    { scheme: "bearer", params: { realm: "https://auth.docker.io/token", service: "registry.docker.io", scope: "repository:library/redis:pull" } },
  ]);
});

test("parseAuthChallenges reads several challenges in one header and across headers", () => {
  assert.deepEqual(simple(['Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"', "Negotiate, Bearer realm=x"]), [
    { scheme: "newauth", params: { realm: "apps", type: "1", title: 'Login to "apps"' } },
    { scheme: "basic", params: { realm: "simple" } },
    { scheme: "negotiate", params: {} },
    { scheme: "bearer", params: { realm: "x" } },
  ]);
});

test("parseAuthChallenges is case-insensitive for schemes and parameter names", () => {
  assert.deepEqual(simple('BASIC Realm="Registry Realm"'), [{ scheme: "basic", params: { realm: "Registry Realm" } }]);
});

test("parseAuthChallenges skips token68 credentials and tolerates garbage", () => {
  assert.deepEqual(simple('Basic abc==, Bearer realm="r"'), [
    { scheme: "basic", params: {} },
    { scheme: "bearer", params: { realm: "r" } },
  ]);
  assert.deepEqual(simple('Bearer realm="unterminated'), [{ scheme: "bearer", params: {} }]);
  assert.deepEqual(simple(""), []);
  assert.deepEqual(parseAuthChallenges(undefined), []);
});

test("parseAuthChallenges keeps hostile parameter names off object prototypes", () => {
  const [c] = parseAuthChallenges('Bearer __proto__="x", realm="r"');
  assert.equal(c?.params.get("__proto__"), "x");
  assert.equal(c?.params.get("realm"), "r");
  assert.equal(Object.getPrototypeOf({}), Object.prototype);
});
