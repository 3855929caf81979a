// What the engine reads, loaded from the database through TTL caches (domain.md section 9):
// rules 300 s, priors and population 600 s, per-user models, baselines and recent history 1800 s. Writes
// invalidate at once, on every instance (the invalidation travels through the shared pub/sub).
import { randomUUID } from 'node:crypto';
import { parseHyperparameters, populationUserModel, priorHyperparameters, type Hyperparameters } from '../engine/bayes/index.ts';
import { keepMemo, memoOf, memoSlot } from '../engine/memo.ts';
import { compileRules, validateRuleDefinition, type CompiledRuleSet } from '../engine/rules.ts';
import { TtlCache } from '../engine/ttl-cache.ts';
import type { PopulationStat, Rule, UserModel } from '../engine/types.ts';
import { P, TERM_NAMES, termArray, termsWithPriors, type FeatureSpec } from '../engine/variables.ts';
import type { Config } from '../config.ts';
import type { AppPrisma } from '../db/session-hook.ts';
import DataLoader from 'dataloader';
import { Prisma, type BaselineAssessment, type ModelOutput } from '../generated/prisma/client.ts';
import { effectiveCheckIn, featureColumnsSql, type SessionFeatures } from '../engine/training-row.ts';
import { HISTORY_WINDOW } from '../engine/statistics.ts';
import type { PastSession } from '../engine/types.ts';
import type { AppPubSub, CacheScope } from '../pubsub.ts';
import { ACROSS_REQUESTS, byKey } from '../resolvers/loaders.ts';
import type { SharedEngineCache } from './shared-engine-cache.ts';

export interface Population {
  /** Hyperparameters of the last nightly fit, or the priors standing in for them. */
  hyper: Hyperparameters;
  source: 'FIT' | 'PRIORS';
  /** When the nightly fit was made; null for the priors. */
  fittedAt: Date | null;
  stats: PopulationStat[];
  /** The model's terms with the priors, optimal ranges and directions of the PopulationPrior table. */
  terms: readonly FeatureSpec[];
}

/** What a check-in's answer reads before its first event. */
export interface CheckInContext {
  rules: CompiledRuleSet;
  population: Population;
  loaded: LoadedUserModel;
  baseline: BaselineAssessment | null;
}

export interface LoadedUserModel {
  model: UserModel;
  /** true when the served model is the athlete's posterior with at least one rated session in it. */
  personalized: boolean;
  /** When the model served was fitted (the athlete's own, else the population's); null for the priors. */
  fittedAt: Date | null;
}

/** Stored covariance: { terms, values } so a model trained on other terms is recognised as stale. */
export function parseCovariance(json: unknown): number[] | null {
  if (!json || typeof json !== 'object') return null;
  const { terms, values } = json as { terms?: unknown; values?: unknown };
  if (!Array.isArray(terms) || terms.length !== P || terms.some((t, j) => t !== TERM_NAMES[j])) return null;
  if (!Array.isArray(values) || values.length !== P * P || values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) return null;
  return values as number[];
}

/** The ModelOutput columns a prediction reads (not the sufficient statistics or intervals: less to read and parse). */
const SERVED_MODEL_SELECT = { userId: true, coefficients: true, covariance: true, phase: true, sessionsIncluded: true, shrinkageFactor: true, lastTrainedAt: true } as const;
type ServedModel = Pick<ModelOutput, keyof typeof SERVED_MODEL_SELECT>;
/** servedModelOf's memo: kept on the cached row, gone with it (memo.ts). */
const SERVED_MODEL = memoSlot<{ hyper: Hyperparameters; model: UserModel | null }>('servedModel');

/** A stored ModelOutput as the engine's UserModel; null for a stale or broken shape (the caller falls back to priors). */
export function userModelFromOutput(output: ServedModel, hyper: Hyperparameters): UserModel | null {
  const mean = termArray(output.coefficients);
  const covariance = parseCovariance(output.covariance);
  if (!mean || !covariance) return null;
  return {
    phase: output.phase,
    mean,
    covariance,
    sigma2: hyper.sigma2,
    sessionsIncluded: output.sessionsIncluded,
    shrinkageFactor: output.shrinkageFactor,
  };
}

