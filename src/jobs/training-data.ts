// Training data: completed, rated sessions, read in cursor batches (never all sessions in memory), folded
// into per-user sufficient statistics and the population statistics in one streaming pass.
import { addSession, emptyStats, type SufficientStats } from '../engine/bayes.ts';
import { PopulationStatsAccumulator } from '../engine/population-stats.ts';
import { trainingRow } from '../engine/training-row.ts';
import type { PopulationStat } from '../engine/types.ts';
import type { CheckIn } from '../engine/variables.ts';
import { TRAINING_SELECT } from '../db/session-hook.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';

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

const STATS_SELECT = {
  ...TRAINING_SELECT,
  daysSinceLastSession: true,
  daysSinceRestDay: true,
  injurySeverity: true,
  hydrationStatus: true,
  temperatureC: true,
  fearOfFalling: true,
  performanceAnxiety: true,
  trainingLoadChange: true,
  timeAvailableMin: true,
} as const;

function fold(users: Map<string, UserData>, userId: string, row: { values: CheckIn; quality: number }, updatedAt: Date) {
  let data = users.get(userId);
  if (!data) {
    data = { stats: emptyStats(), dataThrough: null };
    users.set(userId, data);
  }
  addSession(data.stats, row.values as Readonly<Record<string, unknown>>, row.quality);
  if (!data.dataThrough || updatedAt > data.dataThrough) data.dataThrough = updatedAt;
}

/** The numeric columns of STATS_SELECT, in the order they are packed and unpacked below. */
const NUMERIC_COLUMNS = [
  'sessionQuality', 'sleepHours', 'sleepQuality', 'energyLevel', 'stressLevel', 'motivationLevel', 'sorenessLevel',
  'daysSinceHardSession', 'caffeineMg', 'warmupMin', 'plannedCaffeineMg', 'plannedWarmupMin', 'actualCaffeineMg',
  'actualWarmupMin', 'daysSinceLastSession', 'daysSinceRestDay', 'injurySeverity', 'hydrationStatus', 'temperatureC',
  'fearOfFalling', 'performanceAnxiety', 'trainingLoadChange', 'timeAvailableMin',
] as const;
{
  const expected = Object.keys(STATS_SELECT).filter((k) => !['id', 'userId', 'status', 'deviatedFromPlan', 'updatedAt'].includes(k));
  if (expected.length !== NUMERIC_COLUMNS.length || expected.some((k) => !(NUMERIC_COLUMNS as readonly string[]).includes(k))) {
    throw new Error('training-data: NUMERIC_COLUMNS is out of step with STATS_SELECT');
  }
}

/**
 * One text value per row: userId, status, updatedAt (epoch ms), deviatedFromPlan (t/f), then NUMERIC_COLUMNS,
 * comma-separated, '' for NULL. Both drivers decode a result cell by cell (PGlite at several microseconds a cell),
 * so one cell instead of 28 makes the pass 2x (PostgreSQL) to 5x (PGlite) faster. float8 text output is exact
 * (shortest round-trip digits), integers and uuids are plain.
 */
const PACKED_ROW = `concat_ws(',', "userId"::text, status::text, (extract(epoch from "updatedAt") * 1000)::bigint::text,
  CASE WHEN "deviatedFromPlan" THEN 't' ELSE 'f' END, ${NUMERIC_COLUMNS.map((c) => `coalesce("${c}"::text, '')`).join(', ')})`;

const num = (v: string): number | null => (v === '' ? null : Number(v));

/** A packed row as a session record; one object literal, so every row has the same (fast) shape. */
function unpack(text: string) {
  const p = text.split(',');
  if (p.length !== 4 + NUMERIC_COLUMNS.length) throw new Error(`training data: unexpected row shape (${p.length} fields)`);
  return {
    userId: p[0],
    status: p[1],
    updatedAt: new Date(Number(p[2])),
    deviatedFromPlan: p[3] === 't',
    sessionQuality: num(p[4]),
    sleepHours: num(p[5]),
    sleepQuality: num(p[6]),
    energyLevel: num(p[7]),
    stressLevel: num(p[8]),
    motivationLevel: num(p[9]),
    sorenessLevel: num(p[10]),
    daysSinceHardSession: num(p[11]),
    caffeineMg: num(p[12]),
    warmupMin: num(p[13]),
    plannedCaffeineMg: num(p[14]),
    plannedWarmupMin: num(p[15]),
    actualCaffeineMg: num(p[16]),
    actualWarmupMin: num(p[17]),
    daysSinceLastSession: num(p[18]),
    daysSinceRestDay: num(p[19]),
    injurySeverity: num(p[20]),
    hydrationStatus: num(p[21]),
    temperatureC: num(p[22]),
    fearOfFalling: num(p[23]),
    performanceAnxiety: num(p[24]),
    trainingLoadChange: num(p[25]),
    timeAvailableMin: num(p[26]),
  };
}

