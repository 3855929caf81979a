// Live model quality (issue 8 section 2, issue 25): what MODEL recommendations predicted against the ratings the
// sessions started with them received. Aggregated in SQL (one statement per part selected), never row by row in
// Node: the figures over everything and per phase, calibration bands (overall and per phase), the figures per
// time bucket, and per athlete (ordered, paged, counted by the database).
import type { Context } from '../context.ts';
import { roundRating, roundShare } from '../engine/rounding.ts';
import { Prisma, type ModelPhase } from '../generated/prisma/client.ts';
import { badInput } from '../errors.ts';
import { checkPeriod } from './filters.ts';
import { rollupWithEdges, type TimeBucket } from './insights.ts';
import { readableOwnerFilter } from './access.ts';
import { lagTolerantReader } from './read-routing.ts';

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

export interface PhaseQuality extends QualityFigures {
  phase: ModelPhase;
  /** Where its calibration is read from, when selected. */
  scope: ModelQualityScope;
}

export interface BucketQuality extends QualityFigures {
  start: Date;
}

export interface AthleteQuality extends QualityFigures {
  userId: string;
}

export interface ModelQualityFilter {
  from?: Date | null;
  to?: Date | null;
  phase?: ModelPhase | null;
  userId?: string | null;
}

/** What a ModelQuality object answers for; its parts are computed when selected, each once. */
export interface ModelQualityScope {
  from: Date | null;
  to: Date | null;
  phase: ModelPhase | null;
  /** One athlete (asked for, or the athlete asking); null: everyone. */
  userId: string | null;
  /** Memoized parts (figures and calibration are shared by the summary and byPhase). */
  parts: Map<string, Promise<unknown>>;
}

/** The phases in their order (the enum's: how an athlete's model matures). */
export const PHASE_ORDER: readonly ModelPhase[] = ['COLD_START', 'LEARNING', 'PERSONALIZED'];

/**
 * Calibration bands of predicted quality: [1,2), [2,3), ... [9,10] (10 joins the last band). The rollup
 * session_prediction_days (its migration) stores the same bands: change both together.
 */
const BAND_WIDTH = 1;
const BUCKET_UNIT: Record<TimeBucket, string> = { DAY: 'day', WEEK: 'week', MONTH: 'month' };

export async function modelQualityScope(ctx: Context, filter: ModelQualityFilter): Promise<ModelQualityScope> {
  checkPeriod(filter.from, filter.to);
  // Athletes (and coaches) only ever see themselves; analysts and admins everyone, or one athlete.
  const userId = (await readableOwnerFilter(ctx, filter.userId)) ?? null;
  return { from: filter.from ?? null, to: filter.to ?? null, phase: filter.phase ?? null, userId, parts: new Map() };
}

function once<T>(scope: ModelQualityScope, key: string, load: () => Promise<T>): Promise<T> {
  if (!scope.parts.has(key)) scope.parts.set(key, load());
  return scope.parts.get(key) as Promise<T>;
}

/** The scope's own period condition on s."startedAt" (for the raw rows of every day). */
function wholePeriod(scope: ModelQualityScope): Prisma.Sql {
  return Prisma.join([Prisma.sql`TRUE`, ...(scope.from ? [Prisma.sql`s."startedAt" >= ${scope.from}`] : []), ...(scope.to ? [Prisma.sql`s."startedAt" <= ${scope.to}`] : [])], ' AND ');
}

/** Per scored session: (at, userId, phase, band, sessions, predicted, actual, |error|, error², covered). */
function rawRows(scope: ModelQualityScope, times: Prisma.Sql): Prisma.Sql {
  const band = Prisma.raw(String(BAND_WIDTH));
  return Prisma.sql`
    SELECT s."startedAt" AS at, s."userId", r.phase, LEAST(GREATEST(floor(r."expectedQuality" / ${band}) * ${band}, 1), 10 - ${band})::int AS band, 1 AS sessions,
      r."expectedQuality" AS predicted, s."sessionQuality"::float8 AS actual, abs(r."expectedQuality" - s."sessionQuality") AS "absError",
      (r."expectedQuality" - s."sessionQuality") ^ 2 AS "squaredError",
      CASE WHEN s."sessionQuality" BETWEEN r."intervalLow" AND r."intervalHigh" THEN 1 ELSE 0 END AS covered
    FROM climbing_sessions s
    -- Looked up by key per session (LIMIT 1 keeps the planner from hashing every recommendation instead).
    CROSS JOIN LATERAL (SELECT * FROM recommendations r WHERE r.id = s."recommendationId" LIMIT 1) r
    WHERE s.status = 'COMPLETED' AND s."sessionQuality" IS NOT NULL AND r.source = 'MODEL' AND r."expectedQuality" IS NOT NULL
      AND ${times}
      ${scope.userId ? Prisma.sql`AND s."userId" = ${scope.userId}::uuid` : Prisma.empty}
      ${scope.phase ? Prisma.sql`AND r.phase = ${scope.phase}::"ModelPhase"` : Prisma.empty}`;
}