export class EngineStore {
  private readonly rulesCache: TtlCache<'rules', { set: CompiledRuleSet; count: number }>;
  private readonly populationCache: TtlCache<'population', Population>;
  /** Names this instance in the invalidations it publishes. */
  private readonly origin = randomUUID();
  private readonly modelCache: TtlCache<string, ServedModel | null>;
  private readonly baselineCache: TtlCache<string, BaselineAssessment | null>;
  private readonly historyCache: TtlCache<string, PastSession[]>;
  // Shared across requests: concurrent check-ins of many athletes become one query per kind per event-loop iteration (ACROSS_REQUESTS).
  private readonly modelLoader: DataLoader<string, ServedModel | null>;
  private readonly baselineLoader: DataLoader<string, BaselineAssessment | null>;
  private readonly historyLoader: DataLoader<string, PastSession[]>;
  private stopListening: (() => void) | null = null;
  /**
   * Other instances can hear this one's invalidations (REDIS_URL). Without Redis the pub/sub is this process's own,
   * and its only listener of cacheInvalidated is this store, which ignores its own: nothing is published then (a
   * nightly run rewrote 10,000 models, and 10,000 events made some 30 MB of garbage on the API's thread).
   */
  private readonly broadcast: boolean;
  private priorCount: number | null = null;
  private ruleCount: number | null = null;

  constructor(
    private readonly prisma: AppPrisma,
    config: Pick<Config, 'rulesCacheTtlSeconds' | 'priorsCacheTtlSeconds' | 'modelCacheTtlSeconds' | 'redisUrl'>,
    private readonly pubsub: AppPubSub,
    private readonly log: (msg: string) => void = console.log,
    /** REDIS_URL: the per-athlete state is also read from and written to Redis (shared-engine-cache.ts). */
    private readonly shared: SharedEngineCache | null = null,
  ) {
    this.broadcast = Boolean(config.redisUrl);
    this.rulesCache = new TtlCache({ ttlMs: config.rulesCacheTtlSeconds * 1000, maxEntries: 1 });
    this.populationCache = new TtlCache({ ttlMs: config.priorsCacheTtlSeconds * 1000, maxEntries: 1 });
    this.modelCache = new TtlCache({ ttlMs: config.modelCacheTtlSeconds * 1000, maxEntries: 100_000 });
    this.baselineCache = new TtlCache({ ttlMs: config.modelCacheTtlSeconds * 1000, maxEntries: 100_000 });
    // ~30 sessions per athlete (some 15 KB): fewer entries than the small per-athlete rows above.
    this.historyCache = new TtlCache({ ttlMs: config.modelCacheTtlSeconds * 1000, maxEntries: 10_000 });
    const byUser = <T extends { userId: string }>(ids: readonly string[], rows: T[]) => byKey(ids, rows, (r) => r.userId);
    const loadModels = async (ids: readonly string[]) => byUser(ids, await prisma.modelOutput.findMany({ where: { userId: { in: [...ids] } }, select: SERVED_MODEL_SELECT }));
    const loadBaselines = async (ids: readonly string[]) => byUser(ids, await prisma.baselineAssessment.findMany({ where: { userId: { in: [...ids] }, isCurrent: true } }));
    const loadHistories = (ids: readonly string[]) => this.loadHistories(ids);
    this.modelLoader = new DataLoader(shared ? shared.through('model', loadModels) : loadModels, { ...ACROSS_REQUESTS, maxBatchSize: 500 });
    this.baselineLoader = new DataLoader(shared ? shared.through('baseline', loadBaselines) : loadBaselines, { ...ACROSS_REQUESTS, maxBatchSize: 500 });
    this.historyLoader = new DataLoader(shared ? shared.through('history', loadHistories) : loadHistories, { ...ACROSS_REQUESTS, maxBatchSize: 200 });
    this.listen();
  }

  private listen(): void {
    const iterator = this.pubsub.subscribe('cacheInvalidated')[Symbol.asyncIterator]();
    let stopped = false;
    this.stopListening = () => {
      stopped = true;
      void iterator.return?.();
    };
    void (async () => {
      while (!stopped) {
        const next = await iterator.next();
        if (next.done) return;
        // This instance's own invalidations come back too: it has dropped them already (and may have reloaded since).
        if (next.value.origin !== this.origin) this.drop(next.value);
      }
    })();
  }

  private drop(scope: CacheScope): void {
    if (scope.kind === 'rules') this.rulesCache.clear();
    else if (scope.kind === 'priors' || scope.kind === 'population') this.populationCache.clear();
    else if (scope.kind === 'baseline') this.baselineCache.delete(scope.userId);
    else if (scope.kind === 'history') this.historyCache.delete(scope.userId);
    else this.modelCache.delete(scope.userId);
  }

