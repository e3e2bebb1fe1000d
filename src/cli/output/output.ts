/**
 * Where the CLI writes: data on stdout, progress and diagnostics on stderr (the CLI contract in
 * STYLE.md). Progress is drawn only when stderr is a terminal.
 */
export interface Output {
  readonly stdoutIsTTY: boolean;
  readonly stderrIsTTY: boolean;
  /** Terminal width of stderr, for progress lines. */
  readonly columns: number;
  stdout(text: string): void;
  stderr(text: string): void;
}

export function processOutput(): Output {
  return {
    stdoutIsTTY: process.stdout.isTTY,
    stderrIsTTY: process.stderr.isTTY,
    columns: process.stderr.columns ?? 80,
    stdout: (t) => void process.stdout.write(t),
    stderr: (t) => void process.stderr.write(t),
  };
}
