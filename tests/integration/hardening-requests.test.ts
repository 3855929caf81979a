// Issue 12 section 3, through real HTTP (and graphql-ws where a guard must hold there too): only JSON POSTs
// (and GET queries) are executed, bodies are limited, hostile queries are refused with the limit's own message as
// a client error, NUL characters never reach the database, and production closes introspection and GraphiQL.
import { Agent, request as httpRequest } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { collect, wsClient, type GraphQLErrorBody } from '../support/client.ts';
import { expectError, gql, gqlOk, RECORD_BASELINE, START_SESSION } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let athlete: { token: string; id: string };
const logs: string[] = [];

beforeAll(async () => {
  server = await startTestServer({ log: (m) => logs.push(m) });
  athlete = await tokenFor('athlete');
  await gqlOk(server.url, '{ me { id } }', {}, athlete.token);
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  vi.restoreAllMocks();
});

const sessionCount = () => server.db.prisma.climbingSession.count({ where: { userId: athlete.id } });

describe('content types', () => {
  const mutation = 'mutation { startSession(input: { sleepHours: 7 }) { id } }';

  const bodies: [string, () => string | FormData][] = [
    ['application/x-www-form-urlencoded', () => new URLSearchParams({ query: mutation }).toString()],
    ['multipart/form-data', () => formWith(mutation)],
    ['text/plain', () => JSON.stringify({ query: mutation })],
    ['application/graphql', () => mutation],
  ];
  it.each(bodies)('a %s POST is refused with 415 and executes nothing', async (type, body) => {
    const made = body();
    const res = await fetch(server.url, {
      method: 'POST',
      // multipart: fetch sets the boundary itself from the FormData body
      headers: { ...(typeof made === 'string' ? { 'content-type': type } : {}), authorization: `Bearer ${athlete.token}` },
      body: made,
    });
    expect(res.status).toBe(415);
    expect(await sessionCount()).toBe(0);
  });

  it('JSON POSTs and GET queries still work; a GET mutation is refused', async () => {
    expect((await gqlOk<{ me: { id: string } }>(server.url, '{ me { id } }', {}, athlete.token)).me.id).toBe(athlete.id);
    const get = await fetch(`${server.url}?query=${encodeURIComponent('{ me { id } }')}`, {
      headers: { authorization: `Bearer ${athlete.token}`, accept: 'application/graphql-response+json' },
    });
    expect(get.status).toBe(200);
    expect(((await get.json()) as { data: { me: { id: string } } }).data.me.id).toBe(athlete.id);
    const getMutation = await fetch(`${server.url}?query=${encodeURIComponent(mutation)}`, { headers: { authorization: `Bearer ${athlete.token}` } });
    expect(getMutation.status).toBe(405);
    expect(await sessionCount()).toBe(0);
  });
});

function formWith(query: string): FormData {
  const form = new FormData();
  form.set('operations', JSON.stringify({ query }));
  form.set('map', '{}');
  return form;
}

describe('request body limit (default 1 MB)', () => {
  /** A JSON body of `size` bytes: a valid query with padding in an unused variable. */
  const bodyOf = (size: number) => {
    const head = '{"query":"{ __typename }","variables":{"pad":"';
    const tail = '"}}';
    return head + 'x'.repeat(size - head.length - tail.length) + tail;
  };

  it('a body just under the limit is executed', async () => {
    const res = await fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyOf(1_000_000) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
  });

  /**
   * POSTs a 20 MB JSON body (declared by Content-Length, or chunked), writing as the socket drains and stopping as
   * soon as the server answers; returns the status and how much was sent by then. (fetch would report the
   * server's early close as a failed request instead of its answer.)
   */
  function postLarge(declared: boolean): Promise<{ status: number; sent: number }> {
    const total = 20 * 1024 * 1024;
    const head = Buffer.from('{"query":"{ __typename }","variables":{"pad":"');
    const tail = Buffer.from('"}}');
    const chunk = Buffer.alloc(64 * 1024, 'x');
    return new Promise((resolve, reject) => {
      let sent = 0;
      let answered = false;
      const url = new URL(server.url);
      const headers = { 'content-type': 'application/json', ...(declared ? { 'content-length': String(total) } : {}) };
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
        answered = true;
        res.resume();
        resolve({ status: res.statusCode ?? 0, sent });
        req.destroy();
      });
      req.on('error', (err) => {
        if (!answered) reject(err);
      });
      const pump = () => {
        while (!answered && sent < total - tail.length) {
          const piece = sent === 0 ? head : chunk.subarray(0, Math.min(chunk.length, total - tail.length - sent));
          sent += piece.length;
          if (!req.write(piece)) return void req.once('drain', pump);
        }
        if (!answered) req.end(tail);
      };
      pump();
    });
  }

  it.each([
    ['with Content-Length', true],
    ['chunked', false],
  ])('a 20 MB body %s is refused with 413 before the client has sent it all', async (_how, declared) => {
    const { status, sent } = await postLarge(declared);
    expect(status).toBe(413);
    // The server stopped reading near the limit: most of the 20 MB was never sent (socket buffers hold a few MB).
    expect(sent).toBeLessThan(10 * 1024 * 1024);
  });
});

