// The embedded database's thread ended under a running server (src/db/pglite-thread.ts): the server process (its
// bundle, as `npm start` runs it) on a copy of the run's migrated PGlite directory, its PGlite thread terminated from
// outside the application (tests/support/end-pglite-thread.mjs, preloaded with `node --import`, on SIGUSR2). With
// reopening (the default) the same process serves again: queries, a graphql-ws subscription opened before the end
// and a new stream answer, and what was answered before it is still stored; /health stays 200 meanwhile. With
// PGLITE_REOPEN_ATTEMPTS=0 the process stops with exit code 1 instead, saying why, and the next start serves the
// same data; so it does, within its bound, when every attempt hangs (PGLITE_REOPEN_TIMEOUT_SECONDS). PGlite only: a PostgreSQL server's backends are other processes.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk, wsClient } from '../support/client.ts';
import { type ServerProcess, startServerProcess } from '../support/pglite-processes.ts';
import { OPERATOR, streamWs } from '../support/recommendation.ts';
import { migratedPgliteDir, tokenFor, usingPostgres } from '../support/server.ts';

const PRELOAD = fileURLToPath(new URL('../support/end-pglite-thread.mjs', import.meta.url));

const running = new Set<ChildProcess>();
afterEach(() => {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
});

/** The server on `dir` with the preload, in its own process; resolves once it listens. */
async function startServer(dir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServerProcess(dir, { nodeFlags: ['--import', PRELOAD], env: { RATE_LIMIT_RECOMMENDATION: 'off', ...env } });
  running.add(server.child);
  return server;
}

const CHECK_IN = 'query($input: PreSessionInput!) { recommendation(input: $input) { id } }';
const START = 'mutation($r: ID!) { startSession(input: { recommendationId: $r }) { id } }';
const COMPLETE = 'mutation($id: ID!) { completeSession(id: $id, input: { sessionQuality: 6 }) { id } }';
const SESSIONS = '{ sessions(first: 20) { edges { node { id status } } } }';
type Sessions = { sessions: { edges: { node: { id: string; status: string } }[] } };

/** A check-in answered, acted on (startSession waits for its stored row) and completed: the session's id. */
async function completedSession(url: string, token: string, sleepHours: number): Promise<string> {
  const { recommendation } = await gqlOk<{ recommendation: { id: string } }>(url, CHECK_IN, { input: { ...OPERATOR, sleepHours } }, token);
  const { startSession } = await gqlOk<{ startSession: { id: string } }>(url, START, { r: recommendation.id }, token);
  await gqlOk(url, COMPLETE, { id: startSession.id }, token);
  return startSession.id;
}

