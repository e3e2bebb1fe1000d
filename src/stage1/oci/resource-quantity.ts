/**
 * Resource flags in Kubernetes quantity notation (rkt's `--memory=128M` and `--cpu=500m`, the
 * appc `resource/memory` and `resource/cpu` isolators), and their cgroup values.
 *
 * The grammar is Kubernetes' (apimachinery resource.Quantity):
 *
 *   quantity ::= [+-] number [suffix]      number ::= digits [. digits] | . digits
 *   suffix   ::= Ki | Mi | Gi | Ti | Pi | Ei   (powers of 1024)
 *              | m | k | M | G | T | P | E    (powers of 1000; m = 1/1000)
 *              | e<int> | E<int>              (decimal exponent)
 *
 * so `128M` is 128 000 000 bytes and `128Mi` 134 217 728. Arithmetic is exact (bigint): `0.1`
 * CPU is 100 millicores, never 100.00000000000001. Like Kubernetes, fractional results round up.
 */
import { RktError } from "../../lib/errors.js";

/** The CFS period rkt uses, in microseconds (100 ms, the kernel's and Kubernetes' default). */
export const CPU_PERIOD_US = 100_000;

/**
 * The smallest CFS quota the kernel accepts (1 ms, cpu.cfs_quota_us); Kubernetes raises smaller
 * quotas to it (MinQuotaPeriod) and so does rkt.
 */
export const MIN_CPU_QUOTA_US = 1_000;

/** cpu.shares bounds the kernel enforces (it clamps silently; rkt says so instead). */
export const MIN_CPU_SHARES = 2;
export const MAX_CPU_SHARES = 262_144;

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|m|k|M|G|T|P|E)?$/;
const BINARY_POWER: Readonly<Record<string, bigint>> = { Ki: 1n, Mi: 2n, Gi: 3n, Ti: 4n, Pi: 5n, Ei: 6n };
const DECIMAL_EXPONENT: Readonly<Record<string, number>> = { m: -3, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };
/** Keeps hostile input like `1e999999999` from building a gigantic bigint. */
const MAX_EXPONENT = 30;

/** An exact non-negative rational. */
interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

/**
 * Parses a Kubernetes quantity exactly; `undefined` when it is not one.
 *
 * @example
 * parseQuantity("2.5");  // { num: 25n, den: 10n }
 * parseQuantity("16Mi"); // { num: 16777216n, den: 1n }
 */
