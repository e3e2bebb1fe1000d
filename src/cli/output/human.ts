/** Human renderings of sizes and times, as `rkt image list` and `rkt list` print them. */

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/** `12MiB`, `1.5GiB`, `800B`: binary units, one decimal below 10. */
export function humanSize(bytes: number): string {
  let n = bytes;
  let u = 0;
  while (n >= 1024 && u < UNITS.length - 1) {
    n /= 1024;
    u++;
  }
  const text = u === 0 || n >= 10 ? Math.round(n).toString() : n.toFixed(1).replace(/\.0$/, "");
  return `${text}${UNITS[u] ?? "B"}`;
}

/** `2 minutes ago`, `3 hours ago`, `just now`. */
export function relativeTime(then: Date, now: Date = new Date()): string {
  const s = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (s < 5) return "just now";
  const steps: [number, string][] = [
    [60, "second"],
    [60, "minute"],
    [24, "hour"],
    [7, "day"],
    [4.35, "week"],
    [12, "month"],
    [Number.POSITIVE_INFINITY, "year"],
  ];
  let value = s;
  for (const [size, unit] of steps) {
    if (value < size) {
      const v = Math.floor(value);
      return `${v} ${unit}${v === 1 ? "" : "s"} ago`;
    }
    value /= size;
  }
  return "long ago";
}

/** rkt's `--full` time format: `2006-01-02 15:04:05.999 -0700 MST`, in local time. */
export function absoluteTime(d: Date): string {
  const pad = (n: number, w = 2): string => n.toString().padStart(w, "0");
  const off = -d.getTimezoneOffset();
  const sign = off >= 0 ? "+" : "-";
  const abs = Math.abs(off);
  const ms = d.getMilliseconds();
  const frac = ms === 0 ? "" : `.${pad(ms, 3).replace(/0+$/, "")}`;
  const zone = Intl.DateTimeFormat("en-US", { timeZoneName: "short" })
    .formatToParts(d)
    .find((p) => p.type === "timeZoneName")?.value ?? "";
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${frac} ${sign}${pad(Math.floor(abs / 60))}${pad(abs % 60)} ${zone}`;
}
