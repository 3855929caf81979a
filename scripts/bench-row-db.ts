// What one stored recommendation costs inside the database (issue 19): the recommendation writer's statement
// (INSERT_RECOMMENDATIONS_SQL, one binary array parameter a column, ROWS_PER_INSERT a statement) run against
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
// (`toast-target-3000+lz4`); `parse-only` runs only the one-jsonb parameter's unpacking (json-rows). `as-is` is the
// table as migrated.
// The rows: engine-made rows (scripts/lib/writer-rows.ts) stored once through the real writer (their comparison sets
// and history summaries with them), then sent again under new ids in each variant's format. Before the rounds it prints what a stored row occupies
// (pg_column_size of each jsonb column and of the whole row) and whether any of it went to the TOAST table.
// Embedded PGlite runs on this thread (not on a thread of its own as the server's), in memory unless --pglite-dir.
// Wire formats (issue 19, step 80): by default (or `columns`) the rows go as the writer sends them since step 81, one
// binary array parameter per column (StatementColumns); `json-rows` as it sent them before, one jsonb array of row
// objects unpacked by jsonb_to_recordset; `copy-text` as COPY's text format (PostgreSQL: pg-copy-streams, installed
// for the run with `npm install --no-save pg-copy-streams`, on a connection of its own whose backend's CPU is read;
// PostgreSQL only: PGlite's COPY FROM '/dev/blob' measured 200-500 µs a row in the tenth round), `jsonb-columns` makes the copy's json columns jsonb, as they were before step 270 (with `columns`, sent as jsonb[]),
// `direct` sends PGlite the statement itself instead of a session function's call; `columns-parse-only` runs the
// column arrays' unnest and casts alone. `user-foreign-key` checks the rows' athlete by the foreign key (every row: the
// table before step 190) instead of the migrated table's trigger (once per statement); `many-users` draws each row's
// athlete from 5,000 (a real instance's rows; by default every row is one athlete's). After the rounds it prints what building each format costs this thread for
// 200 of the writer's rows.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Submittable } from 'pg';
import { openMigratedDatabase } from '../src/db/migrate-child.ts';
import { JSONB_BINARY_VERSION } from '../src/db/jsonb-param.ts';
import { arrayLiteral } from '../src/db/pg-arrays.ts';
import { COLUMN_WIRES, INSERT_RECOMMENDATIONS_SQL, type RecommendationRow, RecommendationWriter, StatementColumns, storedContext } from '../src/resolvers/recommendation-store.ts';
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

