// docs/api.md against the running server: every GraphQL example in it is valid against the schema, and every
// error code of its "Errors" table comes back, from a real request, with the HTTP status the table gives (and
// every code the server defines is in the table).
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, validate } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { HTTP_STATUS } from '../../src/errors.ts';
import { schema } from '../../src/schema/index.ts';
import { collect, wsClient, type GraphQLResponse } from '../support/client.ts';
import { gqlOk, startSession } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

const API_MD = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');

/** The "Errors" table: code -> the HTTP column as written ("401", "400 / 405", "(graphql-ws only)"). */
const documented = new Map([...API_MD.slice(API_MD.indexOf('## Errors'), API_MD.indexOf('## Limits')).matchAll(/^\| `([A-Z_]+)` \| ([^|]+) \|/gm)].map((m) => [m[1], m[2].trim()]));

let server: TestServer;
let persisted: TestServer;
let dir: string;
let athlete: { token: string; id: string };
let analyst: { token: string; id: string };

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'climbiq-api-docs-'));
  const manifest = path.join(dir, 'manifest.json');
  await writeFile(manifest, JSON.stringify({ me: '{ me { id } }' }));
  const limits = { RATE_LIMIT_INSIGHTS: '1/60', MAX_SUBSCRIPTIONS_PER_CONNECTION: '1', MAX_REQUEST_BODY_BYTES: '2048' };
  [server, persisted] = await Promise.all([startTestServer({ env: limits }), startTestServer({ env: { PERSISTED_OPERATIONS: manifest } })]);
  [athlete, analyst] = await Promise.all([tokenFor('athlete'), tokenFor('analyst')]);
  await gqlOk(server.url, '{ me { id } }', {}, athlete.token);
});
afterAll(async () => {
  await Promise.all([server?.close(), persisted?.close()]);
  await rm(dir, { recursive: true, force: true });
});

interface Answer {
  status: number;
  codes: string[];
  headers: Headers;
}