describe('a refusal before the body is read', () => {
  /** One request on `agent`; resolves with its status, Connection header and body, or rejects as the client saw it. */
  function send(agent: Agent, method: string, body: Buffer | string | null, type = 'application/json', chunked = false): Promise<{ status: number; connection: string | undefined; body: string }> {
    const url = new URL(server.url);
    const headers: Record<string, string> = { 'content-type': type, authorization: `Bearer ${athlete.token}` };
    if (body !== null && !chunked) headers['content-length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = httpRequest({ host: url.hostname, port: url.port, path: url.pathname, method, headers, agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, body: text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      if (chunked && body !== null) {
        for (let at = 0; at < body.length; at += 64 * 1024) req.write(body.slice(at, at + 64 * 1024));
        req.end();
      } else req.end(body ?? undefined);
    });
  }
  const query = JSON.stringify({ query: '{ me { id } }' });
  // 4 MB over the 1 MB limit: more than the socket buffers hold, so most of it is unread when the server answers.
  const oversized = () => Buffer.from(JSON.stringify({ query: '{ me { id } }', variables: { pad: 'x'.repeat(4 * 1024 * 1024) } }));

  it.each([
    ['413, a body over the limit with Content-Length', 'application/json', false, 413],
    ['413, a chunked body over the limit', 'application/json', true, 413],
    ['415, a form POST', 'application/x-www-form-urlencoded', false, 415],
  ] as const)('%s: answered with Connection: close, and the next request on the same pooled agent succeeds', async (_what, type, chunked, status) => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      for (let round = 0; round < 3; round++) {
        const refused = await send(agent, 'POST', oversized(), type, chunked);
        expect(refused.status).toBe(status);
        expect(refused.connection).toBe('close');
        const next = await send(agent, 'POST', query);
        expect(next.status, next.body).toBe(200);
        expect(JSON.parse(next.body)).toEqual({ data: { me: { id: athlete.id } } });
      }
    } finally {
      agent.destroy();
    }
  });

  it('a request whose body was read keeps its connection alive for the next one', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const sockets = new Set<unknown>();
    agent.on('free', (socket) => sockets.add(socket));
    try {
      const bad = await send(agent, 'POST', '{"query": ');
      expect(bad.status).toBe(400);
      expect(bad.connection).toBe('keep-alive');
      expect((await send(agent, 'POST', query)).status).toBe(200);
      expect(sockets.size).toBe(1);
    } finally {
      agent.destroy();
    }
  });
});

/** A selection nested `depth` levels deep: me { currentBaseline { user { currentBaseline { ... { id } } } } }. */
function nested(depth: number): string {
  let inner = 'id';
  for (let level = depth - 1; level >= 1; level--) {
    const field = level === 1 ? 'me' : level % 2 === 0 ? 'currentBaseline' : 'user';
    inner = `${field} { ${inner} }`;
  }
  return `{ ${inner} }`;
}

