// Issue 11, persisted operations (trusted documents) through HTTP, SSE and graphql-ws: with PERSISTED_OPERATIONS
// the server runs the manifest's operations by id and refuses any other document with a clear error; without it,
// any document runs. The manifest is the one `npm run persisted-operations` writes for this repository's clients.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientOperationsManifest, operationId } from '../../scripts/lib/client-operations.ts';
import { ConfigError } from '../../src/config.ts';
import { collect, wsClient, type GraphQLResponse } from '../support/client.ts';
import { gql, gqlOk, START_SESSION } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let persisted: TestServer;
let open: TestServer;
let dir: string;
let manifest: Record<string, string>;
let analyst: { token: string; id: string };
let athlete: { token: string; id: string };

/** The id of the manifest's operation named `name`. */
const idOf = (name: string) => {
  const found = Object.entries(manifest).find(([, document]) => new RegExp(`^(query|subscription|mutation) ${name}\\b`).test(document));
  if (!found) throw new Error(`no operation ${name} in the manifest`);
  return found[0];
};
const byId = (id: string) => ({ persistedQuery: { version: 1, sha256Hash: id } });

async function post(server: TestServer, body: Record<string, unknown>, token: string): Promise<GraphQLResponse<{ me: { id: string; role: string } }> & { status: number }> {
  const res = await fetch(server.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json, application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  return { ...((await res.json()) as GraphQLResponse<{ me: { id: string; role: string } }>), status: res.status };
}

const UNLISTED = '{ me { id role } }';

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'climbiq-persisted-'));
  manifest = await clientOperationsManifest();
  const file = path.join(dir, 'persisted-operations.json');
  await writeFile(file, JSON.stringify(manifest));
  [persisted, open] = await Promise.all([startTestServer({ env: { PERSISTED_OPERATIONS: file } }), startTestServer()]);
  [analyst, athlete] = await Promise.all([tokenFor('analyst'), tokenFor('athlete')]);
});
afterAll(async () => {
  await Promise.all([persisted?.close(), open?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe("the manifest of this repository's clients", () => {
  it("lists the insights page's operations verbatim and each GraphiQL example on its own, under the SHA-256 of its text", () => {
    for (const [id, document] of Object.entries(manifest)) expect(operationId(document)).toBe(id);
    expect(Object.values(manifest)).toContain('query Viewer { me { id role } }');
    for (const name of ['Overview', 'ModelQuality', 'Replay', 'LiveRecommendation', 'AthleteChoices', 'WorstPredictedAthletes', 'AthletesByPhase']) expect(() => idOf(name)).not.toThrow();
  });
});

describe('PERSISTED_OPERATIONS set', () => {
  it('runs a listed operation by id over HTTP POST and GET', async () => {
    const res = await post(persisted, { extensions: byId(idOf('Viewer')) }, analyst.token);
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ me: { id: analyst.id, role: 'ANALYST' } });

    // The athlete's first request (the Me example, by id) creates them; then an analyst replays a check-in as them.
    expect((await post(persisted, { extensions: byId(idOf('Me')) }, athlete.token)).data?.me.id).toBe(athlete.id);
    const params = new URLSearchParams({ extensions: JSON.stringify(byId(idOf('Replay'))), variables: JSON.stringify({ userId: athlete.id }) });
    const get = await fetch(`${persisted.url}?${params}`, { headers: { accept: 'application/json', authorization: `Bearer ${analyst.token}` } });
    expect(get.status).toBe(200);
    const body = (await get.json()) as GraphQLResponse<{ recommendation: { sessionType: string } }>;
    expect(body.errors).toBeUndefined();
    expect(body.data?.recommendation.sessionType).toEqual(expect.any(String));
  });

  it('refuses a document sent as text with PERSISTED_QUERY_ONLY (HTTP 400), even a listed one, and runs nothing', async () => {
    for (const query of [UNLISTED, manifest[idOf('Viewer')]]) {
      const res = await post(persisted, { query }, analyst.token);
      expect(res.status).toBe(400);
      expect(res.errors?.[0].extensions?.code).toBe('PERSISTED_QUERY_ONLY');
      expect(res.errors?.[0].message).toMatch(/only persisted operations \(PERSISTED_OPERATIONS\): send extensions\.persistedQuery/);
      expect(res.data).toBeUndefined();
    }
    const mutation = await post(persisted, { query: START_SESSION, variables: { input: { sleepHours: 7 } } }, athlete.token);
    expect(mutation.errors?.[0].extensions?.code).toBe('PERSISTED_QUERY_ONLY');
    expect(await persisted.db.prisma.climbingSession.count({ where: { userId: athlete.id } })).toBe(0);
  });

  it('refuses an id not in the manifest with PERSISTED_QUERY_NOT_FOUND (HTTP 400)', async () => {
    const res = await post(persisted, { extensions: byId(operationId(UNLISTED)) }, analyst.token);
    expect(res.status).toBe(400);
    expect(res.errors?.[0].extensions?.code).toBe('PERSISTED_QUERY_NOT_FOUND');
    expect(res.errors?.[0].message).toContain(operationId(UNLISTED));
  });

  it('streams a listed subscription by id over graphql-ws (query "") and SSE; refuses an unlisted document on both', async () => {
    const client = wsClient(persisted.wsUrl, athlete.token);
    try {
      const byIdOverWs = await new Promise<{ types: string[]; errors: unknown[] }>((resolve) => {
        const types: string[] = [];
        const errors: unknown[] = [];
        client.subscribe(
          { query: '', extensions: byId(idOf('LiveRecommendation')) },
          {
            next: (value) => {
              if (value.errors) errors.push(...value.errors);
              if (value.data) types.push((value.data as { preSessionRecommendation: { type: string } }).preSessionRecommendation.type);
            },
            error: (err) => {
              errors.push(err);
              resolve({ types, errors });
            },
            complete: () => resolve({ types, errors }),
          },
        );
      });
      expect(byIdOverWs.errors).toEqual([]);
      expect(byIdOverWs.types.at(-1)).toBe('DONE');

      const unlisted = await collect(client, 'subscription { preSessionRecommendation(input: { sleepHours: 7 }) { type } }');
      expect(unlisted.events).toEqual([]);
      expect(JSON.stringify(unlisted.errors)).toContain('PERSISTED_QUERY_ONLY');
      const unknown = await new Promise<unknown[]>((resolve) => {
        client.subscribe({ query: '', extensions: byId('0'.repeat(64)) }, { next: () => {}, error: (err) => resolve(err as unknown[]), complete: () => resolve([]) });
      });
      expect(JSON.stringify(unknown)).toContain('PERSISTED_QUERY_NOT_FOUND');
    } finally {
      await client.dispose();
    }

    const sse = await fetch(persisted.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${athlete.token}` },
      body: JSON.stringify({ extensions: byId(idOf('LiveRecommendation')) }),
    });
    expect(sse.status).toBe(200);
    expect(await sse.text()).toMatch(/"type":"DONE"/);
    const refusedSse = await fetch(persisted.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${athlete.token}` },
      body: JSON.stringify({ query: 'subscription { preSessionRecommendation(input: { sleepHours: 7 }) { type } }' }),
    });
    expect(await refusedSse.text()).toContain('PERSISTED_QUERY_ONLY');
  });

  it('tells the insights page to send ids; GraphiQL is off and GET / says where the API is', async () => {
    expect(await (await fetch(persisted.url.replace(/graphql$/, 'insights'))).text()).toContain('<meta name="climbiq-persisted-operations" content="on">');
    expect(await (await fetch(open.url.replace(/graphql$/, 'insights'))).text()).toContain('<meta name="climbiq-persisted-operations" content="off">');
    // Not GraphiQL: the short page explaining the endpoint, without a script.
    const graphiql = await fetch(persisted.url, { headers: { accept: 'text/html' } });
    const html = await graphiql.text();
    expect(html).toMatch(/GraphiQL, the in-browser editor, is off on this server/);
    expect(html).not.toMatch(/<script/i);
    const root = await fetch(persisted.url.replace(/graphql$/, ''), { redirect: 'manual' });
    expect(root.status).toBe(200);
  });

  it('a manifest whose operation does not run on this schema stops the start, naming the operation', async () => {
    const file = path.join(dir, 'stale.json');
    await writeFile(file, JSON.stringify({ stale: '{ me { id nickname } }' }));
    const started = startTestServer({ databaseUrl: null, env: { PERSISTED_OPERATIONS: file } });
    await expect(started).rejects.toThrow(ConfigError);
    await expect(started).rejects.toThrow(/PERSISTED_OPERATIONS: the operation "stale" .* Cannot query field "nickname"/);
  });
});

describe('PERSISTED_OPERATIONS unset (the default)', () => {
  it('runs any document', async () => {
    expect(await gqlOk(open.url, UNLISTED, {}, analyst.token)).toEqual({ me: { id: analyst.id, role: 'ANALYST' } });
    const client = wsClient(open.wsUrl, athlete.token);
    try {
      const streamed = await collect<{ preSessionRecommendation: { type: string } }>(client, 'subscription { preSessionRecommendation(input: { sleepHours: 7 }) { type } }');
      expect(streamed.errors).toEqual([]);
      expect(streamed.events.at(-1)?.preSessionRecommendation.type).toBe('DONE');
    } finally {
      await client.dispose();
    }
    expect((await gql(open.url, START_SESSION, { input: { sleepHours: 7 } }, athlete.token)).errors).toBeUndefined();
  });
});
