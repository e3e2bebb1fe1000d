/**
 * Aligned columns as rkt printed them (Go's tabwriter: cells padded with spaces): a header row
 * unless `--no-legend`, then one row per item.
 *
 * @example
 * renderTable(["ID", "NAME"], [["sha256-ab", "busybox"]], { legend: true });
 * // "ID         NAME\nsha256-ab  busybox\n"
 */
export function renderTable(header: readonly string[], rows: readonly (readonly string[])[], options: { legend: boolean }): string {
  const all = options.legend ? [header, ...rows] : [...rows];
  const widths = header.map((_, i) => Math.max(0, ...all.map((r) => (r[i] ?? "").length)));
  return all
    .map((r) =>
      r
        .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd((widths[i] ?? 0) + 1)))
        .join(" ")
        .trimEnd(),
    )
    .map((line) => `${line}\n`)
    .join("");
}
