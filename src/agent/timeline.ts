/** Milliseconds spent in each named step of one request, for a debug log line. */
export class Timeline {
  private last = process.hrtime.bigint();
  private readonly start = this.last;
  readonly steps: Record<string, number> = {};

  mark(step: string): void {
    const now = process.hrtime.bigint();
    this.steps[step] = Math.round(Number(now - this.last) / 1e3) / 1e3;
    this.last = now;
  }

  get totalMs(): number {
    return Math.round(Number(process.hrtime.bigint() - this.start) / 1e3) / 1e3;
  }
}
