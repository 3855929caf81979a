import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, gql, gqlOk, sse, wsClient } from '../support/client.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('server smoke', () => {
  it('answers an authenticated me and creates the user on first request', async () => {
    const { token, id } = await tokenFor('athlete');
    const data = await gqlOk<{ me: { id: string; role: string } }>(server.url, '{ me { id role } }', {}, token);
    expect(data.me).toEqual({ id, role: 'ATHLETE' });
  });

  it('creates the rows of many new users asking at once, and follows a later token with another role', async () => {
    const who = await Promise.all(Array.from({ length: 30 }, (_, i) => tokenFor(i % 2 ? 'coach' : 'athlete')));
    const answers = await Promise.all(who.map((w) => gqlOk<{ me: { id: string; role: string } }>(server.url, '{ me { id role } }', {}, w.token)));
    expect(answers.map((a) => a.me)).toEqual(who.map((w, i) => ({ id: w.id, role: i % 2 ? 'COACH' : 'ATHLETE' })));
    // The same person, promoted: the stored role follows the new token.
    const promoted = await tokenFor('analyst', who[0].id);
    expect((await gqlOk<{ me: { role: string } }>(server.url, '{ me { role } }', {}, promoted.token)).me.role).toBe('ANALYST');
  });

  it('refuses me without a token', async () => {
    const res = await gql(server.url, '{ me { id } }');
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
  });

  it('streams the phases over graphql-ws and SSE', async () => {
    const { token } = await tokenFor('athlete');
    const query = `subscription($input: PreSessionInput!) { preSessionRecommendation(input: $input) { type sequence elapsedMs } }`;
    const client = wsClient(server.wsUrl, token);
    const out = await collect<{ preSessionRecommendation: { type: string } }>(client, query, { input: { sleepHours: 7, energyLevel: 4, stressLevel: 2 } });
    await client.dispose();
    expect(out.errors).toEqual([]);
    expect(out.events.map((e) => e.preSessionRecommendation.type)).toEqual(['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE']);
    const viaSse = await sse<{ preSessionRecommendation: { type: string } }>(server.url, query, { input: { sleepHours: 7, energyLevel: 4, stressLevel: 2 } }, token);
    expect(viaSse.events.map((e) => e.data?.preSessionRecommendation.type)).toEqual(['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE']);
  });
});