/**
 * Every user's statistics and the population statistics, batchSize rows at a time, by keyset pagination on the
 * primary key in plain SQL (Prisma's cursor pagination adds a sub-select per batch, and its result mapping cost
 * more than the fold itself). Training rows are picked in JS, not in the WHERE clause: `id > $1 ORDER BY id LIMIT n`
 * is an index range scan whatever the planner knows, while a status filter without table statistics (PGlite has
 * no autovacuum, so no ANALYZE) turned every batch into a scan and sort of the whole table.
 */
export async function readTrainingData(
  prisma: PrismaClient,
  opts: { batchSize?: number; onBatch?: (sessionsSoFar: number) => void } = {},
): Promise<TrainingData> {
  const batchSize = Math.max(1, Math.floor(opts.batchSize ?? 10_000));
  const users = new Map<string, UserData>();
  const population = new PopulationStatsAccumulator();
  let sessions = 0;
  // `id` stays a uuid in the select list: ORDER BY names the output column, and a text alias sorts the table.
  const read = (after: string) => {
    const p = prisma.$queryRawUnsafe<{ id: string; v: string }[]>(
      `SELECT id, ${PACKED_ROW} AS v FROM climbing_sessions WHERE id > $1::uuid ORDER BY id LIMIT ${batchSize}`,
      after,
    );
    p.catch(() => {}); // awaited below; never an unhandled rejection if the fold throws meanwhile
    return p;
  };
  let next = read('00000000-0000-0000-0000-000000000000');
  for (;;) {
    const batch = await next;
    const more = batch.length === batchSize;
    // The next batch is read while this one is folded (a PostgreSQL server works in parallel with the fold).
    if (more) next = read(batch[batch.length - 1].id);
    for (const { v } of batch) {
      const s = unpack(v);
      const row = trainingRow(s);
      if (!row) continue;
      fold(users, s.userId, row, s.updatedAt);
      // The effective check-in (actual values when deviated) replaces the planned one in place (same keys).
      population.add(Object.assign(s, row.values) as unknown as Readonly<Record<string, unknown>>);
      sessions += 1;
    }
    opts.onBatch?.(sessions);
    if (!more) break;
    // Let requests in between: an embedded PGlite answers without ever giving the event loop a turn.
    await yieldToEventLoop();
  }
  return { users, sessions, populationStats: population.result() };
}

/** One user's statistics from their sessions (full recompute). */
export async function readUserData(prisma: PrismaClient, userId: string): Promise<UserData> {
  const rows = await prisma.climbingSession.findMany({
    where: { userId, status: 'COMPLETED', sessionQuality: { not: null } },
    select: TRAINING_SELECT,
  });
  const users = new Map<string, UserData>();
  for (const s of rows) {
    const row = trainingRow(s);
    if (row) fold(users, userId, row, s.updatedAt);
  }
  return users.get(userId) ?? { stats: emptyStats(), dataThrough: null };
}

/** Users with rated sessions newer than their model (or no model at all). */
export async function staleUsers(prisma: PrismaClient): Promise<string[]> {
  const rows = await prisma.$queryRaw<{ userId: string }[]>`
    SELECT s."userId"::text AS "userId"
    FROM climbing_sessions s
    LEFT JOIN model_outputs m ON m."userId" = s."userId"
    WHERE s.status = 'COMPLETED' AND s."sessionQuality" IS NOT NULL
    GROUP BY s."userId", m."dataThrough"
    HAVING m."dataThrough" IS NULL OR max(s."updatedAt") > m."dataThrough"`;
  return rows.map((r) => r.userId);
}
