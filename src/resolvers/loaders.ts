// DataLoaders: per request (one batched query per kind of lookup, whatever the selection asks for), and the
// options and helpers of the loaders shared across requests (the engine's context reads, first-request users).
import DataLoader from 'dataloader';
import type { Viewer } from '../auth.ts';
import type { AppPrisma } from '../db/session-hook.ts';
import type { CoefficientComparison, PersonalHistory } from '../engine/statistics.ts';
import { Prisma, type BaselineAssessment, type ModelOutput, type ModelPhase, type Recommendation, type User } from '../generated/prisma/client.ts';

/**
 * Options of the loaders shared across requests. Node runs the promise jobs after each I/O callback, and each
 * WebSocket message or HTTP request body is its own callback: with DataLoader's default schedule (the end of
 * those jobs) every request would be a batch of one. Dispatching from setImmediate waits until every socket
 * read in this event-loop iteration has asked. Not a cache: the TTL caches are.
 */
export const ACROSS_REQUESTS = { cache: false, batchScheduleFn: (dispatch: () => void) => setImmediate(dispatch) } as const;

/** One nightly snapshot of an athlete's model, with the population's of the same fit. */
export interface ModelSnapshotEntry {
  fittedAt: Date;
  phase: ModelPhase | null;
  sessionsIncluded: number;
  coefficients: Prisma.JsonValue;
  populationCoefficients: Prisma.JsonValue | null;
}

export interface Loaders {
  currentBaseline: DataLoader<string, BaselineAssessment | null>;
  modelOutput: DataLoader<string, ModelOutput | null>;
  /** Per athlete, oldest first (at most the retention period's nightly runs). */
  modelHistory: DataLoader<string, ModelSnapshotEntry[]>;
  /** The same through the lag-tolerant reader (a read replica when one is usable: src/resolvers/read-routing.ts). */
  lagTolerantModelHistory: DataLoader<string, ModelSnapshotEntry[]>;
  /** Whether an expert rule of that name exists (active or not): a list's filter and its totalCount ask once. */
  ruleExists: DataLoader<string, boolean>;
  /** Is this coach linked to this athlete right now (an active CoachLink)? Per request: never kept longer. */
  coachedAthlete: DataLoader<CoachedPair, boolean, string>;
  /** Each athlete's latest stored recommendation (a coach's roster: readiness today). */
  latestRecommendation: DataLoader<string, Recommendation | null>;
  /** A stored recommendation's coefficient comparisons, by the id of their set (coefficient_comparison_sets). */
  coefficientComparisons: DataLoader<string, CoefficientComparison[] | null>;
  /** A stored recommendation's history summary, by its id (history_summaries). */
  historySummaries: DataLoader<string, PersonalHistory | null>;
  /** Users by id (a stored recommendation's athlete: no Prisma relation since its foreign key became a trigger). */
  user: DataLoader<string, User | null>;
}

export interface CoachedPair {
  coachId: string;
  athleteId: string;
}

/** Rows in the order of the keys asked for (null where none). */
export function byKey<T>(keys: readonly string[], rows: T[], key: (row: T) => string): (T | null)[] {
  const map = new Map(rows.map((r) => [key(r), r]));
  return keys.map((k) => map.get(k) ?? null);
}

/** Per athlete, every nightly snapshot with the population's of the same fit, oldest first. */
async function loadModelHistory(prisma: AppPrisma, userIds: readonly string[]): Promise<ModelSnapshotEntry[][]> {
  const rows = await prisma.$queryRaw<(ModelSnapshotEntry & { userId: string })[]>`
    SELECT s."userId"::text AS "userId", s."fittedAt", s.phase::text AS phase, s."sessionsIncluded", s.coefficients,
           p.coefficients AS "populationCoefficients"
    FROM model_snapshots s
    LEFT JOIN model_snapshots p ON p."trainingRunId" = s."trainingRunId" AND p."userId" IS NULL
    WHERE s."userId" IN (${Prisma.join(userIds.map((id) => Prisma.sql`${id}::uuid`))})
    ORDER BY s."fittedAt", s.id`;
  const byUser = new Map<string, ModelSnapshotEntry[]>(userIds.map((id) => [id, []]));
  for (const { userId, ...entry } of rows) byUser.get(userId)?.push({ ...entry, fittedAt: new Date(entry.fittedAt) });
  return userIds.map((id) => byUser.get(id) ?? []);
}

/**
 * A request's loaders, each made on its first use: most operations use one or two, and an open subscription
 * (modelUpdated, held for hours by every connected athlete) none, where seven DataLoaders each was about 1.5 KB
 * per open operation (BENCHMARKS.md "Memory"). `lagTolerant`: the client of the lag-tolerant loaders, asked per
 * batch (a read replica when one is usable).
 */
class RequestLoaders implements Loaders {
  private readonly made: Partial<Loaders> = {};

  constructor(
    private readonly prisma: AppPrisma,
    private readonly lagTolerant?: () => AppPrisma,
  ) {}

  private once<K extends keyof Loaders>(key: K, make: () => Loaders[K]): Loaders[K] {
    const loader = this.made[key] ?? make();
    this.made[key] = loader;
    return loader;
  }

