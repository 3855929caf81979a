// Issue 25, the app developer's rough edges, through the real server: HTTP status per media type as docs/api.md
// says; graphql-ws errors without extensions.http; a check-in's missing variables named with what they were taken
// to be; a new athlete's modelUpdated sends the population model they are served; elapsedMs rounded; descriptions
// that name a range once; a FORBIDDEN that says which roles may.
import { randomUUID } from 'node:crypto';
import { buildClientSchema, getIntrospectionQuery, type GraphQLInputObjectType, type IntrospectionQuery } from 'graphql';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, gql, gqlOk, wsClient } from '../support/client.ts';
import { COMPLETE_SESSION, START_SESSION } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { RATE_LIMIT_INSIGHTS: '1/60' } });
});
afterAll(async () => {
  await server?.close();
});

interface WireError {
  message: string;
  extensions?: Record<string, unknown>;
}
interface Answer {
  data?: unknown;
  errors: WireError[];
}
interface ServedModel {
  user: { id: string };
  phase: string;
  sessionsIncluded: number;
  shrinkageFactor: number;
  coefficients: { variable: string; value: number }[];
}
interface ModelEvent {
  data?: { modelUpdated: ServedModel };
  errors?: unknown[];
}
type Assumed = { variable: string; value: number; sensitivity: number | null };

async function post(body: unknown, accept: string, token?: string) {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: (await res.json()) as Answer };
}

const JSON_ONLY = 'application/json';
const GRAPHQL_RESPONSE = 'application/graphql-response+json, application/json;q=0.9';

/** The first event of a subscription, then unsubscribe. */
function firstEvent(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<ModelEvent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no event within 20 s')), 20_000);
    const dispose = client.subscribe(
      { query, variables },
      {
        next: (value) => {
          clearTimeout(timer);
          dispose();
          resolve(value as ModelEvent);
        },
        error: (err) => {
          clearTimeout(timer);
          reject(err);
        },
        complete: () => {},
      },
    );
  });
}

describe('HTTP status per media type (docs/api.md "Errors")', () => {
  it('a document that is not GraphQL or does not fit the schema: 200 with application/json, 400 with application/graphql-response+json', async () => {
    const { token } = await tokenFor('athlete');
    for (const query of ['{ me { idd } }', '{ me { id ']) {
      const plain = await post({ query }, JSON_ONLY, token);
      expect(plain.status).toBe(200);
      expect(plain.type).toContain('application/json');
      const spec = await post({ query }, GRAPHQL_RESPONSE, token);
      expect(spec.status).toBe(400);
      expect(spec.type).toContain('application/graphql-response+json');
      for (const answer of [plain, spec]) {
        expect(answer.body.data).toBeUndefined();
        expect(answer.body.errors[0].extensions?.code).toBe(query.endsWith('id ') ? 'GRAPHQL_PARSE_FAILED' : 'GRAPHQL_VALIDATION_FAILED');
      }
    }
  });

  it('errors of the API itself (UNAUTHENTICATED, FORBIDDEN, BAD_USER_INPUT, RATE_LIMITED) have their status with either media type', async () => {
    const athlete = await tokenFor('athlete');
    const analyst = await tokenFor('analyst');
    for (const accept of [JSON_ONLY, GRAPHQL_RESPONSE]) {
      expect((await post({ query: '{ me { id } }' }, accept)).status).toBe(401);
      expect((await post({ query: '{ insights { athletesByPhase { count } } }' }, accept, athlete.token)).status).toBe(403);
      expect((await post({ query: '{ sessions(qualityMin: 11) { totalCount } }' }, accept, athlete.token)).status).toBe(400);
    }
    // RATE_LIMIT_INSIGHTS is 1/60 here: the second call is refused, 429 and Retry-After, whatever the media type.
    expect((await post({ query: '{ insights { athletesByPhase { count } } }' }, JSON_ONLY, analyst.token)).status).toBe(200);
    for (const accept of [JSON_ONLY, GRAPHQL_RESPONSE]) {
      const limited = await post({ query: '{ insights { athletesByPhase { count } } }' }, accept, analyst.token);
      expect(limited.status).toBe(429);
      expect(limited.body.errors[0].extensions?.code).toBe('RATE_LIMITED');
      expect(limited.body.errors[0].extensions?.http).toBeUndefined();
    }
  });

  it('over graphql-ws the same codes arrive without extensions.http (a WebSocket has no status)', async () => {
    const athlete = await tokenFor('athlete');
    const client = wsClient(server.wsUrl, athlete.token);
    try {
      const forbidden = await collect(client, '{ insights { athletesByPhase { count } } }');
      expect(forbidden.events[0] ?? null).toBeNull();
      const [error] = forbidden.errors as WireError[];
      expect(error.extensions?.code).toBe('FORBIDDEN');
      expect(error.extensions).not.toHaveProperty('http');
      const badInput = await collect(client, '{ sessions(qualityMin: 11) { totalCount } }');
      expect((badInput.errors[0] as WireError).extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'qualityMin' });
      // Refused before it runs (validation): graphql-ws's own error message, also without http.
      const invalid = await collect(client, '{ me { idd } }');
      const [refused] = invalid.errors as (WireError | WireError[])[];
      const list = Array.isArray(refused) ? refused : [refused];
      expect(list[0].extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
      expect(list[0].extensions).not.toHaveProperty('http');
    } finally {
      await client.dispose();
    }
  });
});

