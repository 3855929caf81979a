// GraphiQL opens with the athlete's and the analyst's example operations: both tabs are served, and every
// operation in them is valid against the schema (a renamed field would otherwise break them silently).
import { parse, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYST_OPERATIONS, ATHLETE_OPERATIONS } from '../../src/http/graphiql-examples.ts';
import { schema } from '../../src/schema/index.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('GraphiQL examples', () => {
  it('every example operation validates against the schema; the subscription selects the DONE summary', () => {
    for (const doc of [ATHLETE_OPERATIONS, ANALYST_OPERATIONS]) expect(validate(schema, parse(doc)).map((e) => e.message)).toEqual([]);
    expect(ATHLETE_OPERATIONS).toMatch(/\.\.\. on DoneEvent \{ source recommendationId sessionType expectedQuality/);
    for (const field of ['insights', 'modelQuality', 'orderBy', 'totalCount', 'userId: $userId']) expect(ANALYST_OPERATIONS).toContain(field);
  });

  it('the GraphiQL page carries both tabs', async () => {
    const res = await fetch(server.url, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('defaultTabs');
    expect(html).toContain('query Overview');
    expect(html).toContain('subscription LiveRecommendation');
  });
});
