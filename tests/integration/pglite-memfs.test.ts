// An in-memory PGlite database's files grown in place (src/db/pglite-memfs.ts): a table that grows well past the
// points where its file is moved (1 MB, then 64 MB) keeps every byte written, read back through small shared buffers
// (so from the files, not from PostgreSQL's buffer pool). PGlite only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPgliteThread, type PgliteThread } from '../../src/db/pglite-thread.ts';
import { usingPostgres } from '../support/server.ts';

describe.skipIf(usingPostgres)('an in-memory PGlite database', () => {
  let thread: PgliteThread;
  beforeAll(async () => {
    thread = await openPgliteThread({ dir: 'memory://', extraStartParams: ['-c', 'shared_buffers=1MB'] });
  });
  afterAll(async () => {
    await thread?.close();
  });

  it('keeps every row of a table grown past 64 MB, read back from its files', async () => {
    await thread.sql.execute('CREATE TABLE grown (id int PRIMARY KEY, pad text NOT NULL)', []);
    // 1,000-character rows (under the TOAST threshold: stored as they are), 10,000 a statement.
    for (let from = 1; from <= 80_000; from += 10_000) {
      await thread.sql.execute(`INSERT INTO grown SELECT i, substr(repeat(md5(i::text), 32), 1, 1000) FROM generate_series($1::int, $1::int + 9999) AS i`, [from]);
    }
    await thread.sql.execute('CHECKPOINT', []);
    const [row] = await thread.sql.query<{ rows: number; bytes: string; intact: boolean; size: string }>(
      `SELECT count(*)::int AS rows, sum(length(pad))::text AS bytes, bool_and(pad = substr(repeat(md5(id::text), 32), 1, 1000)) AS intact,
              pg_relation_size('grown')::text AS size FROM grown`,
      [],
    );
    expect(row).toEqual({ rows: 80_000, bytes: '80000000', intact: true, size: expect.any(String) });
    expect(Number(row.size)).toBeGreaterThan(80 * 2 ** 20);
  }, 120_000);
});
