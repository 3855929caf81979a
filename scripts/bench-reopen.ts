// What reopening the embedded database's thread after a crash costs (src/db/pglite-thread.ts, PGLITE_REOPEN_ATTEMPTS),
// beside closing and opening the same directory cleanly: PostgreSQL's crash recovery replays the WAL written since its
// last checkpoint, a clean close has checkpointed it. Each round stores --rows recommendations through the real writer
// (engine-made rows, scripts/lib/writer-rows.ts, 200 a statement), then either ends PGlite's thread from outside
// (Worker.terminate(), as a crash would end it) and times until a statement answers again on the reopened thread, or
// closes the database and times opening it again until a statement answers; the two take turns, in both orders. Per
// reopen: the WAL since the last checkpoint at the stop, wall time, and this process's CPU time meanwhile (PGlite's
// thread included).
//
//   npx tsx scripts/bench-reopen.ts [--rows 10000] [--rounds 2] [--dir /tmp/climbiq-bench-reopen]
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { parseArgs } from 'node:util';
import workerThreads from 'node:worker_threads';
import { PGLITE_THREAD_NAME } from '../src/db/pglite-thread.ts';
import { openDatabase, type Database } from '../src/db/client.ts';
import { openMigratedDatabase } from '../src/db/migrate-child.ts';
import { RecommendationWriter } from '../src/resolvers/recommendation-store.ts';
import { answer, checkIns } from './lib/writer-rows.ts';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '2' },
    dir: { type: 'string', default: '/tmp/climbiq-bench-reopen' },
  },
});
const rows = Number(args.rows);
const rounds = Number(args.rounds);
const dir = args.dir as string;

// The newest PGlite thread, kept by a wrapper of worker_threads' Worker (the named export pglite-thread.ts calls is
// the wrapper once syncBuiltinESMExports has run): nothing of this is in the application.
let pgliteWorker: workerThreads.Worker | null = null;
const OriginalWorker = workerThreads.Worker;
workerThreads.Worker = class extends OriginalWorker {
  constructor(...params: ConstructorParameters<typeof OriginalWorker>) {
    super(...params);
    if (params[1]?.name === PGLITE_THREAD_NAME) pgliteWorker = this;
  }
};
syncBuiltinESMExports();

const quiet = () => {};
const open = () => openDatabase({ url: null, pgliteDir: dir, pgliteThread: true, pgliteReopenAttempts: 3, log: quiet });

/** Stores `rows` recommendations of a new athlete through the writer; returns the WAL since the last checkpoint (MB). */
async function store(db: Database): Promise<number> {
  const userId = randomUUID();
  await db.sql.execute(`INSERT INTO "users" ("id", "role") VALUES ($1, 'ATHLETE')`, [userId]);
  const writer = new RecommendationWriter(db.sql, { log: console.log, sessionFunction: true });
  const fittedAt = new Date();
  for (let i = 0; i < rows; i++) writer.enqueue(answer(userId, checkIns[i % checkIns.length], fittedAt));
  await writer.close();
  const [{ mb }] = await db.sql.query<{ mb: number }>('SELECT (pg_wal_lsn_diff(pg_current_wal_lsn(), redo_lsn) / 1e6)::float8 AS mb FROM pg_control_checkpoint()');
  return mb;
}

/** Times `reopen` until a statement answers: wall ms and this process's CPU ms. */
async function timed(reopen: () => Promise<Database>): Promise<{ db: Database; wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const db = await reopen();
  await db.sql.query('SELECT 1');
  const used = process.cpuUsage(cpu);
  return { db, wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

rmSync(dir, { recursive: true, force: true });
rmSync(`${dir}.lock`, { force: true });
let db = (await openMigratedDatabase({ url: null, pgliteDir: dir, pgliteThread: true, pgliteReopenAttempts: 3, log: quiet })).db;
const results: { kind: string; walMb: number; wallMs: number; cpuMs: number }[] = [];
const report = (kind: string, walMb: number, r: { wallMs: number; cpuMs: number }) => {
  results.push({ kind, walMb, ...r });
  console.log(`${kind.padEnd(18)} WAL since the last checkpoint ${walMb.toFixed(1).padStart(6)} MB: ${r.wallMs.toFixed(0).padStart(5)} ms wall, ${r.cpuMs.toFixed(0).padStart(5)} ms CPU`);
};
const afterCrash = async () => {
  const walMb = await store(db);
  const worker = pgliteWorker;
  if (!worker) throw new Error('no PGlite thread captured');
  const r = await timed(async () => {
    await worker.terminate();
    return db; // the same Database: its next statement waits for the reopened thread
  });
  if (db.thread?.state().state !== 'open') throw new Error(`not reopened: ${JSON.stringify(db.thread?.state())}`);
  report('after a crash', walMb, r);
};
const afterClose = async () => {
  const walMb = await store(db);
  await db.close();
  const r = await timed(open);
  db = r.db;
  report('after a clean close', walMb, r);
};
for (let round = 0; round < rounds; round++) {
  if (round % 2 === 0) {
    await afterCrash();
    await afterClose();
  } else {
    await afterClose();
    await afterCrash();
  }
}
const [{ n }] = await db.sql.query<{ n: number }>('SELECT count(*)::int AS n FROM recommendations');
console.log(`${n} recommendations stored (${rows * rounds * 2} written)`);
await db.close();
rmSync(dir, { recursive: true, force: true });