  get currentBaseline(): Loaders['currentBaseline'] {
    const prisma = this.prisma;
    return this.once(
      'currentBaseline',
      () => new DataLoader(async (userIds) => byKey(userIds, await prisma.baselineAssessment.findMany({ where: { userId: { in: [...userIds] }, isCurrent: true } }), (r) => r.userId)),
    );
  }

  get modelOutput(): Loaders['modelOutput'] {
    const prisma = this.prisma;
    return this.once('modelOutput', () => new DataLoader(async (userIds) => byKey(userIds, await prisma.modelOutput.findMany({ where: { userId: { in: [...userIds] } } }), (r) => r.userId)));
  }

  get modelHistory(): Loaders['modelHistory'] {
    const prisma = this.prisma;
    return this.once('modelHistory', () => new DataLoader((userIds) => loadModelHistory(prisma, userIds)));
  }

  get lagTolerantModelHistory(): Loaders['lagTolerantModelHistory'] {
    const { prisma, lagTolerant } = this;
    return this.once('lagTolerantModelHistory', () => new DataLoader((userIds) => loadModelHistory(lagTolerant?.() ?? prisma, userIds)));
  }

  get ruleExists(): Loaders['ruleExists'] {
    const prisma = this.prisma;
    return this.once(
      'ruleExists',
      () =>
        new DataLoader(async (names) => {
          const found = new Set((await prisma.expertRule.findMany({ where: { name: { in: [...names] } }, select: { name: true } })).map((r) => r.name));
          return names.map((name) => found.has(name));
        }),
    );
  }

  get coachedAthlete(): Loaders['coachedAthlete'] {
    const prisma = this.prisma;
    return this.once(
      'coachedAthlete',
      () =>
        new DataLoader(
          async (pairs) => {
            const links = await prisma.coachLink.findMany({
              where: { endedAt: null, OR: pairs.map((p) => ({ coachId: p.coachId, athleteId: p.athleteId })) },
              select: { coachId: true, athleteId: true },
            });
            const active = new Set(links.map((l) => `${l.coachId} ${l.athleteId}`));
            return pairs.map((p) => active.has(`${p.coachId} ${p.athleteId}`));
          },
          { cacheKeyFn: (p) => `${p.coachId} ${p.athleteId}` },
        ),
    );
  }

  get latestRecommendation(): Loaders['latestRecommendation'] {
    const prisma = this.prisma;
    return this.once(
      'latestRecommendation',
      () =>
        new DataLoader(async (userIds) => {
          // One index probe per athlete (userId, createdAt DESC).
          const rows = await prisma.$queryRaw<{ id: string }[]>`
        SELECT r.id::text AS id FROM unnest(${[...userIds]}::uuid[]) AS u(id)
        CROSS JOIN LATERAL (SELECT id FROM recommendations WHERE "userId" = u.id ORDER BY "createdAt" DESC LIMIT 1) r`;
          const found = rows.length ? await prisma.recommendation.findMany({ where: { id: { in: rows.map((r) => r.id) } } }) : [];
          return byKey(userIds, found, (r) => r.userId);
        }),
    );
  }

  get coefficientComparisons(): Loaders['coefficientComparisons'] {
    const prisma = this.prisma;
    return this.once(
      'coefficientComparisons',
      () =>
        new DataLoader(async (ids) => {
          const sets = await prisma.coefficientComparisonSet.findMany({ where: { id: { in: [...ids] } } });
          return byKey(ids, sets, (s) => s.id).map((s) => (s ? (s.comparisons as unknown as CoefficientComparison[]) : null));
        }),
    );
  }

  get historySummaries(): Loaders['historySummaries'] {
    const prisma = this.prisma;
    return this.once(
      'historySummaries',
      () =>
        new DataLoader(async (ids) => {
          const summaries = await prisma.historySummary.findMany({ where: { id: { in: [...ids] } } });
          return byKey(ids, summaries, (s) => s.id).map((s) => (s ? (s.summary as unknown as PersonalHistory) : null));
        }),
    );
  }

  get user(): Loaders['user'] {
    const prisma = this.prisma;
    return this.once('user', () => new DataLoader(async (ids) => byKey(ids, await prisma.user.findMany({ where: { id: { in: [...ids] } } }), (u) => u.id)));
  }
}

/** A request's loaders (RequestLoaders: each made on its first use). */
export function createLoaders(prisma: AppPrisma, lagTolerant?: () => AppPrisma): Loaders {
  return new RequestLoaders(prisma, lagTolerant);
}

/** (id, role) pairs another instance has already made sure of (REDIS_URL: src/engine-runtime/shared-engine-cache.ts). */
export interface SharedUserRegistry {
  userKnown(key: string): Promise<boolean>;
  userRegistered(key: string): void;
}

/**
 * Known (id, role) pairs: a new `sub` gets its User row on its first request, once. First requests of many
 * new tokens at once (a restart under load) share one read and at most one insert. With `shared`, a pair any
 * instance has made sure of needs no read here either (a new instance's first check-in of a known athlete).
 */
export function createUserRegistry(prisma: () => AppPrisma, shared: SharedUserRegistry | null = null): (viewer: Viewer) => Promise<void> {
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
    if (!(await shared?.userKnown(key))) {
      await loader.load(viewer);
      shared?.userRegistered(key);
    }
    if (known.size > 100_000) known.clear();
    known.add(key);
  };
}
