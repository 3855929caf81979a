// Training data: completed, rated sessions, read in cursor batches (never all sessions in memory), folded
// into per-user sufficient statistics and the population statistics in one streaming pass.
import { addSession, emptyStats, type SufficientStats } from '../engine/bayes.ts';
import { PopulationStatsAccumulator } from '../engine/population-stats.ts';
import { effectiveCheckIn, trainingRow } from '../engine/training-row.ts';
import type { PopulationStat } from '../engine/types.ts';
import type { CheckIn } from '../engine/variables.ts';
import { TRAINING_SELECT } from '../db/session-hook.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';

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

/** Every user's statistics and the population statistics, batchSize rows at a time. */
export async function readTrainingData(
  prisma: PrismaClient,
  opts: { batchSize?: number; onBatch?: (sessionsSoFar: number) => void } = {},
): Promise<TrainingData> {
  const batchSize = opts.batchSize ?? 5000;
  const users = new Map<string, UserData>();
  const population = new PopulationStatsAccumulator();
  let sessions = 0;
  let cursor: string | undefined;
  for (;;) {
    const batch = await prisma.climbingSession.findMany({
      where: { status: 'COMPLETED', sessionQuality: { not: null } },
      orderBy: { id: 'asc' },
      take: batchSize,
      ...(cursor ? { cursor: { id: cursor }, skip: 1 } : {}),
      select: STATS_SELECT,
    });
    for (const s of batch) {
      const row = trainingRow(s);
      if (!row) continue;
      fold(users, s.userId, row, s.updatedAt);
      population.add({ ...s, ...effectiveCheckIn(s) });
      sessions += 1;
    }
    opts.onBatch?.(sessions);
    if (batch.length < batchSize) break;
    cursor = batch[batch.length - 1].id;
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
