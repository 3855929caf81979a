// What one stored recommendation costs inside the database (issue 19): the recommendation writer's statement
// (INSERT_RECOMMENDATIONS_SQL, rows as a jsonb parameter in binary form, ROWS_PER_INSERT a statement) run against
// copies of the `recommendations` table that differ in one thing each (an index dropped, the GIN's fastupdate, the
// jsonb columns' storage or compression), taking turns in rounds, so the table sizes and the machine's load fall on
// every variant alike. Per variant: the database's CPU µs per row (PostgreSQL: the backend process's, from
// /proc/<pid>/schedstat; embedded PGlite: this thread's, PGlite running on it as its statement's only work), the WAL
// bytes a row, and the statement's wall time a row.
//
//   npx tsx scripts/bench-row-db.ts [--postgres postgresql://postgres@127.0.0.1:55432/postgres] [--rows 2000]
//       [--rounds 4] [--batch 200] [--variants as-is,no-gin,batch-25,toast-target-3000+lz4,...] [--pglite-dir <dir>]
//
// A variant: a name of VARIANTS below, `toast-target-<bytes>`, `batch-<rows a statement>`, or several joined by '+'
// (`toast-target-3000+lz4`); `parse-only` runs only the parameter's unpacking. `as-is` is the table as migrated.
// The rows: engine-made rows (scripts/lib/writer-rows.ts) stored once through the real writer, their JSON taken from
// its statements as it sent them, and inserted again under new ids: the writer's bytes. Before the rounds it prints what a stored row occupies
// (pg_column_size of each jsonb column and of the whole row) and whether any of it went to the TOAST table.
// Embedded PGlite runs on this thread (not on a thread of its own as the server's), in memory unless --pglite-dir.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { openMigratedDatabase } from '../src/db/migrate-child.ts';
import { JSONB_BINARY_VERSION } from '../src/db/jsonb-param.ts';
import type { SqlRunner } from '../src/db/sql.ts';
import { INSERT_RECOMMENDATIONS_SQL, RecommendationWriter } from '../src/resolvers/recommendation-store.ts';
import { createDatabase, dropDatabase } from './lib/benchmarking.ts';
import { answer, checkIns } from './lib/writer-rows.ts';

const { values: args } = parseArgs({
  options: {
    postgres: { type: 'string' },
    rows: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '4' },
    batch: { type: 'string', default: '200' },
    variants: { type: 'string' },
    'pglite-dir': { type: 'string', default: 'memory://' },
  },
});

const JSONB_COLUMNS = ['checkIn', 'constraints', 'warnings', 'contributions', 'suggestions', 'statisticalContext'];
/** Each variant: the DDL that makes its table differ from `recommendations` (run on a copy named by the variant). */
const VARIANTS: Record<string, (t: string) => string[]> = {
  'as-is': () => [],
  // PostgreSQL's default toast_tuple_target (the table before migration 20261206235500).
  'default-toast-target': (t) => [`ALTER TABLE "${t}" RESET (toast_tuple_target)`],
  'no-gin': (t) => [`DROP INDEX "${t}_matchedRules_idx"`],
  'gin-no-fastupdate': (t) => [`ALTER INDEX "${t}_matchedRules_idx" SET (fastupdate = off)`],
  'no-createdAt-index': (t) => [`DROP INDEX "${t}_createdAt_idx"`],
  'no-user-index': (t) => [`DROP INDEX "${t}_userId_createdAt_idx"`],
  'no-secondary-indexes': (t) => [`DROP INDEX "${t}_matchedRules_idx"`, `DROP INDEX "${t}_createdAt_idx"`, `DROP INDEX "${t}_userId_createdAt_idx"`],
  // Rows under 8,160 bytes are neither compressed nor moved out of line.
  uncompressed: (t) => [`ALTER TABLE "${t}" SET (toast_tuple_target = 8160)`, ...JSONB_COLUMNS.map((c) => `ALTER TABLE "${t}" ALTER COLUMN "${c}" SET STORAGE EXTERNAL`)],
  lz4: (t) => JSONB_COLUMNS.map((c) => `ALTER TABLE "${t}" ALTER COLUMN "${c}" SET COMPRESSION lz4`),
  pglz: (t) => JSONB_COLUMNS.map((c) => `ALTER TABLE "${t}" ALTER COLUMN "${c}" SET COMPRESSION pglz`),
  'no-foreign-keys': () => [],
  // The rows' parameter as json (validated on input, parsed by json_to_recordset) instead of jsonb.
  'json-param': () => [],
};
/** The DDL of a variant: one of VARIANTS, `toast-target-<bytes>` (the table's toast_tuple_target), or several joined by '+'. */
function variantDdl(name: string, table: string): string[] {
  return name.split('+').flatMap((part) => {
    if (/^batch-\d+$/.test(part)) return []; // the variant's rows a statement (variantBatch)
    if (part === WAL_INIT_ZERO_OFF) return []; // a setting of the session while the variant's rows are written
    const target = /^toast-target-(\d+)$/.exec(part)?.[1];
    if (target) return [`ALTER TABLE "${table}" SET (toast_tuple_target = ${target})`];
    const ddl = VARIANTS[part];
    if (!ddl) throw new Error(`unknown variant ${part} (${Object.keys(VARIANTS).join(', ')}, toast-target-<bytes>, ${PARSE_ONLY})`);
    return ddl(table);
  });
}
/** A variant part: new WAL segment files not filled with zeros (wal_init_zero = off) while its rows are written. */
const WAL_INIT_ZERO_OFF = 'wal-init-zero-off';
/** A variant's rows a statement: its `batch-<n>` part, or --batch. */
const variantBatch = (name: string) => Number(/(?:^|\+)batch-(\d+)/.exec(name)?.[1] ?? args.batch);
/** Not a stored row: the statement's parameter parsed and unpacked (jsonb_to_recordset), nothing inserted. */
const PARSE_ONLY = 'parse-only';

