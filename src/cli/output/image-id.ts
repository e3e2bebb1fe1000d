/**
 * Image IDs as rkt printed them: `<algorithm>-<hex>` (appc's image ID form). `rkt fetch` prints
 * 32 hex digits unless `--full`; `rkt image list` 12 unless `--full`. Input accepts both `-` and
 * `:` forms and prefixes (see engine/image/find-image.ts).
 */
export function formatImageId(digest: string, hexDigits: number | "full"): string {
  const [algorithm = "", hex = ""] = digest.split(":");
  return `${algorithm}-${hexDigits === "full" ? hex : hex.slice(0, hexDigits)}`;
}
