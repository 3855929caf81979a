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
