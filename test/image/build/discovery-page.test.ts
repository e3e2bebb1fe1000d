import assert from "node:assert/strict";
import { test } from "node:test";
import { discoveryPage, renderAciTemplate } from "../../../src/image/build/discovery-page.js";
import { parseDiscoveryMetaTags } from "../../../src/image/fetch/appc/discovery-meta-tags.js";
import { RktError } from "../../../src/lib/errors.js";

const TEMPLATE = "https://example.com/images/{os}/{arch}/{name}-{version}.{ext}";

test("discoveryPage writes the ac-discovery and ac-discovery-pubkeys tags rkt's discovery reads", () => {
  const page = discoveryPage({ prefix: "example.com/app", aciTemplate: TEMPLATE, pubkeys: "https://example.com/pubkeys.gpg" });
  assert.match(page, /^<!DOCTYPE html>/);
  assert.match(page, /<meta name="ac-discovery" content="example\.com\/app https:\/\/example\.com\/images\/\{os\}\/\{arch\}\/\{name\}-\{version\}\.\{ext\}">/);
  assert.deepEqual(parseDiscoveryMetaTags(page), [
    { name: "ac-discovery", prefix: "example.com/app", uri: TEMPLATE },
    { name: "ac-discovery-pubkeys", prefix: "example.com/app", uri: "https://example.com/pubkeys.gpg" },
  ]);
  assert.deepEqual(parseDiscoveryMetaTags(discoveryPage({ prefix: "example.com", aciTemplate: TEMPLATE })), [{ name: "ac-discovery", prefix: "example.com", uri: TEMPLATE }]);
});

test("discoveryPage escapes what would break the attribute, and the reader gets it back", () => {
  const template = "https://example.com/get?n={name}&v={version}&e={ext}";
  const page = discoveryPage({ prefix: "example.com", aciTemplate: template });
  assert.match(page, /&amp;v=/);
  assert.equal(parseDiscoveryMetaTags(page)[0]?.uri, template);
});

test("discoveryPage refuses a template without {ext}, unknown placeholders, relative URLs and bad prefixes", () => {
  const invalid = (pattern: RegExp) => (err: unknown) => err instanceof RktError && err.kind === "invalid-argument" && pattern.test(err.message);
  assert.throws(() => discoveryPage({ prefix: "example.com", aciTemplate: "https://example.com/{name}-{version}.aci" }), invalid(/has no \{ext\}/));
  assert.throws(() => discoveryPage({ prefix: "example.com", aciTemplate: "https://example.com/{Name}.{ext}" }), invalid(/\{Name\} is not a placeholder/));
  assert.throws(() => discoveryPage({ prefix: "example.com", aciTemplate: "/images/{name}.{ext}" }), invalid(/not an absolute URL/));
  assert.throws(() => discoveryPage({ prefix: "example.com", aciTemplate: "https://example.com/{name.{ext}" }), invalid(/not a placeholder|unbalanced/));
  assert.throws(() => discoveryPage({ prefix: "https://example.com", aciTemplate: TEMPLATE }), invalid(/invalid prefix/));
  assert.throws(() => discoveryPage({ prefix: "example.com", aciTemplate: TEMPLATE, pubkeys: "pubkeys.gpg" }), invalid(/--pubkeys "pubkeys\.gpg" is not an absolute URL/));
});

test("renderAciTemplate fills every placeholder or gives nothing", () => {
  const values = { name: "example.com/app", version: "1.0", os: "linux", arch: "amd64", ext: "aci" };
  assert.equal(renderAciTemplate(TEMPLATE, values), "https://example.com/images/linux/amd64/example.com/app-1.0.aci");
  assert.equal(renderAciTemplate(TEMPLATE, { ...values, version: undefined } as unknown as Record<string, string>), undefined);
});
