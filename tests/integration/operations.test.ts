// What an operator's probes and a browser see (docs/operations.md "Health checks"): /health and /ready answer JSON
// saying what they checked, /ready turns 503 naming a migration the database lacks, and GET /graphql from a browser
// without GraphiQL (production) gets a page explaining the endpoint instead of a bare 406.
import { createServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk } from '../support/client.ts';
import { startTestServer, type TestServer, tokenFor } from '../support/server.ts';

let dev: TestServer;
let production: TestServer;
beforeAll(async () => {
  [dev, production] = await Promise.all([startTestServer(), startTestServer({ env: { NODE_ENV: 'production' } })]);
});
afterAll(async () => {
  await Promise.all([dev?.close(), production?.close()]);
});

const at = (server: TestServer, pathname: string) => server.url.replace(/\/graphql$/, pathname);

describe('health checks', () => {
  it('/health is liveness: 200 JSON naming what it checked (the process; on PGlite also its thread)', async () => {
    const res = await fetch(at(dev, '/health'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.headers.get('cache-control')).toBe('private, no-store');
    // PGlite on its own thread: that thread is this process's too (docs/operations.md "When the embedded database's thread ends").
    const thread = dev.db.thread ? { checked: ['process', 'databaseThread'], databaseThread: 'open' } : { checked: ['process'] };
    expect(await res.json()).toEqual({ status: 'ok', ...thread, uptimeSeconds: expect.any(Number) });
  });

  it('/ready: 200 with every check when ready; 503 naming a migration the database has not applied', async () => {
    const res = await fetch(at(dev, '/ready'));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
    expect(body.status).toBe('ready');
    expect(body.checks).toMatchObject({ started: { ok: true }, database: { ok: true }, migrations: { ok: true, detail: 'all applied' } });
    expect(body.checks.database.detail).toBe(dev.db.kind === 'pglite' ? 'embedded PGlite' : 'PostgreSQL');
    expect(body.checks.redis).toBeUndefined(); // REDIS_URL unset: not checked

    const [last] = await dev.db.prisma.$queryRawUnsafe<{ migration_name: string }[]>('SELECT migration_name FROM _prisma_migrations ORDER BY migration_name DESC LIMIT 1');
    await dev.db.prisma.$executeRawUnsafe('UPDATE _prisma_migrations SET rolled_back_at = now() WHERE migration_name = $1', last.migration_name);
    try {
      const notReady = await fetch(at(dev, '/ready'));
      expect(notReady.status).toBe(503);
      const failing = (await notReady.json()) as { status: string; checks: Record<string, { ok: boolean; detail?: string }> };
      expect(failing.status).toBe('not ready');
      expect(failing.checks.migrations).toMatchObject({ ok: false, detail: `pending: ${last.migration_name}` });
      expect(failing.checks.database.ok).toBe(true);
    } finally {
      await dev.db.prisma.$executeRawUnsafe('UPDATE _prisma_migrations SET rolled_back_at = NULL WHERE migration_name = $1', last.migration_name);
    }
    expect((await fetch(at(dev, '/ready'))).status).toBe(200);
  });

  it('only /health itself: another path ending in /health is not a health check', async () => {
    expect((await fetch(at(dev, '/insights/health'))).status).not.toBe(200);
  });
});

describe('GET /graphql from a browser without GraphiQL (production)', () => {
  it('answers a page naming the endpoint and how to call it; JSON clients are unaffected', async () => {
    const page = await fetch(production.url, { headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await page.text();
    expect(html).toContain('POST /graphql');
    expect(html).toContain('GRAPHIQL_ENABLED');
    const json = await fetch(`${production.url}?query=${encodeURIComponent('{ __typename }')}`, { headers: { accept: 'application/json' } });
    expect(await json.json()).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('readiness with Redis', () => {
  it.runIf(!!process.env.TEST_REDIS_URL)('checks Redis when REDIS_URL is set', async () => {
    const server = await startTestServer({ env: { REDIS_URL: process.env.TEST_REDIS_URL! } });
    try {
      const res = await fetch(at(server, '/ready'));
      expect(res.status).toBe(200);
      expect(((await res.json()) as { checks: Record<string, { ok: boolean }> }).checks.redis).toMatchObject({ ok: true });
    } finally {
      await server.close();
    }
  });
});

describe('REDIS_URL set, a Redis that accepts the connection but never answers (stalled, or behind a proxy whose Redis is down)', () => {
  it('stops promptly and without an unhandled rejection: the pub/sub commands still queued fail with a log line', async () => {
    // A TCP server that reads and never answers: ioredis connects, and its commands wait for a ready that never comes.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.resume();
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const logs: string[] = [];
    try {
      const server = await startTestServer({ env: { REDIS_URL: `redis://127.0.0.1:${(silent.address() as AddressInfo).port}` }, log: (m) => logs.push(m) });
      const athlete = await tokenFor('athlete');
      expect(await gqlOk(server.url, '{ me { id } }', undefined, athlete.token)).toEqual({ me: { id: athlete.id } });
      // The stop closes the connections (at once: a QUIT would wait for an answer that never comes), and ioredis
      // rejects the commands it had queued ("Connection is closed.").
      const stopping = Date.now();
      await server.close();
      expect(Date.now() - stopping).toBeLessThan(5_000);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(unhandled).toEqual([]);
      expect(logs).toContainEqual(expect.stringMatching(/^\[PUBSUB\] Redis subscribe connection: SUBSCRIBE failed \(Connection is closed\.\)/));
    } finally {
      process.off('unhandledRejection', onUnhandled);
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('REDIS_URL set, Redis unreachable', () => {
  it('starts, answers an athlete and stops promptly (events to other instances wait for Redis)', async () => {
    // A port nobody listens on: taken, then released.
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as AddressInfo;
        probe.close(() => resolve(port));
      });
    });
    const server = await startTestServer({ env: { REDIS_URL: `redis://127.0.0.1:${port}` } });
    try {
      // ioredis gives up on a command after its reconnection attempts (well within this wait); an unanswered
      // SUBSCRIBE used to reject unhandled and end the process.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      const athlete = await tokenFor('athlete');
      expect(await gqlOk(server.url, '{ me { id } }', undefined, athlete.token)).toEqual({ me: { id: athlete.id } });
    } finally {
      const started = Date.now();
      await server.close();
      expect(Date.now() - started).toBeLessThan(5_000);
    }
  });
});
