// Every phase serves the athlete's posterior (domain.md section 6: the phase is a label, not a switch). Athletes
// with 0, a few, 10+ and 30+ rated sessions logged through the API get predictions from their own posterior,
// recomputed here from the sessions they logged: under the seed priors after the quick updates, and under the
// fitted population after the nightly run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRatedSession, emptyStats, priorHyperparameters, userPosterior, type Hyperparameters } from '../../src/engine/bayes/index.ts';
import { parseFittedModel } from '../../src/engine-runtime/engine-store.ts';
import { roundRating } from '../../src/engine/rounding.ts';
import { designRow, P, TERM_NAMES } from '../../src/engine/variables.ts';
import { coefficient, logAthlete, modelOutput, quickUpdateStats } from '../support/learning.ts';
import { simulateAthlete } from '../../scripts/lib/synthetic.ts';
import { recommendation } from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const CHECK_IN = { sleepHours: 6, sleepQuality: 5, energyLevel: 7, stressLevel: 6, motivationLevel: 8, sorenessLevel: 4, daysSinceHardSession: 2, caffeineMg: 150, warmupMin: 20 };
const PHASES = [
  { sessions: 0, phase: 'COLD_START' },
  { sessions: 4, phase: 'COLD_START' },
  { sessions: 12, phase: 'LEARNING' },
  { sessions: 33, phase: 'PERSONALIZED' },
] as const;

describe('the served model in every phase', () => {
  const athletes: { token: string; sessions: ReturnType<typeof simulateAthlete>['sessions'] }[] = [];

  beforeAll(async () => {
    for (const [i, { sessions }] of PHASES.entries()) {
      const { token } = await tokenFor('athlete');
      // An athlete well away from the population (intercept 8) so that even a few sessions move the prediction.
      const simulated = simulateAthlete(i, sessions, { seed: 4242, population: { mean: [8, ...priorHyperparameters().mu.slice(1)], sd: new Array<number>(P).fill(0) } });
      await logAthlete(server.url, token, simulated);
      athletes.push({ token, sessions: simulated.sessions });
    }
    await server.training.idle();
  });

  /**
   * The athlete's posterior recomputed from what they logged, and its prediction for CHECK_IN. `quick`: the way the
   * quick updates got there (the first session in full, then one step per session, a rating at 1 or 10 linearised
   * at the posterior of the sessions before it); otherwise the exact posterior (the nightly fit's).
   */
  function expected(sessions: (typeof athletes)[number]['sessions'], hyper: Hyperparameters, quick: boolean) {
    const stats = quick ? quickUpdateStats(sessions, hyper) : emptyStats();
    if (!quick) for (const s of sessions) addRatedSession(stats, s.checkIn as Record<string, unknown>, s.sessionQuality);
    const posterior = userPosterior(stats, hyper);
    const x = designRow(CHECK_IN);
    const raw = posterior.mean.reduce((sum, b, j) => sum + b * x[j], 0);
    return { posterior, raw, population: hyper.mu.reduce((sum, b, j) => sum + b * x[j], 0) };
  }

  async function expectPosteriorServed(hyper: Hyperparameters, quick: boolean) {
    for (const [i, { sessions, phase }] of PHASES.entries()) {
      const { token, sessions: logged } = athletes[i];
      const want = expected(logged, hyper, quick);
      const rec = await recommendation(server.url, token, CHECK_IN);
      expect(rec.personalization, `${sessions} sessions`).toMatchObject({ phase, sessionsIncluded: sessions, hasPersonalization: sessions > 0 });
      expect(rec.prediction!.phase).toBe(phase);
      expect(rec.prediction!.rawQuality, `${sessions} sessions`).toBeCloseTo(roundRating(want.raw), 10);
      if (sessions > 0) {
        // Not the population's answer: the athlete's own sessions moved it (towards their intercept of 8).
        expect(want.raw - want.population, `${sessions} sessions`).toBeGreaterThan(0.1);
        const stored = (await modelOutput(server.url, token))!;
        expect(stored.phase).toBe(phase);
        TERM_NAMES.forEach((name, j) => {
          expect(coefficient(stored, name).value).toBeCloseTo(want.posterior.mean[j], 8);
        });
      } else {
        expect(want.raw).toBeCloseTo(want.population, 12);
      }
    }
  }

  it('after the quick updates, under the seed priors', async () => {
    // Some of these ratings are 10s: the quick updates' linearisation is part of what is checked.
    expect(athletes.some((a) => a.sessions.some((s) => s.sessionQuality === 10))).toBe(true);
    await expectPosteriorServed(priorHyperparameters(), true);
  });

  it('after the nightly fit, under the fitted population', async () => {
    const run = await server.training.runNightly('MANUAL');
    expect(run.status).toBe('SUCCEEDED');
    const row = await server.services.db.prisma.populationModel.findFirstOrThrow({ orderBy: { fittedAt: 'desc' } });
    const fitted = parseFittedModel(row)!;
    await expectPosteriorServed(fitted, false);
  });
});
