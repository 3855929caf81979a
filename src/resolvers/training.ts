// Job control through the API: per-user retraining, the nightly fit on demand, and model-update events.
import type { Context } from '../context.ts';
import type { ModelOutput, TrainingRun } from '../generated/prisma/client.ts';
import { authorizeOwner, isAdmin, requireViewer } from './access.ts';
import { badInput, forbidden, notFound } from '../errors.ts';
import { emptyStats, populationUserModel, type Hyperparameters } from '../engine/bayes/index.ts';
import { coldStartRecordJson, insertModelOutputIfAbsent } from '../jobs/model-store.ts';
import { endsWithReader } from '../pubsub.ts';

/** Yourself, or (admins) anyone. */
export async function trainUserModel(ctx: Context, userId: string | null): Promise<TrainingRun> {
  const viewer = requireViewer(ctx);
  const target = userId ?? viewer.id;
  if (target !== viewer.id && !isAdmin(viewer)) throw forbidden('Only admins can retrain another athlete');
  if (target === viewer.id) await authorizeOwner(ctx, target, 'write');
  const exists = await ctx.services.prisma.user.findUnique({ where: { id: target }, select: { id: true } });
  if (!exists) throw notFound('User');
  return ctx.services.training.trainUser(target, 'MANUAL');
}

/**
 * Starts the nightly pipeline; returns its run at once (RUNNING), or when finished with wait. With a slot (a tick
 * of the schedule, e.g. a night that failed) it is that night's run: if the slot already succeeded, that run is
 * returned and nothing is trained. Without one it always trains, and belongs to no slot.
 */
export async function runNightlyTraining(ctx: Context, wait: boolean, slot: Date | null): Promise<TrainingRun> {
  const { training, config } = ctx.services;
  if (slot) {
    const { matches, nextTick } = training.scheduledSlot(slot);
    if (!matches || slot.getTime() > Date.now()) {
      throw badInput('slot', `slot must be a past tick of the nightly schedule "${config.nightlyTrainingCron}" (UTC; the next is ${nextTick.toISOString()})`);
    }
  }
  const { started, finished } = training.startNightly('MANUAL', slot);
  return wait ? finished : started;
}

/** The cold-start row's JSON per population (its hyperparameters): one text shared by every new athlete. */
const coldStartRecords = new WeakMap<Hyperparameters, string>();

/**
 * An athlete without a stored model (no rated session yet, no nightly fit since they joined) is served the
 * population's (COLD_START): stored as theirs, so that modelUpdated can send it like anyone's model. A model written
 * meanwhile (a first completion's quick update) is kept. false when there is no such user.
 */
async function storeServedColdStartModel(ctx: Context, userId: string): Promise<boolean> {
  const { db, engine } = ctx.services;
  const { hyper } = await engine.population();
  let record = coldStartRecords.get(hyper);
  if (!record) {
    record = coldStartRecordJson(populationUserModel(hyper), emptyStats());
    coldStartRecords.set(hyper, record);
  }
  if (!(await insertModelOutputIfAbsent(db.sql, userId, record))) return false;
  engine.invalidate({ kind: 'model', userId });
  return true;
}

/**
 * The athlete's stored model as Prisma's ModelOutput (every column: a plain SELECT decodes the same types), read
 * by one prepared statement for each event a `modelUpdated` stream sends. Through Prisma the read allocated some 50
 * KB per event (its query compiler and interpreter), and a nightly run sends one event to every open stream at once
 * (BENCHMARKS.md "Memory").
 */
export async function storedModelOutput(ctx: Context, userId: string): Promise<ModelOutput> {
  const [row] = await ctx.services.db.sql.query<ModelOutput>(`SELECT * FROM model_outputs WHERE "userId" = $1::uuid`, [userId]);
  if (!row) throw notFound('Model');
  return row;
}

/**
 * modelUpdated events for one user: the current model at once (for an athlete who has none stored yet, the
 * population's they are served, COLD_START), so a client that subscribes again after a disconnect is current, then
 * every update from the shared pub/sub (so any instance's training reaches every subscriber). A user who does not
 * exist is refused (NOT_FOUND) before the stream starts, instead of a stream that never sends anything.
 */
export async function modelUpdates(ctx: Context, userId: string): Promise<AsyncGenerator<{ userId: string }>> {
  const updates = ctx.services.pubsub.subscribe('modelUpdated', userId)[Symbol.asyncIterator]();
  // Listening starts with the first next(): before the current model is read, so no update falls in between.
  let next = updates.next();
  try {
    // Through the engine's model cache: a thousand clients resubscribing after a restart share its batched reads.
    if (!((await ctx.services.engine.hasStoredModel(userId)) || (await storeServedColdStartModel(ctx, userId)))) throw notFound('User');
  } catch (err) {
    await updates.return?.();
    throw err;
  }
  const stream = (async function* () {
    try {
      yield { userId };
      for (let event = await next; !event.done; event = await next) {
        next = updates.next();
        if (event.value.userId === userId) yield event.value;
      }
    } finally {
      await updates.return?.();
    }
  })();
  return endsWithReader(stream, [updates]);
}
