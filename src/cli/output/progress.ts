/**
 * Pull progress on a terminal, one line per layer like `docker pull`:
 *
 * ```
 * sha256:0a1b2c3d4e5f: downloading   12.0MiB / 45.1MiB   38.2MiB/s
 * ```
 *
 * Redrawn in place at most 10 times a second. On a pipe the CLI does not create one: nothing but
 * the result reaches a non-terminal.
 */
import type { PullProgress } from "../../image/fetch/pull-image.js";
import { humanSize } from "./human.js";
import type { Output } from "./output.js";

interface Row {
  label: string;
  phase: string;
  done: number;
  total: number;
  started: number;
  rate: number;
}

export class ProgressView {
  private readonly rows = new Map<string, Row>();
  private drawn = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly out: Output) {}

  /** The callback to hand to the engine. */
  readonly update = (p: PullProgress): void => {
    let row = this.rows.get(p.id);
    const now = Date.now();
    if (row === undefined) {
      row = { label: p.id, phase: p.phase, done: 0, total: p.total, started: now, rate: 0 };
      this.rows.set(p.id, row);
    }
    if (row.phase !== p.phase) {
      row.phase = p.phase;
      row.started = now;
    }
    row.done = p.done;
    row.total = p.total;
    const secs = (now - row.started) / 1000;
    row.rate = secs > 0.05 ? row.done / secs : 0;
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.draw();
    }, 100);
  };

  /** Draws the final state and stops redrawing. */
  finish(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.rows.size > 0) this.draw();
  }

  private draw(): void {
    let text = this.drawn > 0 ? `\x1b[${this.drawn}A` : "";
    for (const row of this.rows.values()) {
      const amount = row.total > 0 ? `${humanSize(row.done)} / ${humanSize(row.total)}` : humanSize(row.done);
      const speed = row.phase === "downloading" || row.phase === "unpacking" ? `${humanSize(row.rate)}/s` : "";
      const line = `${row.label}: ${row.phase.padEnd(12)} ${amount.padEnd(22)} ${speed}`;
      text += `\x1b[2K${line.slice(0, Math.max(20, this.out.columns - 1))}\n`;
    }
    this.drawn = this.rows.size;
    this.out.stderr(text);
  }
}
