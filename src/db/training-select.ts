// The session columns that make a training row (domain.md section 6), as a Prisma select. A module of its own,
// free of the Prisma client: the nightly fit's worker reads its training data with it (training-data.ts) and so
// loads no Prisma runtime (BENCHMARKS.md "Memory").
import { FEATURE_COLUMNS, type FeatureColumn } from '../engine/training-row.ts';

/** The columns that make a training row; the features' come from the variable registry. */
export const TRAINING_SELECT = {
  id: true,
  userId: true,
  status: true,
  sessionQuality: true,
  deviatedFromPlan: true,
  ...(Object.fromEntries(FEATURE_COLUMNS.map((column) => [column, true])) as Record<FeatureColumn, true>),
  updatedAt: true,
} as const;
