// An analyst replays a check-in as a given athlete through the real server: the athlete's own model answers,
// nothing is stored, athletes are refused; and rating-scale values leave the API with 2 decimals while
// coefficients keep full precision.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectError, gql, gqlOk } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let athlete: { token: string; id: string };
let analyst: { token: string; id: string };

const REPLAY = `query($input: PreSessionInput!, $userId: ID) {
  recommendation(input: $input, userId: $userId) {
    id source sessionType
    prediction { expectedQuality rawQuality interval { low high } contributions { variable value } phase }
    personalization { phase sessionsIncluded }
  }
}`;
/** What REPLAY selects. */
interface Replayed {
  recommendation: {
    id: string;
    source: string;
    sessionType: string;
    prediction: { expectedQuality: number; rawQuality: number; interval: { low: number; high: number }; contributions: { variable: string; value: number }[]; phase: string };
    personalization: { phase: string; sessionsIncluded: number };
  };
}
const CHECK_IN = { sleepHours: 7.3, sleepQuality: 6, energyLevel: 7, stressLevel: 3, motivationLevel: 8, sorenessLevel: 2, caffeineMg: 130, warmupMin: 17 };
const twoDecimals = (x: number) => Math.abs(Math.round(x * 100) / 100 - x) < 1e-12;

beforeAll(async () => {
  server = await startTestServer();
  athlete = await tokenFor('athlete');
  analyst = await tokenFor('analyst');
  await gqlOk(server.url, '{ me { id } }', {}, athlete.token);
  // A personal model with coefficients that give long decimals.
  const terms = ['intercept', 'sleepHours', 'sleepQuality', 'energyLevel', 'stressLevel', 'motivationLevel', 'sorenessLevel', 'daysSinceHardSession', 'caffeineMg', 'warmupMin'];
  const coefficients = {
    intercept: 5.4321,
    sleepHours: 0.23457,
    sleepQuality: 0.1789,
    energyLevel: 0.31234,
    stressLevel: -0.2111,
    motivationLevel: 0.1333,
    sorenessLevel: -0.1777,
    daysSinceHardSession: 0.2,
    caffeineMg: 0.00234,
    warmupMin: 0.0213,
  };
  await server.db.prisma.modelOutput.create({
    data: {
      userId: athlete.id,
      coefficients,
      credibleIntervals: Object.fromEntries(Object.entries(coefficients).map(([k, v]) => [k, [v - 0.123456789, v + 0.123456789]])),
      covariance: { terms, values: terms.flatMap((_, i) => terms.map((__, j) => (i === j ? 0.0123 : 0))) },
      sufficientStats: {},
      phase: 'PERSONALIZED',
      sessionsIncluded: 41,
      shrinkageFactor: 0.7,
      modelVersion: 'test',
    },
  });
});
afterAll(async () => {
  await server?.close();
});

describe('replaying a check-in as an athlete', () => {
  it("answers with the athlete's own model, and stores nothing", async () => {
    const replay = (await gqlOk<Replayed>(server.url, REPLAY, { input: CHECK_IN, userId: athlete.id }, analyst.token)).recommendation;
    const own = (await gqlOk<Replayed>(server.url, REPLAY, { input: CHECK_IN }, athlete.token)).recommendation;
    expect(replay.personalization).toEqual({ phase: 'PERSONALIZED', sessionsIncluded: 41 });
    expect(replay.prediction).toEqual(own.prediction);
    expect(replay.sessionType).toBe(own.sessionType);
    // The athlete's own answer is stored (write-behind); by the time it is, the replay would have been too.
    await server.services.recommendations.written(own.id);
    const stored = await server.db.prisma.recommendation.findMany({ select: { id: true, userId: true } });
    expect(stored).toEqual([{ id: own.id, userId: athlete.id }]);
    // the analyst's own query (no userId) is about the analyst, as before
    const analystOwn = (await gqlOk<Replayed>(server.url, REPLAY, { input: CHECK_IN }, analyst.token)).recommendation;
    expect(analystOwn.personalization.phase).toBe('COLD_START');
  });

  it('refuses athletes (even for themselves) and names an unknown athlete', async () => {
    expectError(await gql(server.url, REPLAY, { input: CHECK_IN, userId: athlete.id }, athlete.token), 'FORBIDDEN');
    const other = await tokenFor('athlete');
    expectError(await gql(server.url, REPLAY, { input: CHECK_IN, userId: athlete.id }, other.token), 'FORBIDDEN');
    expectError(await gql(server.url, REPLAY, { input: CHECK_IN, userId: '00000000-0000-4000-8000-000000000000' }, analyst.token), 'NOT_FOUND');
    expectError(await gql(server.url, REPLAY, { input: CHECK_IN, userId: 'nope' }, analyst.token), 'BAD_USER_INPUT', 'userId');
    const admin = await tokenFor('admin');
    expect((await gqlOk<Replayed>(server.url, REPLAY, { input: CHECK_IN, userId: athlete.id }, admin.token)).recommendation.personalization.phase).toBe('PERSONALIZED');
  });
});

describe('rounding at the API boundary', () => {
  it('expected quality, raw quality and the interval have 2 decimals; contributions and coefficients keep full precision', async () => {
    const { prediction } = (await gqlOk<Replayed>(server.url, REPLAY, { input: CHECK_IN, userId: athlete.id }, analyst.token)).recommendation;
    for (const x of [prediction.expectedQuality, prediction.rawQuality, prediction.interval.low, prediction.interval.high]) expect(twoDecimals(x), String(x)).toBe(true);
    expect(prediction.contributions.some((c) => !twoDecimals(c.value))).toBe(true);
    const model = (
      await gqlOk<{ modelOutput: { coefficients: { variable: string; value: number; lower: number }[] } }>(
        server.url,
        'query($id: ID) { modelOutput(userId: $id) { coefficients { variable value lower } } }',
        { id: athlete.id },
        analyst.token,
      )
    ).modelOutput;
    expect(model.coefficients.find((c) => c.variable === 'sleepHours')).toEqual({ variable: 'sleepHours', value: 0.23457, lower: 0.23457 - 0.123456789 });
  });
});
