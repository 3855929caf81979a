// Live model quality (issue 8 section 2): what MODEL recommendations predicted against the ratings the
// sessions started with them received. Aggregated in SQL (one GROUP BY per part), never row by row in Node.
import type { Context } from '../context.ts';
import { badInput } from '../errors.ts';
import { Prisma, type ModelPhase } from '../generated/prisma/client.ts';
import { assertCanRead, canReadEveryone, requireViewer } from './access.ts';

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

/** Calibration bands of predicted quality: [1,2), [2,3), ... [9,10] (10 joins the last band). */
const BAND_WIDTH = 1;

export async function modelQuality(ctx: Context, filter: ModelQualityFilter): Promise<ModelQuality> {
  const viewer = requireViewer(ctx);
  if (filter.from && filter.to && filter.from > filter.to) throw badInput('from', 'from must not be after to');
  // Athletes (and coaches) only ever see themselves; analysts and admins everyone, or one athlete.
  if (filter.userId) assertCanRead(ctx, filter.userId);
  const userId = filter.userId ?? (canReadEveryone(viewer) ? null : viewer.id);

  const conditions = [
    Prisma.sql`s.status = 'COMPLETED'`,
    Prisma.sql`s."sessionQuality" IS NOT NULL`,
    Prisma.sql`r.source = 'MODEL'`,
    Prisma.sql`r."expectedQuality" IS NOT NULL`,
  ];
  if (userId) conditions.push(Prisma.sql`s."userId" = ${userId}::uuid`);
  if (filter.from) conditions.push(Prisma.sql`s."startedAt" >= ${filter.from}`);
  if (filter.to) conditions.push(Prisma.sql`s."startedAt" <= ${filter.to}`);
  if (filter.phase) conditions.push(Prisma.sql`r.phase = ${filter.phase}::"ModelPhase"`);
  const scored = Prisma.sql`
    FROM climbing_sessions s JOIN recommendations r ON r.id = s."recommendationId"
    WHERE ${Prisma.join(conditions, ' AND ')}`;

  const band = Prisma.raw(String(BAND_WIDTH));
  type FiguresRow = { phase: ModelPhase | null; n: number; rmse: number | null; mae: number | null; bias: number | null; coverage: number | null };
  type BinRow = { band: number; n: number; meanPredicted: number; meanActual: number };
  const [figures, bins] = await Promise.all([
    ctx.services.prisma.$queryRaw<FiguresRow[]>`
      SELECT CASE WHEN GROUPING(r.phase) = 1 THEN NULL ELSE r.phase::text END AS phase,
             count(*)::int AS n,
             sqrt(avg((r."expectedQuality" - s."sessionQuality") ^ 2))::float8 AS rmse,
             avg(abs(r."expectedQuality" - s."sessionQuality"))::float8 AS mae,
             avg(r."expectedQuality" - s."sessionQuality")::float8 AS bias,
             avg(CASE WHEN s."sessionQuality" BETWEEN r."intervalLow" AND r."intervalHigh" THEN 1 ELSE 0 END)::float8 AS coverage
      ${scored}
      GROUP BY GROUPING SETS ((), (r.phase))`,
    ctx.services.prisma.$queryRaw<BinRow[]>`
      SELECT LEAST(GREATEST(floor(r."expectedQuality" / ${band}) * ${band}, 1), 10 - ${band})::int AS band,
             count(*)::int AS n,
             avg(r."expectedQuality")::float8 AS "meanPredicted",
             avg(s."sessionQuality")::float8 AS "meanActual"
      ${scored}
      GROUP BY 1 ORDER BY 1`,
  ]);
  const figuresOf = (row: FiguresRow | undefined): QualityFigures =>
    row ? { n: row.n, rmse: row.rmse, mae: row.mae, bias: row.bias, intervalCoverage: row.coverage } : { n: 0, rmse: null, mae: null, bias: null, intervalCoverage: null };
  return {
    ...figuresOf(figures.find((r) => r.phase === null)),
    calibration: bins.map((b) => ({ low: b.band, high: b.band + BAND_WIDTH, n: b.n, meanPredicted: b.meanPredicted, meanActual: b.meanActual })),
    byPhase: figures.filter((r): r is FiguresRow & { phase: ModelPhase } => r.phase !== null).map((r) => ({ phase: r.phase, ...figuresOf(r) })),
  };
}