const rowsPerRound = Number(args.rows);
const rounds = Number(args.rounds);
const variantNames = (args.variants ?? 'as-is,no-gin,gin-no-fastupdate,no-createdAt-index,uncompressed,parse-only').split(',');
for (const v of variantNames) if (v !== PARSE_ONLY) variantDdl(v, 'check');

/** CPU time (µs) of the process that runs the statements: PGlite's (this thread) or the PostgreSQL backend's. */
function cpuClock(backendPid: number | null): () => number {
  if (backendPid === null) {
    const thread = (process as NodeJS.Process & { threadCpuUsage?(): NodeJS.CpuUsage }).threadCpuUsage;
    if (!thread)
      return () => {
        const u = process.cpuUsage();
        return u.user + u.system;
      };
    return () => {
      const u = thread.call(process);
      return u.user + u.system;
    };
  }
  // schedstat's first field: the nanoseconds the task has run on a CPU.
  return () => Number(readFileSync(`/proc/${backendPid}/schedstat`, 'utf8').split(' ')[0]) / 1000;
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const url = args.postgres ? await createDatabase(args.postgres) : null;
  const { db } = await openMigratedDatabase({ url, pgliteDir: args['pglite-dir'] as string, pgliteThread: false, poolMax: 1 });
  try {
    const sql = db.sql;
    const [{ pid }] = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const cpu = cpuClock(db.kind === 'postgres' ? pid : null);
    // The rows, stored once by the real writer (their comparison sets and history summary with them).
    const userId = randomUUID();
    await sql.execute(`INSERT INTO "users" ("id", "role") VALUES ($1, 'ATHLETE')`, [userId]);
    // The writer's own rows' JSON, as its statements carried them (the second parameter: jsonb's binary form).
    const sent: Record<string, unknown>[] = [];
    const recording: SqlRunner = {
      query: (text, params) => sql.query(text, params),
      execute: (text, params = []) => {
        const rows = params[1];
        if (rows instanceof Uint8Array) sent.push(...(JSON.parse(Buffer.from(rows.subarray(1)).toString()) as Record<string, unknown>[]));
        return sql.execute(text, params);
      },
    };
    const writer = new RecommendationWriter(recording, { log: console.log, sessionFunction: db.kind === 'pglite' });
    const fittedAt = new Date();
    for (let i = 0; i < 400; i++) writer.enqueue(answer(userId, checkIns[i % checkIns.length], fittedAt));
    await writer.close();
    const sizes = await sql.query<Record<string, number | string>>(
      `SELECT count(*)::int AS rows, avg(pg_column_size(r.*))::int AS "row", ${JSONB_COLUMNS.map((c) => `avg(pg_column_size(r."${c}"))::int AS "${c}", avg(octet_length(r."${c}"::text))::int AS "${c} as text"`).join(', ')},
         avg(octet_length(row_to_json(r)::text))::int AS "row_to_json bytes",
         (SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'recommendations') AS "toast table bytes",
         pg_relation_size('recommendations') AS "heap bytes"
       FROM "recommendations" r`,
    );
    const compression = await sql.query<{ attname: string; c: string }>(
      `SELECT attname, attcompression::text AS c FROM pg_attribute WHERE attrelid = 'recommendations'::regclass AND atttypid = 'jsonb'::regtype`,
    );
    const [{ reloptions }] = await sql.query<{ reloptions: string[] | null }>(`SELECT reloptions FROM pg_class WHERE relname = 'recommendations'`);
    console.log(`[bench-row-db] recommendations as migrated: ${JSON.stringify(reloptions)}, jsonb columns' compression ${compression.map((x) => `${x.attname} ${x.c || 'default'}`).join(', ')}`);
    console.log(`[bench-row-db] ${db.kind}: a stored row (bytes, averages over the writer's rows; a column's pg_column_size is as stored, compressed or not):`, JSON.stringify(sizes[0]));
    const templates = sent;
    console.log(`[bench-row-db] the writer's JSON: ${(Buffer.byteLength(JSON.stringify(sent)) / sent.length).toFixed(0)} bytes a row`);

    // One copy of the table per variant (its indexes, defaults, storage and constraints; the foreign keys added).
    const tables: { name: string; table: string; statement: string }[] = [];
    for (const [k, name] of variantNames.entries()) {
      const table = `rec_v${k}`;
      let statement: string;
      if (name === PARSE_ONLY) {
        const columns = /AS r\((.*)\)$/s.exec(INSERT_RECOMMENDATIONS_SQL)?.[1];
        statement = `SELECT count(*) FROM jsonb_to_recordset($2::jsonb) AS r(${columns}) WHERE $1::jsonb IS NOT NULL AND $3::jsonb IS NOT NULL`;
      } else {
        await sql.execute(`CREATE TABLE "${table}" (LIKE "recommendations" INCLUDING ALL)`);
        // LIKE copies the columns' storage and compression, not the table's storage parameters (toast_tuple_target).
        const [{ reloptions }] = await sql.query<{ reloptions: string[] | null }>(`SELECT reloptions FROM pg_class WHERE relname = 'recommendations'`);
        if (reloptions?.length) await sql.execute(`ALTER TABLE "${table}" SET (${reloptions.join(', ')})`);
        // LIKE names the copies' indexes after the table and columns: <table>_userId_createdAt_idx, <table>_createdAt_idx, <table>_matchedRules_idx.
        if (!name.split('+').includes('no-foreign-keys')) {
          await sql.execute(`ALTER TABLE "${table}" ADD FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE`);
          await sql.execute(`ALTER TABLE "${table}" ADD FOREIGN KEY ("coefficientComparisonsId") REFERENCES "coefficient_comparison_sets"("id") ON DELETE RESTRICT ON UPDATE CASCADE`);
          await sql.execute(`ALTER TABLE "${table}" ADD FOREIGN KEY ("personalHistoryId") REFERENCES "history_summaries"("id") ON DELETE RESTRICT ON UPDATE CASCADE`);
        }
        for (const ddl of variantDdl(name, table)) await sql.execute(ddl);
        statement = INSERT_RECOMMENDATIONS_SQL.replace('INSERT INTO "recommendations"', `INSERT INTO "${table}"`);
        if (name.split('+').includes('json-param')) statement = statement.replace('jsonb_to_recordset($2::jsonb)', 'json_to_recordset($2::json)');
      }
      if (db.kind === 'pglite') {
        // As the writer does on PGlite: the statement in a function of the session, planned once.
        const fn = `pg_temp.bench_store_${k}`;
        const rowsType = name.split('+').includes('json-param') ? 'json' : 'jsonb';
        const body = statement.replace('$1::jsonb', 'p_sets').replace(`$2::${rowsType}`, 'p_rows').replace('$3::jsonb', 'p_summaries');
        await sql.execute(
          `CREATE FUNCTION ${fn}(p_sets jsonb, p_rows ${rowsType}, p_summaries jsonb) RETURNS void LANGUAGE plpgsql AS $f$ BEGIN ${name === PARSE_ONLY ? `PERFORM ${body.slice('SELECT '.length)}` : body}; END $f$`,
        );
        statement = `SELECT ${fn}($1::jsonb, $2::${rowsType}, $3::jsonb)`;
      }
      tables.push({ name, table, statement });
    }

    /** A statement's rows as the writer sends them: jsonb's binary form of a JSON array, each row under a new id. */
    let next = 0;
    const parameter = (n: number) => {
      const rows: string[] = [];
      for (let i = 0; i < n; i++) rows.push(JSON.stringify({ ...templates[next++ % templates.length], id: randomUUID() }));
      const text = Buffer.from(`[${rows.join(',')}]`);
      return Buffer.concat([Buffer.from([JSONB_BINARY_VERSION]), text]);
    };
    const walLsn = async () => (await sql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0].lsn;
    const walBytes = async (from: string) => Number((await sql.query<{ d: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1)::text AS d', [from]))[0].d);

    const results = tables.map(() => ({ cpu: [] as number[], wall: [] as number[], wal: [] as number[] }));
    for (let round = 0; round <= rounds; round++) {
      const order = tables.map((_, i) => i);
      if (round % 2) order.reverse();
      for (const i of order) {
        const batch = variantBatch(tables[i].name);
        const statements = Math.ceil(rowsPerRound / batch);
        const params = Array.from({ length: statements }, () => parameter(batch)); // made before the clock starts
        const walInitZeroOff = tables[i].name.split('+').includes(WAL_INIT_ZERO_OFF);
        if (walInitZeroOff) await sql.execute('SET wal_init_zero = off');
        const lsn = await walLsn();
        const c0 = cpu();
        const p0 = process.cpuUsage();
        const t0 = performance.now();
        // json's binary form is its text (no version byte).
        const json = tables[i].name.split('+').includes('json-param');
        for (const p of params) await sql.execute(tables[i].statement, ['[]', json ? (db.kind === 'pglite' ? p.subarray(1).toString() : p.subarray(1)) : p, '[]']);
        const wall = performance.now() - t0;
        const c1 = cpu();
        const p1 = process.cpuUsage(p0);
        const wal = await walBytes(lsn);
        if (walInitZeroOff) await sql.execute('RESET wal_init_zero');
        const rows = statements * batch;
        if (round === 0) continue; // warm-up: plans, caches, the tables' first pages
        results[i].cpu.push((c1 - c0) / rows);
        results[i].wall.push((1000 * wall) / rows);
        results[i].wal.push(wal / rows);
        console.log(
          `[bench-row-db] round ${round} ${tables[i].name}: ${((c1 - c0) / rows).toFixed(1)} µs of the database's CPU a row, ${((1000 * wall) / rows).toFixed(1)} µs wall, ${(wal / rows).toFixed(0)} WAL bytes a row (this process: ${((p1.user + p1.system) / rows).toFixed(1)} µs a row)`,
        );
      }
    }
    for (const [i, t] of tables.entries()) {
      const r = results[i];
      console.log(
        `[bench-row-db] ${db.kind} ${t.name} (${variantBatch(t.name)} rows a statement): medians of ${rounds} rounds of ${rowsPerRound} rows: ${median(r.cpu).toFixed(1)} µs CPU a row (${r.cpu.map((x) => x.toFixed(1)).join(', ')}), ${median(r.wall).toFixed(1)} µs wall, ${median(r.wal).toFixed(0)} WAL bytes`,
      );
    }
    for (const t of tables) {
      if (t.name === PARSE_ONLY) continue;
      const [s] = await sql.query<Record<string, string>>(
        `SELECT pg_relation_size('"${t.table}"')::text AS heap, (SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = '${t.table}')::text AS toast, pg_indexes_size('"${t.table}"')::text AS indexes, avg(pg_column_size(r.*))::int::text AS "row" FROM "${t.table}" r`,
      );
      console.log(`[bench-row-db] ${t.name}: heap ${s.heap} bytes, TOAST ${s.toast}, indexes ${s.indexes}, a row ${s.row} bytes`);
    }
  } finally {
    await db.close();
    if (url && args.postgres) await dropDatabase(args.postgres, url);
  }
}

await main();
