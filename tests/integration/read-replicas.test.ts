// Read replicas (DATABASE_REPLICA_URLS) on a real PostgreSQL 15 streaming standby of the test server (.ci/run starts
// it with `.ci/pg-server.sh standby` and passes TEST_REPLICA_URL and TEST_REPLICA_DIR): an analyst's aggregate and
// listing are read from the standby (with its WAL replay paused they do not see a new session yet, while the
// athlete's own listing does, from the primary); a replica behind by more than REPLICA_MAX_LAG_SECONDS is skipped;
// when the standby stops, reads fail over to the primary, and they come back to it once it is up again. /ready
// reports each replica's state and lag. Skipped without a standby (PGlite, or a run without TEST_REPLICA_URL).
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ReplicaStatus } from '../../src/db/replicas.ts';
import { COMPLETE_SESSION, gqlOk, startSession } from '../support/foundation.ts';
import { createMigratedTestDatabase, dropTestDatabase, startTestServer, tokenFor, type TestServer } from '../support/server.ts';

const replicaAdminUrl = process.env.TEST_REPLICA_URL;
const replicaDir = process.env.TEST_REPLICA_DIR;
const enabled = !!process.env.TEST_DATABASE_URL && !!replicaAdminUrl && !!replicaDir;
const pgServer = path.resolve(import.meta.dirname, '../../.ci/pg-server.sh');
const run = promisify(execFile);

const HISTOGRAM = 'query { insights { qualityHistogram { quality count } } }';
const ALL_SESSIONS = 'query { sessions(first: 1) { totalCount } }';

