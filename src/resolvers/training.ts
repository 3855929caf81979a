// Job control through the API: per-user retraining, the nightly fit on demand, and model-update events.
import type { Context } from '../context.ts';
import type { TrainingRun } from '../generated/prisma/client.ts';
import { authorizeOwner, isAdmin, requireViewer } from './access.ts';
import { badInput, forbidden, notFound } from '../errors.ts';

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

/**
 * modelUpdated events for one user: the current model at once (when there is one), so a client that subscribes
 * again after a disconnect is current, then every update from the shared pub/sub (so any instance's training
 * reaches every subscriber).
 */
export async function* modelUpdates(ctx: Context, userId: string): AsyncGenerator<{ userId: string }> {
  const updates = ctx.services.pubsub.subscribe('modelUpdated')[Symbol.asyncIterator]();
  // Listening starts with the first next(): before the current model is read, so no update falls in between.
  let next = updates.next();
  try {
    // Through the engine's model cache: a thousand clients resubscribing after a restart share its batched reads.
    if (await ctx.services.engine.hasStoredModel(userId)) yield { userId };
    for (let event = await next; !event.done; event = await next) {
      next = updates.next();
      if (event.value.userId === userId) yield event.value;
    }
  } finally {
    await updates.return?.();
  }
}
