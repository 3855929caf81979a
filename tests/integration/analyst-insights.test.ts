// insights through the real server on a known data set: every part checked against the same figure computed
// here by hand from the rows the test wrote; periods that cut days in the middle; the rollups staying exact
// after updates, deletes and a user's deletion; and the access rule (analysts and admins only).
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TERM_NAMES } from '../../src/engine/variables.ts';
import { expectError, gql, gqlOk } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let analyst: { token: string; id: string };

interface Row {
  id: string;
  userId: string;
  startedAt: Date;
  status: 'COMPLETED' | 'ACTIVE' | 'CANCELLED';
  sessionQuality: number | null;
  rules: string[] | null; // null: no linked recommendation
}
let rows: Row[] = [];
const athletes: string[] = [];
const RULES = ['low_sleep', 'high_stress', 'finger_niggle'];
/** The active rules of the seed: listed by insights.rules whether they matched or not. */
let activeRules: string[] = [];

const INSIGHTS = `query($from: DateTime, $to: DateTime, $bucket: TimeBucket!) {
  insights(from: $from, to: $to) {
    sessionsOverTime(bucket: $bucket) { start count meanQuality }
    qualityHistogram { quality count }
    rules { name matched meanQuality meanQualityOthers }
  }
}`;

const round2 = (x: number) => Math.round(x * 100) / 100;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The hand computation: completed, rated sessions with from <= startedAt <= to. */
function expected(from: Date | null, to: Date | null, bucket: 'DAY' | 'WEEK' | 'MONTH') {
  const counted = rows.filter((r) => r.status === 'COMPLETED' && r.sessionQuality !== null && (!from || r.startedAt >= from) && (!to || r.startedAt <= to));
  const startOf = (d: Date) => {
    const day = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    if (bucket === 'DAY') return day;
    if (bucket === 'MONTH') return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    return day - ((d.getUTCDay() + 6) % 7) * 86_400_000; // Monday
  };
  const byBucket = new Map<number, number[]>();
  for (const r of counted) byBucket.set(startOf(r.startedAt), [...(byBucket.get(startOf(r.startedAt)) ?? []), r.sessionQuality!]);
  const starts = [...byBucket.keys()].sort((a, b) => a - b);
  const series: { start: string; count: number; meanQuality: number | null }[] = [];
  if (starts.length) {
    for (let t = starts[0]; t <= starts.at(-1)!; ) {
      const qs = byBucket.get(t) ?? [];
      series.push({ start: new Date(t).toISOString(), count: qs.length, meanQuality: qs.length ? round2(mean(qs)) : null });
      const d = new Date(t);
      t = bucket === 'DAY' ? t + 86_400_000 : bucket === 'WEEK' ? t + 7 * 86_400_000 : Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    }
  }
  const histogram = Array.from({ length: 10 }, (_, i) => ({ quality: i + 1, count: counted.filter((r) => r.sessionQuality === i + 1).length }));
  const rules = [...new Set([...RULES, ...activeRules])]
    .map((name) => {
      const hit = counted.filter((r) => r.rules?.includes(name));
      const rest = counted.filter((r) => !r.rules?.includes(name));
      return {
        name,
        matched: hit.length,
        meanQuality: hit.length ? round2(mean(hit.map((r) => r.sessionQuality!))) : null,
        meanQualityOthers: rest.length ? round2(mean(rest.map((r) => r.sessionQuality!))) : null,
      };
    })
    // Every active rule (0: never matched in the period), and any other that matched.
    .filter((r) => r.matched > 0 || activeRules.includes(r.name))
    .sort((a, b) => b.matched - a.matched || (a.name < b.name ? -1 : 1));
  return { sessionsOverTime: series, qualityHistogram: histogram, rules };
}

async function insights(from: Date | null, to: Date | null, bucket: 'DAY' | 'WEEK' | 'MONTH') {
  return (await gqlOk<{ insights: ReturnType<typeof expected> }>(server.url, INSIGHTS, { from: from?.toISOString(), to: to?.toISOString(), bucket }, analyst.token)).insights;
}

