// Honest held-out error of the nightly fit: sessions predicted by a model that did not see them. Each
// held-out session is removed from its athlete's sufficient statistics (an exact downdate; a rating at 1 or 10
// leaves the bounded rows), the athlete's posterior is recomputed from the rest under the fit's population
// hyperparameters, and the session is predicted as a check-in would be (that posterior, whatever the phase; no
// rule multipliers). The population hyperparameters did see the held-out sessions: one session per athlete among
// all of them, a small optimism that a full refit per athlete would remove at many times the cost.
import { addRatedSession, emptyStats, userPosterior, withoutStats, type Hyperparameters, type SufficientStats } from './bayes/index.ts';
import { predict } from './prediction.ts';
import type { CheckIn } from './variables.ts';

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
 * @param held the sessions to hold out (any number per athlete); each must be folded into `statsOf(userId)`
 * @returns null when nothing could be held out
 */
export function heldOutError(held: readonly HeldOutSession[], statsOf: (userId: string) => SufficientStats | undefined, hyper: Hyperparameters): HeldOutError | null {
  const byUser = new Map<string, HeldOutSession[]>();
  for (const h of held) byUser.set(h.userId, [...(byUser.get(h.userId) ?? []), h]);
  let n = 0;
  let sq = 0;
  let abs = 0;
  let sum = 0;
  let covered = 0;
  for (const [userId, sessions] of byUser) {
    const stats = statsOf(userId);
    if (!stats || stats.n < sessions.length) continue;
    const heldStats = emptyStats();
    for (const s of sessions) addRatedSession(heldStats, s.values as Readonly<Record<string, unknown>>, s.quality);
    const model = userPosterior(withoutStats(stats, heldStats), hyper);
    for (const s of sessions) {
      const p = predict(model, s.values);
      const e = p.expectedQuality - s.quality;
      n += 1;
      sq += e * e;
      abs += Math.abs(e);
      sum += e;
      if (s.quality >= p.interval.low && s.quality <= p.interval.high) covered += 1;
    }
  }
  if (n === 0) return null;
  return { n, rmse: Math.sqrt(sq / n), mae: abs / n, bias: sum / n, intervalCoverage: covered / n };
}