describe('a check-in with variables left out', () => {
  it('`{}` is answered, and the prediction names every model variable it took at its reference value, the most telling first', async () => {
    const { token } = await tokenFor('athlete');
    const SELECTION = 'id prediction { expectedQuality assumed { variable value sensitivity } }';
    type Answer = { recommendation: { id: string; prediction: { expectedQuality: number; assumed: { variable: string; value: number; sensitivity: number }[] } } };
    const empty = (await gqlOk<Answer>(server.url, `query($input: PreSessionInput!) { recommendation(input: $input) { ${SELECTION} } }`, { input: {} }, token)).recommendation;
    const assumed = empty.prediction.assumed;
    expect(assumed.map((a) => a.variable)).toContain('sleepHours');
    expect(assumed.find((a) => a.variable === 'sleepHours')?.value).toBe(7); // the seeded reference value
    const sensitivities = assumed.map((a) => a.sensitivity);
    expect(sensitivities).toEqual([...sensitivities].sort((a, b) => b - a));
    expect(sensitivities[0]).toBeGreaterThan(0);
    // Giving the most telling one takes it off the list (and can move the answer).
    const first = assumed[0].variable;
    const given = (await gqlOk<Answer>(server.url, `query($input: PreSessionInput!) { recommendation(input: $input) { ${SELECTION} } }`, { input: { [first]: assumed[0].value + 2 } }, token))
      .recommendation;
    expect(given.prediction.assumed.map((a) => a.variable)).not.toContain(first);
    expect(given.prediction.assumed).toHaveLength(assumed.length - 1);
    // Read back from storage: the same variables and values (how much each mattered is not kept).
    const started = await gqlOk<{ startSession: { id: string } }>(server.url, START_SESSION, { input: { recommendationId: empty.id } }, token);
    const stored = await gqlOk<{ session: { recommendation: { prediction: { assumed: Assumed[] } } } }>(
      server.url,
      'query($id: ID!) { session(id: $id) { recommendation { prediction { assumed { variable value sensitivity } } } } }',
      { id: started.startSession.id },
      token,
    );
    const back = stored.session.recommendation.prediction.assumed;
    expect(back).toHaveLength(assumed.length);
    expect(back).toEqual(expect.arrayContaining(assumed.map((a) => ({ ...a, sensitivity: null }))));
  });
});