function recommendation(userId: string, matchedRules: string[]) {
  return {
    id: randomUUID(),
    userId,
    source: 'MODEL' as const,
    sessionType: 'VOLUME' as const,
    phase: 'LEARNING' as const,
    modelSessionsIncluded: 5,
    hasBaseline: false,
    hasPersonalization: false,
    checkIn: { sleepHours: 7 },
    matchedRules,
    warnings: [],
    suggestions: [],
  };
}

/** Writes rows (and their recommendations) the way a bulk import would: createMany, so the triggers see batches. */
async function insert(newRows: Row[]) {
  const recs = newRows.filter((r) => r.rules).map((r) => ({ row: r, rec: recommendation(r.userId, r.rules!) }));
  await server.db.prisma.recommendation.createMany({ data: recs.map((x) => x.rec) });
  const recOf = new Map(recs.map((x) => [x.row.id, x.rec.id]));
  await server.db.prisma.climbingSession.createMany({
    data: newRows.map((r) => ({ id: r.id, userId: r.userId, startedAt: r.startedAt, status: r.status, sessionQuality: r.sessionQuality, recommendationId: recOf.get(r.id) ?? null })),
  });
  rows.push(...newRows);
}

beforeAll(async () => {
  server = await startTestServer();
  activeRules = (await server.db.prisma.expertRule.findMany({ where: { isActive: true }, select: { name: true } })).map((r) => r.name);
  analyst = await tokenFor('analyst');
  await gqlOk(server.url, '{ me { id } }', {}, analyst.token);
  for (let i = 0; i < 4; i++) athletes.push(randomUUID());
  await server.db.prisma.user.createMany({ data: athletes.map((id) => ({ id, role: 'ATHLETE' as const })) });
  // 120 sessions over ~10 weeks from Wed 2026-01-07, several per day at different hours.
  const generated: Row[] = [];
  for (let i = 0; i < 120; i++) {
    const status = i % 11 === 3 ? 'ACTIVE' : i % 13 === 5 ? 'CANCELLED' : 'COMPLETED';
    generated.push({
      id: randomUUID(),
      userId: athletes[i % 4],
      startedAt: new Date(Date.UTC(2026, 0, 7) + Math.floor(i * 0.6) * 86_400_000 + ((i * 5) % 24) * 3_600_000 + (i % 7) * 60_000),
      status,
      sessionQuality: status === 'COMPLETED' ? 1 + ((i * 3 + Math.floor(i / 10)) % 10) : null,
      rules: i % 3 === 0 ? null : RULES.filter((_, k) => (i + k) % (k + 2) === 0),
    });
  }
  await insert(generated);
});
afterAll(async () => {
  await server?.close();
});