describe('query limits (graphql-armor)', () => {
  const hostile: [string, () => string, RegExp][] = [
    ['depth', () => nested(14), /^Query depth limit of 12 exceeded, found 14\.$/],
    ['aliases', () => `{ ${Array.from({ length: 31 }, (_, i) => `a${i}: me { id }`).join(' ')} }`, /^Aliases limit of 30 exceeded, found 31\.$/],
    [
      'cost',
      // Each fragment spreads the previous one twice: a short document whose cost doubles per level.
      () => {
        const fragments = ['fragment F0 on User { id role }'];
        for (let i = 1; i <= 14; i++) fragments.push(`fragment F${i} on User { ...F${i - 1} currentBaseline { user { ...F${i - 1} } } }`);
        return `{ me { ...F14 } } ${fragments.join(' ')}`;
      },
      /^Query Cost limit of 50000 exceeded, found [\d.]+\.$/,
    ],
    ['directives', () => `{ __typename ${'@skip(if: false) '.repeat(51)}}`, /^Directives limit of 50 exceeded, found 51\.$/],
    ['tokens', () => `{ ${'__typename '.repeat(5_000)}}`, /^Token limit of 5000 exceeded\.$/],
  ];

  it.each(hostile)('too many %s: HTTP 400, the limit in the message, QUERY_LIMIT_EXCEEDED, one log line and no stack', async (_name, query, message) => {
    const errorLog = vi.spyOn(console, 'error');
    const before = logs.length;
    const res = await gql(server.url, query(), {}, athlete.token);
    expect(res.status, JSON.stringify(res)).toBe(400);
    expect(res.errors).toHaveLength(1);
    expect(res.errors![0].message).toMatch(message);
    expect(res.errors![0].extensions?.code).toBe('QUERY_LIMIT_EXCEEDED');
    expect(res.data ?? null).toBeNull();
    const lines = logs.slice(before);
    expect(lines, lines.join('\n')).toHaveLength(1);
    expect(lines[0]).toContain(res.errors![0].message);
    expect(lines[0]).not.toContain('\n');
    expect(errorLog).not.toHaveBeenCalled();
  });

  it('the same query just inside the limits is executed', async () => {
    const res = await gql(server.url, nested(12), {}, athlete.token);
    expect(res.errors).toBeUndefined();
    expect(res.status).toBe(200);
  });

  it('over graphql-ws the refusal is the same error', async () => {
    const client = wsClient(server.wsUrl, athlete.token);
    try {
      const out = await collect(client, nested(14));
      expect(out.events).toEqual([]);
      const error = (out.errors.flat() as GraphQLErrorBody[])[0];
      expect(error.message).toBe('Query depth limit of 12 exceeded, found 14.');
      expect(error.extensions?.code).toBe('QUERY_LIMIT_EXCEEDED');
    } finally {
      await client.dispose();
    }
  });

  it('over graphql-ws a document is validated until it passes: refused each time, or executed each time', async () => {
    const client = wsClient(server.wsUrl, athlete.token);
    try {
      for (let i = 0; i < 2; i++) {
        const refused = await collect(client, nested(14));
        expect(refused.events).toEqual([]);
        expect((refused.errors.flat() as GraphQLErrorBody[])[0].extensions?.code).toBe('QUERY_LIMIT_EXCEEDED');
        const executed = await collect(client, nested(12));
        expect(executed.errors).toEqual([]);
        expect(executed.events).toHaveLength(1);
      }
    } finally {
      await client.dispose();
    }
  });
});

