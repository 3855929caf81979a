// A jsonb parameter given as bytes in jsonb's binary format (src/db/jsonb-param.ts: the nightly fit's chunks of
// models) stores the same value as the same JSON given as text, through each route the nightly write takes: Prisma's
// transaction on the API's database (an embedded PGlite: its thread), PGlite's query API, and a connection of its own
// on a PostgreSQL server (the fit's worker).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsonbBytes } from '../../src/db/jsonb-param.ts';
import { connectSql, prismaSql, type SqlRunner } from '../../src/db/sql.ts';
import { startTestServer, usingPostgres, type TestServer } from '../support/server.ts';

// Numbers as JSON.stringify prints them (the shortest that reads back exactly), text outside ASCII, nesting.
const JSON_TEXT = JSON.stringify([{ a: 0.1 + 0.2, b: -1.7976931348623157e308, c: 5e-324, d: [1, 2.5, null], e: 'Ü 🧗 "q"', f: { g: true } }]);
const SQL = 'SELECT $1::jsonb::text AS stored, jsonb_typeof($1::jsonb) AS kind';

async function bothWays(sql: SqlRunner): Promise<{ text: unknown; bytes: unknown }> {
  const [text] = await sql.query(SQL, [JSON_TEXT]);
  const [bytes] = await sql.query(SQL, [jsonbBytes(JSON_TEXT)]);
  return { text, bytes };
}

describe('a jsonb parameter as bytes', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });

  it("stores what the same JSON as text stores, in Prisma's transaction and in the database's own query API", async () => {
    const inTransaction = await server.db.prisma.$transaction((tx) => bothWays(prismaSql(tx)));
    expect(inTransaction.bytes).toEqual(inTransaction.text);
    expect(inTransaction.text).toMatchObject({ kind: 'array' });
    expect(JSON.parse((inTransaction.bytes as { stored: string }).stored)).toEqual(JSON.parse(JSON_TEXT));
    const direct = await bothWays(server.db.sql);
    expect(direct.bytes).toEqual(direct.text);
  });

  it.runIf(usingPostgres)("stores the same on a PostgreSQL server's own connection (the fit worker's)", async () => {
    const db = await connectSql(server.db.url!);
    try {
      const { text, bytes } = await db.transaction(() => bothWays(db.sql));
      expect(bytes).toEqual(text);
      expect(JSON.parse((bytes as { stored: string }).stored)).toEqual(JSON.parse(JSON_TEXT));
    } finally {
      await db.close();
    }
  });

  it('is refused with the database error of bad JSON, as the text is', async () => {
    await expect(server.db.sql.query(SQL, [jsonbBytes('[1,')])).rejects.toThrow(/invalid input syntax for type json/);
  });
});
