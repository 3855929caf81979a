// Per-request DataLoaders: one batched query per kind of lookup, whatever the selection asks for.
import DataLoader from 'dataloader';
import type { AppPrisma } from '../db/session-hook.ts';
import type { BaselineAssessment, ModelOutput } from '../generated/prisma/client.ts';

export interface Loaders {
  currentBaseline: DataLoader<string, BaselineAssessment | null>;
  modelOutput: DataLoader<string, ModelOutput | null>;
}

function byKey<T>(keys: readonly string[], rows: T[], key: (row: T) => string): (T | null)[] {
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