/** The table's JSON columns (COLUMN_WIRES' json ones). */
const JSON_COLUMNS = COLUMN_WIRES.filter(([, wire]) => wire === 'json').map(([column]) => column);
/** The variant of the table before step 270 (its JSON columns as jsonb). */
const JSONB_COLUMNS_VARIANT = 'jsonb-columns';

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
  uncompressed: (t) => [`ALTER TABLE "${t}" SET (toast_tuple_target = 8160)`, ...JSON_COLUMNS.map((c) => `ALTER TABLE "${t}" ALTER COLUMN "${c}" SET STORAGE EXTERNAL`)],
  lz4: (t) => JSON_COLUMNS.map((c) => `ALTER TABLE "${t}" ALTER COLUMN "${c}" SET COMPRESSION lz4`),
  pglz: (t) => JSON_COLUMNS.map((c) => `ALTER TABLE "${t}" ALTER COLUMN "${c}" SET COMPRESSION pglz`),
  // No check of the rows' athlete at all (for the share).
  'no-foreign-keys': () => [],
  // The table before step 190: the athlete checked by the foreign key, every row (the variant's table has no trigger).
  'user-foreign-key': (t) => [`ALTER TABLE "${t}" ADD FOREIGN KEY ("userId") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE`],
  // The stored parts checked by foreign keys too (their rows' coefficient comparison set and history summary): with
  // user-foreign-key, the table before step 144.
  'part-foreign-keys': (t) => [
    `ALTER TABLE "${t}" ADD FOREIGN KEY ("coefficientComparisonsId") REFERENCES "coefficient_comparison_sets"("id") ON DELETE RESTRICT ON UPDATE CASCADE`,
    `ALTER TABLE "${t}" ADD FOREIGN KEY ("personalHistoryId") REFERENCES "history_summaries"("id") ON DELETE RESTRICT ON UPDATE CASCADE`,
  ],
  // The rows' parameter as json (validated on input, parsed by json_to_recordset) instead of jsonb.
  'json-param': () => [],
  // Wire formats of the rows (step 80): one binary array parameter per column, unnest (INSERT_COLUMNS_SQL, the
  // writer's, the default); the rows as one jsonb (the writer's before step 81); COPY in text format (PostgreSQL: pg-copy-streams on a connection of its own; PGlite: COPY FROM '/dev/blob').
  columns: () => [],
  'json-rows': () => [],
  'copy-text': () => [],
  // PGlite: the statement sent as it is (parsed and planned each time), not through a function of the session.
  direct: () => [],
  // The column arrays unnested in FROM (step 81's statement) instead of in the select list (step 83's).
  'from-unnest': () => [],
  // The table before step 270: the six JSON columns as jsonb (parsed into jsonb's binary form on every insert), with
  // `columns` sent as jsonb[] (the writer's arrays converted before the clock starts).
  [JSONB_COLUMNS_VARIANT]: (t) => JSON_COLUMNS.map((c) => `ALTER TABLE "${t}" ALTER COLUMN "${c}" TYPE jsonb`),
};
/** The DDL of a variant: one of VARIANTS, `toast-target-<bytes>` (the table's toast_tuple_target), or several joined by '+'. */
function variantDdl(name: string, table: string): string[] {
  return name.split('+').flatMap((part) => {
    if (/^batch-\d+$/.test(part)) return []; // the variant's rows a statement (variantBatch)
    if (part === MANY_USERS) return []; // the rows' athletes (freshRow)
    if (part === WAL_INIT_ZERO_OFF) return []; // a setting of the session while the variant's rows are written
    const target = /^toast-target-(\d+)$/.exec(part)?.[1];
    if (target) return [`ALTER TABLE "${table}" SET (toast_tuple_target = ${target})`];
    const ddl = VARIANTS[part];
    if (!ddl) throw new Error(`unknown variant ${part} (${Object.keys(VARIANTS).join(', ')}, toast-target-<bytes>, ${PARSE_ONLY})`);
    return ddl(table);
  });
}
/** A variant part: each row's athlete drawn from MANY_USERS athletes (a real instance's rows) instead of the one athlete of every row. */
const MANY_USERS = 'many-users';
const MANY_USERS_COUNT = 5000;
/** A variant part: new WAL segment files not filled with zeros (wal_init_zero = off) while its rows are written. */
const WAL_INIT_ZERO_OFF = 'wal-init-zero-off';
/** A variant's rows a statement: its `batch-<n>` part, or --batch. */
const variantBatch = (name: string) => Number(/(?:^|\+)batch-(\d+)/.exec(name)?.[1] ?? args.batch);
/** Not a stored row: the statement's parameter parsed and unpacked (jsonb_to_recordset), nothing inserted. */
const PARSE_ONLY = 'parse-only';
/** The same for the column arrays: unnest and the casts of INSERT_COLUMNS_SQL's SELECT, nothing inserted. */
const COLUMNS_PARSE_ONLY = 'columns-parse-only';
/** The writer's format before step 81: the rows as one jsonb array of row objects. */
const JSON_ROWS = 'json-rows';
/** The column arrays unnested in FROM (a function scan each: step 81's statement) instead of in the select list. */
const FROM_UNNEST = 'from-unnest';
const COPY_TEXT = 'copy-text';
const has = (name: string, part: string) => name.split('+').includes(part);
/** The statement's format, by the variant's parts: the rows as one jsonb (as the writer sent them before step 81), column arrays, or COPY text. */
const formatOf = (name: string): 'json' | 'columns' | 'copy' => (has(name, COPY_TEXT) ? 'copy' : has(name, JSON_ROWS) || has(name, 'json-param') || name === PARSE_ONLY ? 'json' : 'columns');

