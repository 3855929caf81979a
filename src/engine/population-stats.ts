// Observed distributions of check-in variables and sessionQuality (PopulationStatistic rows), in one pass.
import { CHECK_IN_VARIABLES, SESSION_FIELDS } from './variables.ts';
import type { PopulationStat } from './types.ts';

/** Variables summarised by the nightly job: numeric check-in variables marked `statistic`, and sessionQuality. */
export const STATISTIC_VARIABLES: readonly string[] = [...CHECK_IN_VARIABLES, ...SESSION_FIELDS]
  .filter((v) => v.statistic && (v.kind === 'int' || v.kind === 'float'))
  .map((v) => v.name);

/** Welford's running mean and variance with min and max. */
class Running {
  n = 0;
  mean = 0;
  m2 = 0;
  min = Infinity;
  max = -Infinity;

  push(x: number): void {
    this.n += 1;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }
}

export class PopulationStatsAccumulator {
  private readonly running = new Map<string, Running>(STATISTIC_VARIABLES.map((name) => [name, new Running()]));

  add(row: Readonly<Record<string, unknown>>): void {
    for (const [name, r] of this.running) {
      const x = row[name];
      if (typeof x === 'number' && Number.isFinite(x)) r.push(x);
    }
  }

  /** One statistic per variable seen at least once (sample sd; 0 for a single value). */
  result(): PopulationStat[] {
    const out: PopulationStat[] = [];
    for (const [variable, r] of this.running) {
      if (r.n === 0) continue;
      out.push({ variable, mean: r.mean, std: r.n > 1 ? Math.sqrt(r.m2 / (r.n - 1)) : 0, min: r.min, max: r.max, n: r.n });
    }
    return out;
  }
}
