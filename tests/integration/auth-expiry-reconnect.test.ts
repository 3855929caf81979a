// Issue 24 point 2, with graphql-ws's own client and its default retry settings against the real server: when the
// connection's token expires the server closes the socket with 4440, the client calls its async connectionParams
// again (a fresh token), reconnects and re-subscribes; the app's stream keeps delivering with no error and no
// completion in between. A client that can only offer a stale token gets 4440 too, and an error once its retries
// are spent (rather than 4403 forever).
import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { gqlOk } from '../support/client.ts';
import { startTestServer, tokens, type TestServer } from '../support/server.ts';

const MODEL_UPDATED = 'subscription { modelUpdated { user { id } sessionsIncluded } }';
type ModelUpdated = { modelUpdated: { user: { id: string }; sessionsIncluded: number } };

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

/** An athlete with a model (one completed session), so modelUpdated has something to send. */
async function athleteWithModel(): Promise<string> {
  const sub = randomUUID();
  const token = await tokens.sign({ sub, role: 'athlete' }, 600);
  const { startSession } = await gqlOk<{ startSession: { id: string } }>(server.url, 'mutation { startSession(input: { sleepHours: 7 }) { id } }', {}, token);
  await gqlOk(server.url, 'mutation($id: ID!) { completeSession(id: $id, input: { sessionQuality: 7 }) { id } }', { id: startSession.id }, token);
  await server.training.idle();
  return sub;
}

const waitFor = async (what: string, done: () => boolean, timeoutMs: number) => {
  const until = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
};

describe('a graphql-ws client whose connectionParams fetches a fresh token', () => {
  // Both wait for tokens to expire, each on its own connections: they run at the same time (it.concurrent).
  it.concurrent('keeps its modelUpdated stream through two expiries of a 2 s token, without an error reaching the app', async ({ expect }) => {
    const sub = await athleteWithModel();
    let tokensFetched = 0;
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      // As docs/api.md shows it: asked again on every (re)connection. The default retryAttempts (5) and shouldRetry apply.
      connectionParams: async () => {
        tokensFetched++;
        return { authorization: `Bearer ${await tokens.sign({ sub, role: 'athlete' }, 2)}` };
      },
    });
    const closes: { code: number; reason: string }[] = [];
    let connections = 0;
    client.on('closed', (event) => {
      const { code, reason } = event as WebSocket.CloseEvent;
      closes.push({ code, reason });
    });
    client.on('connected', () => connections++);
    // Events per connection: the app sees one stream; the index says which socket carried each event.
    const eventsByConnection: number[] = [];
    const failures: unknown[] = [];
    let completed = false;
    const poke = setInterval(() => void server.services.pubsub.publish('modelUpdated', sub, { userId: sub }), 200);
    const dispose = client.subscribe<ModelUpdated>(
      { query: MODEL_UPDATED },
      {
        next: (value) => {
          if (value.errors) failures.push(value.errors);
          else if (value.data?.modelUpdated.user.id === sub) eventsByConnection[connections - 1] = (eventsByConnection[connections - 1] ?? 0) + 1;
        },
        error: (err) => failures.push(err),
        complete: () => (completed = true),
      },
    );
    try {
      await waitFor('three connections, each delivering events', () => connections >= 3 && (eventsByConnection[2] ?? 0) > 0, 30_000);
      expect(failures).toEqual([]);
      expect(completed).toBe(false);
      expect(closes.length).toBeGreaterThanOrEqual(2);
      expect(closes.every((c) => c.code === 4440 && c.reason === 'Token expired: reconnect with a fresh token')).toBe(true);
      expect(tokensFetched).toBeGreaterThanOrEqual(3);
      expect(eventsByConnection.slice(0, 3).every((n) => n > 0)).toBe(true);
    } finally {
      clearInterval(poke);
      dispose();
      await client.dispose();
    }
  }, 40_000);

  it.concurrent('a token already expired at connect closes with 4440 too; a client that cannot refresh it gets that error once its retries are spent', async ({ expect }) => {
    const stale = await tokens.sign({ sub: randomUUID(), role: 'athlete' }, 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const client = createClient({
      url: server.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${stale}` },
      retryAttempts: 2,
      retryWait: () => new Promise((resolve) => setTimeout(resolve, 100)),
    });
    const closes: number[] = [];
    client.on('closed', (event) => closes.push((event as WebSocket.CloseEvent).code));
    try {
      const error = await new Promise<unknown>((resolve) => client.subscribe({ query: MODEL_UPDATED }, { next: () => undefined, error: resolve, complete: () => resolve(null) }));
      expect(error).toMatchObject({ code: 4440, reason: 'Token expired: reconnect with a fresh token' });
      expect(closes).toEqual([4440, 4440, 4440]);
    } finally {
      await client.dispose();
    }
  });
});