describe("a new athlete's modelUpdated", () => {
  it('sends the population model they are served (COLD_START, no sessions) at once, then their first update', async () => {
    const { token, id } = await tokenFor('athlete');
    await gqlOk(server.url, '{ me { id } }', {}, token); // the first request creates the athlete
    const MODEL = 'subscription { modelUpdated { user { id } phase sessionsIncluded shrinkageFactor coefficients { variable value } } }';
    const client = wsClient(server.wsUrl, token);
    try {
      const first = await firstEvent(client, MODEL);
      expect(first.errors).toBeUndefined();
      expect(first.data?.modelUpdated).toMatchObject({ user: { id }, phase: 'COLD_START', sessionsIncluded: 0, shrinkageFactor: 0 });
      const { populationModel } = await gqlOk<{ populationModel: { coefficients: { variable: string; value: number }[] } | null }>(
        server.url,
        '{ populationModel { coefficients { variable value } } }',
        {},
        token,
      );
      const served = first.data!.modelUpdated.coefficients;
      if (populationModel) expect(served).toEqual(populationModel.coefficients.map((c) => ({ variable: c.variable, value: c.value })));
      expect(served.find((c) => c.variable === 'intercept')!.value).toBeCloseTo(6, 6); // the seeded prior mean
      // The event's model is the stored row, every field as the modelOutput query reads it (times, floats, the JSON).
      const FIELDS = 'id phase sessionsIncluded shrinkageFactor modelVersion lastTrainedAt trainingDurationMs coefficients { variable value lower upper }';
      const event = await firstEvent(client, `subscription { modelUpdated { ${FIELDS} } }`);
      const { modelOutput } = await gqlOk<{
        modelOutput: {
          id: string;
          phase: string;
          sessionsIncluded: number;
          shrinkageFactor: number;
          modelVersion: string;
          lastTrainedAt: string;
          trainingDurationMs: number | null;
          coefficients: { variable: string; value: number; lower: number; upper: number }[];
        };
      }>(server.url, `{ modelOutput { ${FIELDS} } }`, {}, token);
      expect(event.errors).toBeUndefined();
      expect(modelOutput).toMatchObject({ phase: 'COLD_START', lastTrainedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT[\d:.]+Z$/) });
      expect(Math.abs(Date.parse(modelOutput.lastTrainedAt) - Date.now())).toBeLessThan(60_000); // stored as UTC
      expect(event.data?.modelUpdated).toEqual(modelOutput);
      // Subscribing again: the same model, at once; completing a session updates it.
      const updates: ModelEvent[] = [];
      const done = new Promise<void>((resolve) => {
        client.subscribe(
          { query: MODEL },
          {
            next: (v) => {
              updates.push(v as ModelEvent);
              if (updates.length === 2) resolve();
            },
            error: () => {},
            complete: () => {},
          },
        );
      });
      await new Promise((r) => setTimeout(r, 300));
      const started = await gqlOk<{ startSession: { id: string } }>(server.url, START_SESSION, { input: { sleepHours: 7 } }, token);
      await gqlOk(server.url, COMPLETE_SESSION, { id: started.startSession.id, input: { sessionQuality: 8 } }, token);
      await done;
      expect(updates[0].data?.modelUpdated.sessionsIncluded).toBe(0);
      expect(updates[1].data?.modelUpdated.sessionsIncluded).toBe(1);
    } finally {
      await client.dispose();
    }
  });
});

describe('modelUpdated for a user who does not exist', () => {
  it('is refused with one NOT_FOUND error and no event, not left open without ever sending one', async () => {
    const { token } = await tokenFor('analyst');
    const client = wsClient(server.wsUrl, token);
    try {
      const out = await collect(client, 'subscription($id: ID) { modelUpdated(userId: $id) { id } }', { id: randomUUID() }, 10_000);
      expect(out.events).toEqual([]);
      expect((out.errors as { message?: string; extensions?: { code?: string } }[]).map((e) => [e.extensions?.code, e.message])).toEqual([['NOT_FOUND', 'User not found']]);
    } finally {
      await client.dispose();
    }
  });
});

describe('small inconsistencies', () => {
  it('elapsedMs and totalMs have at most 2 decimals', async () => {
    const { token } = await tokenFor('athlete');
    const client = wsClient(server.wsUrl, token);
    try {
      const out = await collect(client, 'subscription { preSessionRecommendation(input: { sleepHours: 7, energyLevel: 4, stressLevel: 2 }) { type elapsedMs ... on DoneEvent { totalMs } } }');
      expect(out.events.length).toBeGreaterThan(2);
      for (const e of out.events as { preSessionRecommendation: { elapsedMs: number; totalMs?: number } }[]) {
        const { elapsedMs, totalMs } = e.preSessionRecommendation;
        expect(Math.round(elapsedMs * 100) / 100).toBe(elapsedMs);
        if (totalMs !== undefined) expect(totalMs).toBe(elapsedMs);
      }
    } finally {
      await client.dispose();
    }
  });

  it('no description names a range twice ("Energy, 1-10 (1-10)")', async () => {
    const { token } = await tokenFor('analyst');
    const res = await gql(server.url, getIntrospectionQuery({ inputValueDeprecation: true }), {}, token);
    const types = buildClientSchema(res.data as unknown as IntrospectionQuery).getTypeMap();
    const doubled: string[] = [];
    for (const type of Object.values(types)) {
      if (!('getFields' in type)) continue;
      for (const field of Object.values(type.getFields())) if (/(\d+-\d+)\D*\(\1\)/.test(field.description ?? '')) doubled.push(`${type.name}.${field.name}: ${field.description}`);
    }
    expect(doubled).toEqual([]);
    const energy = (types.PreSessionInput as GraphQLInputObjectType).getFields().energyLevel.description;
    expect(energy).toBe('Energy, 1-10');
  });

  it('an athlete asking for insights is told which roles may', async () => {
    const { token } = await tokenFor('athlete');
    const res = await gql(server.url, '{ insights { athletesByPhase { count } } }', {}, token);
    expect(res.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(res.errors?.[0].message).toBe('insights is for analysts and admins only (you are signed in as an athlete)');
    const admin = await gql(server.url, 'mutation { runNightlyTraining { id } }', {}, (await tokenFor('analyst')).token);
    expect(admin.errors?.[0].message).toBe('runNightlyTraining is for admins only (you are signed in as an analyst)');
  });
});
