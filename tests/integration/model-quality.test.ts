// Issue 8 section 2: modelQuality through the real server, against predictions and ratings this test
// records itself (check-in -> stream -> startSession(recommendationId) -> completeSession with a rating).
/* eslint-disable @typescript-eslint/no-explicit-any */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, gqlOk } from '../support/client.ts';
import { eventOf, streamWs } from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

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
  return { predicted: p.expectedQuality, low: p.interval.low, high: p.interval.high, actual, day };
}

/** The figures computed here, from the values the API showed. */
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

function expectFigures(got: any, want: ReturnType<typeof expected>): void {
  expect(got.n).toBe(want.n);
  for (const k of ['rmse', 'mae', 'bias', 'intervalCoverage'] as const) expect(got[k]).toBeCloseTo(want[k], 9);
  expect(got.calibration.map((b: any) => [b.low, b.high, b.n])).toEqual(want.calibration.map((b) => [b.low, b.high, b.n]));
  got.calibration.forEach((b: any, i: number) => {
    expect(b.meanPredicted).toBeCloseTo(want.calibration[i].meanPredicted, 9);
    expect(b.meanActual).toBeCloseTo(want.calibration[i].meanActual, 9);
  });
}

const CHECK_INS: [Record<string, unknown>, number][] = [
  [{ sleepHours: 8, sleepQuality: 8, energyLevel: 9, stressLevel: 2, motivationLevel: 9 }, 9],
  [{ sleepHours: 6.5, sleepQuality: 4, energyLevel: 3, stressLevel: 6 }, 2],
  [{ sleepHours: 7, energyLevel: 4, stressLevel: 2 }, 7],
  [{ sleepHours: 6, energyLevel: 6, stressLevel: 5, caffeineMg: 200 }, 5],
  [{ sleepHours: 9, energyLevel: 7, stressLevel: 1, warmupMin: 20 }, 10],
];

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
    const { modelQuality } = await gqlOk<{ modelQuality: any }>(server.url, QUALITY, {}, a.token);
    expectFigures(modelQuality, expected(rowsA));
    // every recommendation here was given in the cold-start phase (under 10 rated sessions)
    expect(modelQuality.byPhase.map((p: any) => p.phase)).toEqual(['COLD_START']);
    expect(modelQuality.byPhase[0].n).toBe(5);
    expect(modelQuality.byPhase[0].rmse).toBeCloseTo(modelQuality.rmse, 12);
    expect((await gqlOk<{ modelQuality: any }>(server.url, QUALITY, { phase: 'PERSONALIZED' }, a.token)).modelQuality).toMatchObject({ n: 0, rmse: null, calibration: [], byPhase: [] });
  });

  it('from / to select sessions by start time', async () => {
    const from = new Date(Date.UTC(2026, 2, 2)).toISOString();
    const to = new Date(Date.UTC(2026, 2, 4, 23)).toISOString();
    const { modelQuality } = await gqlOk<{ modelQuality: any }>(server.url, QUALITY, { from, to }, a.token);
    expectFigures(modelQuality, expected(rowsA.filter((r) => r.day >= 2 && r.day <= 4)));
  });

  it('an analyst sees everyone, or one athlete by userId', async () => {
    const analyst = await tokenFor('analyst');
    const all = (await gqlOk<{ modelQuality: any }>(server.url, QUALITY, {}, analyst.token)).modelQuality;
    expectFigures(all, expected([...rowsA, ...rowsB]));
    const onlyB = (await gqlOk<{ modelQuality: any }>(server.url, QUALITY, { userId: b.id }, analyst.token)).modelQuality;
    expectFigures(onlyB, expected(rowsB));
  });

  it("an athlete is refused another athlete's figures", async () => {
    const res = await gql(server.url, QUALITY, { userId: b.id }, a.token);
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(res.data).toBeNull();
    const own = await gqlOk<{ modelQuality: any }>(server.url, QUALITY, { userId: a.id }, a.token);
    expect(own.modelQuality.n).toBe(5);
  });
});
