// The embedded database on a thread of its own (src/db/pglite-thread.ts, PGLITE_THREAD): a statement PGlite is busy
// with no longer holds up the API's thread, and what the database says reaches Prisma as before (its error codes,
// transactions and their rollback). PGlite only: a PostgreSQL server is always another process.
import { mkdtempSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import workerThreads from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgArrayWriter } from '../../src/db/pg-arrays.ts';
import { openPgliteThread, PGLITE_THREAD_NAME, reopenDelayMs } from '../../src/db/pglite-thread.ts';
import { Prisma } from '../../src/generated/prisma/client.ts';
import { gqlOk } from '../support/client.ts';
import { migratedPgliteDir, startTestServer, tokenFor, usingPostgres, type TestServer } from '../support/server.ts';

/** Every PGlite thread started until restore() (worker_threads' Worker wrapped meanwhile). */
function capturePgliteThreads(): { threads: workerThreads.Worker[]; restore(): void } {
  const Original = workerThreads.Worker;
  const threads: workerThreads.Worker[] = [];
  workerThreads.Worker = class extends Original {
    constructor(...params: ConstructorParameters<typeof Original>) {
      super(...params);
      if (params[1]?.name === PGLITE_THREAD_NAME) threads.push(this);
    }
  };
  syncBuiltinESMExports();
  return {
    threads,
    restore() {
      workerThreads.Worker = Original;
      syncBuiltinESMExports();
    },
  };
}

/** Starts a server on a PGlite directory and keeps its PGlite thread. */
async function serverWithItsThread(dir: string): Promise<{ server: TestServer; thread: workerThreads.Worker }> {
  const capture = capturePgliteThreads();
  try {
    const server = await startTestServer({ pgliteDir: dir });
    const thread = capture.threads.at(-1);
    if (!thread) throw new Error('no PGlite thread started');
    return { server, thread };
  } finally {
    capture.restore();
  }
}

/** Which ends first: a 2-second statement in the database, or a request to the API sent just after it. */
async function slowStatementAgainstRequest(server: TestServer): Promise<string[]> {
  const order: string[] = [];
  const slow = server.db.sql.query('SELECT pg_sleep(2)').then(() => order.push('database'));
  // Sent once PGlite has the statement (its thread, or this one, is then busy with it).
  await new Promise((resolve) => setTimeout(resolve, 100));
  const health = fetch(new URL('/health', server.url)).then(async (res) => {
    expect(res.status).toBe(200);
    order.push('request');
  });
  await Promise.all([slow, health]);
  return order;
}

