// The learning loop through the real stack: sessions logged over HTTP (startSession with the check-in,
// completeSession with the outcome), the quick update the completion triggers, the phases, modelUpdated over
// graphql-ws, deviation handling, trainUserModel access and the trainingRuns listing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addSession, emptyStats, parseStats, priorHyperparameters, userPosterior } from '../../src/engine/bayes/index.ts';
import { P, TERM_NAMES } from '../../src/engine/variables.ts';
import { collect, gql, gqlOk, wsClient } from '../support/client.ts';
import {
  coefficient,
  logAthlete,
  logSession,
  MODEL_FIELDS,
  modelOutput,
  PRIOR_MEAN,
  PRIOR_TAU2,
  SLEEP_STRESS_TRUTH,
  sleepStressAthlete,
  TRAINING_RUN_FIELDS,
  trainingRuns,
  type ModelOutputView,
  type TrainingRunView,
  quickUpdateStats,
} from '../support/learning.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const storedStats = async (userId: string) => {
  const row = await server.services.db.prisma.modelOutput.findUnique({ where: { userId }, select: { sufficientStats: true } });
  return row ? parseStats(row.sufficientStats) : null;
};

describe('an athlete whose outcomes depend on sleep and stress', () => {
  it('is PERSONALIZED after 40 sessions through the API, moved from the priors toward the truth, intervals containing it', async () => {
    const athlete = sleepStressAthlete(40, 20240611);
    const { token, id } = await tokenFor('athlete');
    // Each completion's quick update finished before the next session is logged, as a real athlete's days apart are
    // (back to back on a loaded machine, one update can already see the next session and recomputes, rightly: then
    // the runs' counts below are not one per session).
    await logAthlete(server.url, token, athlete, undefined, () => server.training.idle());
    await server.training.idle();

    const model = (await modelOutput(server.url, token))!;
    expect(model.phase).toBe('PERSONALIZED');
    expect(model.sessionsIncluded).toBe(40);
    expect(model.shrinkageFactor).toBeGreaterThan(0);
    expect(model.shrinkageFactor).toBeLessThan(1);
    expect(model.coefficients.map((c) => c.variable)).toEqual(TERM_NAMES);

    for (const variable of ['sleepHours', 'stressLevel']) {
      const c = coefficient(model, variable);
      const truth = SLEEP_STRESS_TRUTH[variable];
      const prior = PRIOR_MEAN[variable];
      // Moved from the prior toward the truth: at least halfway, and not past it by more than it started off.
      expect(Math.abs(c.value - truth)).toBeLessThan(0.5 * Math.abs(prior - truth));
      expect(Math.sign(c.value - prior)).toBe(Math.sign(truth - prior));
      // 95 % interval contains the truth and is narrower than the population's spread for this coefficient.
      expect(c.lower).toBeLessThan(truth);
      expect(c.upper).toBeGreaterThan(truth);
      expect(c.upper - c.lower).toBeLessThan(2 * 1.96 * Math.sqrt(PRIOR_TAU2[variable]));
      expect(c.lower).toBeLessThan(c.value);
      expect(c.upper).toBeGreaterThan(c.value);
    }
    // The priors alone would not contain the truth this tightly: the data did the work.
    expect(Math.abs(coefficient(model, 'sleepHours').value - PRIOR_MEAN.sleepHours)).toBeGreaterThan(0.15);

    // What is served is the posterior of these 40 rows under the (seed-prior) hyperparameters, reached by the quick
    // updates (exact for ratings inside the scale; a 1 or 10 linearised at the posterior before it).
    const stats = quickUpdateStats(athlete.sessions, priorHyperparameters());
    const expected = userPosterior(stats, priorHyperparameters());
    for (const [j, name] of TERM_NAMES.entries()) {
      expect(coefficient(model, name).value).toBeCloseTo(expected.mean[j], 9);
      expect(coefficient(model, name).lower).toBeCloseTo(expected.credibleIntervals[name][0], 9);
    }
    const stored = (await storedStats(id))!;
    expect(stored.n).toBe(40);
    stored.xty.forEach((v, j) => {
      expect(v).toBeCloseTo(stats.xty[j], 6);
    });

    // One quick update per completion, each a rank-1 step on the stored statistics.
    const runs = await trainingRuns(server.url, token, 'QUICK_UPDATE');
    expect(runs).toHaveLength(40);
    expect(runs.every((r) => r.status === 'SUCCEEDED' && r.trigger === 'SESSION_COMPLETED' && r.user?.id === id)).toBe(true);
    expect(runs.map((r) => r.sessionsUsed).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(runs.filter((r) => r.stageTimings?.path === 'rank1')).toHaveLength(39);
    expect(runs.every((r) => typeof r.stageTimings?.totalMs === 'number')).toBe(true);
  });

  it('is COLD_START below 10 sessions yet serves the posterior of those sessions, and LEARNING, visibly shrunk, at 12', async () => {
    const athlete = sleepStressAthlete(12, 777);
    const { token } = await tokenFor('athlete');
    await logAthlete(server.url, token, { ...athlete, sessions: athlete.sessions.slice(0, 9) });
    await server.training.idle();

    const cold = (await modelOutput(server.url, token))!;
    expect(cold.phase).toBe('COLD_START');
    expect(cold.sessionsIncluded).toBe(9);
    // The phase is a label: the 9 sessions already moved the model off the population, as far as they justify.
    expect(cold.shrinkageFactor).toBeGreaterThan(0);
    const expected = userPosterior(quickUpdateStats(athlete.sessions.slice(0, 9), priorHyperparameters()), priorHyperparameters());
    for (const [j, name] of TERM_NAMES.entries()) {
      const c = coefficient(cold, name);
      expect(c.value).toBeCloseTo(expected.mean[j], 9);
      expect(c.upper).toBeCloseTo(expected.credibleIntervals[name][1], 9);
    }
    expect(coefficient(cold, 'intercept').value).not.toBeCloseTo(PRIOR_MEAN.intercept, 3);

    for (const s of athlete.sessions.slice(9)) await logSession(server.url, token, s.checkIn, { sessionQuality: s.sessionQuality });
    await server.training.idle();
    const learning = (await modelOutput(server.url, token))!;
    expect(learning.phase).toBe('LEARNING');
    expect(learning.sessionsIncluded).toBe(12);
    expect(learning.shrinkageFactor).toBeGreaterThan(0);
    expect(learning.shrinkageFactor).toBeLessThan(1);
    // The posterior differs from the priors and is tighter than the population spread for every feature.
    expect(coefficient(learning, 'sleepHours').value).not.toBeCloseTo(PRIOR_MEAN.sleepHours, 6);
    for (const name of TERM_NAMES) {
      const c = coefficient(learning, name);
      expect(c.upper - c.lower).toBeLessThan(coefficient(cold, name).upper - coefficient(cold, name).lower);
    }
  });
});

describe('modelUpdated over graphql-ws', () => {
  const SUBSCRIPTION = `subscription Updated($userId: ID) { modelUpdated(userId: $userId) { ${MODEL_FIELDS} user { id } } }`;

  it("arrives after the athlete's own completion, with the updated model, and not for other athletes' sessions", async () => {
    const me = await tokenFor('athlete');
    const other = await tokenFor('athlete');
    const [first] = sleepStressAthlete(2, 99).sessions;
    // A model to start from (retraining yourself without sessions writes one), published before anyone listens.
    await gqlOk(server.url, `mutation { trainUserModel { id } }`, {}, me.token);
    await server.training.idle();
    const client = wsClient(server.wsUrl, me.token);
    const events: { modelUpdated: ModelOutputView & { user: { id: string } } }[] = [];
    const errors: unknown[] = [];
    let arrived: () => void = () => {};
    const nextEvent = (ms: number) =>
      new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        arrived = () => {
          clearTimeout(timer);
          resolve(true);
        };
      });
    // The subscription is live once its first event, the current model, has arrived.
    const live = nextEvent(10_000);
    const dispose = client.subscribe<{ modelUpdated: ModelOutputView & { user: { id: string } } }>(
      { query: SUBSCRIPTION },
      {
        next: (v) => {
          if (v.errors) errors.push(...v.errors);
          if (v.data) events.push(v.data);
          arrived();
        },
        error: (e) => {
          errors.push(e);
          arrived();
        },
        complete: () => {},
      },
    );
    try {
      expect(await live, 'the current model at once').toBe(true);
      expect(events).toHaveLength(1);
      expect(events[0].modelUpdated).toMatchObject({ sessionsIncluded: 0, user: { id: me.id } });
      events.length = 0;

      await logSession(server.url, other.token, first.checkIn, { sessionQuality: 6 });
      await server.training.idle();
      await new Promise((r) => setTimeout(r, 100));
      expect(events).toHaveLength(0);

      const waiting = nextEvent(10_000);
      await logSession(server.url, me.token, first.checkIn, { sessionQuality: 7 });
      expect(await waiting, 'a modelUpdated event within 10 s').toBe(true);
      expect(errors).toEqual([]);
      expect(events).toHaveLength(1);
      const update = events[0].modelUpdated;
      expect(update.user.id).toBe(me.id);
      expect(update.sessionsIncluded).toBe(1);
      expect(update.phase).toBe('COLD_START');
      expect(update.coefficients).toHaveLength(P);
    } finally {
      dispose();
      await client.dispose();
    }
  });

  /** The first event of a new subscription on its own connection, or null if none arrives within 10 s; then disconnects. */
  async function firstUpdate(token: string): Promise<(ModelOutputView & { user: { id: string } }) | null> {
    const client = wsClient(server.wsUrl, token);
    try {
      return await new Promise((resolve, reject) => {
        const timer = setTimeout(() => resolve(null), 10_000);
        client.subscribe<{ modelUpdated: ModelOutputView & { user: { id: string } } }>(
          { query: SUBSCRIPTION },
          {
            next: (v) => {
              clearTimeout(timer);
              if (v.data) resolve(v.data.modelUpdated);
              else reject(new Error(JSON.stringify(v.errors)));
            },
            error: (e) => {
              clearTimeout(timer);
              reject(e);
            },
            complete: () => {},
          },
        );
      });
    } finally {
      await client.dispose();
    }
  }

  it('sends the current model at once on subscribe, so a client that reconnects sees an update made while it was away', async () => {
    const me = await tokenFor('athlete');
    const [first, second] = sleepStressAthlete(2, 7).sessions;
    await logSession(server.url, me.token, first.checkIn, { sessionQuality: 6 });
    await server.training.idle();
    expect(await firstUpdate(me.token)).toMatchObject({ sessionsIncluded: 1, user: { id: me.id } });

    // Disconnected (firstUpdate closed its connection): the second session updates the model meanwhile.
    await logSession(server.url, me.token, second.checkIn, { sessionQuality: 8 });
    await server.training.idle();
    const current = await firstUpdate(me.token);
    expect(current).toMatchObject({ sessionsIncluded: 2, user: { id: me.id } });
    expect(current).toEqual({ ...(await modelOutput(server.url, me.token)), user: { id: me.id } });
  });

  it('is refused without a token when subscribed to, with one UNAUTHENTICATED error and no event', async () => {
    const anonymous = wsClient(server.wsUrl);
    try {
      const out = await collect(anonymous, SUBSCRIPTION, {}, 10_000);
      expect(out.events).toEqual([]);
      expect((out.errors.flat() as { extensions?: { code?: string } }[]).map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    } finally {
      await anonymous.dispose();
    }
  });

  it("is refused for another athlete's model", async () => {
    const me = await tokenFor('athlete');
    const client = wsClient(server.wsUrl, me.token);
    try {
      const result = await new Promise<unknown[]>((resolve) => {
        const errs: unknown[] = [];
        client.subscribe(
          { query: SUBSCRIPTION, variables: { userId: randomUUID() } },
          {
            next: (v) => {
              if (v.errors) errs.push(...v.errors);
            },
            error: (e) => resolve([...errs, e]),
            complete: () => resolve(errs),
          },
        );
      });
      expect(JSON.stringify(result)).toContain('FORBIDDEN');
    } finally {
      await client.dispose();
    }
  });
});

