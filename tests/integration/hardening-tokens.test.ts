// Issue 12 section 2, through real HTTP, WebSocket and SSE: by default no other origin gets a CORS answer; tokens
// must expire within the configured lifetime and carry a known role (server and `npm run token`); open
// subscriptions end when their token does (a graphql-ws connection closes with 4440); one connection holds a
// bounded number of them.
// (The development token and CORS_ORIGINS: hardening-dev-token.test.ts.)
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import type { GraphQLFormattedError } from 'graphql';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collect, corsPost as post, corsPreflight as preflight, gql, gqlOk, wsClient, type GraphQLErrorBody } from '../support/client.ts';
import { nodeArgs } from '../support/processes.ts';
import { startTestServer, TEST_JWT_SECRET, tokenFor, type TestServer } from '../support/server.ts';

const DAY = 86_400;
const MODEL_UPDATED = 'subscription($u: ID) { modelUpdated(userId: $u) { user { id } } }';

let server: TestServer; // MAX_SUBSCRIPTIONS_PER_CONNECTION=3, no CORS_ORIGINS

beforeAll(async () => {
  server = await startTestServer({ env: { MAX_SUBSCRIPTIONS_PER_CONNECTION: '3' } });
});
afterAll(async () => {
  await server?.close();
});

const key = new TextEncoder().encode(TEST_JWT_SECRET);
const now = () => Math.floor(Date.now() / 1000);
/** A token signed with the test secret, with exactly the claims given. */
function signed(claims: { role?: unknown; iat?: number; exp?: number }, sub: string = randomUUID()): Promise<string> {
  const jwt = new SignJWT(claims.role === undefined ? {} : { role: claims.role }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub);
  if (claims.iat !== undefined) jwt.setIssuedAt(claims.iat);
  if (claims.exp !== undefined) jwt.setExpirationTime(claims.exp);
  return jwt.sign(key);
}

describe('CORS', () => {
  it('by default no origin is answered: neither the preflight nor the response carries CORS headers', async () => {
    const { token } = await tokenFor('analyst');
    for (const res of [await preflight(server.url, 'https://evil.example'), await post(server.url, 'https://evil.example', token)]) {
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });
});

describe('token claims', () => {
  const me = (token: string) => gql<{ me: { id: string; role: string } }>(server.url, '{ me { id role } }', {}, token);
  const refused = async (token: string, message: RegExp) => {
    const res = await me(token);
    expect(res.status, JSON.stringify(res)).toBe(401);
    expect(res.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.errors?.[0]?.message).toMatch(message);
  };

  it('a token without exp is refused', async () => {
    await refused(await signed({ role: 'admin', iat: now() }), /exp/);
  });

  it('a token living longer than TOKEN_MAX_LIFETIME_SECONDS (30 days) is refused, by exp - iat or by exp - now', async () => {
    await refused(await signed({ role: 'athlete', iat: now(), exp: now() + 60 * DAY }), /lifetime/);
    await refused(await signed({ role: 'athlete', exp: now() + 31 * DAY }), /lifetime/);
    await refused(await signed({ role: 'athlete', iat: now() - 40 * DAY, exp: now() + DAY }), /lifetime/);
    await refused(await signed({ role: 'athlete', iat: now() + 300 * DAY, exp: now() + 310 * DAY }), /lifetime/);
    const sub = randomUUID();
    expect((await me(await signed({ role: 'athlete', iat: now(), exp: now() + 30 * DAY }, sub))).data?.me).toEqual({ id: sub, role: 'ATHLETE' });
  });

  it('the role claim is matched in any case ("admin", "ADMIN", "Admin"); anything else is refused', async () => {
    for (const role of ['athlete ', 'superuser', 7]) await refused(await signed({ role, iat: now(), exp: now() + 3600 }), /role/);
    for (const role of ['admin', 'ADMIN', 'Admin']) {
      const sub = randomUUID();
      expect((await me(await signed({ role, iat: now(), exp: now() + 3600 }, sub))).data?.me).toEqual({ id: sub, role: 'ADMIN' });
    }
  });

  const run = promisify(execFile);
  const mint = (args: string[], env: Record<string, string> = {}) =>
    run(process.execPath, nodeArgs('scripts/token.ts', args), { cwd: process.cwd(), env: { ...process.env, JWT_SECRET: TEST_JWT_SECRET, ...env } });

  it('npm run token mints tokens with exp (default the maximum lifetime) that the server accepts', async () => {
    const sub = randomUUID();
    const [byDefault, short, capped] = await Promise.all([
      mint(['--sub', sub, '--role', 'admin']),
      mint(['--sub', sub, '--role', 'admin', '--expires', '8h']),
      mint(['--sub', sub], { TOKEN_MAX_LIFETIME_SECONDS: '3600' }),
    ]);
    const lifetime = (out: string) => {
      const { iat, exp } = decodeJwt(out.trim());
      return exp! - iat!;
    };
    expect(lifetime(byDefault.stdout)).toBe(30 * DAY);
    expect(lifetime(short.stdout)).toBe(8 * 3600);
    expect(lifetime(capped.stdout)).toBe(3600);
    expect((await me(byDefault.stdout.trim())).data?.me).toEqual({ id: sub, role: 'ADMIN' });
  });

  it('npm run token refuses a lifetime over the maximum and an unknown role', async () => {
    const tooLong = mint(['--role', 'admin', '--expires', '31d']);
    await expect(tooLong).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/TOKEN_MAX_LIFETIME_SECONDS/) });
    await expect(mint(['--role', 'owner'])).rejects.toMatchObject({ code: 2, stderr: expect.stringMatching(/role must be one of athlete, coach, analyst, admin/) });
  });
});