/** The writer's statement with one array parameter per column (from step 81). */
const INSERT_COLUMNS_SQL = INSERT_RECOMMENDATIONS_SQL;

/** Each column's SQL type, as jsonb_to_recordset reads it. */
const SQL_TYPES: Record<string, string> = { uuid: 'uuid', timestamp: 'timestamp(3)', float8: 'double precision', int4: 'integer', bool: 'boolean', json: 'json', jsonb: 'jsonb', text: 'text' };
/**
 * The writer's statement before step 81 (kept here to compare): the rows as one jsonb parameter ($2, an array of
 * objects, jsonRow) unpacked by jsonb_to_recordset; $1 and $3 the comparison sets and history summaries.
 */
const INSERT_JSON_ROWS_SQL = `WITH sets AS (
  INSERT INTO "coefficient_comparison_sets" ("id", "comparisons")
  SELECT s."id", s."comparisons" FROM jsonb_to_recordset($1::jsonb) AS s("id" uuid, "comparisons" jsonb)
  ON CONFLICT ("id") DO NOTHING
), summaries AS (
  INSERT INTO "history_summaries" ("id", "summary")
  SELECT h."id", h."summary" FROM jsonb_to_recordset($3::jsonb) AS h("id" uuid, "summary" jsonb)
  ON CONFLICT ("id") DO NOTHING
)
INSERT INTO "recommendations" (${COLUMN_WIRES.map(([c]) => `"${c}"`).join(', ')})
SELECT ${COLUMN_WIRES.map(([c]) => `r."${c}"`).join(', ')}
FROM jsonb_to_recordset($2::jsonb) AS r(${COLUMN_WIRES.map(([c, wire, cast]) => `"${c}" ${cast || SQL_TYPES[wire]}`).join(', ')})`;

/** A row as the writer before step 81 sent it: its columns as one JSON object, its times as ISO text, its context as stored. */
const jsonRow = (r: RecommendationRow) => JSON.stringify({ ...r, createdAt: r.createdAt.toISOString(), modelFittedAt: r.modelFittedAt?.toISOString() ?? null, statisticalContext: storedContext(r) });

/** A row in COPY's text format (tab between columns, \N for NULL, backslash, tab, newline and carriage return escaped). */
function copyTextLine(r: RecommendationRow): string {
  const fields: string[] = [];
  for (const [column, wire] of COLUMN_WIRES) {
    const v = column === 'statisticalContext' ? storedContext(r) : (r[column] as unknown);
    let text: string;
    if (v === null || v === undefined) {
      fields.push('\\N');
      continue;
    }
    if (v instanceof Date) text = v.toISOString();
    else if (wire === 'json') text = JSON.stringify(v);
    else if (Array.isArray(v)) text = arrayLiteral(v as (string | number)[]);
    else if (typeof v === 'boolean') text = v ? 't' : 'f';
    else text = String(v);
    fields.push(/[\\\t\n\r]/.test(text) ? text.replace(/[\\\t\n\r]/g, (c) => COPY_ESCAPES[c]) : text);
  }
  return `${fields.join('\t')}\n`;
}
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const COPY_COLUMNS = COLUMN_WIRES.map(([c]) => `"${c}"`).join(', ');

