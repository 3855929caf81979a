// Issue 8 section 2: modelQuality through the real server, against predictions and ratings this test
// records itself (check-in -> stream -> startSession(recommendationId) -> completeSession with a rating).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, gqlOk } from '../support/client.ts';
import { eventOf, streamWs } from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';
import { roundRating, roundShare } from '../../src/engine/rounding.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const START = `mutation($input: StartSessionInput!) { startSession(input: $input) { id } }`;
const COMPLETE = `mutation($id: ID!, $input: CompleteSessionInput!) { completeSession(id: $id, input: $input) { id } }`;
const QUALITY = `query($from: DateTime, $to: DateTime, $phase: ModelPhase, $userId: ID) {
  modelQuality(from: $from, to: $to, phase: $phase, userId: $userId) {
    n rmse mae bias intervalCoverage
    calibration { low high n meanPredicted meanActual }
    byPhase { phase n rmse mae bias intervalCoverage }
  }
}`;
/** The error figures of a set of scored sessions (null where there are none). */
interface Figures {
  n: number;
  rmse: number | null;
  mae: number | null;
  bias: number | null;
  intervalCoverage: number | null;
}
/** What QUALITY selects. */
type Quality = {
  modelQuality: Figures & { calibration: { low: number; high: number; n: number; meanPredicted: number; meanActual: number }[]; byPhase: (Figures & { phase: string })[] };
};

interface Scored {
  predicted: number;
  low: number;
  high: number;
  actual: number;
  day: number;
}

/** One session the way a client does it; returns what was shown and the rating given. */
async function rated(token: string, checkIn: Record<string, unknown>, actual: number, day: number): Promise<Scored | null> {
  const out = await streamWs(server.wsUrl, token, checkIn);
  const done = eventOf(out.events, 'DONE');
  const startedAt = new Date(Date.UTC(2026, 2, day, 17)).toISOString();
  const { startSession } = await gqlOk<{ startSession: { id: string } }>(server.url, START, { input: { recommendationId: done.recommendationId, startedAt } }, token);
  await gqlOk(server.url, COMPLETE, { id: startSession.id, input: { sessionQuality: actual, endedAt: new Date(Date.UTC(2026, 2, day, 19)).toISOString() } }, token);
  if (done.source !== 'MODEL') return null;
  const p = eventOf(out.events, 'PREDICTION').prediction!;
  expect(done.expectedQuality).toBe(p.expectedQuality);
  // The API shows 2 decimals; the stored prediction (what modelQuality scores) keeps full precision.
  const stored = await server.db.prisma.recommendation.findUniqueOrThrow({ where: { id: done.recommendationId } });
  expect(p.expectedQuality).toBe(roundRating(stored.expectedQuality!));
  expect(p.interval).toEqual({ low: roundRating(stored.intervalLow!), high: roundRating(stored.intervalHigh!) });
  return { predicted: stored.expectedQuality!, low: stored.intervalLow!, high: stored.intervalHigh!, actual, day };
}

/** The figures computed here, from the predictions stored and the ratings given. */
function expected(rows: Scored[]) {
  const n = rows.length;
  const err = rows.map((r) => r.predicted - r.actual);
  const bands = new Map<number, Scored[]>();
  for (const r of rows) {
    const band = Math.min(Math.max(Math.floor(r.predicted), 1), 9);
    bands.set(band, [...(bands.get(band) ?? []), r]);
  }
  return {
    n,
    rmse: Math.sqrt(err.reduce((s, e) => s + e * e, 0) / n),
    mae: err.reduce((s, e) => s + Math.abs(e), 0) / n,
    bias: err.reduce((s, e) => s + e, 0) / n,
    intervalCoverage: rows.filter((r) => r.actual >= r.low && r.actual <= r.high).length / n,
    calibration: [...bands.entries()]
      .sort(([a], [b]) => a - b)
      .map(([low, rs]) => ({ low, high: low + 1, n: rs.length, meanPredicted: rs.reduce((s, r) => s + r.predicted, 0) / rs.length, meanActual: rs.reduce((s, r) => s + r.actual, 0) / rs.length })),
  };
}

/** Errors and means on the rating scale leave the API with 2 decimals, the coverage share with 4 (README, docs/api.md). */
function expectFigures(got: Quality['modelQuality'], want: ReturnType<typeof expected>): void {
  expect(got.n).toBe(want.n);
  for (const k of ['rmse', 'mae', 'bias'] as const) expect(got[k]).toBe(roundRating(want[k]));
  expect(got.intervalCoverage).toBe(roundShare(want.intervalCoverage));
  expect(got.calibration.map((b) => [b.low, b.high, b.n])).toEqual(want.calibration.map((b) => [b.low, b.high, b.n]));
  got.calibration.forEach((b, i) => {
    expect(b.meanPredicted).toBe(roundRating(want.calibration[i].meanPredicted));
    expect(b.meanActual).toBe(roundRating(want.calibration[i].meanActual));
  });
}

