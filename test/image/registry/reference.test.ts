import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { isValidRepository, isValidTag, manifestReference, parseDockerReference } from "../../../src/image/reference.js";

const SHA256 = `sha256:${"ab".repeat(32)}`;
const SHA512 = `sha512:${"cd".repeat(64)}`;

describe("parseDockerReference", () => {
  const good: [string, { registry: string; repository: string; tag?: string; digest?: string; name: string }][] = [
    ["docker://redis", { registry: "registry-1.docker.io", repository: "library/redis", tag: "latest", name: "registry-1.docker.io/library/redis:latest" }],
    ["docker://redis:3.2", { registry: "registry-1.docker.io", repository: "library/redis", tag: "3.2", name: "registry-1.docker.io/library/redis:3.2" }],
    ["redis:3.2", { registry: "registry-1.docker.io", repository: "library/redis", tag: "3.2", name: "registry-1.docker.io/library/redis:3.2" }],
    ["docker://bitnami/redis:7", { registry: "registry-1.docker.io", repository: "bitnami/redis", tag: "7", name: "registry-1.docker.io/bitnami/redis:7" }],
    ["docker://docker.io/redis", { registry: "registry-1.docker.io", repository: "library/redis", tag: "latest", name: "registry-1.docker.io/library/redis:latest" }],
    ["docker://index.docker.io/library/redis:6", { registry: "registry-1.docker.io", repository: "library/redis", tag: "6", name: "registry-1.docker.io/library/redis:6" }],
    ["docker://registry-1.docker.io/redis", { registry: "registry-1.docker.io", repository: "library/redis", tag: "latest", name: "registry-1.docker.io/library/redis:latest" }],
    ["docker://Docker.IO/redis", { registry: "registry-1.docker.io", repository: "library/redis", tag: "latest", name: "registry-1.docker.io/library/redis:latest" }],
    ["docker://localhost:5000/app", { registry: "localhost:5000", repository: "app", tag: "latest", name: "localhost:5000/app:latest" }],
    ["docker://localhost/app:v1", { registry: "localhost", repository: "app", tag: "v1", name: "localhost/app:v1" }],
    ["docker://quay.io/coreos/etcd:v3.5.0", { registry: "quay.io", repository: "coreos/etcd", tag: "v3.5.0", name: "quay.io/coreos/etcd:v3.5.0" }],
    ["docker://127.0.0.1:5000/a/b/c:t", { registry: "127.0.0.1:5000", repository: "a/b/c", tag: "t", name: "127.0.0.1:5000/a/b/c:t" }],
    ["docker://[::1]:5000/app:1", { registry: "[::1]:5000", repository: "app", tag: "1", name: "[::1]:5000/app:1" }],
    [`docker://host:5000/repo@${SHA256}`, { registry: "host:5000", repository: "repo", digest: SHA256, name: `host:5000/repo@${SHA256}` }],
    [`docker://redis@${SHA512}`, { registry: "registry-1.docker.io", repository: "library/redis", digest: SHA512, name: `registry-1.docker.io/library/redis@${SHA512}` }],
    [`docker://redis:7@${SHA256}`, { registry: "registry-1.docker.io", repository: "library/redis", tag: "7", digest: SHA256, name: `registry-1.docker.io/library/redis:7@${SHA256}` }],
    ["docker://a__b/c-d.e--f:_x", { registry: "registry-1.docker.io", repository: "a__b/c-d.e--f", tag: "_x", name: "registry-1.docker.io/a__b/c-d.e--f:_x" }],
    ["docker://Example.COM/team/app", { registry: "example.com", repository: "team/app", tag: "latest", name: "example.com/team/app:latest" }],
    [`docker://redis:${"t".repeat(128)}`, { registry: "registry-1.docker.io", repository: "library/redis", tag: "t".repeat(128), name: `registry-1.docker.io/library/redis:${"t".repeat(128)}` }],
  ];
  for (const [input, expected] of good) {
    test(`parseDockerReference normalizes ${input}`, () => {
      assert.deepEqual({ ...parseDockerReference(input) }, expected);
    });
  }

  const bad: [string, RegExp][] = [
    ["", /name is empty/],
    ["docker://", /name is empty/],
    ["docker://Redis", /must be lowercase/],
    ["docker://team/Redis", /must be lowercase/],
    ["docker://redis:", /not a valid tag/],
    ["docker://redis:-x", /not a valid tag/],
    [`docker://redis:${"t".repeat(129)}`, /not a valid tag/],
    ["docker://redis@sha256:abc", /not a valid digest/],
    [`docker://redis@sha256:${"AB".repeat(32)}`, /not a valid digest/],
    [`docker://redis@md5:${"a".repeat(32)}`, /not a valid digest/],
    [`docker://redis@sha512:${"a".repeat(64)}`, /not a valid digest/],
    ["docker://team//app", /empty path component/],
    ["docker://team/app/", /empty path component/],
    ["docker://localhost:5000/", /repository name is empty/],
    ["docker://-app", /not a valid repository component/],
    ["docker://app-", /not a valid repository component/],
    ["docker://a..b", /not a valid repository component/],
    ["docker://a___b", /not a valid repository component/],
    ["docker://host:99999/app", /not a valid registry/],
    ["docker://-bad.example/app", /not a valid registry/],
    ["docker://redis latest", /whitespace/],
    ["https://example.com/app", /only docker:\/\//],
    [`docker://example.com/${"a".repeat(256)}`, /limit is 255/],
  ];
  for (const [input, reason] of bad) {
    test(`parseDockerReference rejects ${JSON.stringify(input.slice(0, 60))}`, () => {
      assert.throws(
        () => parseDockerReference(input),
        (err: unknown) => {
          assert.ok(err instanceof RktError);
          assert.equal(err.kind, "invalid-argument");
          assert.match(err.message, reason);
          assert.ok(err.message.includes(`"${input}"`), "the message names the input");
          assert.match(err.hint ?? "", /docker:\/\/\[REGISTRY/);
          return true;
        },
      );
    });
  }
});

test("manifestReference prefers the digest over the tag", () => {
  assert.equal(manifestReference(parseDockerReference(`redis:7@${SHA256}`)), SHA256);
  assert.equal(manifestReference(parseDockerReference("redis:7")), "7");
  assert.equal(manifestReference(parseDockerReference("redis")), "latest");
});

test("isValidRepository and isValidTag follow the distribution-spec grammar", () => {
  assert.ok(isValidRepository("library/redis"));
  assert.ok(!isValidRepository("../etc"));
  assert.ok(!isValidRepository("a/../b"));
  assert.ok(!isValidRepository("A"));
  assert.ok(isValidTag("v1.0_rc-1"));
  assert.ok(!isValidTag(".hidden"));
  assert.ok(!isValidTag("a/b"));
});