describe.skipIf(usingPostgres)('PGlite on its own thread', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it('answers a request while the database runs a long statement', async () => {
    expect(await slowStatementAgainstRequest(server)).toEqual(['request', 'database']);
  });

  it("passes the database's errors to Prisma with their codes, and runs interactive transactions to commit or rollback", async () => {
    const { token, id } = await tokenFor('athlete');
    await gqlOk(server.url, '{ me { id } }', {}, token);
    const prisma = server.db.prisma;
    const duplicate = await prisma.user.create({ data: { id, role: 'ATHLETE' } }).catch((err: unknown) => err);
    expect(duplicate).toBeInstanceOf(Prisma.PrismaClientKnownRequestError);
    expect((duplicate as Prisma.PrismaClientKnownRequestError).code).toBe('P2002');

    const other = crypto.randomUUID();
    const failed = await prisma
      .$transaction(async (tx) => {
        await tx.user.create({ data: { id: other, role: 'ATHLETE' } });
        expect(await tx.user.count({ where: { id: other } })).toBe(1);
        throw new Error('changed my mind');
      })
      .catch((err: Error) => err.message);
    expect(failed).toBe('changed my mind');
    expect(await prisma.user.count({ where: { id: other } })).toBe(0);

    await prisma.$transaction(async (tx) => tx.user.create({ data: { id: other, role: 'COACH' } }), { isolationLevel: 'Serializable' });
    expect((await prisma.user.findUniqueOrThrow({ where: { id: other } })).role).toBe('COACH');
    // The answer of the API reads the same database.
    const { token: coachToken } = await tokenFor('coach', other);
    expect((await gqlOk<{ me: { id: string } }>(server.url, '{ me { id } }', {}, coachToken)).me.id).toBe(other);
  });

  it("runs a statement of binary parameters (the recommendation writer's) after an open transaction, not inside it; sent again with the same parameters, it fails with its SQLSTATE", async () => {
    const { sql, prisma } = server.db;
    if (!sql.executeBinary) throw new Error("PGlite's thread has no executeBinary");
    const id = crypto.randomUUID();
    const ids = new PgArrayWriter('uuid');
    ids.uuid(id);
    const params = [ids.bytes()];
    const insert = `INSERT INTO "users" ("id", "role") SELECT u, 'ATHLETE' FROM unnest($1::uuid[]) AS u`;
    const order: string[] = [];
    let sent: Promise<number> | null = null;
    const rolledBack = await prisma
      .$transaction(async (tx) => {
        await tx.user.create({ data: { id: crypto.randomUUID(), role: 'ATHLETE' } });
        sent = sql.executeBinary!(insert, params).then((rows) => {
          order.push('statement');
          return rows;
        });
        await new Promise((resolve) => setTimeout(resolve, 200));
        order.push('transaction');
        throw new Error('rolled back');
      })
      .catch((err: Error) => err.message);
    expect(rolledBack).toBe('rolled back');
    // Run once the transaction had ended: its row is not rolled back with it.
    expect(await sent).toBe(1);
    expect(order).toEqual(['transaction', 'statement']);
    expect(await prisma.user.count({ where: { id } })).toBe(1);
    // The same parameters again (the writer's statement sent again after a reopen): the duplicate's SQLSTATE reaches the caller.
    const again = await sql.executeBinary(insert, params).catch((err: unknown) => err);
    expect(again).toBeInstanceOf(Error);
    expect((again as { code?: string }).code).toBe('23505');
    expect(await prisma.user.count({ where: { id } })).toBe(1);
  });

  it('a thread that ends is reopened on its directory: the statement running then and an open transaction fail, what is sent meanwhile waits and runs', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-thread-'));
    const { server: onDir, thread } = await serverWithItsThread(path.join(tmp, 'pglite'));
    try {
      const prisma = onDir.db.prisma;
      const kept = crypto.randomUUID();
      await prisma.user.create({ data: { id: kept, role: 'ATHLETE' } });
      // A transaction open at the end (its insert not committed), and a statement running then.
      const rolledBack = crypto.randomUUID();
      let proceed!: () => void;
      const resumed = new Promise<void>((resolve) => {
        proceed = resolve;
      });
      let inserted!: () => void;
      const insertedInTransaction = new Promise<void>((resolve) => {
        inserted = resolve;
      });
      const transaction = prisma
        .$transaction(async (tx) => {
          await tx.user.create({ data: { id: rolledBack, role: 'ATHLETE' } });
          inserted();
          await resumed;
          return tx.user.count();
        })
        .then(
          () => 'committed',
          (err: Error) => err.message,
        );
      await insertedInTransaction;
      const running = onDir.db.sql.query('SELECT pg_sleep(30)').then(
        () => null,
        (err: Error) => err,
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      await thread.terminate();
      const runningError = await running;
      expect(runningError?.name).toBe('SessionEndedError');
      expect(runningError?.message).toMatch(/^The embedded database's thread ended \(exit code 1\)/);
      expect(onDir.db.thread?.state().state).toBe('reopening');
      const ready = await fetch(new URL('/ready', onDir.url));
      expect(ready.status).toBe(503);
      expect(JSON.stringify(await ready.json())).toMatch(/embedded PGlite: its thread ended [\d.]+ s ago \(exit code 1\); reopening, attempt 1 of 3/);
      // Sent while the thread is reopened: waits for it, then runs there.
      const sentMeanwhile = prisma.user.count({ where: { id: { in: [kept, rolledBack] } } });
      proceed();
      expect(await transaction).toMatch(/The embedded database's thread ended/);
      expect(await sentMeanwhile).toBe(1);
      expect(onDir.db.thread?.state().state).toBe('open');
      expect(await prisma.user.findUnique({ where: { id: rolledBack } })).toBeNull();
      expect((await fetch(new URL('/ready', onDir.url))).status).toBe(200);
    } finally {
      await onDir.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('a stop while it waits before the next reopen attempt ends the wait at once (the waits grow to 8 s)', async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-thread-'));
    const { threads, restore } = capturePgliteThreads();
    const logs: string[] = [];
    try {
      const dir = await migratedPgliteDir(path.join(tmp, 'pglite'));
      const database = await openPgliteThread({ dir, extraStartParams: [] }, (m) => logs.push(m), 5);
      // Ended again each time within a minute of its reopen, the series goes on: attempts 1-3 wait 0, 0.5 and 1 s.
      for (let attempt = 1; attempt <= 3; attempt++) {
        await threads.at(-1)!.terminate();
        while (database.state().state !== 'open') await new Promise((resolve) => setTimeout(resolve, 20));
        expect(await database.sql.query<{ one: number }>('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      }
      // Attempt 4 waits 2 s first: the stop comes during that wait.
      await threads.at(-1)!.terminate();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(database.state()).toMatchObject({ state: 'reopening', attempt: 4 });
      const stopping = performance.now();
      await database.close();
      expect(performance.now() - stopping).toBeLessThan(reopenDelayMs(4) - 500);
      expect(database.state().state).toBe('closed');
      expect(logs.join('\n')).not.toMatch(/attempt 4 of 5/);
    } finally {
      restore();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("with PGLITE_THREAD=false the database runs on the API's thread, which waits for it", async () => {
    const onMain = await startTestServer({ env: { PGLITE_THREAD: 'false' } });
    try {
      expect(await slowStatementAgainstRequest(onMain)).toEqual(['database', 'request']);
    } finally {
      await onMain.close();
    }
  });
});