describe('keys named "__proto__" in JSON fields', () => {
  /** POSTs `body` as it is written: a "__proto__" key survives only in raw JSON text (an object literal would set a prototype). */
  async function postRaw(body: string): Promise<{ status: number; body: { data?: unknown; errors?: { message: string; extensions: { code: string; field?: string } }[] } }> {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${athlete.token}` },
      body,
    });
    return { status: res.status, body: JSON.parse(await res.text()) };
  }
  const start = 'mutation($input: StartSessionInput!) { startSession(input: $input) { id preSessionData } }';
  const withForm = (form: string) => `{"query":${JSON.stringify(start)},"variables":{"input":{"sleepHours":7,"preSessionData":${form}}}}`;

  it.each([
    ['at the top of a variable', withForm('{"form":"v3","__proto__":{"isAdmin":true}}'), 'preSessionData.__proto__'],
    ['nested in a list of a variable', withForm('{"form":"v3","answers":[{"ok":1},{"__proto__":{"x":1}}]}'), 'preSessionData.answers[1].__proto__'],
    [
      'in the query text',
      JSON.stringify({ query: 'mutation { startSession(input: { sleepHours: 7, preSessionData: { form: "v3", __proto__: { isAdmin: true } } }) { id } }' }),
      'preSessionData.__proto__',
    ],
  ])('a "__proto__" key %s is refused with BAD_USER_INPUT naming it, and nothing is written', async (_where, body, field) => {
    const res = await postRaw(body);
    expect(res.status).toBe(400);
    expect(res.body.data ?? null).toBeNull();
    expect(res.body.errors).toHaveLength(1);
    expect(res.body.errors![0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field });
    expect(res.body.errors![0].message).toContain(`${field}: a key named "__proto__" is not accepted`);
    expect(await sessionCount()).toBe(0);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
  });

  it('other keys JavaScript knows ("constructor", "prototype", "$where") are kept as data', async () => {
    const res = await postRaw(withForm('{"constructor":{"prototype":{"y":2}},"$where":"1","toString":"x"}'));
    expect(res.status).toBe(200);
    const started = (res.body.data as { startSession: { id: string; preSessionData: unknown } }).startSession;
    expect(started.preSessionData).toEqual({ constructor: { prototype: { y: 2 } }, $where: '1', toString: 'x' });
    await server.db.prisma.climbingSession.delete({ where: { id: started.id } });
  });
});

describe('NUL characters in input', () => {
  it('a NUL in a string variable is BAD_USER_INPUT naming the field, and nothing is written', async () => {
    const res = await gql(server.url, START_SESSION, { input: { sleepHours: 7, location: 'crag\u0000' } }, athlete.token);
    expectError(res, 'BAD_USER_INPUT', 'location');
    expect(res.errors![0].message).toMatch(/location/);
    expect(res.status).toBe(400);
    expect(await sessionCount()).toBe(0);
  });

  it("the same query text is checked afresh with each request's variables (the document's walk is cached, not its verdict)", async () => {
    const RATE_A_CHECK_IN = 'query($input: PreSessionInput!) { recommendation(input: $input) { id sessionType } }';
    for (const stress of [2, 3]) {
      const ok = await gql(server.url, RATE_A_CHECK_IN, { input: { sleepHours: 7, energyLevel: 4, stressLevel: stress } }, athlete.token);
      expect(ok.errors).toBeUndefined();
    }
    const refused = await gql(server.url, RATE_A_CHECK_IN, { input: { sleepHours: 7, currentNiggles: [{ location: 'knee\u0000', severity: 2 }] } }, athlete.token);
    expectError(refused, 'BAD_USER_INPUT', 'currentNiggles[0].location');
    const again = await gql(server.url, RATE_A_CHECK_IN, { input: { sleepHours: 7 } }, athlete.token);
    expect(again.errors).toBeUndefined();
  });

  it('a NUL inside a JSON field, in a nested list, or in a JSON key', async () => {
    expectError(
      await gql(server.url, START_SESSION, { input: { sleepHours: 7, preSessionData: { form: { answers: ['ok', 'bad\u0000'] } } } }, athlete.token),
      'BAD_USER_INPUT',
      'preSessionData.form.answers[1]',
    );
    expectError(await gql(server.url, RECORD_BASELINE, { input: { injuryHistory: [{ 'part\u0000': 'finger' }] } }, athlete.token), 'BAD_USER_INPUT', 'injuryHistory[0]');
    expectError(
      await gql(
        server.url,
        START_SESSION,
        {
          input: {
            sleepHours: 7,
            currentNiggles: [
              { location: 'knee', severity: 2 },
              { location: 'finger\u0000', severity: 3 },
            ],
          },
        },
        athlete.token,
      ),
      'BAD_USER_INPUT',
      'currentNiggles[1].location',
    );
    expect(await sessionCount()).toBe(0);
    expect(await server.db.prisma.baselineAssessment.count({ where: { userId: athlete.id } })).toBe(0);
  });

  it('a NUL written as an escape in the query text itself', async () => {
    const res = await gql(server.url, 'mutation { startSession(input: { sleepHours: 7, location: "crag\\u0000" }) { id } }', {}, athlete.token);
    expectError(res, 'BAD_USER_INPUT', 'location');
    expect(await sessionCount()).toBe(0);
  });

  it('over graphql-ws too', async () => {
    const client = wsClient(server.wsUrl, athlete.token);
    try {
      const out = await collect(client, START_SESSION, { input: { sleepHours: 7, location: 'crag\u0000' } });
      expect((out.errors.flat() as GraphQLErrorBody[])[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'location' });
    } finally {
      await client.dispose();
    }
    expect(await sessionCount()).toBe(0);
  });
});

describe('response headers', () => {
  it('every response carries nosniff and no-store, and cannot be framed', async () => {
    const responses = await Promise.all([
      fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) }),
      fetch(server.url, { headers: { accept: 'text/html' } }),
      fetch(new URL('/health', server.url)),
      fetch(new URL('/nowhere', server.url)),
      fetch(server.url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: '{}' }),
    ]);
    for (const res of responses) {
      expect(res.headers.get('x-content-type-options'), res.url).toBe('nosniff');
      expect(res.headers.get('cache-control'), res.url).toBe('private, no-store');
      expect(res.headers.get('x-frame-options'), res.url).toBe('DENY');
      expect(res.headers.get('content-security-policy'), res.url).toContain("frame-ancestors 'none'");
    }
  });
});

describe('NODE_ENV=production', () => {
  let production: TestServer;
  let opened: TestServer; // production with both settings enabled
  beforeAll(async () => {
    [production, opened] = await Promise.all([
      startTestServer({ env: { NODE_ENV: 'production' } }),
      startTestServer({ env: { NODE_ENV: 'production', INTROSPECTION_ENABLED: 'true', GRAPHIQL_ENABLED: 'true' } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([production?.close(), opened?.close()]);
  });

  it('introspection is refused, GraphiQL is not served, and errors suggest no names', async () => {
    const { token } = await tokenFor('athlete');
    const introspection = await gql(production.url, '{ __schema { queryType { name } } }', {}, token);
    expect(introspection.status).toBe(400);
    expect(introspection.errors?.[0]?.message).toMatch(/introspection/i);
    expect((await gql(production.url, '{ __type(name: "User") { name } }', {}, token)).errors?.[0]?.message).toMatch(/introspection/i);
    expect((await gql(production.url, '{ __typename }', {}, token)).data).toEqual({ __typename: 'Query' });

    // Not GraphiQL (no script at all): the short page explaining the endpoint (tests/integration/operations.test.ts).
    const page = await fetch(production.url, { headers: { accept: 'text/html' } });
    const html = await page.text();
    expect(html).not.toMatch(/<script/i);
    expect(html).toMatch(/GraphiQL, the in-browser editor, is off on this server/);

    const typo = await gql(production.url, '{ mee { id } }', {}, token);
    expect(typo.errors?.[0]?.message).toMatch(/Cannot query field "mee"/);
    expect(JSON.stringify(typo.errors)).not.toMatch(/Did you mean/);
    const badArg = await gql(production.url, '{ sessions(firts: 5) { edges { node { id } } } }', {}, token);
    expect(badArg.errors?.[0]?.message).toMatch(/Unknown argument "firts"/);
    expect(JSON.stringify(badArg.errors)).not.toMatch(/Did you mean/);
    const badEnum = await gql(production.url, 'query($s: SessionStatus) { sessions(status: $s) { edges { node { id } } } }', { s: 'ACTIVEE' }, token);
    expectError(badEnum, 'BAD_USER_INPUT', 's');
    expect(JSON.stringify(badEnum.errors)).not.toMatch(/Did you mean/);
  });

  it('settings enable introspection and GraphiQL again', async () => {
    const { token } = await tokenFor('athlete');
    expect((await gqlOk<{ __schema: { queryType: { name: string } } }>(opened.url, '{ __schema { queryType { name } } }', {}, token)).__schema.queryType.name).toBe('Query');
    const page = await fetch(opened.url, { headers: { accept: 'text/html' } });
    expect(await page.text()).toMatch(/graphiql/i);
  });

  it('in development a typo is still answered with a suggestion', async () => {
    const typo = await gql(server.url, '{ mee { id } }', {}, athlete.token);
    expect(typo.errors?.[0]?.message).toMatch(/Did you mean "me"\?/);
  });
});