async function send(target: TestServer, init: { body?: string | Record<string, unknown>; token?: string; method?: string; search?: string; contentType?: string }): Promise<Answer> {
  const res = await fetch(`${target.url}${init.search ?? ''}`, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: {
      accept: 'application/graphql-response+json, application/json',
      ...(init.body !== undefined ? { 'content-type': init.contentType ?? 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
    },
    body: typeof init.body === 'string' || init.body === undefined ? init.body : JSON.stringify(init.body),
  });
  const answer = (await res.json().catch(() => ({}))) as GraphQLResponse;
  return { status: res.status, codes: (answer.errors ?? []).map((e) => e.extensions?.code ?? ''), headers: res.headers };
}
const query = (q: string, token?: string, variables?: Record<string, unknown>) => send(server, { body: { query: q, variables }, token });

describe('docs/api.md', () => {
  it('every GraphQL example is valid against the schema', () => {
    const blocks = [...API_MD.matchAll(/```graphql\n([\s\S]*?)```/g)].map((m) => m[1]);
    expect(blocks.length).toBeGreaterThan(8);
    for (const block of blocks)
      expect(
        validate(schema, parse(block)).map((e) => e.message),
        block,
      ).toEqual([]);
  });

  it('lists every error code the server defines, with its status', () => {
    for (const [code, status] of Object.entries(HTTP_STATUS)) {
      if (code === 'TOO_MANY_SUBSCRIPTIONS') expect(documented.get(code)).toBe('(graphql-ws only)');
      else expect(documented.get(code), code).toBe(String(status));
    }
  });

  it('each documented code comes back from a real request with the documented status', async () => {
    const session = await startSession(server.url, athlete.token);
    await gqlOk(server.url, `mutation { completeSession(id: "${session.id}", input: { sessionQuality: 7 }) { id } }`, {}, athlete.token);
    const insights = '{ insights { qualityHistogram { quality count } } }';
    await query(insights, analyst.token);

    const over: Record<string, () => Promise<Answer>> = {
      UNAUTHENTICATED: () => query('{ me { id } }'),
      FORBIDDEN: () => query(insights, athlete.token),
      BAD_USER_INPUT: () => query('{ sessions(qualityMin: 9, qualityMax: 2) { totalCount } }', analyst.token),
      NOT_FOUND: () => query('{ recommendation(userId: "3f1c0a4e-9999-4a4a-9b9b-123456789abc", input: { sleepHours: 7 }) { source } }', analyst.token),
      CONFLICT: () => query(`mutation { completeSession(id: "${session.id}", input: { sessionQuality: 7 }) { id } }`, athlete.token),
      RATE_LIMITED: () => query(insights, analyst.token),
      QUERY_LIMIT_EXCEEDED: () => query(`{ me { ${'a: id '.repeat(31)}} }`, analyst.token),
      PERSISTED_QUERY_ONLY: () => send(persisted, { body: { query: '{ me { id } }' }, token: analyst.token }),
      PERSISTED_QUERY_NOT_FOUND: () => send(persisted, { body: { extensions: { persistedQuery: { version: 1, sha256Hash: 'unknown' } } }, token: analyst.token }),
      GRAPHQL_PARSE_FAILED: () => query('{ me { id }', analyst.token),
      GRAPHQL_VALIDATION_FAILED: () => query('{ me { nickname } }', analyst.token),
      BAD_REQUEST: () => send(server, { body: { variables: {} }, token: analyst.token }),
      UNSUPPORTED_MEDIA_TYPE: () => send(server, { body: 'query={me{id}}', contentType: 'application/x-www-form-urlencoded', token: analyst.token }),
      REQUEST_ENTITY_TOO_LARGE: () => send(server, { body: { query: '{ me { id } }', variables: { pad: 'x'.repeat(4096) } }, token: analyst.token }),
      INTERNAL_SERVER_ERROR: async () => {
        // A table gone from under the server: an unexpected failure, masked.
        await server.db.prisma.$executeRawUnsafe('ALTER TABLE climbing_sessions RENAME TO climbing_sessions_away');
        try {
          return await query('{ sessions { totalCount } }', analyst.token);
        } finally {
          await server.db.prisma.$executeRawUnsafe('ALTER TABLE climbing_sessions_away RENAME TO climbing_sessions');
        }
      },
    };
    for (const [code, column] of documented) {
      if (code === 'TOO_MANY_SUBSCRIPTIONS') continue; // graphql-ws: below
      expect(over[code], `a request that gets ${code}`).toBeDefined();
      const answer = await over[code]();
      expect(answer.codes, code).toContain(code);
      expect(String(answer.status), code).toBe(column.split(' / ')[0]);
    }
    expect((await over.RATE_LIMITED()).headers.get('retry-after')).toMatch(/^\d+$/);
    // BAD_REQUEST's second status: a mutation over GET.
    const getMutation = await send(server, { search: `?query=${encodeURIComponent('mutation { deleteSession(id: "x") }')}`, token: athlete.token });
    expect(getMutation).toMatchObject({ status: 405, codes: ['BAD_REQUEST'] });
  });

  it('over graphql-ws: TOO_MANY_SUBSCRIPTIONS past the cap, and an invalid token closes the connection with 4403', async () => {
    await server.training.idle(); // the athlete's model, from the session completed above
    const client = wsClient(server.wsUrl, athlete.token);
    // modelUpdated events until the first has arrived: the subscription is then surely open.
    const poke = setInterval(() => void server.services.pubsub.publish('modelUpdated', athlete.id, { userId: athlete.id }), 200);
    try {
      await new Promise<void>((resolve) => {
        client.subscribe({ query: 'subscription { modelUpdated { phase } }' }, { next: () => resolve(), error: () => undefined, complete: () => undefined });
      });
      const second = await collect(client, '{ me { id } }');
      expect(JSON.stringify(second.errors)).toContain('TOO_MANY_SUBSCRIPTIONS');
    } finally {
      clearInterval(poke);
      await client.dispose();
    }

    const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: 'Bearer forged' } })));
    expect(await closed).toBe(4403);
  });
});