const rowsPerRound = Number(args.rows);
const rounds = Number(args.rounds);
const variantNames = (args.variants ?? 'as-is,no-gin,gin-no-fastupdate,no-createdAt-index,uncompressed,parse-only').split(',');
for (const v of variantNames) if (v !== PARSE_ONLY && v !== COLUMNS_PARSE_ONLY) variantDdl(v, 'check');

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
    if (db.kind === 'pglite' && variantNames.some((v) => has(v, COPY_TEXT))) throw new Error(`--variants: ${COPY_TEXT} runs on PostgreSQL only (--postgres)`);
    const sql = db.sql;
    const [{ pid }] = await sql.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    const cpu = cpuClock(db.kind === 'postgres' ? pid : null);
    // The rows, stored once by the real writer (their comparison sets and history summary with them).
    const userId = randomUUID();
    await sql.execute(`INSERT INTO "users" ("id", "role") VALUES ($1, 'ATHLETE')`, [userId]);
    const manyUsers: string[] = [];
    if (variantNames.some((v) => has(v, MANY_USERS))) {
      for (let i = 0; i < MANY_USERS_COUNT; i++) manyUsers.push(randomUUID());
      await sql.execute(`INSERT INTO "users" ("id", "role") SELECT u, 'ATHLETE' FROM unnest($1::uuid[]) AS u`, [arrayLiteral(manyUsers)]);
    }
    const writer = new RecommendationWriter(sql, { log: console.log, sessionFunction: db.kind === 'pglite' });
    // A connection of its own for COPY on PostgreSQL (pg-copy-streams, not a dependency of the project: `npm install
    // --no-save pg-copy-streams` first); its backend's CPU is read for the COPY variants.
    const copying = db.kind === 'postgres' && variantNames.some((v) => has(v, COPY_TEXT)) ? await copyConnection(url!) : null;
    const fittedAt = new Date();
    const engineRows: RecommendationRow[] = [];
    for (let i = 0; i < 400; i++) {
      const row = answer(userId, checkIns[i % checkIns.length], fittedAt);
      engineRows.push(row);
      writer.enqueue(row);
    }
    await writer.close();
    const sizes = await sql.query<Record<string, number | string>>(
      `SELECT count(*)::int AS rows, avg(pg_column_size(r.*))::int AS "row", ${JSON_COLUMNS.map((c) => `avg(pg_column_size(r."${c}"))::int AS "${c}", avg(octet_length(r."${c}"::text))::int AS "${c} as text"`).join(', ')},
         avg(octet_length(row_to_json(r)::text))::int AS "row_to_json bytes",
         (SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = 'recommendations') AS "toast table bytes",
         pg_relation_size('recommendations') AS "heap bytes"
       FROM "recommendations" r`,
    );
    const compression = await sql.query<{ attname: string; c: string }>(
      `SELECT attname, attcompression::text AS c FROM pg_attribute WHERE attrelid = 'recommendations'::regclass AND atttypid IN ('json'::regtype, 'jsonb'::regtype)`,
    );
    const [{ reloptions }] = await sql.query<{ reloptions: string[] | null }>(`SELECT reloptions FROM pg_class WHERE relname = 'recommendations'`);
    console.log(`[bench-row-db] recommendations as migrated: ${JSON.stringify(reloptions)}, JSON columns' compression ${compression.map((x) => `${x.attname} ${x.c || 'default'}`).join(', ')}`);
    console.log(`[bench-row-db] ${db.kind}: a stored row (bytes, averages over the writer's rows; a column's pg_column_size is as stored, compressed or not):`, JSON.stringify(sizes[0]));
    // The rows as the writer before step 81 sent them (one JSON object a row).
    const templates = engineRows.map((r) => JSON.parse(jsonRow(r)) as Record<string, unknown>);
    console.log(`[bench-row-db] the rows' JSON (the writer's before step 81): ${(Buffer.byteLength(JSON.stringify(templates)) / templates.length).toFixed(0)} bytes a row`);

    // One copy of the table per variant (its indexes, defaults, storage and constraints; the foreign keys added).
    const tables: { name: string; table: string; statement: string }[] = [];
    for (const [k, name] of variantNames.entries()) {
      const table = `rec_v${k}`;
      let statement: string;
      if (name === COLUMNS_PARSE_ONLY) {
        const select = /\n(SELECT [\s\S]*)$/.exec(INSERT_COLUMNS_SQL)?.[1];
        statement = `SELECT count(*) FROM (${select}) x WHERE $1::jsonb IS NOT NULL AND $2::jsonb IS NOT NULL`;
      } else if (name === PARSE_ONLY) {
        const columns = /AS r\((.*)\)$/s.exec(INSERT_JSON_ROWS_SQL)?.[1];
        statement = `SELECT count(*) FROM jsonb_to_recordset($2::jsonb) AS r(${columns}) WHERE $1::jsonb IS NOT NULL AND $3::jsonb IS NOT NULL`;
      } else {
        await sql.execute(`CREATE TABLE "${table}" (LIKE "recommendations" INCLUDING ALL)`);
        // LIKE copies the columns' storage and compression, not the table's storage parameters (toast_tuple_target).
        const [{ reloptions }] = await sql.query<{ reloptions: string[] | null }>(`SELECT reloptions FROM pg_class WHERE relname = 'recommendations'`);
        if (reloptions?.length) await sql.execute(`ALTER TABLE "${table}" SET (${reloptions.join(', ')})`);
        // LIKE names the copies' indexes after the table and columns: <table>_userId_createdAt_idx, <table>_createdAt_idx, <table>_matchedRules_idx.
        // The migrated table's check of its rows' athlete (a trigger once per statement since step 190: migration
        // 20261207064044; LIKE copies no trigger), unless the variant checks it otherwise or not at all.
        if (!has(name, 'no-foreign-keys') && !has(name, 'user-foreign-key')) {
          await sql.execute(`CREATE TRIGGER "${table}_user_check" AFTER INSERT ON "${table}" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "recommendations_user_check"()`);
        }
        for (const ddl of variantDdl(name, table)) await sql.execute(ddl);
        const format = formatOf(name);
        statement =
          format === 'copy'
            ? `COPY "${table}" (${COPY_COLUMNS}) FROM ${db.kind === 'pglite' ? "'/dev/blob'" : 'STDIN'}`
            : (format === 'columns' ? INSERT_COLUMNS_SQL : INSERT_JSON_ROWS_SQL).replace('INSERT INTO "recommendations"', `INSERT INTO "${table}"`);
        if (has(name, FROM_UNNEST) && format === 'columns') {
          // Step 81's statement: one unnest of every array in FROM (a function scan an array, each filling a
          // tuplestore with its elements first) instead of unnest in the select list (the arrays read in step).
          const from = /FROM \(SELECT (.*)\) AS r$/.exec(statement);
          if (!from) throw new Error('no unnest in the select list');
          const params = [...from[1].matchAll(/unnest\(([^)]*)\)/g)].map((m) => m[1]);
          statement = statement.replace(from[0], `FROM unnest(${params.join(', ')}) AS r(${COLUMN_WIRES.map(([c]) => `"${c}"`).join(', ')})`);
        }
        if (has(name, JSONB_COLUMNS_VARIANT) && format === 'columns') statement = statement.replace(/(\$\d+)::json\[\]/g, '$1::jsonb[]');
        if (name.split('+').includes('json-param')) statement = statement.replace('jsonb_to_recordset($2::jsonb)', 'json_to_recordset($2::json)');
      }
      if (db.kind === 'pglite' && formatOf(name) === 'columns' && !has(name, 'direct')) {
        // As the writer does on PGlite: the statement in a function of the session, planned once.
        const fn = `pg_temp.bench_store_${k}`;
        const types = [...statement.matchAll(/\$(\d+)::([a-z0-9[\]]+)/g)].sort((a, b) => Number(a[1]) - Number(b[1]));
        const declared = [...new Map(types.map((t) => [t[1], t[2]])).entries()];
        const body = statement.replace(/\$(\d+)::[a-z0-9[\]]+/g, 'p$1');
        await sql.execute(
          `CREATE FUNCTION ${fn}(${declared.map(([n, t]) => `p${n} ${t}`).join(', ')}) RETURNS void LANGUAGE plpgsql AS $f$ BEGIN ${name === COLUMNS_PARSE_ONLY ? `PERFORM ${body.slice('SELECT '.length)}` : body}; END $f$`,
        );
        statement = `SELECT ${fn}(${declared.map(([n, t]) => `$${n}::${t}`).join(', ')})`;
      } else if (db.kind === 'pglite' && formatOf(name) === 'json') {
        // As the writer did on PGlite: the statement in a function of the session, planned once.
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
    /** The same rows (engine-made, under new ids) as column arrays, or as COPY's text. */
    let nextRow = 0;
    const freshRow = (spread = false) => {
      const row = { ...engineRows[nextRow++ % engineRows.length], id: randomUUID() };
      if (spread) row.userId = manyUsers[Math.floor(Math.random() * manyUsers.length)];
      return row;
    };
    const columnParameters = (n: number, spread: boolean): unknown[] => {
      const columns = new StatementColumns();
      for (let i = 0; i < n; i++) columns.add(freshRow(spread));
      // Copies: a StatementColumns' parameters are views of buffers it reuses.
      return ['[]', '[]', ...columns.parameters().map((b) => Buffer.from(b))];
    };
    const copyText = (n: number): Buffer => {
      let text = '';
      for (let i = 0; i < n; i++) text += copyTextLine(freshRow());
      return Buffer.from(text);
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
        const format = formatOf(tables[i].name);
        // Made before the clock starts.
        const params = Array.from({ length: statements }, () =>
          format === 'columns' ? columnParameters(batch, has(tables[i].name, MANY_USERS)) : format === 'copy' ? copyText(batch) : parameter(batch),
        );
        const walInitZeroOff = tables[i].name.split('+').includes(WAL_INIT_ZERO_OFF);
        if (walInitZeroOff) await sql.execute('SET wal_init_zero = off');
        const lsn = await walLsn();
        const clock = format === 'copy' && copying ? copying.cpu : cpu;
        const c0 = clock();
        const p0 = process.cpuUsage();
        const t0 = performance.now();
        // json's binary form is its text (no version byte).
        const json = tables[i].name.split('+').includes('json-param');
        for (const p of params) {
          if (format === 'columns')
            await sql.execute(tables[i].statement, has(tables[i].name, JSONB_COLUMNS_VARIANT) ? (p as Buffer[]).map((b, k) => (k < 2 ? b : jsonToJsonbArray(b))) : (p as unknown[]));
          else if (format === 'copy') await copying!.copy(tables[i].statement, p as Buffer);
          else {
            const rowsJson = p as Buffer;
            await sql.execute(tables[i].statement, ['[]', json ? (db.kind === 'pglite' ? rowsJson.subarray(1).toString() : rowsJson.subarray(1)) : rowsJson, '[]']);
          }
        }
        const wall = performance.now() - t0;
        const c1 = clock();
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
      if (t.name === PARSE_ONLY || t.name === COLUMNS_PARSE_ONLY) continue;
      const [s] = await sql.query<Record<string, string>>(
        `SELECT pg_relation_size('"${t.table}"')::text AS heap, (SELECT pg_relation_size(reltoastrelid) FROM pg_class WHERE relname = '${t.table}')::text AS toast, pg_indexes_size('"${t.table}"')::text AS indexes, avg(pg_column_size(r.*))::int::text AS "row" FROM "${t.table}" r`,
      );
      console.log(`[bench-row-db] ${t.name}: heap ${s.heap} bytes, TOAST ${s.toast}, indexes ${s.indexes}, a row ${s.row} bytes`);
    }
    await copying?.close();
    apiThreadCost(engineRows);
  } finally {
    await db.close();
    if (url && args.postgres) await dropDatabase(args.postgres, url);
  }
}

