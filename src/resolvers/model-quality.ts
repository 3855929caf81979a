// Live model quality (issue 8 section 2): what MODEL recommendations predicted against the ratings the
// sessions started with them received. Aggregated in SQL (one GROUP BY per part), never row by row in Node.
import type { Context } from '../context.ts';
import { Prisma, type ModelPhase } from '../generated/prisma/client.ts';
import { checkPeriod } from './filters.ts';
import { rollupWithEdges } from './insights.ts';
import { readableOwnerFilter } from './access.ts';

export interface QualityFigures {
  n: number;
  rmse: number | null;
  mae: number | null;
  /** Mean predicted - actual. */
  bias: number | null;
  /** Share of actual ratings inside the 95 % interval. */
  intervalCoverage: number | null;
}

export interface CalibrationBin {
  low: number;
  high: number;
  n: number;
  meanPredicted: number;
  meanActual: number;
}

export interface ModelQuality extends QualityFigures {
  calibration: CalibrationBin[];
  byPhase: (QualityFigures & { phase: ModelPhase })[];
}

export interface ModelQualityFilter {
  from?: Date | null;
  to?: Date | null;
  phase?: ModelPhase | null;
  userId?: string | null;
}

/**
 * Calibration bands of predicted quality: [1,2), [2,3), ... [9,10] (10 joins the last band). The rollup
 * session_prediction_days (its migration) stores the same bands: change both together.
 */
const BAND_WIDTH = 1;

export async function modelQuality(ctx: Context, filter: ModelQualityFilter): Promise<ModelQuality> {
  checkPeriod(filter.from, filter.to);
  // Athletes (and coaches) only ever see themselves; analysts and admins everyone, or one athlete.
  const userId = (await readableOwnerFilter(ctx, filter.userId)) ?? null;

  const band = Prisma.raw(String(BAND_WIDTH));
  // Per scored session or per rollup row: (phase, band, sessions, sums of predicted, actual, |error|, error², covered).
  const rawRows = (times: Prisma.Sql) => Prisma.sql`
    SELECT r.phase, LEAST(GREATEST(floor(r."expectedQuality" / ${band}) * ${band}, 1), 10 - ${band})::int AS band, 1 AS sessions,
      r."expectedQuality" AS predicted, s."sessionQuality"::float8 AS actual, abs(r."expectedQuality" - s."sessionQuality") AS "absError",
      (r."expectedQuality" - s."sessionQuality") ^ 2 AS "squaredError",
      CASE WHEN s."sessionQuality" BETWEEN r."intervalLow" AND r."intervalHigh" THEN 1 ELSE 0 END AS covered
    FROM climbing_sessions s
    -- Looked up by key per session (LIMIT 1 keeps the planner from hashing every recommendation instead).
    CROSS JOIN LATERAL (SELECT * FROM recommendations r WHERE r.id = s."recommendationId" LIMIT 1) r
    WHERE s.status = 'COMPLETED' AND s."sessionQuality" IS NOT NULL AND r.source = 'MODEL' AND r."expectedQuality" IS NOT NULL
      AND ${times}
      ${userId ? Prisma.sql`AND s."userId" = ${userId}::uuid` : Prisma.empty}
      ${filter.phase ? Prisma.sql`AND r.phase = ${filter.phase}::"ModelPhase"` : Prisma.empty}`;
  // One athlete: their sessions directly (indexed by user). Everyone: the daily rollup kept by the session
  // triggers, plus the period's partial first and last days (1M sessions in well under 200 ms).
  const period = { from: filter.from ?? null, to: filter.to ?? null };
  const scored = userId
    ? rawRows(Prisma.join([Prisma.sql`TRUE`, ...(period.from ? [Prisma.sql`s."startedAt" >= ${period.from}`] : []), ...(period.to ? [Prisma.sql`s."startedAt" <= ${period.to}`] : [])], ' AND '))
    : rollupWithEdges(
        period,
        (days) => Prisma.sql`SELECT phase, band, sessions, predicted, actual, "absError", "squaredError", covered FROM session_prediction_days
          WHERE sessions <> 0 AND ${days} ${filter.phase ? Prisma.sql`AND phase = ${filter.phase}::"ModelPhase"` : Prisma.empty}`,
        rawRows,
      );

  type FiguresRow = { phase: ModelPhase | null; n: number; rmse: number | null; mae: number | null; bias: number | null; coverage: number | null };
  type BinRow = { band: number; n: number; meanPredicted: number; meanActual: number };
  const [figures, bins] = await Promise.all([
    ctx.services.prisma.$queryRaw<FiguresRow[]>`
      WITH scored AS (${scored})
      SELECT CASE WHEN GROUPING(phase) = 1 THEN NULL ELSE phase::text END AS phase,
             COALESCE(sum(sessions), 0)::int AS n,
             sqrt(sum("squaredError") / NULLIF(sum(sessions), 0))::float8 AS rmse,
             (sum("absError") / NULLIF(sum(sessions), 0))::float8 AS mae,
             ((sum(predicted) - sum(actual)) / NULLIF(sum(sessions), 0))::float8 AS bias,
             (sum(covered)::float8 / NULLIF(sum(sessions), 0))::float8 AS coverage
      FROM scored
      GROUP BY GROUPING SETS ((), (phase))`,
    ctx.services.prisma.$queryRaw<BinRow[]>`
      WITH scored AS (${scored})
      SELECT band, sum(sessions)::int AS n, (sum(predicted) / sum(sessions))::float8 AS "meanPredicted", (sum(actual) / sum(sessions))::float8 AS "meanActual"
      FROM scored GROUP BY band HAVING sum(sessions) > 0 ORDER BY band`,
  ]);
  const figuresOf = (row: FiguresRow | undefined): QualityFigures =>
    row ? { n: row.n, rmse: row.rmse, mae: row.mae, bias: row.bias, intervalCoverage: row.coverage } : { n: 0, rmse: null, mae: null, bias: null, intervalCoverage: null };
  return {
    ...figuresOf(figures.find((r) => r.phase === null)),
    calibration: bins.map((b) => ({ low: b.band, high: b.band + BAND_WIDTH, n: b.n, meanPredicted: b.meanPredicted, meanActual: b.meanActual })),
    byPhase: figures.filter((r): r is FiguresRow & { phase: ModelPhase } => r.phase !== null).map((r) => ({ phase: r.phase, ...figuresOf(r) })),
  };
}
