/** Benchmark results as Markdown tables, padded so they also read well in a terminal. */

/**
 * Renders a Markdown table with padded columns. A column whose cells all look like figures
 * ("2.41", "61 MB/s", "0.83×", "-") is right-aligned.
 *
 * @example
 * markdownTable(["tool", "median s"], [["rkt", "2.10"], ["podman", "3.00"]]);
 */
export function markdownTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = header.map((_, i) => rows.length > 0 && rows.every((r) => /^(-|[-+]?[0-9][0-9.,]*( ?[a-zA-Z/%×]*)?)$/.test(r[i] ?? "")));
  const cell = (text: string, i: number): string => (numeric[i] === true ? text.padStart(widths[i]!) : text.padEnd(widths[i]!));
  const line = (cells: readonly string[]): string => `| ${header.map((_, i) => cell(cells[i] ?? "", i)).join(" | ")} |`;
  const rule = `| ${widths.map((w, i) => (numeric[i] === true ? `${"-".repeat(Math.max(1, w - 1))}:` : "-".repeat(w))).join(" | ")} |`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}