describe('insights: each part against a hand computation', () => {
  it('over all time: sessions per day, week and month, the quality histogram and the rules', async () => {
    for (const bucket of ['DAY', 'WEEK', 'MONTH'] as const) {
      const got = await insights(null, null, bucket);
      const want = expected(null, null, bucket);
      expect(got.sessionsOverTime).toEqual(want.sessionsOverTime);
      if (bucket === 'WEEK') {
        expect(got.qualityHistogram).toEqual(want.qualityHistogram);
        expect(got.rules).toEqual(want.rules);
        expect(got.rules.filter((r: { matched: number }) => r.matched > 0).length).toBe(3);
        expect(got.rules.length).toBe(new Set([...RULES, ...activeRules]).size);
        expect(want.sessionsOverTime.some((b) => b.count > 0 && b.meanQuality !== null)).toBe(true);
      }
    }
  });

  it('periods that start and end mid-day, within one day, and at midnight count exactly the sessions inside', async () => {
    const periods: [Date | null, Date | null][] = [
      [new Date('2026-01-15T13:30:00Z'), new Date('2026-02-20T07:45:00Z')],
      [new Date('2026-01-20T02:00:00Z'), new Date('2026-01-20T20:00:00Z')], // one day
      [new Date('2026-02-01T00:00:00Z'), new Date('2026-02-08T00:00:00Z')], // midnight to midnight, inclusive end
      [new Date('2026-02-10T09:00:00Z'), null],
      [null, new Date('2026-01-25T18:00:00Z')],
    ];
    for (const [from, to] of periods) {
      const got = await insights(from, to, 'DAY');
      const want = expected(from, to, 'DAY');
      expect(got, `${from?.toISOString()} .. ${to?.toISOString()}`).toEqual(want);
    }
    expect(expected(periods[0][0], periods[0][1], 'DAY').sessionsOverTime.length).toBeGreaterThan(20);
  });

  it('stays exact after completions, corrections, cancellations, deletions and a deleted athlete', async () => {
    const prisma = server.db.prisma;
    const active = rows.find((r) => r.status === 'ACTIVE' && r.rules)!;
    await prisma.climbingSession.update({ where: { id: active.id }, data: { status: 'COMPLETED', sessionQuality: 9 } });
    Object.assign(active, { status: 'COMPLETED', sessionQuality: 9 });
    const moved = rows.find((r) => r.status === 'COMPLETED' && r.rules && r.rules.length > 0 && r !== active)!;
    const movedTo = new Date('2026-03-30T10:00:00Z');
    await prisma.climbingSession.update({ where: { id: moved.id }, data: { sessionQuality: 2, startedAt: movedTo } });
    Object.assign(moved, { sessionQuality: 2, startedAt: movedTo });
    // a batch update and a batch delete, as one statement each
    const batch = rows.filter((r) => r.userId === athletes[1] && r.status === 'COMPLETED').slice(0, 5);
    await prisma.climbingSession.updateMany({ where: { id: { in: batch.map((r) => r.id) } }, data: { sessionQuality: 10 } });
    for (const r of batch) r.sessionQuality = 10;
    const gone = rows.filter((r) => r.userId === athletes[2] && r.status === 'COMPLETED').slice(0, 4);
    await prisma.climbingSession.deleteMany({ where: { id: { in: gone.map((r) => r.id) } } });
    rows = rows.filter((r) => !gone.includes(r));
    // an updatedAt-only write changes nothing
    await prisma.climbingSession.updateMany({ where: { userId: athletes[0] }, data: { notes: 'seen' } });
    // deleting an athlete cascades to their sessions and recommendations
    await prisma.user.delete({ where: { id: athletes[3] } });
    rows = rows.filter((r) => r.userId !== athletes[3]);

    const got = await insights(null, null, 'WEEK');
    expect(got).toEqual(expected(null, null, 'WEEK'));
    const mid = [new Date('2026-01-10T12:00:00Z'), new Date('2026-03-30T11:00:00Z')] as const;
    expect(await insights(mid[0], mid[1], 'MONTH')).toEqual(expected(mid[0], mid[1], 'MONTH'));
    // and the rollup tables themselves equal a from-scratch aggregation (no stray rows left behind)
    const drift = await prisma.$queryRaw<{ n: number }[]>`
      SELECT count(*)::int AS n FROM (
        (SELECT "day", "quality", "sessions" FROM "session_quality_days" WHERE "sessions" <> 0
         EXCEPT SELECT "startedAt"::date, "sessionQuality", count(*)::int FROM "climbing_sessions" WHERE "status" = 'COMPLETED' GROUP BY 1, 2)
        UNION ALL
        (SELECT "day", "quality", "sessions" FROM "session_rule_days" WHERE "sessions" <> 0 AND "rule" = 'low_sleep'
         EXCEPT SELECT s."startedAt"::date, s."sessionQuality", count(*)::int FROM "climbing_sessions" s JOIN "recommendations" r ON r."id" = s."recommendationId"
         WHERE s."status" = 'COMPLETED' AND 'low_sleep' = ANY(r."matchedRules") GROUP BY 1, 2)
      ) d`;
    expect(drift[0].n).toBe(0);
  });

  it('counts athletes per phase, never-trained athletes as COLD_START, other roles not at all', async () => {
    const prisma = server.db.prisma;
    const model = (userId: string, phase: 'LEARNING' | 'PERSONALIZED') => ({
      userId,
      phase,
      coefficients: {},
      credibleIntervals: {},
      covariance: [],
      sufficientStats: {},
      modelVersion: 'test',
    });
    await prisma.modelOutput.createMany({ data: [model(athletes[0], 'LEARNING'), model(athletes[1], 'PERSONALIZED')] });
    const phases = (await gqlOk<{ insights: { athletesByPhase: { phase: string; count: number }[] } }>(server.url, '{ insights { athletesByPhase { phase count } } }', {}, analyst.token)).insights
      .athletesByPhase;
    const athleteCount = await prisma.user.count({ where: { role: 'ATHLETE' } });
    expect(phases).toEqual([
      { phase: 'COLD_START', count: athleteCount - 2 },
      { phase: 'LEARNING', count: 1 },
      { phase: 'PERSONALIZED', count: 1 },
    ]);
    expect(athleteCount).toBe(3); // the analyst is not counted; the deleted athlete is gone
  });

  it('effects: mu * sd of the fit in force at `to`, with its interval and between-athlete spread, largest first', async () => {
    const prisma = server.db.prisma;
    const record = (f: (j: number) => number) => Object.fromEntries(TERM_NAMES.map((name, j) => [name, f(j)]));
    const populationFit = (fittedAt: Date, scale: number) => ({
      mu: record((j) => scale * (j % 2 ? 0.1 * j : -0.05 * j)),
      muSd: record((j) => 0.01 * (j + 1)),
      tau2: record((j) => 0.0004 * (j + 1)),
      sigma2: 1.2,
      usersIncluded: 3,
      sessionsIncluded: 90,
      modelVersion: 'test',
      fittedAt,
    });
    const older = populationFit(new Date('2026-02-01T02:00:00Z'), 1);
    const newer = populationFit(new Date('2026-03-01T02:00:00Z'), 2);
    await prisma.populationModel.createMany({ data: [older, newer] });
    const stats = TERM_NAMES.filter((n) => n !== 'intercept').map((variable, k) => ({ variable, mean: 5, std: 0.5 + k, min: 0, max: 10, n: 90 }));
    await prisma.populationStatistic.createMany({ data: stats });
    const EFFECTS = 'query($to: DateTime) { insights(to: $to) { effects { variable perSd lower upper betweenAthleteSd } } }';

    const want = (m: typeof older) =>
      stats
        .map(({ variable, std }) => {
          const mu = m.mu[variable];
          const sd = m.muSd[variable];
          return { variable, perSd: mu * std, lower: (mu - 1.96 * sd) * std, upper: (mu + 1.96 * sd) * std, betweenAthleteSd: Math.sqrt(m.tau2[variable]) * std };
        })
        .sort((a, b) => Math.abs(b.perSd) - Math.abs(a.perSd));
    type Effect = { variable: string; perSd: number; lower: number; upper: number; betweenAthleteSd: number };
    const check = (got: Effect[], m: typeof older) => {
      const w = want(m);
      expect(got.map((e) => e.variable)).toEqual(w.map((e) => e.variable));
      got.forEach((e, i) => {
        for (const k of ['perSd', 'lower', 'upper', 'betweenAthleteSd'] as const) expect(e[k]).toBeCloseTo(w[i][k], 10);
      });
    };
    check((await gqlOk<{ insights: { effects: Effect[] } }>(server.url, EFFECTS, {}, analyst.token)).insights.effects, newer);
    check((await gqlOk<{ insights: { effects: Effect[] } }>(server.url, EFFECTS, { to: '2026-02-15T00:00:00Z' }, analyst.token)).insights.effects, older);
    expect((await gqlOk<{ insights: { effects: Effect[] } }>(server.url, EFFECTS, { to: '2026-01-01T00:00:00Z' }, analyst.token)).insights.effects).toEqual([]);
  });
});

describe('insights access and input', () => {
  it('refuses athletes (FORBIDDEN) and anonymous callers; admins may read', async () => {
    const athlete = await tokenFor('athlete');
    expectError(await gql(server.url, '{ insights { qualityHistogram { quality count } } }', {}, athlete.token), 'FORBIDDEN');
    expectError(await gql(server.url, '{ insights { qualityHistogram { quality count } } }', {}), 'UNAUTHENTICATED');
    const admin = await tokenFor('admin');
    const data = await gqlOk<{ insights: { qualityHistogram: { quality: number; count: number }[] } }>(server.url, '{ insights { qualityHistogram { quality count } } }', {}, admin.token);
    expect(data.insights.qualityHistogram).toHaveLength(10);
  });

  it('refuses from after to, naming from', async () => {
    expectError(await gql(server.url, INSIGHTS, { from: '2026-03-01T00:00:00Z', to: '2026-01-01T00:00:00Z', bucket: 'DAY' }, analyst.token), 'BAD_USER_INPUT', 'from');
  });
});
