// Honest held-out error of the nightly fit: sessions predicted by a model that did not see them. Each
// held-out session is removed from its athlete's sufficient statistics (an exact downdate; a rating at 1 or 10
// leaves the bounded rows), the athlete's posterior is recomputed from the rest under the fit's population
// hyperparameters, and the session is predicted as a check-in would be (that posterior, whatever the phase; no
// rule multipliers). The population hyperparameters did see the held-out sessions: one session per athlete among
// all of them, a small optimism that a full refit per athlete would remove at many times the cost.
import { addRatedSession, emptyStats, userPosterior, withoutStats, type Hyperparameters, type SufficientStats } from './bayes/index.ts';
import { predict } from './prediction.ts';
import { checkInValues, type CheckIn } from './variables.ts';

export interface HeldOutSession {
  userId: string;
  /** The check-in as the training row reads it (effective values after a deviation). */
  values: CheckIn;
  quality: number;
}

export interface HeldOutError {
  n: number;
  rmse: number;
  mae: number;
  /** Mean predicted - actual. */
  bias: number;
  /** Share of actual ratings inside the 95 % predictive interval. */
  intervalCoverage: number;
}

/**
 * The held-out error measured an athlete at a time (the nightly fit's worker measures it in slices between the
 * chunks of models it hands over, while the database writes them): `measure(count)` predicts the next `count`
 * athletes' sessions, `result()` gives the error once `done`. The athletes are taken in the order of `held`, so the
 * sums (and the result) are the same however the work is sliced.
 */
export class HeldOutMeasure {
  private readonly athletes: [string, HeldOutSession[]][];
  private next = 0;
  private n = 0;
  private sq = 0;
  private abs = 0;
  private sum = 0;
  private covered = 0;

  /**
   * @param held the sessions to hold out (any number per athlete); each must be folded into `statsOf(userId)`
   */
  constructor(
    held: readonly HeldOutSession[],
    private readonly statsOf: (userId: string) => SufficientStats | undefined,
    private readonly hyper: Hyperparameters,
  ) {
    const byUser = new Map<string, HeldOutSession[]>();
    for (const h of held) byUser.set(h.userId, [...(byUser.get(h.userId) ?? []), h]);
    this.athletes = [...byUser];
  }

  /** Athletes left to measure. */
  get remaining(): number {
    return this.athletes.length - this.next;
  }

  get done(): boolean {
    return this.remaining === 0;
  }

  /** Predicts the held-out sessions of the next `count` athletes (all that are left by default). */
  measure(count = Number.POSITIVE_INFINITY): void {
    const end = Math.min(this.athletes.length, this.next + count);
    for (; this.next < end; this.next++) {
      const [userId, sessions] = this.athletes[this.next];
      const stats = this.statsOf(userId);
      if (!stats || stats.n < sessions.length) continue;
      const heldStats = emptyStats();
      for (const s of sessions) addRatedSession(heldStats, s.values as Readonly<Record<string, unknown>>, s.quality);
      const model = userPosterior(withoutStats(stats, heldStats), this.hyper);
      for (const s of sessions) {
        const p = predict(model, checkInValues(s.values));
        const e = p.expectedQuality - s.quality;
        this.n += 1;
        this.sq += e * e;
        this.abs += Math.abs(e);
        this.sum += e;
        if (s.quality >= p.interval.low && s.quality <= p.interval.high) this.covered += 1;
      }
    }
  }

  /** The error over every athlete measured; null when nothing could be held out. */
  result(): HeldOutError | null {
    if (!this.done) throw new Error(`held-out error: ${this.remaining} athletes not measured yet`);
    const { n } = this;
    if (n === 0) return null;
    return { n, rmse: Math.sqrt(this.sq / n), mae: this.abs / n, bias: this.sum / n, intervalCoverage: this.covered / n };
  }
}
