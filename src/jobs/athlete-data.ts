// One athlete's training data through Prisma (the quick update's recompute, trainUserModel, the catch-up), apart
// from training-data.ts, which the fit's worker loads without Prisma's client.
import { addRatedSession, emptyStats } from '../engine/bayes/index.ts';
import { trainingRow } from '../engine/training-row.ts';
import type { CheckIn } from '../engine/variables.ts';
import { TRAINING_SELECT } from '../db/training-select.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import type { UserData } from './training-data.ts';

function fold(users: Map<string, UserData>, userId: string, row: { values: CheckIn; quality: number }, updatedAt: Date) {
  let data = users.get(userId);
  if (!data) {
    data = { stats: emptyStats(), dataThrough: null };
    users.set(userId, data);
  }
  addRatedSession(data.stats, row.values as Readonly<Record<string, unknown>>, row.quality);
  if (!data.dataThrough || updatedAt > data.dataThrough) data.dataThrough = updatedAt;
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
