// Issue 8 section 2, the nightly side: the held-out error stored on the NIGHTLY TrainingRun (checked against
// a fit computed here without each athlete's last session) and ModelOutput.history after two nightly runs,
// pruned after the retention period.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRatedSession, emptyStats, userPosterior } from '../../src/engine/bayes/index.ts';
import { parseFittedModel } from '../../src/engine-runtime/engine-store.ts';
import { predict } from '../../src/engine/prediction.ts';
import { effectiveCheckIn } from '../../src/engine/training-row.ts';
import { checkInValues, TERM_NAMES } from '../../src/engine/variables.ts';
import { gql, gqlOk, type Connection } from '../support/client.ts';
import { insertAthletes, sessionRow, sleepStressAthlete } from '../support/learning.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { MODEL_HISTORY_RETENTION_DAYS: '30' } });
});
afterAll(async () => {
  await server?.close();
});

const NIGHTLY = `mutation { runNightlyTraining(wait: true) { id status heldOut { n rmse mae bias intervalCoverage } } }`;
const HISTORY = `query($userId: ID, $from: DateTime) { modelOutput(userId: $userId) {
  sessionsIncluded coefficients { variable value }
  history(from: $from) { fittedAt phase sessionsIncluded coefficients { variable value } populationCoefficients { variable value } }
} }`;
const POPULATION = `{ populationModel { fittedAt coefficients { variable value } } }`;
type Coefficient = { variable: string; value: number };
/** What NIGHTLY selects. */
type Nightly = { runNightlyTraining: { id: string; status: string; heldOut: { n: number; rmse: number | null; mae: number | null; bias: number | null; intervalCoverage: number | null } | null } };
/** What HISTORY selects. */
type History = {
  modelOutput: {
    sessionsIncluded: number;
    coefficients: Coefficient[];
    history: { fittedAt: string; phase: string; sessionsIncluded: number; coefficients: Coefficient[]; populationCoefficients: Coefficient[] }[];
  };
};

