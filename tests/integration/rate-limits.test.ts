// Per-viewer rate limits on the expensive operations (issue 12 section 4): a refusal is RATE_LIMITED, over HTTP
// with status 429 and Retry-After, on the recommendation stream as its ERROR event; budgets are per viewer and,
// with REDIS_URL, shared by every instance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';
import type { GraphQLResponse } from '../support/client.ts';
import { RECOMMENDATION_QUERY, streamSse, streamWs, types } from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

const CHECK_IN = { sleepHours: 7, energyLevel: 4, stressLevel: 2 };
const TRAIN_USER = `mutation { trainUserModel { id status } }`;
const RUN_NIGHTLY = `mutation { runNightlyTraining(wait: true) { id status } }`;

/** One POST, with the response headers (the shared helper keeps only the status). */
/** What this file's queries select (each sets one of these). */
interface Answer {
  recommendation?: { sessionType: string };
  trainUserModel?: { status: string };
  runNightlyTraining?: { status: string };
}

async function post(url: string, query: string, variables: Record<string, unknown>, token?: string) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as GraphQLResponse<Answer> };
}

const recommend = (server: TestServer, token?: string) => post(server.url, RECOMMENDATION_QUERY, { input: CHECK_IN }, token);

function expectRefused(res: Awaited<ReturnType<typeof post>>, operation: string, windowSeconds: number) {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.retryAfter);
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSeconds).toBe(true);
  const [error] = res.body.errors ?? [];
  expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: retryAfter });
  expect(error.message).toBe(
    `Too many ${operation} requests: at most ${operation === 'recommendation' ? 3 : operation === 'trainUserModel' ? 2 : 1} per ${windowSeconds} s. Try again in ${retryAfter} s.`,
  );
  // Yoga takes the status and header from the error; they are not part of the body.
  expect(error.extensions).not.toHaveProperty('http');
}

describe('rate limits on one instance (in memory)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      env: { RATE_LIMIT_RECOMMENDATION: '3/60', RATE_LIMIT_TRAIN_USER_MODEL: '2/3600', RATE_LIMIT_RUN_NIGHTLY_TRAINING: '1/3600' },
    });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('recommendation: the call over the budget is refused with 429, Retry-After and RATE_LIMITED; other viewers are not', async () => {
    const athlete = await tokenFor('athlete');
    for (let i = 0; i < 3; i++) {
      const ok = await recommend(server, athlete.token);
      expect(ok.status).toBe(200);
      expect(ok.body.errors).toBeUndefined();
      expect(ok.body.data?.recommendation?.sessionType).toEqual(expect.any(String));
    }
    const refused = await recommend(server, athlete.token);
    expectRefused(refused, 'recommendation', 60);
    expect(refused.body.data).toBeNull();

    // Another athlete has a budget of their own; an anonymous call is UNAUTHENTICATED, not counted.
    const other = await tokenFor('athlete');
    expect((await recommend(server, other.token)).status).toBe(200);
    const anonymous = await recommend(server);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('the stream shares the budget and is refused with one ERROR event RATE_LIMITED, over graphql-ws and SSE', async () => {
    const athlete = await tokenFor('athlete');
    const first = await streamWs(server.wsUrl, athlete.token, CHECK_IN);
    expect(types(first.events).at(-1)).toBe('DONE');
    expect((await recommend(server, athlete.token)).status).toBe(200);
    expect(types((await streamSse(server.url, athlete.token, CHECK_IN)).events).at(-1)).toBe('DONE');

    const ws = await streamWs(server.wsUrl, athlete.token, CHECK_IN);
    expect(ws.errors).toEqual([]);
    expect(ws.completed).toBe(true);
    expect(ws.events).toHaveLength(1);
    expect(ws.events[0]).toMatchObject({ type: 'ERROR', sequence: 1, code: 'RATE_LIMITED' });
    expect(ws.events[0].message).toMatch(/^Too many recommendation requests: at most 3 per 60 s\. Try again in \d+ s\.$/);

    const viaSse = await streamSse(server.url, athlete.token, CHECK_IN);
    expect(viaSse.errors).toEqual([]);
    expect(viaSse.events.map((e) => [e.type, e.code])).toEqual([['ERROR', 'RATE_LIMITED']]);
    // And the one-shot query is refused too.
    expectRefused(await recommend(server, athlete.token), 'recommendation', 60);
  });

  it('trainUserModel: the third retrain within the hour is refused and trains nothing', async () => {
    const athlete = await tokenFor('athlete');
    for (let i = 0; i < 2; i++) expect((await post(server.url, TRAIN_USER, {}, athlete.token)).body.data?.trainUserModel?.status).toBe('SUCCEEDED');
    const refused = await post(server.url, TRAIN_USER, {}, athlete.token);
    expectRefused(refused, 'trainUserModel', 3600);
    expect(await server.services.db.prisma.trainingRun.count({ where: { userId: athlete.id, kind: 'USER' } })).toBe(2);
  });

  it('runNightlyTraining: refused to a non-admin without spending a budget; the admin over the budget gets 429', async () => {
    const athlete = await tokenFor('athlete');
    const forbidden = await post(server.url, RUN_NIGHTLY, {}, athlete.token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.errors?.[0].extensions?.code).toBe('FORBIDDEN');

    const admin = await tokenFor('admin');
    expect((await post(server.url, RUN_NIGHTLY, {}, admin.token)).body.data?.runNightlyTraining?.status).toBe('SUCCEEDED');
    const before = await server.services.db.prisma.trainingRun.count({ where: { kind: 'NIGHTLY' } });
    expectRefused(await post(server.url, RUN_NIGHTLY, {}, admin.token), 'runNightlyTraining', 3600);
    expect(await server.services.db.prisma.trainingRun.count({ where: { kind: 'NIGHTLY' } })).toBe(before);
  });
});

