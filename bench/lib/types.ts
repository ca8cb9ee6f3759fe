/** One row of bench/results/summary.json: a figure, its peer, and its goal. */
export interface SummaryRow {
  bench: string;
  metric: string;
  ours: number | null;
  peer: number | null;
  /** "times better": peer time / our time, or our rate / peer rate. */
  ratio: number | null;
  goal: string;
  pass: boolean | null;
}

export interface BenchContext {
  smoke: boolean;
  /** Extra arguments after the bench name. */
  args: string[];
  log(line: string): void;
}

export interface BenchOutcome {
  /** The contract line (DESIGN.md §3.8): printed last, with "bench": name. */
  json: Record<string, unknown>;
  /** Human table: header row then data rows. */
  table: (string | number)[][];
  rows: SummaryRow[];
}

export interface Bench {
  name: string;
  describe: string;
  run(ctx: BenchContext): Promise<BenchOutcome>;
}
