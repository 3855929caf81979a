// Issue 19 section 4: nothing answered is lost on a graceful stop, and a hard kill loses at most the rows answered
// since the last write that completed (the statement in flight and the rows queued behind it). The real server
// process (`node` on its bundle, as `npm start` runs it: tests/support/processes.ts), on a copy of the run's migrated
// database, is stopped with SIGTERM or SIGKILL; the rows are then counted in its database. On PostgreSQL a second connection holds the table's INSERTs back, so the
// writes are provably still pending when the signal arrives.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.ts';
import { gql } from '../support/client.ts';
import { OPERATOR } from '../support/recommendation.ts';
import { nodeArgs } from '../support/processes.ts';
import { createMigratedTestDatabase, dropTestDatabase, migratedPgliteDir, TEST_JWT_SECRET, tokenFor, usingPostgres } from '../support/server.ts';

interface ServerProcess {
  child: ChildProcess;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `npm start`'s entry in its own process on `env`'s database; resolves once it listens. */
async function startProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, nodeArgs('src/main.ts'), {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', JWT_SECRET: TEST_JWT_SECRET, RATE_LIMIT_RECOMMENDATION: 'off', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let output = '';
  let giveUp: NodeJS.Timeout | undefined;
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /(?:GraphiQL|GraphQL) at (http:\/\/127\.0\.0\.1:\d+\/graphql)/.exec(output);
      if (match) {
        clearTimeout(giveUp);
        resolve(match[1]);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(({ code }) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
    // Never leave the process behind when it does not come up.
    giveUp = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server did not listen within 150 s:\n${output}`));
    }, 150_000).unref();
  });
  return { child, url, exited };
}

const ASK = `query($input: PreSessionInput!) { recommendation(input: $input) { id } }`;
async function answer(url: string, token: string, sleepHours: number): Promise<string> {
  const res = await gql<{ recommendation: { id: string } }>(url, ASK, { input: { ...OPERATOR, sleepHours } }, token);
  expect(res.errors).toBeUndefined();
  return res.data!.recommendation.id;
}

const waitUntil = async (check: () => Promise<boolean>, ms = 10_000) => {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
};

describe.runIf(usingPostgres)('stopping the server while recommendation writes are held back (PostgreSQL)', () => {
  let databaseUrl: string;
  let db: pg.Client;
  beforeAll(async () => {
    databaseUrl = await createMigratedTestDatabase();
    db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
  });
  afterAll(async () => {
    await db?.end();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });

  const storedOf = async (ids: string[]) => (await db.query<{ id: string }>('SELECT id::text FROM recommendations WHERE id = ANY($1::uuid[])', [ids])).rows.map((r) => r.id).sort();
  /** A second connection that blocks INSERTs into recommendations (not reads) until release(). */
  async function holdInserts() {
    const locker = new pg.Client({ connectionString: databaseUrl });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE recommendations IN SHARE MODE');
    return {
      async release() {
        await locker.query('COMMIT');
        await locker.end();
      },
    };
  }

  it('SIGTERM waits for the pending writes, stores every answer, then exits 0', async () => {
    const server = await startProcess({ DATABASE_URL: databaseUrl });
    let held: Awaited<ReturnType<typeof holdInserts>> | null = null;
    try {
      const { token } = await tokenFor('athlete');
      const before = [await answer(server.url, token, 6), await answer(server.url, token, 6.5)];
      await waitUntil(async () => (await storedOf(before)).length === 2);
      held = await holdInserts();
      const pending: string[] = [];
      for (let i = 0; i < 5; i++) pending.push(await answer(server.url, token, 7 + i / 10));
      expect(await storedOf(pending)).toEqual([]); // answered, not yet stored

      server.child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 700));
      expect(server.child.exitCode).toBeNull(); // still draining: the writes are held
      await held.release();
      held = null;
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(await storedOf([...before, ...pending])).toEqual([...before, ...pending].sort());
    } finally {
      await held?.release();
      server.child.kill('SIGKILL');
    }
  }, 180_000);

  it('kill -9 loses at most the rows answered since the last completed write: the statement in flight and the rows queued behind it', async () => {
    const server = await startProcess({ DATABASE_URL: databaseUrl });
    let held: Awaited<ReturnType<typeof holdInserts>> | null = null;
    try {
      const { token } = await tokenFor('athlete');
      const written = [await answer(server.url, token, 6), await answer(server.url, token, 6.5)];
      await waitUntil(async () => (await storedOf(written)).length === 2);
      held = await holdInserts();
      const inFlight = await answer(server.url, token, 7); // its INSERT is sent and waits on the lock
      await new Promise((r) => setTimeout(r, 200));
      const queued: string[] = [];
      for (let i = 0; i < 4; i++) queued.push(await answer(server.url, token, 7.5 + i / 10)); // behind it, not yet sent

      server.child.kill('SIGKILL');
      expect(await server.exited).toEqual({ code: null, signal: 'SIGKILL' });
      await held.release();
      held = null;
      // The statement already sent may still commit (the server finishes it); the queued rows never left the process.
      await new Promise((r) => setTimeout(r, 300));
      const stored = await storedOf([...written, inFlight, ...queued]);
      expect(stored).toEqual(expect.arrayContaining(written));
      for (const id of queued) expect(stored).not.toContain(id);
      expect(stored.length).toBeGreaterThanOrEqual(2);
      expect(stored.length).toBeLessThanOrEqual(3);
    } finally {
      await held?.release();
      server.child.kill('SIGKILL');
    }
  }, 180_000);
});

describe.runIf(!usingPostgres)('stopping the server on an embedded PGlite directory', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-drain-'));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('SIGTERM the moment the last of 60 concurrent answers arrives: every answer is in the directory after exit 0', async () => {
    const pgliteDir = await migratedPgliteDir(path.join(tmp, 'pglite'));
    const server = await startProcess({ PGLITE_DIR: pgliteDir });
    let ids: string[] = [];
    try {
      const athletes = await Promise.all(Array.from({ length: 6 }, () => tokenFor('athlete')));
      await Promise.all(athletes.map((a) => answer(server.url, a.token, 6))); // users created, caches warm
      const warm = 6;
      ids = await Promise.all(Array.from({ length: 60 }, (_, i) => answer(server.url, athletes[i % 6].token, 5 + i / 20)));
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
      const reopened = await openDatabase({ url: null, pgliteDir });
      try {
        const stored = await reopened.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM recommendations WHERE id = ANY($1::uuid[])', [ids]);
        expect(stored[0].n).toBe(60);
        const all = await reopened.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM recommendations');
        expect(all[0].n).toBe(60 + warm);
      } finally {
        await reopened.close();
      }
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 180_000);
});
