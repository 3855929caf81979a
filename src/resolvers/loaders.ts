// DataLoaders: per request (one batched query per kind of lookup, whatever the selection asks for), and the
// options and helpers of the loaders shared across requests (the engine's context reads, first-request users).
import DataLoader from 'dataloader';
import type { Viewer } from '../auth.ts';
import type { AppPrisma } from '../db/session-hook.ts';
import type { BaselineAssessment, ModelOutput } from '../generated/prisma/client.ts';

/**
 * Options of the loaders shared across requests. Node runs the promise jobs after each I/O callback, and each
 * WebSocket message or HTTP request body is its own callback: with DataLoader's default schedule (the end of
 * those jobs) every request would be a batch of one. Dispatching from setImmediate waits until every socket
 * read in this event-loop iteration has asked. Not a cache: the TTL caches are.
 */
export const ACROSS_REQUESTS = { cache: false, batchScheduleFn: (dispatch: () => void) => setImmediate(dispatch) } as const;

export interface Loaders {
  currentBaseline: DataLoader<string, BaselineAssessment | null>;
  modelOutput: DataLoader<string, ModelOutput | null>;
}

/** Rows in the order of the keys asked for (null where none). */
export function byKey<T>(keys: readonly string[], rows: T[], key: (row: T) => string): (T | null)[] {
  const map = new Map(rows.map((r) => [key(r), r]));
  return keys.map((k) => map.get(k) ?? null);
}

export function createLoaders(prisma: AppPrisma): Loaders {
  return {
    currentBaseline: new DataLoader(async (userIds) =>
      byKey(userIds, await prisma.baselineAssessment.findMany({ where: { userId: { in: [...userIds] }, isCurrent: true } }), (r) => r.userId),
    ),
    modelOutput: new DataLoader(async (userIds) =>
      byKey(userIds, await prisma.modelOutput.findMany({ where: { userId: { in: [...userIds] } } }), (r) => r.userId),
    ),
  };
}

/**
 * Known (id, role) pairs: a new `sub` gets its User row on its first request, once. First requests of many
 * new tokens at once (a restart under load) share one read and at most one insert.
 */
export function createUserRegistry(prisma: () => AppPrisma): (viewer: Viewer) => Promise<void> {
  const known = new Set<string>();
  const loader = new DataLoader<Viewer, void>(
    async (viewers) => {
      const roleOf = new Map(viewers.map((v) => [v.id, v.role])); // one id asking with two roles: the later wins
      const rows = await prisma().user.findMany({ where: { id: { in: [...roleOf.keys()] } }, select: { id: true, role: true } });
      const stored = new Map(rows.map((r) => [r.id, r.role]));
      const missing = [...roleOf].filter(([id]) => !stored.has(id)).map(([id, role]) => ({ id, role }));
      if (missing.length) await prisma().user.createMany({ data: missing, skipDuplicates: true });
      for (const [id, role] of roleOf) {
        if (stored.has(id) && stored.get(id) !== role) await prisma().user.update({ where: { id }, data: { role } });
      }
      return viewers.map(() => undefined);
    },
    { ...ACROSS_REQUESTS, maxBatchSize: 500 },
  );
  return async (viewer) => {
    const key = `${viewer.id}:${viewer.role}`;
    if (known.has(key)) return;
    await loader.load(viewer);
    if (known.size > 100_000) known.clear();
    known.add(key);
  };
}
