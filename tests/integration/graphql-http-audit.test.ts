// The HTTP surface: the GraphQL-over-HTTP spec (https://graphql.github.io/graphql-over-http/) as audited by
// graphql-http's own suite (every MUST audit must pass), and the operator probes GET /health and GET /ready.
import { serverAudits } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

// The audit list does not depend on the URL; the URL is bound when each audit runs.
const MUST_AUDITS = serverAudits({ url: 'http://127.0.0.1/graphql' })
  .filter((a) => a.name.startsWith('MUST'))
  .map((a) => [a.id, a.name] as const);

describe('GraphQL over HTTP', () => {
  it('graphql-http ships MUST audits to run', () => {
    expect(MUST_AUDITS.length).toBeGreaterThanOrEqual(10);
  });

  it.each(MUST_AUDITS)('%s %s', async (id) => {
    const audit = serverAudits({ url: server.url }).find((a) => a.id === id)!;
    const result = await audit.fn();
    expect(result.status, 'reason' in result ? `${result.reason}` : undefined).toBe('ok');
  });
});

describe('probes', () => {
  it('GET /health answers 200 while the process is alive', async () => {
    const res = await fetch(new URL('/health', server.url));
    expect(res.status).toBe(200);
  });

  it('GET /ready answers 200 once started (migrated, listening, database reachable)', async () => {
    const res = await fetch(new URL('/ready', server.url));
    expect(res.status).toBe(200);
    // And the database really is there: a query through the API works.
    const api = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
    expect(await api.json()).toEqual({ data: { __typename: 'Query' } });
  });
});