describe('deviation from the plan', () => {
  /** Stats as the model should see them: the given caffeine, everything else from the check-in. */
  const expectedStats = (rows: { checkIn: Record<string, unknown>; caffeineMg: number; quality: number }[]) => {
    const stats = emptyStats();
    for (const r of rows) addSession(stats, { ...r.checkIn, caffeineMg: r.caffeineMg }, r.quality);
    return stats;
  };
  const CAFFEINE = TERM_NAMES.indexOf('caffeineMg');

  it('trains on actualCaffeineMg when deviatedFromPlan, on the plan otherwise, and keeps a legitimate 0', async () => {
    const [a, b] = sleepStressAthlete(2, 4242).sessions;
    const base = (s: typeof a, caffeineMg: number) => ({ ...s.checkIn, caffeineMg });
    const deviated = await tokenFor('athlete');
    const followed = await tokenFor('athlete');
    const zero = await tokenFor('athlete');

    // Same check-ins (plan 0 mg, then 200 mg for the zero case); only the deviation flag differs.
    for (const who of [deviated, followed]) await logSession(server.url, who.token, base(a, 0), { sessionQuality: 6 });
    const dev = await logSession(server.url, deviated.token, base(b, 0), { sessionQuality: 8, deviatedFromPlan: true, actualCaffeineMg: 300 });
    expect(dev.completed).toMatchObject({ status: 'COMPLETED', deviatedFromPlan: true, actualCaffeineMg: 300 });
    await logSession(server.url, followed.token, base(b, 0), { sessionQuality: 8, deviatedFromPlan: false, actualCaffeineMg: 300 });
    await logSession(server.url, zero.token, base(a, 200), { sessionQuality: 6 });
    await logSession(server.url, zero.token, base(b, 200), { sessionQuality: 8, deviatedFromPlan: true, actualCaffeineMg: 0 });
    await server.training.idle();

    const withActual = expectedStats([
      { checkIn: a.checkIn as Record<string, unknown>, caffeineMg: 0, quality: 6 },
      { checkIn: b.checkIn as Record<string, unknown>, caffeineMg: 300, quality: 8 },
    ]);
    const withPlan = expectedStats([
      { checkIn: a.checkIn as Record<string, unknown>, caffeineMg: 0, quality: 6 },
      { checkIn: b.checkIn as Record<string, unknown>, caffeineMg: 0, quality: 8 },
    ]);
    const zeroActual = expectedStats([
      { checkIn: a.checkIn as Record<string, unknown>, caffeineMg: 200, quality: 6 },
      { checkIn: b.checkIn as Record<string, unknown>, caffeineMg: 0, quality: 8 },
    ]);

    const check = async (userId: string, expected: ReturnType<typeof emptyStats>) => {
      const stats = (await storedStats(userId))!;
      expect(stats.n).toBe(expected.n);
      stats.xtx.forEach((v, i) => {
        expect(v).toBeCloseTo(expected.xtx[i], 6);
      });
      stats.xty.forEach((v, i) => {
        expect(v).toBeCloseTo(expected.xty[i], 6);
      });
    };
    // Quick update path (rank-1 steps).
    await check(deviated.id, withActual);
    await check(followed.id, withPlan);
    await check(zero.id, zeroActual);
    expect((await storedStats(deviated.id))!.xty[CAFFEINE]).toBeCloseTo(300 * 8, 6);
    expect((await storedStats(zero.id))!.xty[CAFFEINE]).toBeCloseTo(200 * 6, 6);

    // Full recompute from the table (trainUserModel) agrees.
    for (const who of [deviated, followed, zero]) {
      const data = await gqlOk<{ trainUserModel: TrainingRunView }>(server.url, `mutation { trainUserModel { ${TRAINING_RUN_FIELDS} } }`, {}, who.token);
      expect(data.trainUserModel).toMatchObject({ kind: 'USER', status: 'SUCCEEDED', sessionsUsed: 2 });
    }
    await check(deviated.id, withActual);
    await check(followed.id, withPlan);
    await check(zero.id, zeroActual);

    // And the served models differ only because of it: the deviated athlete's caffeine coefficient moved.
    const mDeviated = (await modelOutput(server.url, deviated.token))!;
    const mFollowed = (await modelOutput(server.url, followed.token))!;
    const expectDeviated = userPosterior(withActual, priorHyperparameters());
    const expectFollowed = userPosterior(withPlan, priorHyperparameters());
    expect(expectDeviated.mean[CAFFEINE]).not.toBeCloseTo(expectFollowed.mean[CAFFEINE], 8);
    // Both are COLD_START (2 sessions), and each serves its own posterior.
    expect(mDeviated.phase).toBe('COLD_START');
    expect(mFollowed.phase).toBe('COLD_START');
    expect(coefficient(mDeviated, 'caffeineMg').value).toBeCloseTo(expectDeviated.mean[CAFFEINE], 9);
    expect(coefficient(mFollowed, 'caffeineMg').value).toBeCloseTo(expectFollowed.mean[CAFFEINE], 9);
  });
});

