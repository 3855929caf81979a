// Several instances sharing one PostgreSQL database and a Redis: a write on one instance invalidates the
// caches of every instance at once, and model updates reach subscribers connected to another instance.
// Runs when the suite has both a PostgreSQL server (TEST_DATABASE_URL) and a Redis (TEST_REDIS_URL), as in CI.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, gqlOk, wsClient } from '../support/client.ts';
import { eventOf, OPERATOR, streamWs } from '../support/recommendation.ts';
import { startTwoInstances, tokenFor, type TestServer, type TwoInstances } from '../support/server.ts';

const redisUrl = process.env.TEST_REDIS_URL;
const pgUrl = process.env.TEST_DATABASE_URL;

describe.runIf(!!redisUrl && !!pgUrl)('two instances with Redis', () => {
  let instances: TwoInstances | undefined;
  let databaseUrl: string;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    instances = await startTwoInstances(redisUrl!);
    ({ databaseUrl, a, b } = instances);
  });
  afterAll(() => instances?.close());

  const RECOMMEND = `query($input: PreSessionInput!) { recommendation(input: $input) { rulesApplied } }`;

  it('startSession(recommendationId) on the other instance right after DONE succeeds, even while the batch is held back', async () => {
    const { token, id } = await tokenFor('athlete');
    await streamWs(a.wsUrl, token, OPERATOR); // warm a's caches: the next stream reads nothing the lock holds
    // A second connection holds the recommendations' INSERTs back (reads go on): a's batch lands 1.5 s late.
    const locker = new pg.Client({ connectionString: databaseUrl });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE recommendations IN SHARE MODE');
      const out = await streamWs(a.wsUrl, token, { ...OPERATOR, energyLevel: 5 });
      const recommendationId = eventOf(out.events, 'DONE').recommendationId!;
      const started = gql<{ startSession: { id: string; recommendation: { id: string } } }>(
        b.url,
        'mutation($input: StartSessionInput!) { startSession(input: $input) { id recommendation { id } } }',
        { input: { recommendationId } },
        token,
      );
      await new Promise((r) => setTimeout(r, 1500));
      await locker.query('COMMIT');
      const res = await started;
      expect(res.errors).toBeUndefined();
      expect(res.data!.startSession.recommendation.id).toBe(recommendationId);
      const session = await gqlOk<{ session: { recommendation: { id: string } } }>(a.url, 'query($id: ID!) { session(id: $id) { recommendation { id } } }', { id: res.data!.startSession.id }, token);
      expect(session.session.recommendation.id).toBe(recommendationId);
      expect(await a.services.prisma.climbingSession.count({ where: { userId: id } })).toBe(1);
    } finally {
      await locker.end();
    }
  });

  it('a rule written on one instance applies on the other at once, despite the 300 s rules cache', async () => {
    const athlete = await tokenFor('athlete');
    const admin = await tokenFor('admin');
    const input = { stressLevel: 9 };
    // Warm instance B's rules cache first.
    const before = await gqlOk<{ recommendation: { rulesApplied: string[] } }>(b.url, RECOMMEND, { input }, athlete.token);
    expect(before.recommendation.rulesApplied).not.toContain('extreme_stress_light_day');
    await gqlOk(
      a.url,
      `mutation($input: ExpertRuleInput!) { upsertExpertRule(input: $input) { name } }`,
      {
        input: {
          name: 'extreme_stress_light_day',
          description: 'Very high stress: keep it light',
          category: 'CONSERVATIVE',
          priority: 65,
          conditions: { field: 'stressLevel', op: '>=', value: 9 },
          actions: [{ type: 'constrain', sessionTypeCeiling: 'LIGHT_SESSION', message: 'Stress is very high today: keep the session light.' }],
        },
      },
      admin.token,
    );
    let applied: string[] = [];
    for (let i = 0; i < 50 && !applied.includes('extreme_stress_light_day'); i++) {
      applied = (await gqlOk<{ recommendation: { rulesApplied: string[] } }>(b.url, RECOMMEND, { input }, athlete.token)).recommendation.rulesApplied;
      if (!applied.includes('extreme_stress_light_day')) await new Promise((r) => setTimeout(r, 20));
    }
    expect(applied).toContain('extreme_stress_light_day');
  });

  it("a session completed on one instance shows in the other's statistics at once, despite the cached history", async () => {
    const athlete = await tokenFor('athlete');
    const HISTORY = `query($input: PreSessionInput!) { recommendation(input: $input) { statisticalContext { personalHistory { n } } } }`;
    const historyOn = async (server: TestServer) =>
      (await gqlOk<{ recommendation: { statisticalContext: { personalHistory: { n: number } } } }>(server.url, HISTORY, { input: { sleepHours: 7 } }, athlete.token)).recommendation.statisticalContext
        .personalHistory.n;
    expect(await historyOn(b)).toBe(0); // B now holds the (empty) history in its cache
    const { startSession } = await gqlOk<{ startSession: { id: string } }>(a.url, `mutation { startSession(input: { sleepHours: 7, energyLevel: 6 }) { id } }`, {}, athlete.token);
    await gqlOk(a.url, `mutation($id: ID!) { completeSession(id: $id, input: { sessionQuality: 8 }) { id } }`, { id: startSession.id }, athlete.token);
    let n = 0;
    for (let i = 0; i < 50 && n === 0; i++) {
      n = await historyOn(b);
      if (n === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(n).toBe(1);
    await a.training.idle();
  });

  it('modelUpdated reaches a subscriber on the other instance after a completion', async () => {
    const athlete = await tokenFor('athlete');
    const client = wsClient(b.wsUrl, athlete.token);
    const events: unknown[] = [];
    const received = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no modelUpdated event on instance B')), 20_000);
      client.subscribe(
        { query: 'subscription { modelUpdated { phase sessionsIncluded } }' },
        {
          next: (v) => {
            events.push(v.data);
            // The opening event is the model B serves at once (a new athlete's: the population's, no session);
            // the one that crossed from A follows.
            if ((v.data?.modelUpdated as { sessionsIncluded?: number } | undefined)?.sessionsIncluded === 0) return;
            clearTimeout(timer);
            resolve();
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    // Let the subscription reach the server before the write.
    await new Promise((r) => setTimeout(r, 300));
    const { startSession } = await gqlOk<{ startSession: { id: string } }>(a.url, `mutation { startSession(input: { sleepHours: 7, energyLevel: 6 }) { id } }`, {}, athlete.token);
    await gqlOk(a.url, `mutation($id: ID!) { completeSession(id: $id, input: { sessionQuality: 8 }) { id } }`, { id: startSession.id }, athlete.token);
    await received;
    await client.dispose();
    expect(events).toEqual([{ modelUpdated: { phase: 'COLD_START', sessionsIncluded: 0 } }, { modelUpdated: { phase: 'COLD_START', sessionsIncluded: 1 } }]);
  });
});