/**
 * The scored sessions as (at, phase, band, sessions, sums...): one athlete's directly (indexed by user); everyone's
 * from the daily rollup kept by the session triggers, plus the period's partial first and last days (1M sessions in
 * well under 200 ms).
 */
function scored(scope: ModelQualityScope): Prisma.Sql {
  if (scope.userId) return rawRows(scope, wholePeriod(scope));
  return rollupWithEdges(
    scope,
    (days) => Prisma.sql`SELECT "day"::timestamp AS at, NULL::uuid AS "userId", phase, band, sessions, predicted, actual, "absError", "squaredError", covered FROM session_prediction_days
      WHERE sessions <> 0 AND ${days} ${scope.phase ? Prisma.sql`AND phase = ${scope.phase}::"ModelPhase"` : Prisma.empty}`,
    (times) => rawRows(scope, times),
  );
}

/** The aggregate columns of QualityFigures over a group of scored rows. */
const FIGURES = Prisma.sql`COALESCE(sum(sessions), 0)::int AS n,
  sqrt(sum("squaredError") / NULLIF(sum(sessions), 0))::float8 AS rmse,
  (sum("absError") / NULLIF(sum(sessions), 0))::float8 AS mae,
  ((sum(predicted) - sum(actual)) / NULLIF(sum(sessions), 0))::float8 AS bias,
  (sum(covered)::float8 / NULLIF(sum(sessions), 0))::float8 AS coverage`;

type FiguresRow = { n: number; rmse: number | null; mae: number | null; bias: number | null; coverage: number | null };

/** Errors on the rating scale leave with 2 decimals, the coverage share with 4. */
const figuresOf = (row: FiguresRow | undefined): QualityFigures =>
  row
    ? { n: row.n, rmse: roundRating(row.rmse), mae: roundRating(row.mae), bias: roundRating(row.bias), intervalCoverage: roundShare(row.coverage) }
    : { n: 0, rmse: null, mae: null, bias: null, intervalCoverage: null };

/** Over everything (phase null) and per phase. */
function figuresByPhase(ctx: Context, scope: ModelQualityScope): Promise<(FiguresRow & { phase: ModelPhase | null })[]> {
  return once(
    scope,
    'figures',
    () => lagTolerantReader(ctx, undefined, scope.userId).$queryRaw<(FiguresRow & { phase: ModelPhase | null })[]>`
      WITH scored AS (${scored(scope)})
      SELECT CASE WHEN GROUPING(phase) = 1 THEN NULL ELSE phase::text END AS phase, ${FIGURES}
      FROM scored GROUP BY GROUPING SETS ((), (phase))`,
  );
}

/** Calibration bands over everything (phase null) and per phase. */
function calibrationByPhase(ctx: Context, scope: ModelQualityScope): Promise<{ phase: ModelPhase | null; bins: CalibrationBin[] }[]> {
  return once(scope, 'calibration', async () => {
    const rows = await lagTolerantReader(ctx, undefined, scope.userId).$queryRaw<{ phase: ModelPhase | null; band: number; n: number; meanPredicted: number; meanActual: number }[]>`
      WITH scored AS (${scored(scope)})
      SELECT CASE WHEN GROUPING(phase) = 1 THEN NULL ELSE phase::text END AS phase, band, sum(sessions)::int AS n,
        (sum(predicted) / sum(sessions))::float8 AS "meanPredicted", (sum(actual) / sum(sessions))::float8 AS "meanActual"
      FROM scored GROUP BY GROUPING SETS ((band), (phase, band)) HAVING sum(sessions) > 0 ORDER BY band`;
    return [null, ...PHASE_ORDER].map((phase) => ({
      phase,
      bins: rows.filter((r) => r.phase === phase).map((b) => ({ low: b.band, high: b.band + BAND_WIDTH, n: b.n, meanPredicted: roundRating(b.meanPredicted), meanActual: roundRating(b.meanActual) })),
    }));
  });
}