const CHECK_INS: [Record<string, unknown>, number][] = [
  [{ sleepHours: 8, sleepQuality: 8, energyLevel: 9, stressLevel: 2, motivationLevel: 9 }, 9],
  [{ sleepHours: 6.5, sleepQuality: 4, energyLevel: 3, stressLevel: 6 }, 2],
  [{ sleepHours: 7, energyLevel: 4, stressLevel: 2 }, 7],
  [{ sleepHours: 6, energyLevel: 6, stressLevel: 5, caffeineMg: 200 }, 5],
  [{ sleepHours: 9, energyLevel: 7, stressLevel: 1, warmupMin: 20 }, 10],
];

interface AthleteFigures {
  userId: string;
  user: { id: string };
  n: number;
  rmse: number | null;
  mae: number | null;
  bias: number | null;
  intervalCoverage: number | null;
}
interface AthletePage {
  totalCount: number;
  edges: { cursor: string; node: AthleteFigures }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}
interface DayQuality {
  calibration: { low: number; n: number }[];
  byPhase: { phase: string; calibration: { low: number; high: number; n: number; meanPredicted: number; meanActual: number }[] }[];
  overTime: { start: string; n: number; rmse: number | null; mae: number | null; bias: number | null; intervalCoverage: number | null }[];
}

