// Statements whose every parameter is in its binary wire format (SqlRunner.executeBinary: the recommendation writer's
// route), on the database the suite runs against: embedded PGlite's thread (message buffers shared with it) or a
// PostgreSQL server's pool (the messages written to a pooled connection by src/db/sql.ts's BinaryExchange).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PgArrayWriter } from '../../src/db/pg-arrays.ts';
import { startTestServer, usingPostgres, type TestServer } from '../support/server.ts';

const INSERT = `INSERT INTO "users" ("id", "role") SELECT u, 'ATHLETE' FROM unnest($1::uuid[]) AS u`;

/** `rows` new athletes' ids, and the statement's parameter: their uuid[] in binary. */
function batch(rows: number): { ids: string[]; params: Uint8Array[] } {
  const ids = Array.from({ length: rows }, () => crypto.randomUUID());
  const writer = new PgArrayWriter('uuid');
  for (const id of ids) writer.uuid(id);
  return { ids, params: [writer.bytes()] };
}

describe('statements of binary parameters', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  const executeBinary = (params: Uint8Array[]) => {
    const { sql } = server.db;
    if (!sql.executeBinary) throw new Error(`the ${server.db.kind} database has no executeBinary`);
    return sql.executeBinary(INSERT, params);
  };
  const stored = (ids: string[]) => server.db.prisma.user.count({ where: { id: { in: ids } } });

  it('sent together, and a larger one after them, each store their own rows and report them', async () => {
    // Three in flight at once (three message buffers or pooled connections), then one larger than any of them (on
    // PGlite a buffer replaced), then a small one.
    const together = [batch(3), batch(50), batch(7)];
    expect(await Promise.all(together.map((b) => executeBinary(b.params)))).toEqual([3, 50, 7]);
    const large = batch(5_000);
    expect(await executeBinary(large.params)).toBe(5_000);
    const small = batch(2);
    expect(await executeBinary(small.params)).toBe(2);
    for (const { ids } of [...together, large, small]) expect(await stored(ids)).toBe(ids.length);
  });

  it("sent again with the same rows, fails with the database's SQLSTATE and stores nothing more; the statements after it run", async () => {
    const first = batch(4);
    expect(await executeBinary(first.params)).toBe(4);
    const again = await executeBinary(first.params).catch((err: unknown) => err);
    expect(again).toBeInstanceOf(Error);
    expect((again as { code?: string }).code).toBe('23505');
    expect(await stored(first.ids)).toBe(4);
    // Several after it, one at a time and together: on PostgreSQL, connections that have the statement prepared and
    // new ones (the failed statement's connection is closed) alike.
    const after = [batch(1), batch(2), batch(3), batch(4)];
    for (const b of after.slice(0, 2)) expect(await executeBinary(b.params)).toBe(b.ids.length);
    expect(await Promise.all(after.slice(2).map((b) => executeBinary(b.params)))).toEqual([3, 4]);
    for (const { ids } of after) expect(await stored(ids)).toBe(ids.length);
  });

  it.runIf(usingPostgres)("runs on the pool's connections whether the pool's own queries prepared the statement first or not", async () => {
    const { sql } = server.db;
    // The same text through the pool's query path (node-postgres' own Parse of the same named statement, on as many
    // connections as run at once), then through executeBinary on those connections: prepared once each, not again.
    const viaQuery = [batch(2), batch(3)];
    expect(await Promise.all(viaQuery.map((b) => sql.execute(INSERT, b.params)))).toEqual([2, 3]);
    const viaBinary = [batch(5), batch(6), batch(7)];
    expect(await Promise.all(viaBinary.map((b) => executeBinary(b.params)))).toEqual([5, 6, 7]);
    for (const b of viaBinary) expect(await executeBinary(batch(b.ids.length).params)).toBe(b.ids.length);
    // And the other way round: a connection that prepared it in executeBinary runs it through the query path.
    const last = batch(8);
    expect(await sql.execute(INSERT, last.params)).toBe(8);
    for (const { ids } of [...viaQuery, ...viaBinary, last]) expect(await stored(ids)).toBe(ids.length);
  });
});