describe('nightly held-out error and model history', () => {
  let ids: string[];
  let admin: string;
  let analyst: string;

  beforeAll(async () => {
    // Athletes with 4, 12 and 25 sessions: cold start, learning and personalised once their last is held out; and
    // one whose ratings reach the bounds, the held-out one a 10 (it leaves the bounded rows, not X'X).
    const atBounds = sleepStressAthlete(8, 4);
    atBounds.sessions[2].sessionQuality = 1;
    atBounds.sessions[5].sessionQuality = 10;
    atBounds.sessions[7].sessionQuality = 10;
    ids = await insertAthletes(server.services.prisma, [sleepStressAthlete(4, 1), sleepStressAthlete(12, 2), sleepStressAthlete(25, 3), atBounds]);
    admin = (await tokenFor('admin')).token;
    analyst = (await tokenFor('analyst')).token;
  });

  it("stores each athlete's last session predicted by a fit without it on the NIGHTLY run", async () => {
    const run = (await gqlOk<Nightly>(server.url, NIGHTLY, {}, admin)).runNightlyTraining;
    expect(run.status).toBe('SUCCEEDED');

    // The same measure computed here: each athlete's statistics rebuilt from every session but the latest.
    const fitted = await server.services.prisma.populationModel.findFirstOrThrow({ orderBy: { fittedAt: 'desc' } });
    const hyper = parseFittedModel(fitted)!;
    const errors: number[] = [];
    let covered = 0;
    for (const userId of ids) {
      const sessions = await server.services.prisma.climbingSession.findMany({ where: { userId }, orderBy: { startedAt: 'asc' } });
      const last = sessions.at(-1)!;
      const stats = emptyStats();
      for (const s of sessions.slice(0, -1)) addRatedSession(stats, effectiveCheckIn(s) as Record<string, unknown>, s.sessionQuality!);
      const p = predict(userPosterior(stats, hyper), checkInValues(effectiveCheckIn(last)));
      errors.push(p.expectedQuality - last.sessionQuality!);
      if (last.sessionQuality! >= p.interval.low && last.sessionQuality! <= p.interval.high) covered += 1;
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(run.heldOut?.n).toBe(4);
    expect(run.heldOut?.rmse).toBeCloseTo(Math.sqrt(mean(errors.map((e) => e * e))), 6);
    expect(run.heldOut?.mae).toBeCloseTo(mean(errors.map(Math.abs)), 6);
    expect(run.heldOut?.bias).toBeCloseTo(mean(errors), 6);
    expect(run.heldOut?.intervalCoverage).toBeCloseTo(covered / 4, 12);

    // Readable typed on the run list too; other kinds of run have none.
    const runs = await gqlOk<{ trainingRuns: Connection<{ id: string; kind: string; heldOut: { n: number } | null }> }>(
      server.url,
      `{ trainingRuns(first: 10) { edges { node { id kind heldOut { n } } } } }`,
      {},
      analyst,
    );
    const nodes = runs.trainingRuns.edges.map((e) => e.node);
    expect(nodes.find((n) => n.id === run.id)?.heldOut?.n).toBe(4);
  });

  it('keeps one snapshot per nightly fit: after two runs the history shows both, beside the population', async () => {
    // Second run after the athlete gained 8 sessions, so the model moves.
    const [, learner] = ids;
    const firstPopulation = (await gqlOk<{ populationModel: { fittedAt: string; coefficients: Coefficient[] } }>(server.url, POPULATION, {}, analyst)).populationModel;
    const firstModel = (await gqlOk<History>(server.url, HISTORY, { userId: learner }, analyst)).modelOutput;
    expect(firstModel.history).toHaveLength(1);
    expect(firstModel.history[0].coefficients).toEqual(firstModel.coefficients);
    expect(firstModel.history[0].populationCoefficients).toEqual(firstPopulation.coefficients.map(({ variable, value }) => ({ variable, value })));
    // The new sessions' quick updates (the session hook sees createMany) settle before the second fit.
    const now = Date.now();
    await server.services.prisma.climbingSession.createMany({ data: sleepStressAthlete(8, 9).sessions.map((s, k) => sessionRow(learner, s, new Date(now + (k + 1) * 60_000))) });
    await server.services.training.idle();

    expect((await gqlOk<Nightly>(server.url, NIGHTLY, {}, admin)).runNightlyTraining.status).toBe('SUCCEEDED');
    const model = (await gqlOk<History>(server.url, HISTORY, { userId: learner }, analyst)).modelOutput;
    expect(model.history).toHaveLength(2);
    const [older, newer] = model.history;
    expect(Date.parse(older.fittedAt)).toBeLessThan(Date.parse(newer.fittedAt));
    expect(older).toMatchObject({ sessionsIncluded: 12, phase: 'LEARNING', coefficients: firstModel.coefficients });
    expect(newer).toMatchObject({ sessionsIncluded: 20, phase: 'LEARNING', coefficients: model.coefficients });
    expect(newer.coefficients.map((c) => c.variable)).toEqual(TERM_NAMES);
    expect(newer.coefficients).not.toEqual(older.coefficients);
    // from filters by fit time
    const recent = (await gqlOk<History>(server.url, HISTORY, { userId: learner, from: newer.fittedAt }, analyst)).modelOutput;
    expect(recent.history).toEqual([newer]);
    // An athlete reads their own history, not another's.
    const athlete = await tokenFor('athlete', learner);
    expect((await gqlOk<History>(server.url, HISTORY, {}, athlete.token)).modelOutput.history).toHaveLength(2);
    expect((await gql(server.url, HISTORY, { userId: ids[0] }, athlete.token)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
  });

  it('the nightly run drops snapshots older than MODEL_HISTORY_RETENTION_DAYS', async () => {
    const [, learner] = ids;
    const run = await server.services.prisma.trainingRun.findFirstOrThrow({ where: { kind: 'NIGHTLY' } });
    const old = new Date(Date.now() - 31 * 86_400_000);
    await server.services.prisma.modelSnapshot.create({ data: { trainingRunId: run.id, userId: learner, fittedAt: old, phase: 'COLD_START', sessionsIncluded: 1, coefficients: { intercept: 6 } } });
    const keep = new Date(Date.now() - 29 * 86_400_000);
    await server.services.prisma.modelSnapshot.create({ data: { trainingRunId: run.id, userId: learner, fittedAt: keep, phase: 'COLD_START', sessionsIncluded: 2, coefficients: { intercept: 6 } } });
    expect((await gqlOk<Nightly>(server.url, NIGHTLY, {}, admin)).runNightlyTraining.status).toBe('SUCCEEDED');
    const history = (await gqlOk<History>(server.url, HISTORY, { userId: learner }, analyst)).modelOutput.history;
    expect(history.map((h) => h.sessionsIncluded)).toEqual([2, 12, 20, 20]);
  });
});