describe('rate-limit settings', () => {
  it('are <calls>/<seconds> or off; a bad value names the variable', () => {
    const config = loadConfig({ RATE_LIMIT_RECOMMENDATION: '5/10', RATE_LIMIT_INSIGHTS: 'off' });
    expect(config.rateLimits.recommendation).toEqual({ points: 5, durationSeconds: 10 });
    expect(config.rateLimits.insights).toBeNull();
    expect(config.rateLimits.trainUserModel).toEqual({ points: 10, durationSeconds: 3600 });
    expect(() => loadConfig({ RATE_LIMIT_MODEL_QUALITY: '10 per minute' })).toThrow(ConfigError);
    expect(() => loadConfig({ RATE_LIMIT_MODEL_QUALITY: '10 per minute' })).toThrow(/^RATE_LIMIT_MODEL_QUALITY must be <calls>\/<seconds>/);
    expect(() => loadConfig({ RATE_LIMIT_TRAIN_USER_MODEL: '0/60' })).toThrow(/RATE_LIMIT_TRAIN_USER_MODEL/);
  });
});

const redisUrl = process.env.TEST_REDIS_URL;

describe.runIf(!!redisUrl)('rate limits across two instances sharing a Redis', () => {
  let a: TestServer;
  let b: TestServer;
  beforeAll(async () => {
    const env = { REDIS_URL: redisUrl!, RATE_LIMIT_RECOMMENDATION: '3/60' };
    [a, b] = await Promise.all([startTestServer({ env }), startTestServer({ env })]);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
  });

  it('one budget per viewer, whichever instance answers', async () => {
    const athlete = await tokenFor('athlete');
    expect((await recommend(a, athlete.token)).status).toBe(200);
    expect((await recommend(b, athlete.token)).status).toBe(200);
    expect((await recommend(a, athlete.token)).status).toBe(200);
    expectRefused(await recommend(b, athlete.token), 'recommendation', 60);
    expectRefused(await recommend(a, athlete.token), 'recommendation', 60);
    const ws = await streamWs(b.wsUrl, athlete.token, CHECK_IN);
    expect(ws.events.map((e) => [e.type, e.code])).toEqual([['ERROR', 'RATE_LIMITED']]);
    // Another viewer still has a whole budget on either instance.
    const other = await tokenFor('athlete');
    expect((await recommend(b, other.token)).status).toBe(200);
  });
});
