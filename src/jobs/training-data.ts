// Training data: per-user sufficient statistics (n, X'X, X'y, y'y of the centred design) and the population
// statistics. The athletes' rated sessions come from the database as one compact text cell per athlete (GROUP BY
// "userId"), so the nightly run moves one row per athlete into Node, not one per session, and folds them there.
// Imported by the fit's worker: nothing of Prisma here (one athlete's recompute reads through Prisma: athlete-data.ts).
import { addRating, emptyStats, type SufficientStats } from '../engine/bayes/index.ts';
import { STATISTIC_VARIABLES } from '../engine/population-stats.ts';
import { effectiveFeatureSql } from '../engine/training-row.ts';
import type { PopulationStat } from '../engine/types.ts';
import { FEATURES, MODEL_TERMS, P } from '../engine/variables.ts';
import type { CheckIn } from '../engine/variables.ts';
import type { SqlRunner } from '../db/sql.ts';
import type { HeldOutSession } from '../engine/held-out.ts';
import { modelOutputVersions } from './model-store.ts';

/** Resolves on the next turn of the event loop (after pending I/O), not just after the current microtasks. */
export const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface UserData {
  stats: SufficientStats;
  /** Newest updatedAt among the sessions folded in (catch-up compares it with the sessions table). */
  dataThrough: Date | null;
}

export interface TrainingData {
  users: Map<string, UserData>;
  sessions: number;
  populationStats: PopulationStat[];
}

/** The training rows (training-row.ts: completed and rated). */
const TRAINING_ROWS = `FROM climbing_sessions WHERE status = 'COMPLETED' AND "sessionQuality" IS NOT NULL`;

/**
 * Every athlete's rated sessions in one text cell, in the order they were climbed (startedAt, id): per session the
 * rating, then each feature's effective value (training-row.ts: what was actually done when the athlete deviated
 * from the plan), '' for a missing one, sessions separated by ';'. One row per athlete and one scan: the sums of
 * products are taken in Node (addRating on designRow's row, as the per-athlete recompute takes them), several times
 * cheaper than 68 filtered sums per row in the database (on PGlite's WebAssembly above all), and the last session
 * is the one held out. Numbers travel as PostgreSQL prints them (float8 and int text output is exact).
 */
const USER_SESSIONS_SQL = `
  SELECT "userId"::text AS "userId", (extract(epoch from max("updatedAt")) * 1000)::bigint::text AS through,
         string_agg(concat_ws(',', "sessionQuality", ${FEATURES.map((f) => `coalesce((${effectiveFeatureSql(f.name)})::text, '')`).join(', ')}), ';' ORDER BY "startedAt", id) AS v
  ${TRAINING_ROWS}
  GROUP BY "userId"`;

/** Each feature of a session's cell: its column in the design row (designRow's, 0 when it is no model term) and its reference value. */
const CELL_TERMS = FEATURES.map((f) => {
  const j = MODEL_TERMS.findIndex((t) => t.name === f.name);
  return { j: Math.max(0, j), reference: j > 0 ? MODEL_TERMS[j].reference : 0 };
});

/** A session's field as a number ('' is a missing value), or an error naming the athlete. */
function cellNumber(text: string, userId: string): number | null {
  if (text === '') return null;
  const x = Number(text);
  if (!Number.isFinite(x)) throw new Error(`training data: unexpected value ${JSON.stringify(text)} in a session of ${userId}`);
  return x;
}

/**
 * One athlete's cell of USER_SESSIONS_SQL folded into statistics, each session's design row written as designRow
 * writes it (x - reference, 0 for a missing feature) without a check-in object per session; the last session (the
 * latest) is returned to hold out.
 */
function foldUserSessions(userId: string, cell: string, stats: SufficientStats): HeldOutSession {
  const sessions = cell.split(';');
  const row = new Float64Array(P);
  let fields: string[] = [];
  for (const session of sessions) {
    fields = session.split(',');
    if (fields.length !== FEATURES.length + 1) throw new Error(`training data: unexpected session of ${userId} (${fields.length} fields)`);
    row.fill(0);
    row[0] = 1;
    for (let i = 0; i < CELL_TERMS.length; i++) {
      const x = cellNumber(fields[i + 1], userId);
      const { j, reference } = CELL_TERMS[i];
      if (x !== null && j > 0) row[j] = x - reference;
    }
    const quality = cellNumber(fields[0], userId);
    if (quality === null) throw new Error(`training data: a session of ${userId} without its rating`);
    addRating(stats, row, quality);
  }
  const values: CheckIn = {};
  for (let i = 0; i < FEATURES.length; i++) values[FEATURES[i].name] = cellNumber(fields[i + 1], userId);
  return { userId, values, quality: Number(fields[0]) };
}

/** A statistic variable's value as the training row reads it (a model feature's effective value, else its column). */
const effectiveSql = (name: string) => (MODEL_TERMS.some((t) => t.name === name) ? effectiveFeatureSql(name) : `"${name}"`);

/** count, mean, sample sd, min, max of every statistic variable (effective values) over the training rows. */
const POPULATION_SQL = `SELECT concat_ws(',', ${STATISTIC_VARIABLES.map((name) => {
  const e = `(${effectiveSql(name)})::float8`;
  return `count(${e})::text, coalesce(avg(${e})::text, ''), coalesce(stddev_samp(${e})::text, ''), coalesce(min(${e})::text, ''), coalesce(max(${e})::text, '')`;
}).join(', ')}) AS v ${TRAINING_ROWS}`;

