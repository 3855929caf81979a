// Stored recommendations: the row a recommendation becomes (the same object the API answers with, so a
// stored and a just-computed recommendation read alike), and the write-behind queue that stores them.
import { performance } from 'node:perf_hooks';
import type { StatisticalContext } from '../engine/statistics.ts';
import type { AssumedValue, Constraints, ModelPhase, Prediction, RuleOverride, RuleWarning, Suggestion } from '../engine/types.ts';
import type { CheckIn, SessionType } from '../engine/variables.ts';
import type { AppPrisma } from '../db/session-hook.ts';
import { Prisma, type Recommendation as RecommendationRow } from '../generated/prisma/client.ts';

export type { RecommendationRow };

/** What a recommendation is made of, before it has an id. */
export interface RecommendationParts {
  userId: string;
  checkIn: CheckIn;
  source: 'RULE_OVERRIDE' | 'MODEL';
  sessionType: SessionType;
  override: RuleOverride | null;
  prediction: Prediction | null;
  predictionMultiplier: number;
  matchedRules: string[];
  warnings: RuleWarning[];
  constraints: Constraints | null;
  suggestions: Suggestion[];
  statisticalContext: StatisticalContext | null;
  personalization: { phase: ModelPhase; sessionsIncluded: number; hasBaseline: boolean; hasPersonalization: boolean; fittedAt: Date | null };
}

/**
 * The variables a prediction took at their reference value, with how much each could matter, for the answer being
 * given (the row in hand); a row read back from the table has only its check-in (the coefficients are not kept).
 */
export const assumedInAnswer = new WeakMap<RecommendationRow, AssumedValue[]>();

export function recommendationRow(id: string, createdAt: Date, r: RecommendationParts): RecommendationRow {
  const row = recommendationColumns(id, createdAt, r);
  if (r.prediction) assumedInAnswer.set(row, r.prediction.assumed);
  return row;
}

function recommendationColumns(id: string, createdAt: Date, r: RecommendationParts): RecommendationRow {
  const p = r.prediction;
  return {
    id,
    userId: r.userId,
    createdAt,
    source: r.source,
    sessionType: r.sessionType,
    expectedQuality: p?.expectedQuality ?? null,
    rawQuality: p?.rawQuality ?? null,
    intervalLow: p?.interval.low ?? null,
    intervalHigh: p?.interval.high ?? null,
    confidence: p?.confidence ?? null,
    phase: r.personalization.phase,
    modelFittedAt: r.personalization.fittedAt,
    modelSessionsIncluded: r.personalization.sessionsIncluded,
    hasBaseline: r.personalization.hasBaseline,
    hasPersonalization: r.personalization.hasPersonalization,
    checkIn: r.checkIn as RecommendationRow['checkIn'],
    matchedRules: r.matchedRules,
    overrideRule: r.override?.rule ?? null,
    overrideCategory: r.override?.category ?? null,
    overrideMessage: r.override?.message ?? null,
    constraints: r.constraints as RecommendationRow['constraints'],
    predictionMultiplier: r.predictionMultiplier,
    warnings: r.warnings as unknown as RecommendationRow['warnings'],
    contributions: (p?.contributions ?? null) as RecommendationRow['contributions'],
    suggestions: r.suggestions as unknown as RecommendationRow['suggestions'],
    statisticalContext: r.statisticalContext as unknown as RecommendationRow['statisticalContext'],
  };
}

/** Nullable JSON columns take Prisma.DbNull, not null, in a write. */
function createInput(row: RecommendationRow): Prisma.RecommendationCreateManyInput {
  const jsonOrNull = (v: Prisma.JsonValue | null) => (v === null ? Prisma.DbNull : (v as Prisma.InputJsonValue));
  return {
    ...row,
    checkIn: row.checkIn as Prisma.InputJsonValue,
    warnings: row.warnings as Prisma.InputJsonValue,
    suggestions: row.suggestions as Prisma.InputJsonValue,
    constraints: jsonOrNull(row.constraints),
    contributions: jsonOrNull(row.contributions),
    statisticalContext: jsonOrNull(row.statisticalContext),
  };
}

/** Rows per INSERT: 27 columns each stays far below PostgreSQL's 65,535 bind parameters. */
const ROWS_PER_INSERT = 500;

/**
 * Write-behind queue for recommendations: a stream hands its row over when its answer is complete and sends
 * DONE without waiting; every row queued during one event-loop iteration (all the streams and queries that
 * finished in it) is written by one multi-row INSERT in the next. `written(id)` lets a reader that needs the
 * row (startSession right after DONE) wait for its batch instead of missing it.
 */
export class RecommendationWriter {
  private queued: RecommendationRow[] = [];
  private batch: { promise: Promise<void>; resolve: () => void; reject: (err: unknown) => void } | null = null;
  /** id -> the write of its batch, until it has settled. */
  private readonly unsettled = new Map<string, Promise<void>>();
  private readonly flushes = new Set<Promise<void>>();
  /** What this instance has stored so far: rows, batches, INSERT statements and the time they took (the write cost). */
  readonly totals = { rows: 0, batches: 0, inserts: 0, writeMs: 0 };

  constructor(
    private readonly prisma: AppPrisma,
    private readonly log: (msg: string) => void = console.log,
  ) {}

  enqueue(row: RecommendationRow): void {
    if (!this.batch) {
      let resolve!: () => void;
      let reject!: (err: unknown) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => {}); // a failed batch is logged in flush; waiters see the rejection through written()
      this.batch = { promise, resolve, reject };
      setImmediate(() => void this.flush());
    }
    this.queued.push(row);
    this.unsettled.set(row.id, this.batch.promise);
  }

  /** Resolves once the row is stored (at once when it is not waiting here); rejects when its batch failed. */
  written(id: string): Promise<void> {
    return this.unsettled.get(id) ?? Promise.resolve();
  }

  /** Writes what is queued now. */
  flush(): Promise<void> {
    const rows = this.queued;
    const batch = this.batch;
    this.queued = [];
    this.batch = null;
    if (!batch || rows.length === 0) return Promise.resolve();
    const done = (async () => {
      try {
        const started = performance.now();
        for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) {
          await this.prisma.recommendation.createMany({ data: rows.slice(i, i + ROWS_PER_INSERT).map(createInput) });
          this.totals.inserts++;
        }
        this.totals.writeMs += performance.now() - started;
        this.totals.rows += rows.length;
        this.totals.batches++;
        batch.resolve();
      } catch (err) {
        this.log(`[ENGINE] ${rows.length} recommendation(s) could not be stored: ${(err as Error).message}`);
        batch.reject(err);
      } finally {
        for (const row of rows) this.unsettled.delete(row.id);
      }
    })();
    this.flushes.add(done);
    void done.finally(() => this.flushes.delete(done));
    return done;
  }

  /** Writes what is queued and waits for every write under way (shutdown). */
  async close(): Promise<void> {
    await this.flush();
    await Promise.all(this.flushes);
  }
}
