import assert from "node:assert/strict";
import { test } from "node:test";
import { RktError } from "../../../src/lib/errors.js";
import { cpuQuotaFromMillis, parseCpuQuantity, parseCpuShares, parseMemoryQuantity } from "../../../src/stage1/oci/resource-quantity.js";

function rejects(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof RktError, String(err));
    assert.equal(err.kind, "invalid-argument");
    for (const f of fragments) assert.ok(err.message.includes(f), `${JSON.stringify(err.message)} lacks ${JSON.stringify(f)}`);
    assert.ok(err.hint !== undefined);
    return true;
  });
}

test("parseMemoryQuantity reads decimal and binary suffixes as Kubernetes does", () => {
  assert.equal(parseMemoryQuantity("128M"), 128_000_000);
  assert.equal(parseMemoryQuantity("16Mi"), 16 * 1024 * 1024);
  assert.equal(parseMemoryQuantity("1G"), 1_000_000_000);
  assert.equal(parseMemoryQuantity("1Gi"), 1024 ** 3);
  assert.equal(parseMemoryQuantity("500000"), 500_000);
  assert.equal(parseMemoryQuantity("64k"), 64_000);
  assert.equal(parseMemoryQuantity("64Ki"), 65_536);
  assert.equal(parseMemoryQuantity("1.5Gi"), 1.5 * 1024 ** 3);
  assert.equal(parseMemoryQuantity("12e6"), 12_000_000);
  assert.equal(parseMemoryQuantity("+2T"), 2e12);
  assert.equal(parseMemoryQuantity(" 3P "), 3e15);
});

test("parseMemoryQuantity rounds fractional bytes up", () => {
  assert.equal(parseMemoryQuantity("1.5"), 2);
  assert.equal(parseMemoryQuantity("1500m"), 2);
  assert.equal(parseMemoryQuantity("0.1k"), 100);
});

test("parseMemoryQuantity refuses what is not a positive quantity, naming flag and value", () => {
  rejects(() => parseMemoryQuantity("128MB"), "--memory", '"128MB"', "not a quantity");
  rejects(() => parseMemoryQuantity("lots"), "--memory", "not a quantity");
  rejects(() => parseMemoryQuantity(""), "--memory");
  rejects(() => parseMemoryQuantity("-1G"), "--memory", "negative");
  rejects(() => parseMemoryQuantity("0"), "--memory", "more than zero");
  rejects(() => parseMemoryQuantity("1E"), "--memory", "larger");
  rejects(() => parseMemoryQuantity("1e999999999"), "--memory", "out of range");
  rejects(() => parseMemoryQuantity("12Q", "resource/memory"), "resource/memory", '"12Q"');
});

test("parseCpuQuantity gives millicores", () => {
  assert.equal(parseCpuQuantity("500m"), 500);
  assert.equal(parseCpuQuantity("1"), 1000);
  assert.equal(parseCpuQuantity("2.5"), 2500);
  assert.equal(parseCpuQuantity("0.1"), 100);
  assert.equal(parseCpuQuantity(".25"), 250);
  assert.equal(parseCpuQuantity("0.0001"), 1); // rounds up, as Kubernetes' MilliValue
  assert.equal(parseCpuQuantity("1e1"), 10_000);
});

test("parseCpuQuantity refuses zero, negative and malformed values, naming flag and value", () => {
  rejects(() => parseCpuQuantity("0"), "--cpu", "more than zero");
  rejects(() => parseCpuQuantity("-500m"), "--cpu", "negative");
  rejects(() => parseCpuQuantity("half"), "--cpu", '"half"', "not a quantity");
  rejects(() => parseCpuQuantity("500 m"), "--cpu");
  rejects(() => parseCpuQuantity("1e20"), "--cpu", "more CPUs");
});

test("cpuQuotaFromMillis uses a 100 ms period and the kernel's 1 ms minimum quota", () => {
  assert.deepEqual(cpuQuotaFromMillis(500), { quota: 50_000, period: 100_000 });
  assert.deepEqual(cpuQuotaFromMillis(1000), { quota: 100_000, period: 100_000 });
  assert.deepEqual(cpuQuotaFromMillis(2500), { quota: 250_000, period: 100_000 });
  assert.deepEqual(cpuQuotaFromMillis(5), { quota: 1000, period: 100_000 });
  assert.throws(() => cpuQuotaFromMillis(0), RktError);
  assert.throws(() => cpuQuotaFromMillis(1.5), RktError);
});

test("parseCpuShares accepts 2 to 262144", () => {
  assert.equal(parseCpuShares("2048"), 2048);
  assert.equal(parseCpuShares(2), 2);
  assert.equal(parseCpuShares("262144"), 262_144);
  rejects(() => parseCpuShares("1"), "--cpu-shares", "2 to 262144");
  rejects(() => parseCpuShares("262145"), "--cpu-shares");
  rejects(() => parseCpuShares("1.5k"), "--cpu-shares");
});
