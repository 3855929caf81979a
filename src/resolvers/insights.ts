// The analyst's aggregates (issue 8 section 3). Each part is one SQL statement computed by the database:
// session counts and qualities come from the daily rollups (session_quality_days, session_rule_days, kept by
// triggers), plus the raw sessions of the period's partial first and last days, so any from..to is exact.
import type { Context } from '../context.ts';
import { standardizedEffects, type StandardizedEffect } from '../engine/effects.ts';
import { termArray } from '../engine/variables.ts';
import { Prisma, type ModelPhase } from '../generated/prisma/client.ts';
import { period } from './filters.ts';
import { lagTolerantReader } from './read-routing.ts';

export type TimeBucket = 'DAY' | 'WEEK' | 'MONTH';

/** The period an Insights object answers for. */
export interface InsightsPeriod {
  from: Date | null;
  to: Date | null;
}

const DAY_MS = 86_400_000;
const floorDay = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);
const ceilDay = (d: Date) => new Date(Math.ceil(d.getTime() / DAY_MS) * DAY_MS);

export function insightsPeriod(from?: Date | null, to?: Date | null): InsightsPeriod {
  period(from, to);
  return { from: from ?? null, to: to ?? null };
}

/**
 * Rows of a daily rollup for the whole UTC days [ceil(from), floor(to)) of the period, UNION ALL the same rows
 * computed from climbing_sessions (alias s) for the partial days at either end, so any from..to is exact.
 * `rollup` gets the condition on "day", `raw` the condition on s."startedAt".
 */
export function rollupWithEdges(p: InsightsPeriod, rollup: (days: Prisma.Sql) => Prisma.Sql, raw: (times: Prisma.Sql) => Prisma.Sql): Prisma.Sql {
  const wholeFrom = p.from ? ceilDay(p.from) : null;
  const wholeTo = p.to ? floorDay(p.to) : null;
  const parts = [rollup(Prisma.join([Prisma.sql`TRUE`, ...(wholeFrom ? [Prisma.sql`"day" >= ${wholeFrom}::date`] : []), ...(wholeTo ? [Prisma.sql`"day" < ${wholeTo}::date`] : [])], ' AND '))];
  if (p.from && wholeFrom) {
    parts.push(raw(Prisma.sql`s."startedAt" >= ${p.from} AND s."startedAt" < ${wholeFrom} ${p.to ? Prisma.sql`AND s."startedAt" <= ${p.to}` : Prisma.empty}`));
  }
  if (p.to && wholeTo) {
    // Starts at the later of floor(to) and ceil(from): within one day the head part above has it all.
    const tailFrom = wholeFrom && wholeFrom > wholeTo ? wholeFrom : wholeTo;
    parts.push(raw(Prisma.sql`s."startedAt" >= ${tailFrom} AND s."startedAt" <= ${p.to}`));
  }
  return Prisma.join(parts, ' UNION ALL ');
}

const RATED = Prisma.sql`s."status" = 'COMPLETED' AND s."sessionQuality" IS NOT NULL`;

/**
 * (at, quality, sessions) of the completed, rated sessions started in the period; `perRule` adds the rule
 * column (one row per rule the linked recommendation matched).
 */
function countedSessions(p: InsightsPeriod, perRule: boolean): Prisma.Sql {
  return perRule
    ? rollupWithEdges(
        p,
        (days) => Prisma.sql`SELECT "day"::timestamp AS at, "rule", "quality", "sessions" FROM "session_rule_days" WHERE "sessions" <> 0 AND ${days}`,
        // A correlated lookup per session (primary key): a join let the planner hash all recommendations (1M rows: 1 s).
        (times) => Prisma.sql`SELECT s."startedAt" AS at, r.rule, s."sessionQuality" AS quality, 1 AS sessions FROM "climbing_sessions" s
          CROSS JOIN LATERAL unnest((SELECT rec."matchedRules" FROM "recommendations" rec WHERE rec."id" = s."recommendationId")) AS r(rule)
          WHERE ${RATED} AND ${times}`,
      )
    : rollupWithEdges(
        p,
        (days) => Prisma.sql`SELECT "day"::timestamp AS at, "quality", "sessions" FROM "session_quality_days" WHERE "sessions" <> 0 AND ${days}`,
        (times) => Prisma.sql`SELECT s."startedAt" AS at, s."sessionQuality" AS quality, 1 AS sessions FROM "climbing_sessions" s WHERE ${RATED} AND ${times}`,
      );
}

const BUCKET_UNIT: Record<TimeBucket, string> = { DAY: 'day', WEEK: 'week', MONTH: 'month' };

export interface TimeBucketCount {
  start: Date;
  count: number;
  meanQuality: number | null;
}