function parseQuantity(text: string): { negative: boolean; value: Rational } | "out-of-range" | undefined {
  const match = QUANTITY.exec(text.trim());
  if (match === null) return undefined;
  const [, sign = "", number = "", suffix = ""] = match;
  const [whole = "", fraction = ""] = number.split(".");
  if (whole.length + fraction.length > 40) return "out-of-range";
  let num = BigInt(`${whole}${fraction}` || "0");
  let den = 10n ** BigInt(fraction.length);
  let exponent = 0;
  if (suffix in BINARY_POWER) {
    num *= 1024n ** (BINARY_POWER[suffix] ?? 0n);
  } else if (suffix in DECIMAL_EXPONENT) {
    exponent = DECIMAL_EXPONENT[suffix] ?? 0;
  } else if (suffix !== "") {
    exponent = Number(suffix.slice(1));
  }
  if (Math.abs(exponent) > MAX_EXPONENT) return "out-of-range";
  if (exponent >= 0) num *= 10n ** BigInt(exponent);
  else den *= 10n ** BigInt(-exponent);
  return { negative: sign === "-" && num !== 0n, value: { num, den } };
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

function invalid(flag: string, value: string, why: string, hint: string): RktError {
  return new RktError("invalid-argument", `invalid ${flag} ${JSON.stringify(value)}: ${why}`, { hint });
}

const MEMORY_HINT = "use bytes with an optional suffix: 128M (10^6), 16Mi (2^20), 1G, 500000";
const CPU_HINT = "use cores or millicores: 500m (half a core), 1, 2.5";

/**
 * Parses a memory quantity (`--memory`) into bytes. Fractional bytes round up; zero, negative
 * values and values beyond 2^53 bytes are refused. `flag` names the source in errors (the CLI
 * passes "--memory", the pod manifest "resource/memory").
 *
 * @example
 * parseMemoryQuantity("128M");   // 128000000
 * parseMemoryQuantity("16Mi");   // 16777216
 * parseMemoryQuantity("1G");     // 1000000000
 * parseMemoryQuantity("500000"); // 500000
 */
export function parseMemoryQuantity(value: string, flag = "--memory"): number {
  const parsed = parseQuantity(value);
  if (parsed === undefined) throw invalid(flag, value, "not a quantity", MEMORY_HINT);
  if (parsed === "out-of-range") throw invalid(flag, value, "out of range", MEMORY_HINT);
  if (parsed.negative) throw invalid(flag, value, "a memory limit cannot be negative", MEMORY_HINT);
  const bytes = ceilDiv(parsed.value.num, parsed.value.den);
  if (bytes === 0n) throw invalid(flag, value, "a memory limit must be more than zero bytes", MEMORY_HINT);
  if (bytes > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(flag, value, "larger than any machine's memory", MEMORY_HINT);
  return Number(bytes);
}

/**
 * Parses a CPU quantity (`--cpu`) into millicores (1000 = one core). Fractions of a millicore
 * round up; zero and negative values are refused.
 *
 * @example
 * parseCpuQuantity("500m"); // 500
 * parseCpuQuantity("1");    // 1000
 * parseCpuQuantity("2.5");  // 2500
 */
export function parseCpuQuantity(value: string, flag = "--cpu"): number {
  const parsed = parseQuantity(value);
  if (parsed === undefined) throw invalid(flag, value, "not a quantity", CPU_HINT);
  if (parsed === "out-of-range") throw invalid(flag, value, "out of range", CPU_HINT);
  if (parsed.negative) throw invalid(flag, value, "a CPU limit cannot be negative", CPU_HINT);
  const millis = ceilDiv(parsed.value.num * 1000n, parsed.value.den);
  if (millis === 0n) throw invalid(flag, value, "a CPU limit must be more than zero", CPU_HINT);
  // The quota is millis * 100 µs; keep it an exact JSON number.
  if (millis * BigInt(CPU_PERIOD_US) > BigInt(Number.MAX_SAFE_INTEGER)) throw invalid(flag, value, "more CPUs than any machine has", CPU_HINT);
  return Number(millis);
}

/**
 * The CFS quota and period (microseconds) for a CPU limit in millicores: `quota / period` cores
 * (kernel sched-bwc.rst). Quotas under 1 ms are raised to 1 ms, as Kubernetes does, since the
 * kernel refuses them.
 *
 * @example
 * cpuQuotaFromMillis(500);  // { quota: 50000, period: 100000 }
 * cpuQuotaFromMillis(2500); // { quota: 250000, period: 100000 }
 * cpuQuotaFromMillis(5);    // { quota: 1000, period: 100000 }
 */
export function cpuQuotaFromMillis(millis: number): { quota: number; period: number } {
  if (!Number.isSafeInteger(millis) || millis <= 0) {
    throw new RktError("invalid-argument", `a CPU limit of ${millis} millicores is not a positive whole number`);
  }
  const quota = Math.max(MIN_CPU_QUOTA_US, (millis * CPU_PERIOD_US) / 1000);
  return { quota, period: CPU_PERIOD_US };
}

/**
 * Parses `--cpu-shares` (the appc `os/linux/cpu-shares` isolator): a whole number between 2 and
 * 262144, the range cpu.shares takes (1024 is one CPU's default weight).
 *
 * @example
 * parseCpuShares("2048"); // 2048
 * parseCpuShares("1");    // throws invalid-argument
 */
export function parseCpuShares(value: string | number, flag = "--cpu-shares"): number {
  const text = String(value).trim();
  const shares = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(shares) || shares < MIN_CPU_SHARES || shares > MAX_CPU_SHARES) {
    throw new RktError("invalid-argument", `invalid ${flag} ${JSON.stringify(text)}: must be a whole number from ${MIN_CPU_SHARES} to ${MAX_CPU_SHARES}`, {
      hint: "1024 is the weight of one CPU's default share; 2048 gets twice the CPU time under contention",
    });
  }
  return shares;
}
