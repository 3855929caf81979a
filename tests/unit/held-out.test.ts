// The nightly held-out error measured in slices (the fit's worker measures a slice after each chunk of models it
// hands over): the same figures, to the bit, however the athletes are sliced.
import { describe, expect, it } from 'vitest';
import { BOUNDED_NOISE_SD, BOUNDED_TRUTH_POPULATION, simulateAthletes } from '../../scripts/lib/synthetic.ts';
import { addRatedSession, emptyStats, fitHierarchical, type SufficientStats } from '../../src/engine/bayes/index.ts';
import { HeldOutMeasure, type HeldOutSession } from '../../src/engine/held-out.ts';

describe('HeldOutMeasure', () => {
  // 40 athletes, 3-20 sessions each, ratings piled at 1 and 10; each athlete's last session held out.
  const athletes = simulateAthletes({ seed: 22, athletes: 40, sessionsPerAthlete: (i) => 3 + (i % 18), population: BOUNDED_TRUTH_POPULATION, noiseSd: BOUNDED_NOISE_SD });
  const stats = new Map<string, SufficientStats>();
  const held: HeldOutSession[] = [];
  for (const a of athletes) {
    const id = `athlete-${a.index}`;
    const s = emptyStats();
    for (const session of a.sessions) addRatedSession(s, session.checkIn as Record<string, unknown>, session.sessionQuality);
    stats.set(id, s);
    const last = a.sessions.at(-1)!;
    held.push({ userId: id, values: last.checkIn, quality: last.sessionQuality });
  }
  const { hyper } = fitHierarchical([...stats.values()]);
  const measureIn = (slices: (number | undefined)[]) => {
    const m = new HeldOutMeasure(held, (id) => stats.get(id), hyper);
    for (const count of slices) m.measure(count);
    return m;
  };

  it('gives the same error measured all at once or a few athletes at a time', () => {
    const whole = measureIn([undefined]).result();
    expect(whole?.n).toBe(40);
    expect(whole?.rmse).toBeGreaterThan(0);
    expect(measureIn([1, 7, 0, 13, 2, undefined]).result()).toEqual(whole);
    expect(measureIn(Array.from({ length: 40 }, () => 1)).result()).toEqual(whole);
  });

  it('refuses a result before every athlete is measured', () => {
    const m = measureIn([39]);
    expect(m.remaining).toBe(1);
    expect(() => m.result()).toThrow('held-out error: 1 athletes not measured yet');
  });
});