function parsePopulationStats(text: string): PopulationStat[] {
  const v = text.split(',');
  return STATISTIC_VARIABLES.flatMap((variable, i) => {
    const [n, mean, std, min, max] = v.slice(5 * i, 5 * i + 5);
    if (Number(n) === 0) return [];
    // stddev_samp is NULL for a single value: its spread is 0.
    return [{ variable, n: Number(n), mean: Number(mean), std: std === '' ? 0 : Number(std), min: Number(min), max: Number(max) }];
  });
}

/** Rows per FETCH of the training read's cursor. */
const PAGE = 1000;

/**
 * `sql`'s rows through a cursor, PAGE at a time, each page handed to `each` while the next is fetched: a result
 * of thousands of rows never sits in the heap at once, so its rows die young instead of being copied by every
 * scavenge while the rest arrives (with the whole result at once, the API's scavenges took 20-30 ms).
 * Inside a transaction (a cursor lives in one).
 */
async function forEachPage<T>(tx: SqlRunner, cursor: string, sql: string, each: (rows: T[]) => void): Promise<void> {
  await tx.execute(`DECLARE ${cursor} NO SCROLL CURSOR FOR ${sql}`);
  const fetch = () => tx.query<T>(`FETCH ${PAGE} FROM ${cursor}`);
  let next: Promise<T[]> | null = fetch();
  while (next) {
    const rows: T[] = await next;
    // The next page is asked for before this one is folded: the database (PGlite's thread, a server) computes it
    // meanwhile, instead of the two waiting for each other in turn. At most two pages in the heap.
    next = rows.length < PAGE ? null : fetch();
    // Held by the caller at the end if folding this page fails (not an unhandled rejection meanwhile).
    next?.catch(() => {});
    each(rows);
    // An embedded PGlite answers without returning to the event loop: let requests in between pages.
    if (next) await yieldToEventLoop();
  }
  await tx.execute(`CLOSE ${cursor}`);
}

/**
 * Every athlete's statistics, each one's latest rated session (held out to measure the fit's error) and the
 * population statistics: one scan for the athletes' sessions (USER_SESSIONS_SQL, one row per athlete), one for the
 * population statistics. Inside a transaction: the athletes' rows are read through a cursor.
 */
export async function readTrainingData(tx: SqlRunner, opts: TrainingReadOptions = {}): Promise<TrainingData & { held: HeldOutSession[] }> {
  const users = new Map<string, UserData>();
  const held: HeldOutSession[] = [];
  let sessions = 0;
  await forEachPage<{ userId: string; through: string; v: string }>(tx, 'training_user_sessions', USER_SESSIONS_SQL, (rows) => {
    for (const r of rows) {
      const stats = emptyStats();
      held.push(foldUserSessions(r.userId, r.v, stats));
      sessions += stats.n;
      users.set(r.userId, { stats, dataThrough: new Date(Number(r.through)) });
    }
  });
  return { users, sessions, populationStats: opts.populationStats === false ? [] : await readPopulationStats(tx), held };
}

/**
 * The population statistics of the training rows (one scan). A statement of its own: on an embedded PGlite the
 * nightly run reads them after the athletes' sessions, while the fit's worker fits (the database is idle then).
 */
export async function readPopulationStats(sql: SqlRunner): Promise<PopulationStat[]> {
  const population = await sql.query<{ v: string }>(POPULATION_SQL);
  return parsePopulationStats(population[0].v);
}

/** What readTrainingData / readNightlyInput read besides the athletes' sessions. */
export interface TrainingReadOptions {
  /** The population statistics in the same transaction (default); false: left empty, for the caller to read with readPopulationStats. */
  populationStats?: boolean;
}

/** What the nightly fit reads, in one transaction (readNightlyInput). */
export interface NightlyInput {
  /** Every stored model's row version before the read (modelOutputVersions): a model rewritten since is recomputed at the write. */
  versionsAtRead: Map<string, string>;
  data: TrainingData;
  /** Each athlete's latest rated session (by startedAt, then id), held out to measure the fit's error. */
  held: HeldOutSession[];
}

/**
 * The nightly fit's input, inside the caller's transaction: the stored models' versions, the training data, the
 * sessions to hold out. Athletes who still have a model but no rated sessions any more are fitted (to the
 * population) with empty statistics. The reads are CPU-heavy aggregations: one at a time and without parallel
 * workers, the database takes one core (with it on the API's machine, three queries with their parallel workers
 * took every core from the API's requests: bench-nightly-streams).
 */
export async function readNightlyInput(tx: SqlRunner, opts: TrainingReadOptions = {}): Promise<NightlyInput> {
  await tx.execute('SET LOCAL max_parallel_workers_per_gather = 0');
  const versionsAtRead = await modelOutputVersions(tx);
  const { held, ...data } = await readTrainingData(tx, opts);
  for (const userId of versionsAtRead.keys()) if (!data.users.has(userId)) data.users.set(userId, { stats: emptyStats(), dataThrough: null });
  return { versionsAtRead, data, held };
}