  /** Drops the entry here at once and tells the other instances. */
  invalidate(scope: CacheScope): void {
    this.drop(scope);
    if (!this.broadcast) return;
    const publish = () => this.pubsub.publish('cacheInvalidated', { ...scope, origin: this.origin });
    // The shared entry goes first: an instance told to drop its copy must not reload the old value from Redis.
    if (this.shared && 'userId' in scope) void this.shared.drop(scope.kind, [scope.userId]).then(publish);
    else publish();
  }

  /**
   * Athletes' models rewritten in bulk (the nightly run): the ones cached here are reloaded in one batched read
   * while the current value keeps being served, so no stream waits for a reload; the other instances drop theirs.
   * Resolves when the reloads are settled.
   */
  async modelsRewritten(userIds: readonly string[]): Promise<void> {
    await this.shared?.drop('model', userIds);
    if (this.broadcast) for (const userId of userIds) this.pubsub.publish('cacheInvalidated', { kind: 'model', userId, origin: this.origin });
    await Promise.all(userIds.map((userId) => this.modelCache.refresh(userId, () => this.modelLoader.load(userId))));
  }

  async close(): Promise<void> {
    this.stopListening?.();
    await this.shared?.close();
  }

  async rules(): Promise<CompiledRuleSet> {
    return (await this.rulesCache.getOrLoad('rules', () => this.loadRules())).set;
  }

  async population(): Promise<Population> {
    return this.populationCache.getOrLoad('population', () => this.loadPopulation());
  }

  /** Whether the athlete has a stored model: the cached, batched read the streams use (dropped on every model write). */
  async hasStoredModel(userId: string): Promise<boolean> {
    return (await this.modelCache.getOrLoad(userId, () => this.modelLoader.load(userId))) !== null;
  }

  async userModel(userId: string): Promise<LoadedUserModel> {
    const [population, output] = await Promise.all([
      this.population(),
      // A failed read falls back to the population model (domain.md section 6) instead of failing the check-in.
      this.modelCache
        .getOrLoad(userId, () => this.modelLoader.load(userId))
        .catch((err: unknown) => {
          this.log(`[ENGINE] model of ${userId} could not be read (${(err as Error).message}); serving the population model`);
          return null;
        }),
    ]);
    return this.loadedModel(output, population);
  }

  /**
   * What a check-in reads (rules, population, the athlete's model and baseline): at once, without a promise, when all
   * of it is cached (the usual case: each promise of the reads below costs the API thread microtasks per check-in),
   * else read as rules(), population(), userModel() and baseline() read it.
   */
  checkInContext(userId: string): CheckInContext | Promise<CheckInContext> {
    const rules = this.rulesCache.get('rules');
    const population = this.populationCache.get('population');
    const output = this.modelCache.get(userId); // null: cached, no model
    const baseline = this.baselineCache.get(userId); // null: cached, no baseline
    if (rules && population && output !== undefined && baseline !== undefined) {
      return { rules: rules.set, population, loaded: this.loadedModel(output, population), baseline };
    }
    return Promise.all([this.rules(), this.population(), this.userModel(userId), this.baseline(userId)]).then(([rules, population, loaded, baseline]) => ({
      rules,
      population,
      loaded,
      baseline,
    }));
  }

  private loadedModel(output: ServedModel | null, population: Population): LoadedUserModel {
    const model = output ? this.servedModelOf(output, population.hyper) : null;
    // Every phase serves the athlete's posterior (domain.md section 6); it is personal once a rated session is in.
    if (model) return { model, personalized: model.sessionsIncluded > 0, fittedAt: output?.lastTrainedAt ?? null };
    // No model yet or a stale shape: serve the population directly.
    const fallback = populationUserModel(population.hyper);
    return { model: { ...fallback, sessionsIncluded: output?.sessionsIncluded ?? 0 }, personalized: false, fittedAt: population.fittedAt };
  }

  /**
   * The engine's model of a cached ModelOutput, made once per cached row and population: every check-in until the
   * row or the population is replaced gets the same object, so what the statistics compute once per model version
   * (statistics.ts's memos, the stored coefficient comparison set) is computed once, not on every check-in.
   */
  private servedModelOf(output: ServedModel, hyper: Hyperparameters): UserModel | null {
    const memo = memoOf(output, SERVED_MODEL);
    if (memo && memo.hyper === hyper) return memo.model;
    return keepMemo(output, SERVED_MODEL, { hyper, model: userModelFromOutput(output, hyper) }).model;
  }

