// The embedded database on a thread of its own (src/db/pglite-thread.ts, PGLITE_THREAD): a statement PGlite is busy
// with no longer holds up the API's thread, and what the database says reaches Prisma as before (its error codes,
// transactions and their rollback). PGlite only: a PostgreSQL server is always another process.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Prisma } from '../../src/generated/prisma/client.ts';
import { gqlOk } from '../support/client.ts';
import { startTestServer, tokenFor, usingPostgres, type TestServer } from '../support/server.ts';

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

  it("with PGLITE_THREAD=false the database runs on the API's thread, which waits for it", async () => {
    const onMain = await startTestServer({ env: { PGLITE_THREAD: 'false' } });
    try {
      expect(await slowStatementAgainstRequest(onMain)).toEqual(['database', 'request']);
    } finally {
      await onMain.close();
    }
  });
});