/** Element type OIDs (pg_type.h). */
const JSON_OID = 114;
const JSONB_OID = 3802;

/** A json[] parameter's binary form as jsonb[]: the element type jsonb (3802), each element with jsonb's version byte first. */
function jsonToJsonbArray(array: Buffer): Buffer {
  if (typeof array === 'string' || array.readUInt32BE(8) !== JSON_OID) return array;
  const ndim = array.readInt32BE(0);
  const parts: Buffer[] = [Buffer.from(array.subarray(0, ndim === 0 ? 12 : 20))];
  parts[0].writeUInt32BE(JSONB_OID, 8);
  if (ndim === 0) return parts[0];
  for (let at = 20; at < array.length; ) {
    const n = array.readInt32BE(at);
    if (n < 0) {
      parts.push(array.subarray(at, at + 4));
      at += 4;
      continue;
    }
    const head = Buffer.alloc(5);
    head.writeInt32BE(n + 1);
    head[4] = JSONB_BINARY_VERSION;
    parts.push(head, array.subarray(at + 4, at + 4 + n));
    at += 4 + n;
  }
  return Buffer.concat(parts);
}

/** COPY ... FROM STDIN on a connection of its own (pg-copy-streams), and its backend's CPU clock. */
async function copyConnection(url: string): Promise<{ copy(sql: string, data: Buffer): Promise<void>; cpu: () => number; close(): Promise<void> }> {
  const { default: pg } = await import('pg');
  const { from: copyFrom } = (await import('pg-copy-streams' as string)) as { from(sql: string): NodeJS.WritableStream & Submittable };
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => {}); // terminated by dropDatabase at the end
  await client.connect();
  const [{ pid }] = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows;
  return {
    async copy(sql, data) {
      const stream = client.query(copyFrom(sql));
      await new Promise<void>((resolve, reject) => {
        stream.on('error', reject);
        stream.on('finish', () => resolve());
        stream.end(data);
      });
    },
    cpu: cpuClock(pid),
    close: () => client.end(),
  };
}