describe('modelQuality', () => {
  let a: { token: string; id: string };
  let b: { token: string; id: string };
  const rowsA: Scored[] = [];
  const rowsB: Scored[] = [];

  beforeAll(async () => {
    a = await tokenFor('athlete');
    b = await tokenFor('athlete');
    for (const [i, [checkIn, q]] of CHECK_INS.entries()) rowsA.push((await rated(a.token, checkIn, q, i + 1))!);
    for (const [i, [checkIn, q]] of CHECK_INS.slice(0, 3).entries()) rowsB.push((await rated(b.token, { ...checkIn, sorenessLevel: 4 }, Math.max(1, q - 1), i + 10))!);
    // Not scored: a rule override (no prediction), a session still ACTIVE, a cancelled one.
    expect(await rated(a.token, { sleepHours: 7, pulleyInjuryGrade: 3 }, 3, 20)).toBeNull();
    const open = eventOf((await streamWs(server.wsUrl, a.token, CHECK_INS[0][0])).events, 'DONE');
    await gqlOk(server.url, START, { input: { recommendationId: open.recommendationId } }, a.token);
  }, 120_000);

  it("an athlete's own figures match the predictions and ratings recorded", async () => {
    const { modelQuality } = await gqlOk<Quality>(server.url, QUALITY, {}, a.token);
    expectFigures(modelQuality, expected(rowsA));
    // every recommendation here was given in the cold-start phase (under 10 rated sessions)
    // Every phase is listed, in the phases' order; the ones without scored sessions have n 0.
    expect(modelQuality.byPhase.map((p) => [p.phase, p.n])).toEqual([
      ['COLD_START', 5],
      ['LEARNING', 0],
      ['PERSONALIZED', 0],
    ]);
    expect(modelQuality.byPhase[0].rmse).toBe(modelQuality.rmse);
    expect(modelQuality.byPhase[1]).toMatchObject({ rmse: null, intervalCoverage: null });
    expect((await gqlOk<Quality>(server.url, QUALITY, { phase: 'PERSONALIZED' }, a.token)).modelQuality).toMatchObject({
      n: 0,
      rmse: null,
      calibration: [],
      byPhase: [{ phase: 'PERSONALIZED', n: 0 }],
    });
  });

  it('from / to select sessions by start time', async () => {
    const from = new Date(Date.UTC(2026, 2, 2)).toISOString();
    const to = new Date(Date.UTC(2026, 2, 4, 23)).toISOString();
    const { modelQuality } = await gqlOk<Quality>(server.url, QUALITY, { from, to }, a.token);
    expectFigures(modelQuality, expected(rowsA.filter((r) => r.day >= 2 && r.day <= 4)));
  });

  it('an analyst sees everyone, or one athlete by userId', async () => {
    const analyst = await tokenFor('analyst');
    const all = (await gqlOk<Quality>(server.url, QUALITY, {}, analyst.token)).modelQuality;
    expectFigures(all, expected([...rowsA, ...rowsB]));
    const onlyB = (await gqlOk<Quality>(server.url, QUALITY, { userId: b.id }, analyst.token)).modelQuality;
    expectFigures(onlyB, expected(rowsB));
  });

  it("an athlete is refused another athlete's figures", async () => {
    const res = await gql(server.url, QUALITY, { userId: b.id }, a.token);
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(res.data).toBeNull();
    const own = await gqlOk<Quality>(server.url, QUALITY, { userId: a.id }, a.token);
    expect(own.modelQuality.n).toBe(5);
  });

  it('per phase, each phase carries its own calibration; per day, one bucket a day from the first to the last', async () => {
    const analyst = await tokenFor('analyst');
    const { modelQuality } = await gqlOk<{ modelQuality: DayQuality }>(
      server.url,
      `query($userId: ID) { modelQuality(userId: $userId) { calibration { low n } byPhase { phase calibration { low high n meanPredicted meanActual } }
        overTime(bucket: DAY) { start n rmse mae bias intervalCoverage } } }`,
      { userId: a.id },
      analyst.token,
    );
    expect(modelQuality.byPhase[0].calibration).toEqual(expected(rowsA).calibration.map((b) => ({ ...b, meanPredicted: roundRating(b.meanPredicted), meanActual: roundRating(b.meanActual) })));
    expect(modelQuality.byPhase[1].calibration).toEqual([]);
    // Days 1-5 of March 2026 (and the rule-overridden session of day 20 is not scored).
    expect(modelQuality.overTime.map((d) => [d.start, d.n])).toEqual(rowsA.map((r) => [new Date(Date.UTC(2026, 2, r.day)).toISOString(), 1]));
    for (const [i, d] of modelQuality.overTime.entries()) {
      const one = expected([rowsA[i]]);
      expect(d).toMatchObject({ rmse: roundRating(one.rmse), bias: roundRating(one.bias), intervalCoverage: one.intervalCoverage });
    }
  });

  it('byAthlete: every athlete once, ordered by the database, with minSessions, totalCount and pages', async () => {
    const analyst = await tokenFor('analyst');
    const BY_ATHLETE = `query($first: Int, $after: String, $min: Int, $order: AthleteQualityOrder) { modelQuality {
      byAthlete(first: $first, after: $after, minSessions: $min, orderBy: $order) {
        totalCount edges { cursor node { userId user { id } n rmse mae bias intervalCoverage } } pageInfo { hasNextPage endCursor } } } }`;
    const page = async (variables: Record<string, unknown>) => (await gqlOk<{ modelQuality: { byAthlete: AthletePage } }>(server.url, BY_ATHLETE, variables, analyst.token)).modelQuality.byAthlete;
    const wantA = expected(rowsA);
    const wantB = expected(rowsB);
    const figures = (id: string, w: ReturnType<typeof expected>) => ({
      userId: id,
      user: { id },
      n: w.n,
      rmse: roundRating(w.rmse),
      mae: roundRating(w.mae),
      bias: roundRating(w.bias),
      intervalCoverage: roundShare(w.intervalCoverage),
    });
    const worstFirst = [figures(a.id, wantA), figures(b.id, wantB)].sort((x, y) => y.rmse! - x.rmse!);

    const all = await page({});
    expect(all.totalCount).toBe(2);
    expect(all.edges.map((e) => e.node)).toEqual(worstFirst);
    // Ascending by bias; one a page, the second page after the first's cursor.
    const byBias = [figures(a.id, wantA), figures(b.id, wantB)].sort((x, y) => x.bias! - y.bias!);
    const first = await page({ first: 1, order: { field: 'BIAS', direction: 'ASC' } });
    expect(first.edges.map((e) => e.node.userId)).toEqual([byBias[0].userId]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page({ first: 1, after: first.pageInfo.endCursor, order: { field: 'BIAS', direction: 'ASC' } });
    expect(second.edges.map((e) => e.node.userId)).toEqual([byBias[1].userId]);
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect(second.totalCount).toBe(2);
    // Athlete b has 3 scored sessions, a has 5.
    const min4 = await page({ min: 4 });
    expect(min4.totalCount).toBe(1);
    expect(min4.edges.map((e) => e.node.userId)).toEqual([a.id]);
    const refused = await gql(server.url, BY_ATHLETE, { min: 0 }, analyst.token);
    expect(refused.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'minSessions' });
    // An athlete's breakdown holds only themselves.
    const own = (await gqlOk<{ modelQuality: { byAthlete: AthletePage } }>(server.url, BY_ATHLETE, {}, a.token)).modelQuality.byAthlete;
    expect(own.edges.map((e) => e.node.userId)).toEqual([a.id]);
  });
});