describe('trainUserModel', () => {
  const TRAIN = `mutation Train($userId: ID) { trainUserModel(userId: $userId) { ${TRAINING_RUN_FIELDS} } }`;

  it('retrains yourself, and (admins) anyone; athletes for others and analysts are FORBIDDEN', async () => {
    const athlete = await tokenFor('athlete');
    const other = await tokenFor('athlete');
    const admin = await tokenFor('admin');
    const analyst = await tokenFor('analyst');
    const sessions = sleepStressAthlete(3, 31337).sessions;
    for (const s of sessions) await logSession(server.url, athlete.token, s.checkIn, { sessionQuality: s.sessionQuality });
    await gqlOk(server.url, '{ me { id } }', {}, other.token);
    await server.training.idle();
    const before = (await modelOutput(server.url, athlete.token))!;

    const self = await gqlOk<{ trainUserModel: TrainingRunView }>(server.url, TRAIN, {}, athlete.token);
    expect(self.trainUserModel).toMatchObject({ kind: 'USER', status: 'SUCCEEDED', trigger: 'MANUAL', usersTrained: 1, sessionsUsed: 3, user: { id: athlete.id } });
    expect(self.trainUserModel.finishedAt).not.toBeNull();
    const after = (await modelOutput(server.url, athlete.token))!;
    expect(new Date(after.lastTrainedAt).getTime()).toBeGreaterThan(new Date(before.lastTrainedAt).getTime());

    const byAdmin = await gqlOk<{ trainUserModel: TrainingRunView }>(server.url, TRAIN, { userId: athlete.id }, admin.token);
    expect(byAdmin.trainUserModel).toMatchObject({ status: 'SUCCEEDED', sessionsUsed: 3, user: { id: athlete.id } });
    // An athlete with no sessions gets the population model.
    const empty = await gqlOk<{ trainUserModel: TrainingRunView }>(server.url, TRAIN, { userId: other.id }, admin.token);
    expect(empty.trainUserModel).toMatchObject({ status: 'SUCCEEDED', sessionsUsed: 0 });
    expect((await modelOutput(server.url, other.token))!.phase).toBe('COLD_START');

    const forOther = await gql(server.url, TRAIN, { userId: athlete.id }, other.token);
    expect(forOther.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const analystOther = await gql(server.url, TRAIN, { userId: athlete.id }, analyst.token);
    expect(analystOther.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const analystSelf = await gql(server.url, TRAIN, {}, analyst.token);
    expect(analystSelf.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const missing = await gql(server.url, TRAIN, { userId: randomUUID() }, admin.token);
    expect(missing.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const anonymous = await gql(server.url, TRAIN, {});
    expect(anonymous.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('trainingRuns', () => {
  it('lists newest first, filters by kind, pages; athletes see only their own runs, analysts everyone', async () => {
    const a = await tokenFor('athlete');
    const b = await tokenFor('athlete');
    const analyst = await tokenFor('analyst');
    const [s1, s2] = sleepStressAthlete(2, 5).sessions;
    await logSession(server.url, a.token, s1.checkIn, { sessionQuality: 5 });
    await server.training.idle();
    await logSession(server.url, a.token, s2.checkIn, { sessionQuality: 7 });
    await logSession(server.url, b.token, s1.checkIn, { sessionQuality: 4 });
    await server.training.idle();
    await gqlOk(server.url, `mutation { trainUserModel { id } }`, {}, a.token);

    const mine = await trainingRuns(server.url, a.token);
    expect(mine.map((r) => `${r.kind}:${r.sessionsUsed}`)).toEqual(['USER:2', 'QUICK_UPDATE:2', 'QUICK_UPDATE:1']);
    expect(mine.every((r) => r.user?.id === a.id)).toBe(true);
    const times = mine.map((r) => new Date(r.startedAt).getTime());
    expect([...times].sort((x, y) => y - x)).toEqual(times);
    expect((await trainingRuns(server.url, a.token, 'USER')).map((r) => r.kind)).toEqual(['USER']);
    expect(await trainingRuns(server.url, b.token, 'USER')).toEqual([]);

    const all = await trainingRuns(server.url, analyst.token, 'QUICK_UPDATE', 100);
    const users = new Set(all.map((r) => r.user?.id));
    expect(users.has(a.id) && users.has(b.id)).toBe(true);

    const page1 = await gqlOk<{ trainingRuns: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } }>(
      server.url,
      `{ trainingRuns(first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
      {},
      a.token,
    );
    expect(page1.trainingRuns.edges).toHaveLength(2);
    expect(page1.trainingRuns.pageInfo.hasNextPage).toBe(true);
    const page2 = await gqlOk<{ trainingRuns: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean } } }>(
      server.url,
      `query($after: String) { trainingRuns(first: 2, after: $after) { edges { node { id } } pageInfo { hasNextPage } } }`,
      { after: page1.trainingRuns.pageInfo.endCursor },
      a.token,
    );
    expect(page2.trainingRuns.edges.map((e) => e.node.id)).toEqual([mine[2].id]);
    expect(page2.trainingRuns.pageInfo.hasNextPage).toBe(false);

    expect((await gql(server.url, '{ trainingRuns { edges { node { id } } } }')).errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });
});