async function waitFor(check: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

const health = async (url: string, endpoint: '/health' | '/ready') => {
  const res = await fetch(new URL(endpoint, url));
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe.skipIf(usingPostgres)("the embedded database's thread ends under a running server", () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-reopen-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('is reopened in the same process: queries, an open subscription and a new stream answer again, and what was answered before is stored', async () => {
    const dir = await migratedPgliteDir(path.join(tmp, 'reopen', 'pglite'));
    const server = await startServer(dir);
    const { token } = await tokenFor('athlete');
    const before = await completedSession(server.url, token, 7);
    expect((await health(server.url, '/health')).body).toMatchObject({ status: 'ok', checked: ['process', 'databaseThread'], databaseThread: 'open' });

    // A graphql-ws subscription that stays open across the end: the current model at once, then every update.
    const client = wsClient(server.url.replace(/^http/, 'ws'), token);
    const models: number[] = [];
    const subscriptionErrors: unknown[] = [];
    client.subscribe<{ modelUpdated: { sessionsIncluded: number } }>(
      { query: 'subscription { modelUpdated { sessionsIncluded } }' },
      {
        next: (value) => {
          if (value.errors) subscriptionErrors.push(...value.errors);
          if (value.data) models.push(value.data.modelUpdated.sessionsIncluded);
        },
        error: (err) => subscriptionErrors.push(err),
        complete: () => subscriptionErrors.push('completed'),
      },
    );
    try {
      await waitFor(() => models.length > 0);
      // A check-in answered the moment before the end: its row is queued in the writer, or being written.
      const { recommendation: late } = await gqlOk<{ recommendation: { id: string } }>(server.url, CHECK_IN, { input: { ...OPERATOR, sleepHours: 8 } }, token);
      server.child.kill('SIGUSR2');
      await waitFor(() => server.output().includes("[DB] the embedded database's thread ended"));

      // /health stays 200 while the thread is reopened; /ready answers 200 again once it is open.
      const deadline = Date.now() + 30_000;
      let ready = await health(server.url, '/ready');
      while (ready.status !== 200 && Date.now() < deadline) {
        expect((await health(server.url, '/health')).status).toBe(200);
        await new Promise((r) => setTimeout(r, 100));
        ready = await health(server.url, '/ready');
      }
      expect(ready.status).toBe(200);
      expect(server.output()).toMatch(/\[DB\] the embedded database's thread ended \(exit code 1\): reopening /);
      expect(server.output()).toMatch(/\[DB\] reopening the embedded database, attempt 1 of 3/);
      expect(server.output()).toMatch(/\[DB\] the embedded database is open again in \d+ ms/);
      expect((await health(server.url, '/health')).body).toMatchObject({ status: 'ok', databaseThread: 'open' });

      // What was stored before the end is there, and so is the check-in answered just before it.
      const sessions = await gqlOk<Sessions>(server.url, SESSIONS, {}, token);
      expect(sessions.sessions.edges.map((e) => e.node)).toContainEqual({ id: before, status: 'COMPLETED' });
      const { startSession } = await gqlOk<{ startSession: { id: string } }>(server.url, START, { r: late.id }, token);
      await gqlOk(server.url, COMPLETE, { id: startSession.id }, token);
      // The subscription opened before the end gets the model updated by the session completed after it.
      await waitFor(() => models.includes(2));
      expect(subscriptionErrors).toEqual([]);
      // A new stream answers to its end.
      const stream = await streamWs(server.url.replace(/^http/, 'ws'), token, { ...OPERATOR, sleepHours: 6 });
      expect(stream.errors).toEqual([]);
      expect(stream.events.at(-1)?.type).toBe('DONE');
    } finally {
      await client.dispose();
    }

    server.child.kill('SIGTERM');
    expect(await server.exited, server.output()).toBe(0);
    expect(existsSync(`${dir}.lock`)).toBe(false);
  }, 180_000);

  it('that cannot be reopened stops the process with exit code 1, saying why; the next start serves what was stored', async () => {
    const dir = await migratedPgliteDir(path.join(tmp, 'lost', 'pglite'));
    // Both attempts to reopen it fail (their threads are ended as they start).
    const server = await startServer(dir, { PGLITE_REOPEN_ATTEMPTS: '2', END_PGLITE_THREAD_REOPENS: '2' });
    const { token } = await tokenFor('athlete');
    const before = await completedSession(server.url, token, 7);
    server.child.kill('SIGUSR2');
    // Between the two attempts /ready says the database is being reopened.
    let reopening: Record<string, unknown> | null = null;
    const deadline = Date.now() + 20_000;
    while (reopening === null && server.child.exitCode === null && Date.now() < deadline) {
      const ready = await health(server.url, '/ready').catch(() => null);
      if (ready?.status === 503 && /reopening, attempt \d of 2/.test(JSON.stringify(ready.body))) reopening = ready.body;
      else await new Promise((r) => setTimeout(r, 20));
    }
    expect(reopening).toMatchObject({ status: 'not ready', checks: { database: { ok: false } } });
    expect(await server.exited).toBe(1);
    const output = server.output();
    expect(output).toMatch(/\[DB\] reopening the embedded database failed \(attempt 1 of 2\): .*ended before it opened/);
    expect(output).toMatch(/\[DB\] the embedded database's thread ended \(exit code 1\) and could not be reopened after 2 attempt\(s\)/);
    expect(output).toMatch(/\[API\] stopping with exit code 1 for the supervisor to restart the process: the embedded database is lost/);
    expect(existsSync(`${dir}.lock`)).toBe(false);

    const again = await startServer(dir);
    const sessions = await gqlOk<Sessions>(again.url, SESSIONS, {}, token);
    expect(sessions.sessions.edges.map((e) => e.node)).toContainEqual({ id: before, status: 'COMPLETED' });
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 180_000);

  it('whose reopen hangs: each attempt is ended at PGLITE_REOPEN_TIMEOUT_SECONDS and counted as failed, /ready says at once that it is being reopened, and the process exits 1 within the bound, saying why', async () => {
    const dir = await migratedPgliteDir(path.join(tmp, 'hang', 'pglite'));
    // Both attempts to reopen it hang (their threads never answer), each bounded at 3 s: above /ready's 2 s per check.
    const server = await startServer(dir, { PGLITE_REOPEN_ATTEMPTS: '2', PGLITE_REOPEN_TIMEOUT_SECONDS: '3', HANG_PGLITE_THREAD_REOPENS: '2' });
    const { token } = await tokenFor('athlete');
    await completedSession(server.url, token, 7);
    const ended = Date.now();
    server.child.kill('SIGUSR2');
    await waitFor(() => server.output().includes('[DB] reopening the embedded database, attempt 1 of 2'));
    // Every check that needs the database says it is being reopened, instead of waiting for it.
    const ready = await health(server.url, '/ready');
    expect(ready.status).toBe(503);
    const reopening = { ok: false, detail: expect.stringMatching(/^embedded PGlite: its thread ended [\d.]+ s ago \(exit code 1\); reopening, attempt [12] of 2$/) };
    expect(ready.body).toMatchObject({ status: 'not ready', checks: { database: reopening, migrations: reopening } });
    expect((await health(server.url, '/health')).body).toMatchObject({ status: 'ok', databaseThread: 'reopening' });

    // Two attempts of 3 s and the 0.5 s wait between them, then the stop (at most SHUTDOWN_TIMEOUT_SECONDS, 10 s).
    const bound = 2 * 3_000 + 500 + 10_000;
    const code = await Promise.race([server.exited, new Promise((r) => setTimeout(() => r('still running'), bound + 5_000))]);
    expect(code, server.output()).toBe(1);
    expect(Date.now() - ended).toBeLessThan(bound);
    const output = server.output();
    const timedOut = "The embedded database's thread did not open within 3 s \\(PGLITE_REOPEN_TIMEOUT_SECONDS\\)";
    expect(output).toMatch(new RegExp(`\\[DB\\] reopening the embedded database failed \\(attempt 1 of 2\\): Error: ${timedOut}`));
    expect(output).toMatch(new RegExp(`\\[DB\\] reopening the embedded database failed \\(attempt 2 of 2\\): Error: ${timedOut}`));
    expect(output).toMatch(new RegExp(`could not be reopened after 2 attempt\\(s\\) \\(Error: ${timedOut}\\)`));
    expect(output).toMatch(/\[API\] stopping with exit code 1 for the supervisor to restart the process: the embedded database is lost/);
    expect(existsSync(`${dir}.lock`)).toBe(false);
  }, 180_000);
});
