/** Order statistics for benchmark samples: medians and nearest-rank percentiles. */

/**
 * The `p`-th percentile (0-100) of `samples` by the nearest-rank method: the smallest sample with
 * at least p% of the samples at or below it. No interpolation, so the figure is a time that was
 * actually measured.
 *
 * @example
 * percentile([10, 20, 30, 40], 90); // 40
 */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error("percentile of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[Math.min(rank, sorted.length) - 1]!;
}

/**
 * The median of `samples` (the mean of the two middle ones for an even count).
 *
 * @example
 * median([3, 1, 2]); // 2
 */
export function median(samples: readonly number[]): number {
  if (samples.length === 0) throw new Error("median of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