/**
 * What each format costs the API's thread to build for a statement of the writer's rows (this process, min of 35
 * runs of 200 rows after 5 warm-up runs, the formats taking turns): the rows' JSON into one jsonb buffer (the writer
 * before step 81: one JSON.stringify a row of its columns, dates as ISO text, the context stored), the column arrays
 * (StatementColumns, its buffers sized from a statement before, as the writer's are), COPY's text.
 */
function apiThreadCost(rows: readonly RecommendationRow[]): void {
  const batch = rows.slice(0, 200);
  // The column arrays sized as the writer sizes them, from its last statement's.
  const sized = new StatementColumns();
  for (const r of batch) sized.add(r);
  const capacities = sized.capacities;
  const formats: Record<string, () => number> = {
    'json rows (before)': () => {
      const buffer = Buffer.allocUnsafeSlow(1 << 20);
      let at = 1;
      for (const r of batch) {
        buffer[at++] = 0x2c;
        at += buffer.write(jsonRow(r), at);
      }
      return at;
    },
    columns: () => {
      const columns = new StatementColumns(capacities);
      for (const r of batch) columns.add(r);
      return columns.parameters().reduce((n, b) => n + b.length, 0);
    },
    'copy text': () => {
      let text = '';
      for (const r of batch) text += copyTextLine(r);
      return Buffer.byteLength(text);
    },
  };
  const best: Record<string, number> = {};
  const bytes: Record<string, number> = {};
  for (let run = 0; run < 40; run++) {
    for (const [name, build] of Object.entries(formats)) {
      const t0 = performance.now();
      bytes[name] = build();
      const us = ((performance.now() - t0) * 1000) / batch.length;
      if (run >= 5) best[name] = Math.min(best[name] ?? Number.POSITIVE_INFINITY, us);
    }
  }
  for (const name of Object.keys(formats))
    console.log(`[bench-row-db] API thread, building ${name}: ${best[name].toFixed(2)} µs a row (min of 35 runs of ${batch.length}), ${(bytes[name] / batch.length).toFixed(0)} bytes a row`);
}

await main();
