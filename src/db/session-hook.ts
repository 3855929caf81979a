// The session-completion extension: every ClimbingSession write that can change a user's training data
// reports (before, after) snapshots to a listener, which runs the quick model update after the write.
// The write itself never waits for the listener nor fails because of it.
import type { SessionFeatures } from '../engine/training-row.ts';
import type { PrismaClient } from '../generated/prisma/client.ts';
import { sessionListCursors } from './session-cursors.ts';

/** The columns that make a training row (domain.md section 6). */
export const TRAINING_SELECT = {
  id: true,
  userId: true,
  status: true,
  sessionQuality: true,
  deviatedFromPlan: true,
  sleepHours: true,
  sleepQuality: true,
  energyLevel: true,
  stressLevel: true,
  motivationLevel: true,
  sorenessLevel: true,
  daysSinceHardSession: true,
  caffeineMg: true,
  warmupMin: true,
  plannedCaffeineMg: true,
  plannedWarmupMin: true,
  actualCaffeineMg: true,
  actualWarmupMin: true,
  updatedAt: true,
} as const;

/** A session's training-relevant columns, as the hook reports them before and after a write. */
export interface TrainingSnapshot extends SessionFeatures {
  id: string;
  userId: string;
  updatedAt: Date;
}

export interface SessionChange {
  sessionId: string;
  userId: string;
  before: TrainingSnapshot | null;
  after: TrainingSnapshot | null;
}

export type SessionChangeListener = (changes: SessionChange[]) => void;

// startedAt is no model input, but it orders the history the statistics read.
const TRAINING_KEYS = new Set([...Object.keys(TRAINING_SELECT), 'startedAt']);

function touchesTrainingData(data: unknown): boolean {
  if (!data || typeof data !== 'object') return true;
  return Object.keys(data).some((k) => TRAINING_KEYS.has(k));
}

/** Is this snapshot a training row (completed and rated)? */
export const isTrainingRow = (s: TrainingSnapshot | null): s is TrainingSnapshot => !!s && s.status === 'COMPLETED' && s.sessionQuality !== null;

function report(listener: SessionChangeListener, changes: SessionChange[]): void {
  const relevant = changes.filter((c) => isTrainingRow(c.before) || isTrainingRow(c.after));
  if (relevant.length === 0) return;
  // Deferred: the write's promise resolves first; a listener failure never reaches the caller.
  setImmediate(() => {
    try {
      listener(relevant);
    } catch (err) {
      console.error('[MODEL] session change listener failed', err);
    }
  });
}

type Where = Record<string, unknown>;

/** The application's client: the session lists' keyset cursors, then the session-completion hook. */
export function withSessionHook(prisma: PrismaClient, listener: SessionChangeListener) {
  return prisma.$extends(sessionListCursors).$extends({
    name: 'session-completion',
    query: {
      climbingSession: {
        async create({ args, query }) {
          // A new session becomes training data only when it is created already rated.
          if ((args.data as { sessionQuality?: unknown }).sessionQuality == null) return query(args);
          const result = await query(args);
          const after = await prisma.climbingSession.findUnique({ where: { id: (result as { id: string }).id }, select: TRAINING_SELECT });
          if (after) report(listener, [{ sessionId: after.id, userId: after.userId, before: null, after }]);
          return result;
        },
        async update({ args, query }) {
          if (!touchesTrainingData(args.data)) return query(args);
          const before = await prisma.climbingSession.findUnique({ where: args.where, select: TRAINING_SELECT });
          const result = await query(args);
          const after = before ? await prisma.climbingSession.findUnique({ where: { id: before.id }, select: TRAINING_SELECT }) : null;
          if (before) report(listener, [{ sessionId: before.id, userId: before.userId, before, after }]);
          return result;
        },
        async upsert({ args, query }) {
          const before = await prisma.climbingSession.findUnique({ where: args.where, select: TRAINING_SELECT });
          const result = await query(args);
          const id = before?.id ?? (result as { id?: string }).id;
          const after = id ? await prisma.climbingSession.findUnique({ where: { id }, select: TRAINING_SELECT }) : null;
          if (after || before) report(listener, [{ sessionId: (after ?? before)!.id, userId: (after ?? before)!.userId, before, after }]);
          return result;
        },
        async updateMany({ args, query }) {
          if (!touchesTrainingData(args.data)) return query(args);
          const befores = await prisma.climbingSession.findMany({ where: args.where as Where, select: TRAINING_SELECT });
          const result = await query(args);
          const afters = await prisma.climbingSession.findMany({ where: { id: { in: befores.map((b) => b.id) } }, select: TRAINING_SELECT });
          const byId = new Map(afters.map((a) => [a.id, a]));
          report(
            listener,
            befores.map((b) => ({ sessionId: b.id, userId: b.userId, before: b, after: byId.get(b.id) ?? null })),
          );
          return result;
        },
        async delete({ args, query }) {
          const before = await prisma.climbingSession.findUnique({ where: args.where, select: TRAINING_SELECT });
          const result = await query(args);
          if (before) report(listener, [{ sessionId: before.id, userId: before.userId, before, after: null }]);
          return result;
        },
        async deleteMany({ args, query }) {
          const befores = await prisma.climbingSession.findMany({ where: args.where as Where, select: TRAINING_SELECT });
          const result = await query(args);
          report(
            listener,
            befores.map((b) => ({ sessionId: b.id, userId: b.userId, before: b, after: null })),
          );
          return result;
        },
      },
    },
  });
}

export type AppPrisma = ReturnType<typeof withSessionHook>;
