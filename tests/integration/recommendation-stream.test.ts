// The phased pre-session recommendation (domain.md sections 7-8, docs/api.md "The phased stream") through the
// real server: graphql-ws, SSE and the one-shot query; overrides, auth and input errors, the recommendation
// startSession stores and links, and the personalised path (sessions completed through the API, quick updates, nightly fit).
import { RequestCache } from '@pothos/plugin-scope-auth';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { gql, gqlOk, sse, wsClient, collect } from '../support/client.ts';
import {
  boundedExpectation,
  coldStartPrediction,
  eventOf,
  expectWellFormed,
  MULTIPLIER_CHECK_IN,
  OPERATOR,
  STATISTICAL_CONTEXT,
  recommendation,
  recommendationRaw,
  STREAM_QUERY,
  streamSse,
  streamWs,
  types,
  type Prediction,
  type StreamEvent,
} from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';
import { roundRating } from '../../src/engine/rounding.ts';
import type { Context } from '../../src/context.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** The operator checklist's example check-in. */
const MODEL_PATH = ['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE'];

function expectOperatorPrediction(prediction: Prediction): void {
  const expected = coldStartPrediction(OPERATOR);
  // 6.0 + 0.22 (4 - 6) - 0.18 (2 - 4): the priors' own arithmetic.
  expect(expected.raw).toBeCloseTo(6.0 + 0.22 * (4 - 6) - 0.18 * (2 - 4), 12);
  // The latent 5.92; the expected rating given the bounds of the scale (1 below 1.5, 10 above 9.5) a little under it.
  expect(prediction.rawQuality).toBeCloseTo(5.92, 10);
  expect(prediction.expectedQuality).toBeCloseTo(roundRating(expected.expected), 10);
  expect(prediction.expectedQuality).toBeLessThan(5.92);
  expect(prediction.phase).toBe('COLD_START');
  expect(prediction.confidence).toBe('LOW');
  // Interval from the population covariance diag(individualVariance) (the posterior with no data) plus sigma² = 1.5².
  expect(expected.variance).toBeCloseTo(1.0 + 4 * 0.25 + 4 * 0.2 + 2.25, 12);
  expect(prediction.interval.low).toBeCloseTo(roundRating(expected.low), 9);
  expect(prediction.interval.high).toBeCloseTo(roundRating(expected.high), 9);
  // The whole rating: the latent N(5.92, 5.05 - 1/12) rounded, 1 below 1.5 and 10 above 9.5. Of the most probable
  // run of each width, 3-10 holds 93.8 % and 2-10 97.6 %: the interval is the one nearest 95 %, 3-10.
  expect(prediction.interval).toEqual({ low: 3, high: 10 });
  expect(prediction.distribution.map((d) => d.rating)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  for (const [k, q] of expected.distribution.entries()) expect(prediction.distribution[k].probability).toBeCloseTo(q, 3);
  expect(prediction.distribution.reduce((a, d) => a + d.probability, 0)).toBeCloseTo(1, 3);
  expect(prediction.distribution[9].probability).toBeCloseTo(0.0541, 4); // P(latent >= 9.5)
  // Contributions beta_j (x_j - c_j), largest first: energy -0.44, stress +0.36, the rest 0.
  expect(prediction.contributions).toHaveLength(9);
  expect(prediction.contributions[0].variable).toBe('energyLevel');
  expect(prediction.contributions[0].value).toBeCloseTo(-0.44, 12);
  expect(prediction.contributions[1].variable).toBe('stressLevel');
  expect(prediction.contributions[1].value).toBeCloseTo(0.36, 12);
  for (const c of prediction.contributions.slice(2)) expect(c.value).toBe(0);
}

function expectOperatorStream(events: StreamEvent[]): void {
  expect(types(events)).toEqual(MODEL_PATH);
  expectWellFormed(events);
  expect(events[0]).toMatchObject({ __typename: 'ContextLoadedEvent', phase: 'COLD_START', sessionsAvailable: 0, hasBaseline: false, hasPersonalization: false });
  expectOperatorPrediction(eventOf(events, 'PREDICTION').prediction!);
  const recs = eventOf(events, 'RECOMMENDATIONS');
  expect(recs.sessionType).toBe('VOLUME'); // 5.5 <= 5.9 < 6.5, soreness unknown
  // The only actionable move that helps: caffeine 0 -> 300 mg at 0.003 per mg (warm-up is already at 15): +0.9 on
  // the latent scale, a little less on the rating's (some of the spread lies beyond 10, where nothing is gained).
  expect(recs.suggestions).toHaveLength(1);
  expect(recs.suggestions![0]).toMatchObject({ variable: 'caffeineMg', from: 0, to: 300 });
  const sd = Math.sqrt(coldStartPrediction(OPERATOR).variance);
  expect(recs.suggestions![0].expectedGain).toBeCloseTo(boundedExpectation(5.92 + 0.9, sd) - boundedExpectation(5.92, sd), 6);
  expect(recs.suggestions![0].expectedGain).toBeLessThan(0.9);
  expect(recs.constraints).toMatchObject({ sessionTypeCeiling: null, suggestedSessionType: null, avoid: [], reduceVolume: false });
  const stats = eventOf(events, 'STATS').context!;
  expect(stats.populationComparison).toEqual([]); // no PopulationStatistic rows yet
  expect(stats.personalHistory).toMatchObject({ n: 0, mean: null, sd: null });
  expect(stats.similarSessions).toEqual([]);
  expect(stats.coefficientComparisons).toEqual([]); // no population fit yet
  expect(stats.insights.length).toBeGreaterThanOrEqual(2);
  expect(eventOf(events, 'DONE')).toMatchObject({ __typename: 'DoneEvent', source: 'MODEL' });
}

describe('operator checklist example (sleepHours 7, energyLevel 4, stressLevel 2)', () => {
  it('streams CONTEXT_LOADED, PREDICTION, RECOMMENDATIONS, STATS, DONE over graphql-ws with the cold-start prediction', async () => {
    const { token } = await tokenFor('athlete');
    const out = await streamWs(server.wsUrl, token, OPERATOR);
    expect(out.errors).toEqual([]);
    expect(out.completed).toBe(true);
    expectOperatorStream(out.events);
  });

  it('streams the same phases over SSE', async () => {
    const { token } = await tokenFor('athlete');
    const out = await streamSse(server.url, token, OPERATOR);
    expect(out.status).toBe(200);
    expect(out.errors).toEqual([]);
    expectOperatorStream(out.events);
  });

  it('answers the same through the recommendation query', async () => {
    const { token } = await tokenFor('athlete');
    const rec = await recommendation(server.url, token, OPERATOR);
    expect(rec).toMatchObject({ source: 'MODEL', sessionType: 'VOLUME', override: null, rulesApplied: [], warnings: [] });
    expect(rec.personalization).toEqual({ phase: 'COLD_START', sessionsIncluded: 0, hasBaseline: false, hasPersonalization: false });
    expectOperatorPrediction(rec.prediction!);
  });

  it('emits RULES_APPLIED between CONTEXT_LOADED and PREDICTION when rules match without an override', async () => {
    const { token } = await tokenFor('athlete');
    const out = await streamWs(server.wsUrl, token, { ...OPERATOR, sleepHours: 4.5, fingerInjuryPresent: true });
    expect(types(out.events)).toEqual(['CONTEXT_LOADED', 'RULES_APPLIED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE']);
    expectWellFormed(out.events);
    const applied = eventOf(out.events, 'RULES_APPLIED');
    expect(applied.rules).toEqual(['finger_injury_no_crimp', 'sleep_deprivation_limit_intensity']); // priority 95, then 90
    expect(applied.warnings!.map((w) => w.rule)).toEqual(applied.rules);
    expect(applied.warnings![1].reason).toContain('sleepHours < 5');
    expect(applied.warnings![1].reason).toContain('4.5');
    expect(applied.constraints!.sessionTypeCeiling).toBe('LIGHT_SESSION');
    expect(applied.constraints!.avoid).toEqual(['crimp_intensive', 'campus_board', 'hangboard', 'limit_bouldering', 'project']);
    expect(eventOf(out.events, 'RECOMMENDATIONS').sessionType).toBe('LIGHT_SESSION');
  });
});

describe('override path', () => {
  it('pulleyInjuryGrade 2: CONTEXT_LOADED, RULE_OVERRIDE (REST_DAY), DONE with source RULE_OVERRIDE and no PREDICTION', async () => {
    const { token } = await tokenFor('athlete');
    for (const out of [await streamWs(server.wsUrl, token, { ...OPERATOR, pulleyInjuryGrade: 2 }), await streamSse(server.url, token, { ...OPERATOR, pulleyInjuryGrade: 2 })]) {
      expect(out.errors).toEqual([]);
      expect(types(out.events)).toEqual(['CONTEXT_LOADED', 'RULE_OVERRIDE', 'DONE']);
      expectWellFormed(out.events);
      expect(out.events[1]).toMatchObject({ __typename: 'RuleOverrideEvent', rule: 'pulley_injury_grade2_plus', category: 'SAFETY', sessionType: 'REST_DAY' });
      expect(out.events[1].message).toMatch(/6-8 weeks/);
      expect(out.events[1].warnings!.map((w) => w.rule)).toEqual(['pulley_injury_grade2_plus']);
      expect(out.events[2]).toMatchObject({ __typename: 'DoneEvent', source: 'RULE_OVERRIDE' });
    }
    const rec = await recommendation(server.url, token, { ...OPERATOR, pulleyInjuryGrade: 2 });
    expect(rec).toMatchObject({ source: 'RULE_OVERRIDE', sessionType: 'REST_DAY', prediction: null, suggestions: [], statisticalContext: null, rulesApplied: ['pulley_injury_grade2_plus'] });
    expect(rec.override).toMatchObject({ rule: 'pulley_injury_grade2_plus', sessionType: 'REST_DAY' });
  });
  it('sleep 5.5 h, stress 8 and 6 days without rest: the LIGHT_SESSION override is lowered to REST_DAY, still without prediction', async () => {
    const { token } = await tokenFor('athlete');
    const input = { ...OPERATOR, sleepHours: 5.5, stressLevel: 8, daysSinceRestDay: 6 };
    for (const out of [await streamWs(server.wsUrl, token, input), await streamSse(server.url, token, input)]) {
      expect(out.errors).toEqual([]);
      expect(types(out.events)).toEqual(['CONTEXT_LOADED', 'RULE_OVERRIDE', 'DONE']);
      expectWellFormed(out.events);
      expect(out.events[1]).toMatchObject({ rule: 'sleep_plus_stress_compound', category: 'INTERACTION', sessionType: 'REST_DAY' });
      // The ceiling's own warning says why the answer is stricter than the override's message.
      expect(out.events[1].warnings!.map((w) => w.rule)).toEqual(['sleep_plus_stress_compound', 'consecutive_days_warning']);
      expect(out.events[2]).toMatchObject({ source: 'RULE_OVERRIDE' });
    }
    const rec = await recommendation(server.url, token, input);
    expect(rec).toMatchObject({ source: 'RULE_OVERRIDE', sessionType: 'REST_DAY', prediction: null, rulesApplied: ['sleep_plus_stress_compound', 'consecutive_days_warning'] });
    expect(rec.override).toMatchObject({ rule: 'sleep_plus_stress_compound', sessionType: 'REST_DAY' });
  });
});

describe('the query and the stream agree', () => {
  const inputs: [string, Record<string, unknown>][] = [
    ['operator example', OPERATOR],
    ['rules and a multiplier', MULTIPLIER_CHECK_IN],
    ['ceilings', { sleepHours: 4, stressLevel: 5, sorenessLevel: 8, alcoholLast24h: true, hydrationStatus: 3, temperatureC: 30, daysSinceHardSession: 0 }],
    ['override', { sleepHours: 5.5, stressLevel: 8, energyLevel: 7 }],
  ];
  it.each(inputs)('%s: sessionType, prediction, suggestions, warnings and constraints match', async (_name, input) => {
    const { token } = await tokenFor('athlete');
    const rec = await recommendation(server.url, token, input);
    const out = await streamWs(server.wsUrl, token, input);
    expect(out.errors).toEqual([]);
    const events = out.events;
    expectWellFormed(events);
    const override = events.find((e) => e.type === 'RULE_OVERRIDE');
    const done = eventOf(events, 'DONE');
    expect(rec.source).toBe(done.source);
    if (override) {
      expect(rec.sessionType).toBe(override.sessionType);
      expect(rec.override).toEqual({ rule: override.rule, category: override.category, sessionType: override.sessionType, message: override.message });
      expect(rec.warnings).toEqual(override.warnings);
      expect(rec.prediction).toBeNull();
      return;
    }
    const applied = events.find((e) => e.type === 'RULES_APPLIED');
    const recs = eventOf(events, 'RECOMMENDATIONS');
    expect(rec.sessionType).toBe(recs.sessionType);
    expect(rec.prediction).toEqual(eventOf(events, 'PREDICTION').prediction);
    expect(rec.suggestions).toEqual(recs.suggestions);
    expect(rec.constraints).toEqual(recs.constraints);
    expect(rec.warnings).toEqual(applied?.warnings ?? []);
    expect(rec.rulesApplied).toEqual(applied?.rules ?? []);
    expect(rec.statisticalContext).toEqual(eventOf(events, 'STATS').context);
  });
});

describe('refused requests', () => {
  it('refuses the subscription without a token: UNAUTHENTICATED over graphql-ws and SSE', async () => {
    const ws = await streamWs(server.wsUrl, undefined, OPERATOR);
    expect(ws.events).toEqual([]);
    expect(ws.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    const viaSse = await streamSse(server.url, undefined, OPERATOR);
    expect(viaSse.events).toEqual([]);
    expect(viaSse.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    const query = await recommendationRaw(server.url, undefined, OPERATOR);
    expect(query.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('closes a graphql-ws connection that presents an invalid token (4403)', async () => {
    const client = wsClient(server.wsUrl, 'not-a-jwt');
    const out = await collect(client, STREAM_QUERY, { input: OPERATOR });
    await client.dispose();
    expect(out.events).toEqual([]);
    expect((out.errors[0] as { code?: number }).code).toBe(4403);
  });

  const invalid: [Record<string, unknown>, string][] = [
    [{ sleepHours: 25 }, 'sleepHours'],
    [{ energyLevel: 11 }, 'energyLevel'],
    [{ pulleyInjuryGrade: 5 }, 'pulleyInjuryGrade'],
    [{ trainingLoadChange: -2 }, 'trainingLoadChange'],
    [{ temperatureC: 61 }, 'temperatureC'],
    [{ currentNiggles: [{ location: 'left ring finger', severity: 11 }] }, 'currentNiggles[0].severity'],
  ];
  it.each(invalid)('rejects %j as BAD_USER_INPUT naming %s over graphql-ws, SSE and the query', async (bad, field) => {
    const { token } = await tokenFor('athlete');
    const input = { ...OPERATOR, ...bad };
    const ws = await streamWs(server.wsUrl, token, input);
    expect(ws.events).toEqual([]);
    expect(ws.errors).toHaveLength(1);
    expect(ws.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(ws.errors[0].message).toContain(field);
    const viaSse = await streamSse(server.url, token, input);
    expect(viaSse.events).toEqual([]);
    expect(viaSse.errors).toHaveLength(1);
    expect(viaSse.errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    const query = await recommendationRaw(server.url, token, input);
    expect(query.data ?? null).toBeNull();
    expect(query.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
  });

  // Wrong-typed values fail GraphQL's own coercion before any resolver runs; the field is still named.
  const wrongTyped: [Record<string, unknown>, string, RegExp][] = [
    [{ energyLevel: 4.5 }, 'energyLevel', /energyLevel must be a whole number between 1 and 10/],
    [{ sleepHours: 'seven' }, 'sleepHours', /sleepHours must be a number between 0 and 24/],
    [{ plannedSessionType: 'NAP' }, 'plannedSessionType', /plannedSessionType must be one of REST_DAY/],
    [{ alcoholLast24h: 'no' }, 'alcoholLast24h', /alcoholLast24h must be true or false/],
  ];
  it.each(wrongTyped)('rejects wrong-typed %j as BAD_USER_INPUT naming %s over graphql-ws, SSE and the query', async (bad, field, message) => {
    const { token } = await tokenFor('athlete');
    const input = { ...OPERATOR, ...bad };
    const ws = await streamWs(server.wsUrl, token, input);
    const viaSse = await streamSse(server.url, token, input);
    const query = await recommendationRaw(server.url, token, input);
    expect(ws.events).toEqual([]);
    expect(viaSse.events).toEqual([]);
    for (const errors of [ws.errors, viaSse.errors, query.errors ?? []]) {
      expect(errors).toHaveLength(1);
      expect(errors[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
      expect(errors[0].message).toMatch(message);
    }
  });

  // graphql-js's coercion refuses an array for an input object; graphql-jit's compiled coercion (which starts a compiled
  // subscription) would take an empty one for a check-in of optional fields, and stream an empty check-in's answer.
  it('refuses an array given as the check-in over graphql-ws and SSE, before anything runs', async () => {
    const { token } = await tokenFor('athlete');
    const ws = await streamWs(server.wsUrl, token, [] as unknown as typeof OPERATOR);
    const viaSse = await streamSse(server.url, token, [] as unknown as typeof OPERATOR);
    for (const out of [ws, viaSse]) {
      expect(out.events).toEqual([]);
      expect(out.errors).toHaveLength(1);
      expect(out.errors[0].message).toMatch(/to be an object/);
    }
  });

  it('refuses an array given as the check-in (or as a niggle in it) of the recommendation query and of startSession, storing nothing', async () => {
    const { token, id } = await tokenFor('athlete');
    const query = `query($input: PreSessionInput!) { recommendation(input: $input) { id source } }`;
    const start = `mutation($input: StartSessionInput!) { startSession(input: $input) { id } }`;
    for (const [document, field, input, named] of [
      [query, 'recommendation', [], 'input'],
      [start, 'startSession', [], 'input'],
      // An array for an input object inside the check-in: a niggle.
      [query, 'recommendation', { ...OPERATOR, currentNiggles: [[]] }, 'currentNiggles[0]'],
    ] as const) {
      const out = await gql<Record<string, unknown>>(server.url, document, { input }, token);
      expect(out.data?.[field] ?? null, field).toBeNull();
      expect(out.errors, field).toHaveLength(1);
      expect(out.errors![0].message, field).toMatch(/to be an object/);
      expect(out.errors![0].message.startsWith(`${named}: `), out.errors![0].message).toBe(true);
    }
    await server.services.recommendations.flush();
    const [{ n }] = await server.services.prisma.$queryRawUnsafe<{ n: number }[]>(`SELECT count(*)::int AS n FROM recommendations WHERE "userId" = $1::uuid`, id);
    expect(n).toBe(0);
  });

  it('validates an inline (literal) subscription argument too', async () => {
    const { token } = await tokenFor('athlete');
    const client = wsClient(server.wsUrl, token);
    const out = await collect(client, `subscription { preSessionRecommendation(input: { sleepHours: 25 }) { type } }`);
    await client.dispose();
    expect(out.events).toEqual([]);
    expect((out.errors.flat()[0] as { extensions?: unknown }).extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sleepHours' });
    const viaSse = await sse(server.url, `subscription { preSessionRecommendation(input: { sleepHours: 25 }) { type } }`, {}, token);
    expect(viaSse.events.flatMap((e) => e.errors ?? [])[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'sleepHours' });
  });
});

describe("an operation's context after the operation", () => {
  // scope-auth keeps each operation's RequestCache in a WeakMap keyed by the context, and the cache holds the context:
  // kept so, an operation's context (its loaders, the request or subscribe message it came with) outlives every
  // scavenge until a major collection. Each cache is let go as its operation ends, however it ends: a query's or
  // mutation's when its result is made, a stream's when the stream ends.
  /** scope-auth's caches let go from here on: each one's viewer (null: none), in order, and how many contexts. */
  function watchReleases() {
    const released = vi.spyOn(RequestCache, 'clearForContext');
    return {
      viewers: () => released.mock.calls.map(([context]) => (context as Context).viewer?.id ?? null),
      contexts: () => new Set(released.mock.calls.map(([context]) => context)).size,
      stop: () => released.mockRestore(),
    };
  }

  it("is let go from scope-auth's cache when the stream ends: after DONE, when the client leaves after the first event, and when it is refused", async () => {
    const { viewers, contexts, stop } = watchReleases();
    try {
      const athlete = await tokenFor('athlete');
      const whole = await streamWs(server.wsUrl, athlete.token, OPERATOR);
      expect(types(whole.events)).toEqual(MODEL_PATH);
      expect(viewers()).toEqual([athlete.id]);

      const client = wsClient(server.wsUrl, athlete.token);
      try {
        await new Promise<void>((resolve, reject) => {
          const leave = client.subscribe(
            { query: STREAM_QUERY, variables: { input: OPERATOR } },
            {
              next: () => {
                leave();
                resolve();
              },
              error: reject,
              complete: () => {},
            },
          );
        });
        await vi.waitFor(() => expect(viewers()).toEqual([athlete.id, athlete.id]));
      } finally {
        await client.dispose();
      }

      const refused = await streamWs(server.wsUrl, undefined, OPERATOR);
      expect(refused.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      expect(viewers()).toEqual([athlete.id, athlete.id, null]);
      // Each stream's own context, each let go once.
      expect(contexts()).toBe(3);
    } finally {
      stop();
    }
  });

  it("is let go from scope-auth's cache when a query's or mutation's result is made: over HTTP and graphql-ws, answered or refused", async () => {
    const { viewers, contexts, stop } = watchReleases();
    try {
      const athlete = await tokenFor('athlete');
      const answered = await recommendation(server.url, athlete.token, OPERATOR);
      expect(answered.source).toBe('MODEL');
      expect(viewers()).toEqual([athlete.id]);

      const started = await gqlOk<{ startSession: { status: string } }>(
        server.url,
        `mutation($input: StartSessionInput!) { startSession(input: $input) { status } }`,
        { input: OPERATOR },
        athlete.token,
      );
      expect(started.startSession.status).toBe('ACTIVE');
      expect(viewers()).toEqual([athlete.id, athlete.id]);

      const refused = await gql(server.url, `query($input: PreSessionInput!) { recommendation(input: $input) { id } }`, { input: OPERATOR });
      expect(refused.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
      expect(viewers()).toEqual([athlete.id, athlete.id, null]);

      const client = wsClient(server.wsUrl, athlete.token);
      try {
        const overWs = await collect<{ recommendation: { source: string } }>(client, `query($input: PreSessionInput!) { recommendation(input: $input) { source } }`, { input: OPERATOR });
        expect(overWs.events.map((e) => e.recommendation.source)).toEqual(['MODEL']);
      } finally {
        await client.dispose();
      }
      expect(viewers()).toEqual([athlete.id, athlete.id, null, athlete.id]);
      // Each operation's own context, each let go once.
      expect(contexts()).toBe(4);
    } finally {
      stop();
    }
  });
});

describe('startSession', () => {
  const START = `mutation($input: StartSessionInput!) {
    startSession(input: $input) { id status recommendation { id source sessionType override { rule } prediction { expectedQuality rawQuality interval { low high } distribution { rating probability } contributions { variable value } phase confidence } suggestions { variable } } }
  }`;
  /** What START selects of the recommendation shown. */
  type Shown = { id: string; source: string; sessionType: string; override: { rule: string } | null; prediction: Prediction | null; suggestions: { variable: string }[] };

  it('stores the recommendation shown (sessionType and prediction) and links it to the session', async () => {
    const { token } = await tokenFor('athlete');
    const { startSession } = await gqlOk<{ startSession: { id: string; status: string; recommendation: Shown } }>(server.url, START, { input: { ...OPERATOR, location: 'Gym' } }, token);
    expect(startSession.status).toBe('ACTIVE');
    const shown = startSession.recommendation;
    expect(shown).toMatchObject({ source: 'MODEL', sessionType: 'VOLUME', override: null });
    expectOperatorPrediction(shown.prediction!);
    expect(shown.suggestions[0]).toMatchObject({ variable: 'caffeineMg' });
    // Stored, not only echoed: read it back.
    const again = await gqlOk<{ session: { recommendation: Shown } }>(
      server.url,
      `query($id: ID!) { session(id: $id) { recommendation { id source sessionType override { rule } prediction { expectedQuality rawQuality interval { low high } distribution { rating probability } contributions { variable value } phase confidence } suggestions { variable } } } }`,
      { id: startSession.id },
      token,
    );
    expect(again.session.recommendation).toEqual(shown);
  });

  it('stores an override as what the athlete was told', async () => {
    const { token } = await tokenFor('athlete');
    const { startSession } = await gqlOk<{ startSession: { recommendation: Shown } }>(server.url, START, { input: { ...OPERATOR, injurySeverity: 7 } }, token);
    expect(startSession.recommendation).toMatchObject({ source: 'RULE_OVERRIDE', sessionType: 'REST_DAY', prediction: null, override: { rule: 'severe_injury_rest_required' } });
  });
});

describe('personalised path', () => {
  const START = `mutation($input: StartSessionInput!) { startSession(input: $input) { id } }`;
  const COMPLETE = `mutation($id: ID!, $input: CompleteSessionInput!) { completeSession(id: $id, input: $input) { id status } }`;
  // Ten varied check-ins and their ratings (quality tracks sleep and energy, roughly).
  const HISTORY = [
    { checkIn: { sleepHours: 8, sleepQuality: 7, energyLevel: 8, stressLevel: 3, motivationLevel: 8, sorenessLevel: 2, daysSinceHardSession: 3, caffeineMg: 100, warmupMin: 15 }, quality: 8 },
    { checkIn: { sleepHours: 5, sleepQuality: 4, energyLevel: 4, stressLevel: 7, motivationLevel: 5, sorenessLevel: 5, daysSinceHardSession: 1, caffeineMg: 0, warmupMin: 10 }, quality: 4 },
    { checkIn: { sleepHours: 7, sleepQuality: 6, energyLevel: 6, stressLevel: 4, motivationLevel: 6, sorenessLevel: 3, daysSinceHardSession: 2, caffeineMg: 200, warmupMin: 15 }, quality: 6 },
    { checkIn: { sleepHours: 9, sleepQuality: 8, energyLevel: 9, stressLevel: 2, motivationLevel: 9, sorenessLevel: 1, daysSinceHardSession: 4, caffeineMg: 100, warmupMin: 20 }, quality: 9 },
    { checkIn: { sleepHours: 6, sleepQuality: 5, energyLevel: 5, stressLevel: 6, motivationLevel: 5, sorenessLevel: 6, daysSinceHardSession: 0, caffeineMg: 300, warmupMin: 5 }, quality: 5 },
    { checkIn: { sleepHours: 7.5, sleepQuality: 7, energyLevel: 7, stressLevel: 3, motivationLevel: 7, sorenessLevel: 3, daysSinceHardSession: 2, caffeineMg: 0, warmupMin: 15 }, quality: 7 },
    { checkIn: { sleepHours: 4.5, sleepQuality: 3, energyLevel: 3, stressLevel: 8, motivationLevel: 4, sorenessLevel: 7, daysSinceHardSession: 1, caffeineMg: 0, warmupMin: 10 }, quality: 3 },
    { checkIn: { sleepHours: 8, sleepQuality: 8, energyLevel: 7, stressLevel: 4, motivationLevel: 8, sorenessLevel: 2, daysSinceHardSession: 5, caffeineMg: 200, warmupMin: 15 }, quality: 8 },
    { checkIn: { sleepHours: 6.5, sleepQuality: 6, energyLevel: 6, stressLevel: 5, motivationLevel: 6, sorenessLevel: 4, daysSinceHardSession: 2, caffeineMg: 100, warmupMin: 12 }, quality: 6 },
    { checkIn: { sleepHours: 7, sleepQuality: 7, energyLevel: 8, stressLevel: 3, motivationLevel: 7, sorenessLevel: 3, daysSinceHardSession: 3, caffeineMg: 0, warmupMin: 15 }, quality: 7 },
  ];

  async function completeSessions(token: string, rows: typeof HISTORY, startDay: number): Promise<void> {
    for (const [i, row] of rows.entries()) {
      const startedAt = new Date(Date.UTC(2026, 0, startDay + i, 17)).toISOString();
      const { startSession } = await gqlOk<{ startSession: { id: string } }>(server.url, START, { input: { ...row.checkIn, startedAt } }, token);
      const endedAt = new Date(Date.UTC(2026, 0, startDay + i, 19)).toISOString();
      const done = await gqlOk<{ completeSession: { status: string } }>(server.url, COMPLETE, { id: startSession.id, input: { sessionQuality: row.quality, endedAt } }, token);
      expect(done.completeSession.status).toBe('COMPLETED');
    }
    await server.training.idle(); // the quick updates run after each completion
  }

  it('is labelled COLD_START under 10 rated sessions yet personalised by them, with personal history in STATS', async () => {
    const { token } = await tokenFor('athlete');
    await completeSessions(token, HISTORY.slice(0, 3), 1);
    const out = await streamWs(server.wsUrl, token, OPERATOR);
    expect(types(out.events)).toEqual(MODEL_PATH);
    expect(out.events[0]).toMatchObject({ phase: 'COLD_START', sessionsAvailable: 3, hasPersonalization: true, hasBaseline: false });
    // The phase is a label: three sessions (8, 4, 6) already move the prediction off the population's 5.92.
    const prediction = eventOf(out.events, 'PREDICTION').prediction!;
    expect(prediction).toMatchObject({ phase: 'COLD_START', confidence: 'LOW' });
    expect(prediction.rawQuality).not.toBeCloseTo(5.92, 3);
    const stats = eventOf(out.events, 'STATS').context!;
    expect(stats.populationComparison).toEqual([]);
    expect(stats.personalHistory).toMatchObject({ n: 3, mean: 6, best: 8, worst: 4 });
    expect(stats.personalHistory.sd).toBeCloseTo(2, 12);
    expect(stats.personalHistory.trendPerSession).toBeCloseTo(-1, 12); // 8, 4, 6 oldest to newest
    expect(stats.similarSessions).toHaveLength(3);
    expect(stats.personalHistory.sleep.under6h).toEqual({ n: 1, mean: 4 });
  });

  it('reads the history afresh after a session is completed, moved or deleted (the cached history is dropped on each write)', async () => {
    const { token } = await tokenFor('athlete');
    const UPDATE = `mutation($id: ID!, $input: UpdateSessionInput!) { updateSession(id: $id, input: $input) { id } }`;
    const DELETE = `mutation($id: ID!) { deleteSession(id: $id) }`;
    const history = async () => eventOf((await streamWs(server.wsUrl, token, OPERATOR)).events, 'STATS').context!.personalHistory;
    const ids: string[] = [];
    for (const [i, row] of HISTORY.slice(0, 3).entries()) {
      const { startSession } = await gqlOk<{ startSession: { id: string } }>(server.url, START, { input: { ...row.checkIn, startedAt: new Date(Date.UTC(2026, 1, 1 + i, 17)).toISOString() } }, token);
      ids.push(startSession.id);
      // Read (and cache) the history while the session is still open: it must not count yet.
      expect((await history()).n).toBe(i);
      await gqlOk(server.url, COMPLETE, { id: startSession.id, input: { sessionQuality: row.quality, endedAt: new Date(Date.UTC(2026, 1, 1 + i, 19)).toISOString() } }, token);
      expect((await history()).n).toBe(i + 1);
    }
    expect(await history()).toMatchObject({ n: 3, mean: 6, trendPerSession: -1 }); // 8, 4, 6 oldest to newest
    // The first session (8) moved after the others: 4, 6, 8.
    const moveTo = { startedAt: new Date(Date.UTC(2026, 1, 10, 17)).toISOString(), endedAt: new Date(Date.UTC(2026, 1, 10, 19)).toISOString() };
    await gqlOk(server.url, UPDATE, { id: ids[0], input: moveTo }, token);
    const moved = await history();
    expect(moved.n).toBe(3);
    expect(moved.trendPerSession).toBeCloseTo(2, 12);
    await gqlOk(server.url, DELETE, { id: ids[1] }, token); // the 4
    expect(await history()).toMatchObject({ n: 2, mean: 7, worst: 6, best: 8 });
    await server.training.idle();
  });

  it('becomes LEARNING and personalised at 10 rated sessions (quick update, then trainUser), with a baseline', async () => {
    const { token, id } = await tokenFor('athlete');
    await gqlOk(server.url, `mutation { recordBaselineAssessment(input: { yearsClimbing: 6, primaryDiscipline: BOULDER }) { id } }`, {}, token);
    await completeSessions(token, HISTORY.slice(0, 9), 1);
    let out = await streamWs(server.wsUrl, token, OPERATOR);
    expect(out.events[0]).toMatchObject({ phase: 'COLD_START', sessionsAvailable: 9, hasPersonalization: true, hasBaseline: true });

    await completeSessions(token, HISTORY.slice(9), 20);
    out = await streamWs(server.wsUrl, token, OPERATOR);
    expect(out.errors).toEqual([]);
    expect(types(out.events)).toEqual(MODEL_PATH);
    expectWellFormed(out.events);
    expect(out.events[0]).toMatchObject({ phase: 'LEARNING', sessionsAvailable: 10, hasPersonalization: true, hasBaseline: true });
    const prediction = eventOf(out.events, 'PREDICTION').prediction!;
    expect(prediction.phase).toBe('LEARNING');
    expect(prediction.confidence).not.toBe('HIGH'); // HIGH needs PERSONALIZED
    expect(prediction.expectedQuality).not.toBeCloseTo(roundRating(coldStartPrediction(OPERATOR).expected), 6); // no longer the population's answer
    const stats = eventOf(out.events, 'STATS').context!;
    expect(stats.personalHistory.n).toBe(10);
    expect(stats.personalHistory.mean).toBeCloseTo(HISTORY.reduce((s, r) => s + r.quality, 0) / 10, 12);
    expect(stats.personalHistory).toMatchObject({ best: 9, worst: 3 });

    // A full per-user retrain from the sessions table lands on the same phase and count.
    const run = await server.training.trainUser(id, 'MANUAL');
    expect(run.status).toBe('SUCCEEDED');
    const rec = await recommendation(server.url, token, OPERATOR);
    expect(rec.personalization).toEqual({ phase: 'LEARNING', sessionsIncluded: 10, hasBaseline: true, hasPersonalization: true });
    expect(rec.prediction!.expectedQuality).toBeCloseTo(prediction.expectedQuality, 9);
  });

  it('serves a stored PERSONALIZED model as written, and falls back to the population on a stale shape', async () => {
    const prisma = server.services.db.prisma;
    const terms = ['intercept', 'sleepHours', 'sleepQuality', 'energyLevel', 'stressLevel', 'motivationLevel', 'sorenessLevel', 'daysSinceHardSession', 'caffeineMg', 'warmupMin'];
    const coefficients = {
      intercept: 7.5,
      sleepHours: 0.3,
      sleepQuality: 0.1,
      energyLevel: 0.5,
      stressLevel: -0.4,
      motivationLevel: 0.1,
      sorenessLevel: -0.1,
      daysSinceHardSession: 0.2,
      caffeineMg: 0.001,
      warmupMin: 0.01,
    };
    const covariance = terms.flatMap((_, i) => terms.map((__, j) => (i === j ? 0.001 : 0)));
    const write = async (userId: string, cov: unknown) => {
      await prisma.user.create({ data: { id: userId, role: 'ATHLETE' } });
      await prisma.modelOutput.create({
        data: {
          userId,
          coefficients,
          credibleIntervals: {},
          covariance: cov as object,
          sufficientStats: {},
          phase: 'PERSONALIZED',
          sessionsIncluded: 40,
          shrinkageFactor: 0.8,
          modelVersion: 'test',
        },
      });
    };
    const personal = await tokenFor('athlete');
    await write(personal.id, { terms, values: covariance });
    const out = await streamWs(server.wsUrl, personal.token, OPERATOR);
    expect(out.events[0]).toMatchObject({ phase: 'PERSONALIZED', sessionsAvailable: 40, hasPersonalization: true });
    const p = eventOf(out.events, 'PREDICTION').prediction!;
    expect(p.rawQuality).toBeCloseTo(roundRating(7.5 + 0.5 * (4 - 6) - 0.4 * (2 - 4)), 10); // 7.3
    const sd = Math.sqrt(0.001 * (1 + 4 + 4) + 2.25);
    expect(p.expectedQuality).toBeCloseTo(roundRating(boundedExpectation(7.3, sd)), 10);
    // N(7.3, 2.259 - 1/12) rounded: 5-10 holds 97.1 %, 6-10 88.9 %: nearest 95 % is 5-10.
    expect(p.interval).toEqual({ low: 5, high: 10 });
    expect(p).toMatchObject({ phase: 'PERSONALIZED', confidence: 'HIGH' });
    expect(eventOf(out.events, 'RECOMMENDATIONS').sessionType).toBe('VOLUME');

    const stale = await tokenFor('athlete');
    await write(stale.id, { terms: terms.slice(0, 9), values: covariance.slice(0, 81) });
    const fallback = await streamWs(server.wsUrl, stale.token, OPERATOR);
    expect(fallback.events[0]).toMatchObject({ phase: 'COLD_START', hasPersonalization: false });
    expectOperatorPrediction(eventOf(fallback.events, 'PREDICTION').prediction!);
  });

  it("reports a suggestion's gain on the rating scale: near the top of the scale it is much less than beta x change", async () => {
    const prisma = server.services.db.prisma;
    const terms = ['intercept', 'sleepHours', 'sleepQuality', 'energyLevel', 'stressLevel', 'motivationLevel', 'sorenessLevel', 'daysSinceHardSession', 'caffeineMg', 'warmupMin'];
    // Caffeine 0.003 per mg, known exactly (its variance ~0), so 0 -> 300 mg moves the latent quality by 0.9 and
    // nothing else; the other terms' small variance gives the predictive sd sqrt(0.001 (1 + 4 + 4) + 2.25).
    const covariance = terms.flatMap((name, i) => terms.map((__, j) => (i === j ? (name === 'caffeineMg' ? 1e-12 : 0.001) : 0)));
    const sd = Math.sqrt(0.001 * (1 + 4 + 4) + 2.25);
    const athlete = async (intercept: number) => {
      const { id, token } = await tokenFor('athlete');
      await prisma.user.create({ data: { id, role: 'ATHLETE' } });
      const coefficients = { ...Object.fromEntries(terms.map((t) => [t, 0])), intercept, energyLevel: 0.5, stressLevel: -0.4, caffeineMg: 0.003 };
      await prisma.modelOutput.create({
        data: {
          userId: id,
          coefficients,
          credibleIntervals: {},
          covariance: { terms, values: covariance },
          sufficientStats: {},
          phase: 'PERSONALIZED',
          sessionsIncluded: 40,
          shrinkageFactor: 0.8,
          modelVersion: 'test',
        },
      });
      const now = await streamWs(server.wsUrl, token, OPERATOR);
      const caffeine = eventOf(now.events, 'RECOMMENDATIONS').suggestions!.find((s) => s.variable === 'caffeineMg')!;
      // What the athlete is told to expect if they follow it: the expected quality with 300 mg.
      const taken = await streamWs(server.wsUrl, token, { ...OPERATOR, caffeineMg: 300 });
      const seen = eventOf(taken.events, 'PREDICTION').prediction!.expectedQuality - eventOf(now.events, 'PREDICTION').prediction!.expectedQuality;
      return { caffeine, seen };
    };
    // OPERATOR: energy 4, stress 2 -> latent = intercept - 1.0 + 0.8.
    const middle = await athlete(5.5); // latent 5.3: nearly all of the spread inside the scale
    expect(middle.caffeine).toMatchObject({ from: 0, to: 300 });
    expect(middle.caffeine.expectedGain).toBeCloseTo(boundedExpectation(5.3 + 0.9, sd) - boundedExpectation(5.3, sd), 6);
    expect(middle.caffeine.expectedGain).toBeGreaterThan(0.85);

    const top = await athlete(9.8); // latent 9.6: expected 9.21, already at the top (gain 0.43)
    expect(top.caffeine.expectedGain).toBeCloseTo(boundedExpectation(9.6 + 0.9, sd) - boundedExpectation(9.6, sd), 6);
    expect(top.caffeine.expectedGain).toBeLessThan(0.5 * 0.9);
    expect(top.caffeine.message).toBe(`Take about 300 mg caffeine (+${top.caffeine.expectedGain.toFixed(2)} expected quality)`);
    // The gain is what the prediction shows once the change is made (2 decimals each).
    expect(Math.abs(top.seen - top.caffeine.expectedGain)).toBeLessThanOrEqual(0.011);
    expect(Math.abs(middle.seen - middle.caffeine.expectedGain)).toBeLessThanOrEqual(0.011);
  });

  // Last in the file: the nightly fit replaces the priors with a fitted population for everyone after it.
  it('after the nightly fit, STATS compares today against PopulationStatistic and the fitted coefficients', async () => {
    const { token } = await tokenFor('athlete');
    await completeSessions(token, HISTORY, 1);
    const run = await server.training.runNightly('MANUAL');
    expect(run.status).toBe('SUCCEEDED');
    const out = await streamWs(server.wsUrl, token, { ...OPERATOR, sleepHours: 4 });
    const stats = eventOf(out.events, 'STATS').context!;
    const byVariable = new Map(stats.populationComparison.map((c) => [c.variable, c]));
    expect([...byVariable.keys()]).toEqual(['sleepHours', 'energyLevel', 'stressLevel']);
    const sleep = byVariable.get('sleepHours')!;
    expect(sleep.value).toBe(4);
    // Each made once with 4 decimals (the z-score from the unrounded mean and SD): what the API shows and the row keeps.
    for (const x of [sleep.zScore, sleep.populationMean, sleep.populationStd]) expect(Math.round(x * 10_000) / 10_000).toBe(x);
    expect(sleep.zScore).toBeCloseTo((4 - sleep.populationMean) / sleep.populationStd, 3);
    expect(sleep.zScore).toBeLessThan(0);
    expect(sleep.percentile).toBeGreaterThan(0);
    expect(sleep.percentile).toBeLessThan(50);
    // The enum's name, as every leaf of an event (the events skip graphql-jit's leaf serializers).
    expect(sleep.descriptor).toMatch(/^(WELL_)?BELOW_AVERAGE$/);
    expect(stats.coefficientComparisons).toHaveLength(9);
    expect(out.events[0]).toMatchObject({ phase: 'LEARNING', hasPersonalization: true });

    // Stored as answered: each answer's statistical context read back through the API is its STATS event's, the
    // second answer too (its history summary and coefficient comparisons are the first one's, computed once).
    const again = await streamWs(server.wsUrl, token, { ...OPERATOR, sleepHours: 9 });
    for (const answer of [out, again]) {
      const { startSession } = await gqlOk<{ startSession: { recommendation: { statisticalContext: unknown } } }>(
        server.url,
        `mutation($input: StartSessionInput!) { startSession(input: $input) { recommendation { statisticalContext { ${STATISTICAL_CONTEXT} } } } }`,
        { input: { recommendationId: eventOf(answer.events, 'DONE').recommendationId } },
        token,
      );
      expect(startSession.recommendation.statisticalContext).toEqual(eventOf(answer.events, 'STATS').context);
    }
    expect(eventOf(again.events, 'STATS').context!.coefficientComparisons).toEqual(stats.coefficientComparisons);

    // The comparisons, the same for both answers (one model version), are stored once, and so is the history
    // summary (one history version); each row names them and keeps the rest of its statistical context.
    const ids = [out, again].map((answer) => eventOf(answer.events, 'DONE').recommendationId as string);
    const rows = await server.services.prisma.$queryRawUnsafe<{ setId: string | null; summaryId: string | null; inline: boolean; historyInline: boolean; bytes: number }[]>(
      `SELECT "coefficientComparisonsId"::text AS "setId", "personalHistoryId"::text AS "summaryId",
              "statisticalContext"::jsonb ? 'coefficientComparisons' AS inline, "statisticalContext"::jsonb ? 'personalHistory' AS "historyInline",
              octet_length("statisticalContext"::text) AS bytes
       FROM recommendations WHERE id = ANY($1::uuid[])`,
      ids,
    );
    expect(rows).toHaveLength(2);
    expect(rows[0].setId).not.toBeNull();
    expect(rows.map((r) => r.setId)).toEqual([rows[0].setId, rows[0].setId]);
    expect(rows.map((r) => r.inline)).toEqual([false, false]);
    expect(rows[0].summaryId).not.toBeNull();
    expect(rows.map((r) => r.summaryId)).toEqual([rows[0].summaryId, rows[0].summaryId]);
    expect(rows.map((r) => r.historyInline)).toEqual([false, false]);
    const summaries = await server.services.prisma.$queryRawUnsafe<{ summary: unknown }[]>(`SELECT summary FROM history_summaries WHERE id = $1::uuid`, rows[0].summaryId);
    expect(summaries.map((h) => h.summary)).toEqual([stats.personalHistory]);
    const [set] = await server.services.prisma.$queryRawUnsafe<{ comparisons: unknown }[]>(`SELECT comparisons FROM coefficient_comparison_sets WHERE id = $1::uuid`, rows[0].setId);
    expect((set.comparisons as { variable: string }[]).map((c) => c.variable)).toEqual(stats.coefficientComparisons.map((c: { variable: string }) => c.variable));
    for (const r of rows) expect(r.bytes).toBeLessThan(JSON.stringify(set.comparisons).length);

    // Each row keeps its population comparisons and similar sessions as positional arrays (no field names).
    const [stored] = await server.services.prisma.$queryRawUnsafe<{ context: { populationComparison: unknown[][]; similarSessions: unknown[] } }[]>(
      `SELECT "statisticalContext" AS context FROM recommendations WHERE id = $1::uuid`,
      ids[0],
    );
    // (the descriptor is stored as the engine's words, the API answers its enum name)
    expect(stored.context.populationComparison.map((e) => e.slice(0, 6))).toEqual(
      stats.populationComparison.map((c: Record<string, unknown>) => [c.variable, c.value, c.populationMean, c.populationStd, c.zScore, c.percentile]),
    );
    expect(stored.context.similarSessions).toHaveLength(stats.similarSessions.length);

    // A row written before the sets existed carries its comparisons inline, one written before the summaries its
    // history summary, and one written before the positional arrays the API's objects: it reads back the same.
    const objects = (path: string, fields: string[]) =>
      `(SELECT jsonb_agg(jsonb_build_object(${fields.map((f, i) => `'${f}', e->${i}`).join(', ')}) ORDER BY i)
        FROM jsonb_array_elements(r."statisticalContext"::jsonb->'${path}') WITH ORDINALITY AS x(e, i))`;
    await server.services.prisma.$executeRawUnsafe(
      `UPDATE recommendations r SET "statisticalContext" = r."statisticalContext"::jsonb || jsonb_build_object('coefficientComparisons', s.comparisons, 'personalHistory', h.summary,
                'populationComparison', ${objects('populationComparison', ['variable', 'value', 'populationMean', 'populationStd', 'zScore', 'percentile', 'descriptor'])},
                'similarSessions', ${objects('similarSessions', ['sessionId', 'date', 'similarity', 'sharedFeatures', 'sessionQuality'])}),
              "coefficientComparisonsId" = NULL, "personalHistoryId" = NULL
       FROM coefficient_comparison_sets s, history_summaries h
       WHERE s.id = r."coefficientComparisonsId" AND h.id = r."personalHistoryId" AND r.id = $1::uuid`,
      ids[1],
    );
    const { startSession } = await gqlOk<{ startSession: { recommendation: { statisticalContext: unknown } } }>(
      server.url,
      `mutation($input: StartSessionInput!) { startSession(input: $input) { recommendation { statisticalContext { ${STATISTICAL_CONTEXT} } } } }`,
      { input: { recommendationId: ids[1] } },
      token,
    );
    expect(startSession.recommendation.statisticalContext).toEqual(eventOf(again.events, 'STATS').context);

    // A row written between the two (its comparisons by reference, its history summary and arrays inline as objects).
    await server.services.prisma.$executeRawUnsafe(
      `UPDATE recommendations r SET "statisticalContext" = r."statisticalContext"::jsonb || jsonb_build_object('personalHistory', h.summary,
                'populationComparison', ${objects('populationComparison', ['variable', 'value', 'populationMean', 'populationStd', 'zScore', 'percentile', 'descriptor'])},
                'similarSessions', ${objects('similarSessions', ['sessionId', 'date', 'similarity', 'sharedFeatures', 'sessionQuality'])}),
              "personalHistoryId" = NULL
       FROM history_summaries h WHERE h.id = r."personalHistoryId" AND r.id = $1::uuid`,
      ids[0],
    );
    const first = await gqlOk<{ startSession: { recommendation: { statisticalContext: unknown } } }>(
      server.url,
      `mutation($input: StartSessionInput!) { startSession(input: $input) { recommendation { statisticalContext { ${STATISTICAL_CONTEXT} } } } }`,
      { input: { recommendationId: ids[0] } },
      token,
    );
    expect(first.startSession.recommendation.statisticalContext).toEqual(stats);
  });
});
