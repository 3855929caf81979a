// The session-completion extension: every ClimbingSession write that can change a user's training data
// (each model write operation; not raw SQL, and not writes nested under another model, which Prisma's query
// extensions do not see) reports (before, after) snapshots to a listener, which runs the quick model update
// after the write. Inside an interactive transaction the snapshots are read on the transaction's client and
// reported once it commits (never if it rolls back). The write never waits for the listener nor fails because of it.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { SessionFeatures } from '../engine/training-row.ts';
import type { Prisma, PrismaClient } from '../generated/prisma/client.ts';
import { sessionListCursors } from './session-cursors.ts';
import { TRAINING_SELECT } from './training-select.ts';

export { TRAINING_SELECT };

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

/** The reads around a write: the base client, or an interactive transaction's own client. */
interface SessionReader {
  climbingSession: {
    findUnique(args: { where: Prisma.ClimbingSessionWhereUniqueInput; select: typeof TRAINING_SELECT }): Promise<TrainingSnapshot | null>;
    findMany(args: { where: Prisma.ClimbingSessionWhereInput; select: typeof TRAINING_SELECT }): Promise<TrainingSnapshot[]>;
  };
}

/** An interactive transaction in progress: its client, and the changes to report once it commits. */
interface TransactionScope {
  reader: SessionReader;
  changes: SessionChange[];
}

type CreateData = { id?: string; sessionQuality?: number | null };

/** The application's client: the session lists' keyset cursors, then the session-completion hook. */
export function withSessionHook(prisma: PrismaClient, listener: SessionChangeListener) {
  const transactions = new AsyncLocalStorage<TransactionScope>();
  const reader = (): SessionReader => transactions.getStore()?.reader ?? prisma;
  const readOne = (where: Prisma.ClimbingSessionWhereUniqueInput) => reader().climbingSession.findUnique({ where, select: TRAINING_SELECT });
  const readMany = (where: Prisma.ClimbingSessionWhereInput) => reader().climbingSession.findMany({ where, select: TRAINING_SELECT });
  const emit = (changes: SessionChange[]): void => {
    const transaction = transactions.getStore();
    if (transaction) transaction.changes.push(...changes);
    else report(listener, changes);
  };
  const change = (before: TrainingSnapshot | null, after: TrainingSnapshot | null): SessionChange => {
    const row = (after ?? before)!;
    return { sessionId: row.id, userId: row.userId, before, after };
  };

  /**
   * Creates: every row gets its id before the write, so the rows written can be read back whatever the
   * result holds. With skipDuplicates a row whose id exists already is left as it was: not reported.
   */
  async function aroundCreate<R>(rows: CreateData[], skipDuplicates: boolean | undefined, write: (rows: CreateData[]) => Promise<R>): Promise<R> {
    // A new session becomes training data only when it is created already rated.
    if (!rows.some((r) => r.sessionQuality != null)) return write(rows);
    const withIds = rows.map((r) => (r.id ? r : { ...r, id: randomUUID() }));
    const ids = withIds.map((r) => r.id!);
    const existing = skipDuplicates ? new Set((await readMany({ id: { in: ids } })).map((r) => r.id)) : null;
    const result = await write(withIds);
    const afters = await readMany({ id: { in: ids } });
    emit(afters.filter((a) => !existing?.has(a.id)).map((a) => change(null, a)));
    return result;
  }

  async function aroundMany<R>(where: Prisma.ClimbingSessionWhereInput | undefined, write: () => Promise<R>, deleting = false): Promise<R> {
    const befores = await readMany(where ?? {});
    const result = await write();
    const afters = deleting ? [] : await readMany({ id: { in: befores.map((b) => b.id) } });
    const byId = new Map(afters.map((a) => [a.id, a]));
    emit(befores.map((b) => change(b, byId.get(b.id) ?? null)));
    return result;
  }

  const client = prisma.$extends(sessionListCursors).$extends({
    name: 'session-completion',
    query: {
      climbingSession: {
        create({ args, query }) {
          return aroundCreate([args.data], undefined, ([data]) => query({ ...args, data: data as typeof args.data }));
        },
        createMany({ args, query }) {
          const rows = Array.isArray(args.data) ? args.data : [args.data];
          return aroundCreate(rows, args.skipDuplicates, (data) => query({ ...args, data: data as typeof rows }));
        },
        createManyAndReturn({ args, query }) {
          const rows = Array.isArray(args.data) ? args.data : [args.data];
          return aroundCreate(rows, args.skipDuplicates, (data) => query({ ...args, data: data as typeof rows }));
        },
        async update({ args, query }) {
          if (!touchesTrainingData(args.data)) return query(args);
          const before = await readOne(args.where);
          const result = await query(args);
          if (before) emit([change(before, await readOne({ id: before.id }))]);
          return result;
        },
        async upsert({ args, query }) {
          const before = await readOne(args.where);
          // The id a created row gets, so it can be read back whatever the result holds.
          const create = args.create.id ? args.create : { ...args.create, id: randomUUID() };
          const result = await query({ ...args, create });
          const after = await readOne({ id: before?.id ?? create.id! });
          if (before || after) emit([change(before, after)]);
          return result;
        },
        updateMany({ args, query }) {
          return touchesTrainingData(args.data) ? aroundMany(args.where, () => query(args)) : query(args);
        },
        updateManyAndReturn({ args, query }) {
          return touchesTrainingData(args.data) ? aroundMany(args.where, () => query(args)) : query(args);
        },
        async delete({ args, query }) {
          const before = await readOne(args.where);
          const result = await query(args);
          if (before) emit([change(before, null)]);
          return result;
        },
        deleteMany({ args, query }) {
          return aroundMany(args.where, () => query(args), true);
        },
      },
    },
  });

  type TransactionClient = Parameters<Parameters<typeof client.$transaction>[0]>[0];
  // An interactive transaction runs its writes in a scope: the hook reads on its client and reports on commit.
  // (A batch $transaction([...]) holds no callback to run in a scope: its writes report as they run.)
  const $transaction = (async (input: unknown, options?: unknown) => {
    if (typeof input !== 'function') return client.$transaction(input as never, options as never);
    const changes: SessionChange[] = [];
    const work = input as (tx: TransactionClient) => Promise<unknown>;
    const result = await client.$transaction((tx) => transactions.run({ reader: tx, changes }, () => work(tx)), options as never);
    report(listener, changes);
    return result;
  }) as typeof client.$transaction;
  return new Proxy(client, { get: (target, property) => (property === '$transaction' ? $transaction : Reflect.get(target, property)) });
}

export type AppPrisma = ReturnType<typeof withSessionHook>;