describe('subscriptions', () => {
  /** An athlete with a model (one completed session), so modelUpdated has something to send. */
  async function athleteWithModel(): Promise<{ token: string; id: string }> {
    const athlete = await tokenFor('athlete');
    const { startSession } = await gqlOk<{ startSession: { id: string } }>(server.url, 'mutation { startSession(input: { sleepHours: 7 }) { id } }', {}, athlete.token);
    await gqlOk(server.url, 'mutation($id: ID!) { completeSession(id: $id, input: { sessionQuality: 7 }) { id } }', { id: startSession.id }, athlete.token);
    await server.training.idle();
    return athlete;
  }

  // The three tests below each wait for a 4 s token to expire: they run at the same time (it.concurrent), each with
  // its own athlete, so the file waits once.

  /** Publishes modelUpdated for `userId` every 200 ms until stopped. */
  function poke(userId: string) {
    const timer = setInterval(() => void server.services.pubsub.publish('modelUpdated', userId, { userId }), 200);
    return () => clearInterval(timer);
  }

  it.concurrent('over graphql-ws the connection closes with code 4440 when its token (connectionParams) expires', async ({ expect }) => {
    const sub = (await athleteWithModel()).id;
    const expiresAt = now() + 4;
    const token = await signed({ role: 'athlete', iat: now(), exp: expiresAt }, sub);
    const client = wsClient(server.wsUrl, token); // retryAttempts 0: the close reaches the subscriber
    const stop = poke(sub);
    try {
      const out = await collect<{ modelUpdated: { user: { id: string } } }>(client, MODEL_UPDATED, {}, 20_000);
      expect(out.events.length, 'events were delivered while the token was valid').toBeGreaterThan(0);
      expect(out.events.every((e) => e.modelUpdated.user.id === sub)).toBe(true);
      expect(out.errors).toHaveLength(1);
      expect(out.errors[0]).toMatchObject({ code: 4440, reason: 'Token expired: reconnect with a fresh token' });
      expect(Date.now()).toBeGreaterThanOrEqual(expiresAt * 1000);
    } finally {
      stop();
      await client.dispose();
    }
  });

  it.concurrent("over graphql-ws an operation carrying its own token (GraphiQL's extensions.headers) ends with an UNAUTHENTICATED error, then complete", async ({ expect }) => {
    const sub = (await athleteWithModel()).id;
    const token = await signed({ role: 'athlete', iat: now(), exp: now() + 4 }, sub);
    const client = wsClient(server.wsUrl);
    const stop = poke(sub);
    try {
      const out = await new Promise<{ events: number; errors: GraphQLFormattedError[]; completed: boolean }>((resolve, reject) => {
        const seen = { events: 0, errors: [] as GraphQLFormattedError[], completed: false };
        client.subscribe(
          { query: MODEL_UPDATED, extensions: { headers: { Authorization: `Bearer ${token}` } } },
          {
            next: (v) => {
              if (v.errors) seen.errors.push(...v.errors);
              else seen.events++;
            },
            error: reject,
            complete: () => resolve({ ...seen, completed: true }),
          },
        );
      });
      expect(out.events).toBeGreaterThan(0);
      expect(out.errors.map((e) => [e.extensions?.code, e.message])).toEqual([['UNAUTHENTICATED', 'Token expired: the subscription has ended; subscribe again with a new token']]);
      expect(out.completed).toBe(true);
    } finally {
      stop();
      await client.dispose();
    }
  });

  it.concurrent('over SSE the stream ends the same way', async ({ expect }) => {
    const sub = (await athleteWithModel()).id;
    const token = await signed({ role: 'athlete', iat: now(), exp: now() + 4 }, sub);
    const stop = poke(sub);
    try {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: MODEL_UPDATED }),
        signal: AbortSignal.timeout(20_000),
      });
      const blocks = (await res.text()).split('\n\n').filter((b) => b.trim() && !b.startsWith(':'));
      const events = blocks.map((b) => ({ event: /^event: ?(.*)$/m.exec(b)?.[1], data: /^data: ?(.*)$/m.exec(b)?.[1] }));
      const payloads = events.filter((e) => e.event === 'next').map((e) => JSON.parse(e.data!));
      expect(payloads.filter((p) => p.data?.modelUpdated?.user?.id === sub).length).toBeGreaterThan(0);
      expect(payloads.at(-1).errors[0].extensions.code).toBe('UNAUTHENTICATED');
      expect(events.at(-1)!.event).toBe('complete');
    } finally {
      stop();
    }
  });

  it('a graphql-ws connection holds at most MAX_SUBSCRIPTIONS_PER_CONNECTION operations; the next is refused clearly', async () => {
    const { token, id } = await athleteWithModel();
    const client = wsClient(server.wsUrl, token);
    const stop = poke(id);
    try {
      const open: (() => void)[] = [];
      const firstEvents = Array.from(
        { length: 3 },
        () => new Promise<void>((resolve) => open.push(client.subscribe({ query: MODEL_UPDATED }, { next: () => resolve(), error: () => undefined, complete: () => undefined }))),
      );
      await Promise.all(firstEvents);
      const fourth = await collect(client, MODEL_UPDATED, {}, 10_000);
      expect(fourth.events).toEqual([]);
      const error = (fourth.errors.flat() as GraphQLErrorBody[])[0];
      expect(error.extensions?.code).toBe('TOO_MANY_SUBSCRIPTIONS');
      expect(error.message).toMatch(/3 operations open/);
      // Once one is completed there is room again.
      open[0]();
      const again = await new Promise<unknown>((resolve, reject) => {
        const dispose = client.subscribe(
          { query: MODEL_UPDATED },
          {
            next: (v) => {
              dispose();
              resolve(v);
            },
            error: reject,
            complete: () => undefined,
          },
        );
      });
      expect(again).toMatchObject({ data: { modelUpdated: { user: { id } } } });
      for (const dispose of open.slice(1)) dispose();
    } finally {
      stop();
      await client.dispose();
    }
  });
});
