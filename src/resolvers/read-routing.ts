// Which database a read goes to when read replicas are set (DATABASE_REPLICA_URLS): the lag-tolerant reads of
// analysts and admins (the analysts' lists, insights, modelQuality, ModelOutput.history: the insights page's
// aggregates, lists and athlete views) go to a replica that is up and within REPLICA_MAX_LAG_SECONDS; everything
// else reads the primary.
// Read-your-writes: an athlete (or a coach) always reads the primary, so their own sessions, model and
// recommendations are there the moment they are written; so does every field inside a mutation or a subscription
// (a stream's events follow writes), an admin reading their own data, and the engine's reads on the check-in path
// (src/engine-runtime, which never comes here).
import type { GraphQLResolveInfo } from 'graphql';
import type { Context } from '../context.ts';
import type { AppPrisma } from '../db/session-hook.ts';
import { readsEveryone } from './access.ts';

/**
 * The client for a lag-tolerant read: a replica (in turn over those usable) or, with none usable, not set, or a
 * viewer who must read their own writes, the primary. `info` is the field's: a field that can sit inside a
 * mutation's or a subscription's selection passes it (only a query's go to a replica); the Query-only aggregates
 * (insights, modelQuality) may leave it out. `ownerId`: the one user whose data is read, when the read is about one.
 */
export function lagTolerantReader(ctx: Context, info?: GraphQLResolveInfo, ownerId?: string | null): AppPrisma {
  const { replicas, prisma } = ctx.services;
  return (replicaAllowed(ctx, info, ownerId) && replicas?.pick()) || prisma;
}

/** May this read go to a replica (one set, an analyst or admin, a query, not the viewer's own data)? */
export function replicaAllowed(ctx: Context, info?: GraphQLResolveInfo, ownerId?: string | null): boolean {
  if (!ctx.services.replicas || !readsEveryone(ctx.viewer)) return false;
  if (info && info.operation.operation !== 'query') return false;
  return !(ownerId && ownerId === ctx.viewer?.id);
}