/** Sessions per UTC day, ISO week (from Monday) or month, every bucket from the first to the last with sessions. */
export async function sessionsOverTime(ctx: Context, p: InsightsPeriod, bucket: TimeBucket): Promise<TimeBucketCount[]> {
  const unit = BUCKET_UNIT[bucket];
  return lagTolerantReader(ctx).$queryRaw<TimeBucketCount[]>`
    WITH counted AS (${countedSessions(p, false)}),
    buckets AS (
      SELECT date_trunc(${unit}, at) AS start, sum(sessions)::int AS count, sum(quality * sessions)::float8 / sum(sessions) AS mean
      FROM counted GROUP BY 1
    )
    SELECT g.start, COALESCE(b.count, 0) AS count, b.mean AS "meanQuality"
    FROM generate_series((SELECT min(start) FROM buckets), (SELECT max(start) FROM buckets), ${`1 ${unit}`}::interval) AS g(start)
    LEFT JOIN buckets b ON b.start = g.start
    ORDER BY g.start`;
}

/** Completed sessions per quality 1-10 (every quality listed, zeros included). */
export async function qualityHistogram(ctx: Context, p: InsightsPeriod): Promise<{ quality: number; count: number }[]> {
  return lagTolerantReader(ctx).$queryRaw`
    WITH counted AS (${countedSessions(p, false)})
    SELECT q.quality, COALESCE(sum(c.sessions), 0)::int AS count
    FROM generate_series(1, 10) AS q(quality) LEFT JOIN counted c ON c.quality = q.quality
    GROUP BY q.quality ORDER BY q.quality`;
}

export interface RuleInsight {
  name: string;
  matched: number;
  meanQuality: number | null;
  meanQualityOthers: number | null;
}

/**
 * Every active rule (matched or not: 0 tells "never matched" from "does not exist") and every rule that matched in
 * the period: the completed sessions of the period whose recommendation matched it, their mean quality, and the
 * mean quality of all the period's other completed sessions. Most matched first, then by name.
 */
export async function ruleInsights(ctx: Context, p: InsightsPeriod): Promise<RuleInsight[]> {
  return lagTolerantReader(ctx).$queryRaw`
    WITH ruled AS (${countedSessions(p, true)}),
    counted AS (${countedSessions(p, false)}),
    total AS (SELECT COALESCE(sum(sessions), 0) AS n, COALESCE(sum(quality * sessions), 0) AS q FROM counted),
    per_rule AS (SELECT rule, sum(sessions) AS n, sum(quality * sessions) AS q FROM ruled GROUP BY rule HAVING sum(sessions) > 0),
    listed AS (SELECT rule FROM per_rule UNION SELECT e."name" FROM "expert_rules" e WHERE e."isActive")
    SELECT l.rule AS name, COALESCE(r.n, 0)::int AS matched, r.q::float8 / NULLIF(r.n, 0) AS "meanQuality",
      (t.q - COALESCE(r.q, 0))::float8 / NULLIF(t.n - COALESCE(r.n, 0), 0) AS "meanQualityOthers"
    FROM listed l LEFT JOIN per_rule r ON r.rule = l.rule CROSS JOIN total t
    ORDER BY COALESCE(r.n, 0) DESC, l.rule`;
}

/** Athletes per current model phase (never trained: COLD_START); every phase listed. */
export async function athletesByPhase(ctx: Context): Promise<{ phase: ModelPhase; count: number }[]> {
  return lagTolerantReader(ctx).$queryRaw`
    SELECT p.phase::text AS phase, count(a.id)::int AS count
    FROM unnest(enum_range(NULL::"ModelPhase")) AS p(phase)
    LEFT JOIN (
      SELECT u."id", COALESCE(m."phase", 'COLD_START'::"ModelPhase") AS phase
      FROM "users" u LEFT JOIN "model_outputs" m ON m."userId" = u."id" WHERE u."role" = 'ATHLETE'
    ) a ON a.phase = p.phase
    GROUP BY p.phase ORDER BY p.phase`;
}

/**
 * Standardized population effects of the nightly fit in force at the end of the period (the latest fitted at or
 * before `to`), scaled by the observed sd of each variable; [] before the first fit.
 */
export async function populationEffects(ctx: Context, p: InsightsPeriod): Promise<StandardizedEffect[]> {
  const rows = await lagTolerantReader(ctx).$queryRaw<{ mu: unknown; muSd: unknown; tau2: unknown; sd: Record<string, number> | null }[]>`
    SELECT m."mu", m."muSd", m."tau2", (SELECT json_object_agg(s."variable", s."std") FROM "population_statistics" s) AS sd
    FROM "population_models" m
    ${p.to ? Prisma.sql`WHERE m."fittedAt" <= ${p.to}` : Prisma.empty}
    ORDER BY m."fittedAt" DESC LIMIT 1`;
  const row = rows[0];
  const mu = termArray(row?.mu);
  const muSd = termArray(row?.muSd);
  const tau2 = termArray(row?.tau2);
  if (!row || !mu || !muSd || !tau2) return [];
  return standardizedEffects(mu, muSd, tau2, row.sd ?? {});
}
