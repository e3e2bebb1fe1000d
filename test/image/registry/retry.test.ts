import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { backoffDelay, parseRetryAfter, RetryableError, withRetries } from "../../../src/image/fetch/registry/retry.js";

const policy = { attempts: 4, baseDelayMs: 100, maxDelayMs: 1000 };

test("backoffDelay doubles its ceiling per failure, waits half to all of it, and caps", () => {
  assert.equal(backoffDelay(1, policy, () => 0), 50);
  assert.equal(backoffDelay(1, policy, () => 1), 100);
  assert.equal(backoffDelay(3, policy, () => 1), 400);
  assert.equal(backoffDelay(10, policy, () => 1), 1000);
  assert.equal(backoffDelay(10, policy, () => 0), 500);
});

test("parseRetryAfter reads seconds and HTTP dates", () => {
  const now = Date.parse("2024-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3000);
  assert.equal(parseRetryAfter("Mon, 01 Jan 2024 00:00:02 GMT", now), 2000);
  assert.equal(parseRetryAfter("soon", now), undefined);
  assert.equal(parseRetryAfter(undefined, now), undefined);
});

test("withRetries retries only RetryableErrors, up to the attempt limit", async () => {
  let calls = 0;
  const fast = { attempts: 3, baseDelayMs: 1, maxDelayMs: 1 };
  await assert.rejects(
    withRetries(() => {
      calls++;
      return Promise.reject(new RetryableError("unavailable", "busy"));
    }, { policy: fast }),
    /busy \(gave up after 3 attempts\)/,
  );
  assert.equal(calls, 3);
  calls = 0;
  await assert.rejects(
    withRetries(() => {
      calls++;
      return Promise.reject(new RktError("not-found", "gone"));
    }, { policy: fast }),
    /^RktError: gone$/m,
  );
  assert.equal(calls, 1);
  calls = 0;
  assert.equal(await withRetries(() => (++calls < 2 ? Promise.reject(new RetryableError("unavailable", "x")) : Promise.resolve("ok")), { policy: fast }), "ok");
});