export async function overallFigures(ctx: Context, scope: ModelQualityScope): Promise<QualityFigures> {
  return figuresOf((await figuresByPhase(ctx, scope)).find((r) => r.phase === null));
}

/** The calibration bands over every phase (phase null) or one. */
export async function phaseCalibration(ctx: Context, scope: ModelQualityScope, phase: ModelPhase | null): Promise<CalibrationBin[]> {
  return (await calibrationByPhase(ctx, scope)).find((c) => c.phase === phase)?.bins ?? [];
}

/** Every phase (the asked one only, with `phase`), in the phases' order; a phase without sessions has n 0. */
export async function byPhase(ctx: Context, scope: ModelQualityScope): Promise<PhaseQuality[]> {
  const figures = await figuresByPhase(ctx, scope);
  return PHASE_ORDER.filter((phase) => !scope.phase || phase === scope.phase).map((phase) => ({ phase, scope, ...figuresOf(figures.find((r) => r.phase === phase)) }));
}

/** The figures per UTC day, week (from Monday) or month: every bucket from the first to the last with a scored session. */
export async function overTime(ctx: Context, scope: ModelQualityScope, bucket: TimeBucket): Promise<BucketQuality[]> {
  const unit = BUCKET_UNIT[bucket];
  const rows = await lagTolerantReader(ctx, undefined, scope.userId).$queryRaw<(FiguresRow & { start: Date })[]>`
    WITH scored AS (${scored(scope)}),
    buckets AS (SELECT date_trunc(${unit}, at) AS start, ${FIGURES} FROM scored GROUP BY 1)
    SELECT g.start, COALESCE(b.n, 0) AS n, b.rmse, b.mae, b.bias, b.coverage
    FROM generate_series((SELECT min(start) FROM buckets), (SELECT max(start) FROM buckets), ${`1 ${unit}`}::interval) AS g(start)
    LEFT JOIN buckets b ON b.start = g.start
    ORDER BY g.start`;
  return rows.map((r) => ({ start: r.start, ...figuresOf(r) }));
}

export type AthleteQualityField = 'RMSE' | 'MAE' | 'BIAS' | 'ABS_BIAS' | 'COVERAGE' | 'SESSIONS';
export interface AthleteQualityOrder {
  field: AthleteQualityField;
  direction: 'ASC' | 'DESC';
}

const ORDER_COLUMN: Record<AthleteQualityField, Prisma.Sql> = {
  RMSE: Prisma.sql`rmse`,
  MAE: Prisma.sql`mae`,
  BIAS: Prisma.sql`bias`,
  ABS_BIAS: Prisma.sql`abs(bias)`,
  COVERAGE: Prisma.sql`coverage`,
  SESSIONS: Prisma.sql`n`,
};

/**
 * The figures per athlete with at least `minSessions` scored sessions, ordered in the database (ties by user id),
 * one page of them and how many there are. Always from the sessions themselves (the rollups are not per athlete).
 */
export async function byAthlete(
  ctx: Context,
  scope: ModelQualityScope,
  options: { minSessions: number; orderBy: AthleteQualityOrder; offset: number; limit: number },
): Promise<{ rows: AthleteQuality[]; totalCount: number }> {
  if (!Number.isInteger(options.minSessions) || options.minSessions < 1) throw badInput('minSessions', 'minSessions must be a whole number of at least 1');
  const direction = Prisma.raw(options.orderBy.direction === 'ASC' ? 'ASC' : 'DESC');
  const perAthlete = Prisma.sql`
    WITH scored AS (${rawRows(scope, wholePeriod(scope))})
    SELECT "userId"::text AS "userId", ${FIGURES} FROM scored GROUP BY "userId" HAVING count(*) >= ${options.minSessions}`;
  const [rows, total] = await Promise.all([
    lagTolerantReader(ctx, undefined, scope.userId).$queryRaw<(FiguresRow & { userId: string })[]>`
      WITH per AS (${perAthlete})
      SELECT * FROM per ORDER BY ${ORDER_COLUMN[options.orderBy.field]} ${direction} NULLS LAST, "userId" ${direction}
      LIMIT ${options.limit} OFFSET ${options.offset}`,
    lagTolerantReader(ctx, undefined, scope.userId).$queryRaw<{ count: number }[]>`WITH per AS (${perAthlete}) SELECT count(*)::int AS count FROM per`,
  ]);
  return { rows: rows.map((r) => ({ userId: r.userId, ...figuresOf(r) })), totalCount: total[0]?.count ?? 0 };
}