describe.skipIf(!enabled)('read replicas on a PostgreSQL streaming standby', () => {
  let databaseUrl: string;
  let replicaUrl: string;
  /** REPLICA_MAX_LAG_SECONDS default (30); `strict` skips a replica as soon as it is behind at all (0). */
  let tolerant: TestServer;
  let strict: TestServer;
  const replicaQueries = { tolerant: 0, strict: 0 };
  /** Statements the tolerant server ran on the primary. */
  let primaryQueries: string[] = [];
  const logs: string[] = [];
  let analyst: string;
  let athlete: string;

  /** Statements run on the standby itself (pause and resume WAL replay). */
  async function onStandby(sql: string): Promise<void> {
    const client = new pg.Client({ connectionString: replicaAdminUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  }

  /**
   * Waits until the standby has replayed everything the primary has committed so far: its WAL insert position (the
   * test server runs with synchronous_commit=off, so a commit may not be written yet; and the replicas' own check
   * counts a standby that has replayed all it received as current, which may be a moment before the newest WAL arrives).
   */
  async function replayedPrimary(): Promise<void> {
    const primary = new pg.Client({ connectionString: databaseUrl });
    await primary.connect();
    const standby = new pg.Client({ connectionString: replicaAdminUrl });
    await standby.connect();
    try {
      const { lsn } = (await primary.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn')).rows[0];
      const deadline = Date.now() + 20_000;
      while (!(await standby.query<{ done: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS done', [lsn])).rows[0].done) {
        if (Date.now() > deadline) throw new Error(`the standby did not replay the primary's WAL up to ${lsn}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await primary.end();
      await standby.end();
    }
  }

  /** Pauses the standby's WAL replay and waits until it has (a pause is first only requested). */
  async function pauseReplay(): Promise<void> {
    const client = new pg.Client({ connectionString: replicaAdminUrl });
    await client.connect();
    try {
      await client.query('SELECT pg_wal_replay_pause()');
      const deadline = Date.now() + 10_000;
      while ((await client.query<{ state: string }>('SELECT pg_get_wal_replay_pause_state() AS state')).rows[0].state !== 'paused') {
        if (Date.now() > deadline) throw new Error('the standby did not pause its WAL replay');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    } finally {
      await client.end();
    }
  }

  /** Re-checks until `done` holds (no sleeping past it: each round is one real check of the standby). */
  async function until(server: TestServer, done: (s: ReplicaStatus) => boolean, what: string): Promise<ReplicaStatus> {
    const deadline = Date.now() + 20_000;
    for (;;) {
      await server.services.replicas!.check();
      const status = server.services.replicas!.status()[0];
      if (done(status)) return status;
      if (Date.now() > deadline) throw new Error(`replica never ${what}: ${JSON.stringify(status)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async function ready(server: TestServer): Promise<{ status: number; body: { status: string; replicas: ReplicaStatus[] } }> {
    const res = await fetch(server.url.replace(/\/graphql$/, '/ready'));
    return { status: res.status, body: await res.json() };
  }

  const rated = async (server: TestServer, token: string) =>
    (await gqlOk<{ insights: { qualityHistogram: { count: number }[] } }>(server.url, HISTOGRAM, {}, token)).insights.qualityHistogram.reduce((n, b) => n + b.count, 0);
  const listed = async (server: TestServer, token: string) => (await gqlOk<{ sessions: { totalCount: number } }>(server.url, ALL_SESSIONS, {}, token)).sessions.totalCount;

  async function completedSession(server: TestServer): Promise<void> {
    const session = await startSession(server.url, athlete, { sleepHours: 7 });
    await gqlOk(server.url, COMPLETE_SESSION, { id: session.id, input: { sessionQuality: 7 } }, athlete);
  }

  beforeAll(async () => {
    databaseUrl = await createMigratedTestDatabase();
    // The standby holds every database of the cluster: the same database name on the replica's server.
    const url = new URL(replicaAdminUrl!);
    url.pathname = new URL(databaseUrl).pathname;
    replicaUrl = url.toString();
    const start = (maxLag: string, counter: keyof typeof replicaQueries) =>
      startTestServer({
        databaseUrl,
        env: { DATABASE_REPLICA_URLS: replicaUrl, REPLICA_MAX_LAG_SECONDS: maxLag, REPLICA_CHECK_INTERVAL_SECONDS: '3600' },
        log: (m) => logs.push(`${counter}: ${m}`),
        onQuery: (sql) => {
          if (sql.startsWith('/* replica */')) replicaQueries[counter]++;
          else if (counter === 'tolerant') primaryQueries.push(sql);
        },
      });
    tolerant = await start('30', 'tolerant');
    strict = await start('0', 'strict');
    analyst = (await tokenFor('analyst')).token;
    athlete = (await tokenFor('athlete')).token;
    await completedSession(tolerant);
    // The standby has replayed the new database and the first session.
    await replayedPrimary();
    await until(tolerant, (s) => s.state === 'up' && s.lagSeconds === 0, 'caught up');
    await until(strict, (s) => s.state === 'up', 'up for the strict server');
  });

  afterAll(async () => {
    if (!enabled) return;
    await onStandby('SELECT pg_wal_replay_resume()').catch(() => {});
    await tolerant?.close();
    await strict?.close();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  it("serves an analyst's aggregate from the standby: with its replay paused a new session is not there yet, while the athlete's own listing has it", async () => {
    // The analyst's first request creates their user (a write, on the primary).
    await gqlOk(tolerant.url, 'query { me { id } }', {}, analyst);
    const before = replicaQueries.tolerant;
    primaryQueries = [];
    expect(await rated(tolerant, analyst)).toBe(1);
    expect(await listed(tolerant, analyst)).toBe(1);
    // Both answered by the standby alone.
    expect(replicaQueries.tolerant).toBeGreaterThan(before);
    expect(primaryQueries).toEqual([]);

    // The strict server's changes from here on (at its start the standby may have been behind the set-up's writes,
    // so the set-up itself may have logged a 'lagging -> up').
    const strictChanges = () =>
      logs
        .slice(logsBefore)
        .filter((l) => l.startsWith('strict:') && /up -> lagging|lagging -> up/.test(l))
        .map((l) => (l.includes('lagging -> up') ? 'up' : 'lagging'));
    const logsBefore = logs.length;
    await pauseReplay();
    await completedSession(tolerant);
    // Read-your-writes: the athlete's own list is read on the primary.
    expect(await listed(tolerant, athlete)).toBe(2);
    // The analyst's aggregate and listing come from the paused standby, within the 30 s lag allowed.
    const lagging = await until(tolerant, (s) => s.lagSeconds !== null, 'measured');
    expect(lagging.state).toBe('up');
    expect(await rated(tolerant, analyst)).toBe(1);
    expect(await listed(tolerant, analyst)).toBe(1);
    // REPLICA_MAX_LAG_SECONDS=0: a standby behind at all is skipped, its reads go to the primary.
    const skipped = await until(strict, (s) => s.state === 'lagging', 'seen lagging');
    expect(skipped.lagSeconds).toBeGreaterThan(0);
    expect(await rated(strict, analyst)).toBe(2);
    const { status, body } = await ready(strict);
    expect(status).toBe(200);
    expect(body.replicas).toEqual([expect.objectContaining({ name: `127.0.0.1:${new URL(replicaUrl).port}${new URL(replicaUrl).pathname}`, state: 'lagging' })]);
    // Checked again while still behind: the change was logged once.
    await strict.services.replicas!.check();
    expect(strictChanges()).toEqual(['lagging']);

    await onStandby('SELECT pg_wal_replay_resume()');
    await replayedPrimary();
    await until(tolerant, (s) => s.lagSeconds === 0, 'caught up after the resume');
    expect(await rated(tolerant, analyst)).toBe(2);
    await until(strict, (s) => s.state === 'up', 'back for the strict server');
    // Its return was logged. With no lag allowed, a write landing after the resume (the completion's quick update)
    // can put the standby behind for a moment again, so more changes may follow; each one logged is a real change:
    // they alternate, never the same change twice in a row.
    const changes = strictChanges();
    expect(changes[0]).toBe('lagging');
    expect(changes).toContain('up');
    expect(changes.every((c, i) => i === 0 || c !== changes[i - 1])).toBe(true);
  });

  it('fails over to the primary when the standby stops, and reads from it again once it is back', async () => {
    const port = new URL(replicaAdminUrl!).port;
    await run(pgServer, ['stop', replicaDir!, port]);
    try {
      // Before any check has seen it go: the read fails on the standby, runs again on the primary, and the analyst
      // gets the answer, not an error.
      expect(tolerant.services.replicas!.status()[0].state).toBe('up');
      expect(await rated(tolerant, analyst)).toBe(2);
      expect(logs.some((l) => l.startsWith('tolerant:') && l.includes('failed') && l.includes('run again on the primary'))).toBe(true);
      const down = await until(tolerant, (s) => s.state === 'down', 'down');
      expect(down.lagSeconds).toBeNull();
      const { status, body } = await ready(tolerant);
      // The instance stays ready: its reads go to the primary meanwhile.
      expect(status).toBe(200);
      expect(body.replicas[0]).toMatchObject({ state: 'down' });
      await completedSession(tolerant);
      const before = replicaQueries.tolerant;
      expect(await rated(tolerant, analyst)).toBe(3);
      expect(await listed(tolerant, analyst)).toBe(3);
      expect(replicaQueries.tolerant).toBe(before);
      expect(logs.filter((l) => l.startsWith('tolerant:') && l.includes('up -> down'))).toHaveLength(1);
    } finally {
      await run(pgServer, ['restart', replicaDir!, port]);
    }
    await replayedPrimary();
    await until(tolerant, (s) => s.state === 'up' && s.lagSeconds === 0, 'back');
    const before = replicaQueries.tolerant;
    expect(await rated(tolerant, analyst)).toBe(3);
    expect(replicaQueries.tolerant).toBeGreaterThan(before);
    expect((await ready(tolerant)).body.replicas[0]).toMatchObject({ state: 'up', lagSeconds: 0 });
    console.log('LOGS', logs.join('\n'));
    // The comeback is logged, and it is the last change logged. (A standby that is starting again was once seen up,
    // down for one more check and up again in CI: each change is still logged once as it happens.)
    const changes = logs.filter((l) => l.startsWith('tolerant:') && / (up|down|lagging) -> (up|down|lagging) /.test(l));
    expect(changes.at(-1)).toContain('down -> up');
  });
});