  /** The athlete's current baseline assessment (cached; dropped when a new one is recorded). */
  baseline(userId: string): Promise<BaselineAssessment | null> {
    return this.baselineCache.getOrLoad(userId, () => this.baselineLoader.load(userId));
  }

  /**
   * The athlete's last completed, rated sessions (newest first) as the statistics read them. Cached; every
   * write of a session through the application's client drops the athlete's entry (session hook -> `history`).
   */
  history(userId: string): Promise<PastSession[]> {
    return this.historyCache.getOrLoad(userId, () => this.historyLoader.load(userId));
  }

  private async loadHistories(userIds: readonly string[]): Promise<PastSession[][]> {
    type Row = SessionFeatures & { id: string; userId: string; startedAt: Date };
    const rows = await this.prisma.$queryRaw<Row[]>`
      SELECT id::text AS id, "userId"::text AS "userId", "startedAt", status::text AS status, "sessionQuality", "deviatedFromPlan",
             ${Prisma.raw(featureColumnsSql())}
      FROM (
        SELECT s.*, row_number() OVER (PARTITION BY s."userId" ORDER BY s."startedAt" DESC, s.id DESC) AS rank
        FROM climbing_sessions s
        WHERE s."userId" IN (${Prisma.join(userIds.map((id) => Prisma.sql`${id}::uuid`))})
          AND s.status = 'COMPLETED' AND s."sessionQuality" IS NOT NULL
      ) ranked
      WHERE rank <= ${HISTORY_WINDOW}
      ORDER BY "userId", rank`;
    const byUser = new Map<string, PastSession[]>(userIds.map((id) => [id, []]));
    for (const r of rows) {
      byUser.get(r.userId)?.push({ id: r.id, startedAt: new Date(r.startedAt), sessionQuality: Number(r.sessionQuality), checkIn: effectiveCheckIn(r) });
    }
    return userIds.map((id) => byUser.get(id) ?? []);
  }

  private async loadRules() {
    const now = new Date();
    const rows = await this.prisma.expertRule.findMany({
      where: { isActive: true, supersededById: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
    });
    const rules: Rule[] = [];
    for (const row of rows) {
      try {
        rules.push(validateRuleDefinition(row));
      } catch (err) {
        // One bad row (e.g. edited by hand in SQL) must not take the whole rule set down.
        this.log(`[ENGINE] Skipping invalid rule ${row.name}: ${(err as Error).message}`);
      }
    }
    this.ruleCount = rules.length;
    this.logRefresh();
    return { set: compileRules(rules), count: rules.length };
  }

  private async loadPopulation(): Promise<Population> {
    const [priors, fitted, stats] = await Promise.all([
      this.prisma.populationPrior.findMany({ where: { isActive: true } }),
      this.prisma.populationModel.findFirst({ orderBy: { fittedAt: 'desc' } }),
      this.prisma.populationStatistic.findMany(),
    ]);
    const fromFit = fitted ? parseFittedModel(fitted) : null;
    const terms = termsWithPriors(priors);
    const population = {
      hyper: fromFit ?? priorHyperparameters(terms),
      source: fromFit ? ('FIT' as const) : ('PRIORS' as const),
      fittedAt: fromFit && fitted ? fitted.fittedAt : null,
      stats: stats.map(({ variable, mean, std, min, max, n }) => ({ variable, mean, std, min, max, n })),
      terms,
    };
    this.priorCount = priors.length;
    this.logRefresh();
    return population;
  }

  /** Loads both caches (startup), so the first refresh line has both counts. */
  async warm(): Promise<void> {
    await this.population();
    await this.rules();
  }

  private logRefresh(): void {
    if (this.priorCount === null || this.ruleCount === null) return;
    this.log(`[ENGINE] Cache refreshed: ${this.priorCount} priors, ${this.ruleCount} rules`);
  }
}

/** PopulationModel row (term-keyed JSON) -> hyperparameters; null when stale. */
export function parseFittedModel(row: { mu: unknown; tau2: unknown; muSd: unknown; sigma2: number; logTau2Cov?: unknown }): Hyperparameters | null {
  const hyper = parseHyperparameters({ mu: termArray(row.mu), tau2: termArray(row.tau2), muSd: termArray(row.muSd), sigma2: row.sigma2 });
  // A stale or broken covariance leaves the intervals conditional on tau² rather than losing the fit.
  const logTau2Cov = row.logTau2Cov == null ? null : parseCovariance(row.logTau2Cov);
  return hyper && logTau2Cov ? { ...hyper, logTau2Cov } : hyper;
}
