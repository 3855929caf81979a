// Shapes shared by the engine's modules (rules, prediction, recommendation, statistics, Bayesian model).
import type { ModelPhase, RuleCategory, SessionType } from './enums.ts';
import type { CheckIn, CheckInValues } from './variables.ts';

export type { ModelPhase, RuleCategory };

// ---------------------------------------------------------------- rules (domain.md section 4)

export type ComparisonOp = '>=' | '<=' | '>' | '<' | '==' | '!=' | 'in' | 'contains' | 'containsLocation';

export interface ConditionLeaf {
  field: string;
  op: ComparisonOp;
  value: unknown;
}
export type Condition = ConditionLeaf | { all: Condition[] } | { any: Condition[] } | { not: Condition };

export type RuleAction =
  | { type: 'override'; sessionType: SessionType; message: string }
  | {
      type: 'constrain';
      sessionTypeCeiling?: SessionType;
      sessionType?: SessionType;
      avoid?: string[];
      include?: string[];
      warmupMin?: number;
      maxDurationMin?: number;
      reduceVolume?: boolean;
      hydrationBreaks?: boolean;
      message: string;
    }
  | { type: 'adjustPrediction'; multiplier: number; message: string };

/** A rule as the engine sees it (already filtered for active / unexpired / not superseded by the loader). */
export interface Rule {
  name: string;
  description: string;
  category: RuleCategory;
  priority: number;
  conditions: Condition;
  actions: RuleAction[];
  source?: string | null;
  evidence?: string | null;
}

export interface RuleWarning {
  rule: string;
  category: RuleCategory;
  message: string;
  /** Why it fired: the condition in words, e.g. "sleepHours < 5 (4.5)". */
  reason: string;
}

export interface Constraints {
  /** Strictest ceiling of all matched rules. */
  sessionTypeCeiling: SessionType | null;
  /** A PERFORMANCE suggestion that respects every ceiling, else null. */
  suggestedSessionType: SessionType | null;
  avoid: string[];
  include: string[];
  warmupMin: number | null;
  maxDurationMin: number | null;
  reduceVolume: boolean;
  hydrationBreaks: boolean;
}

export interface RuleOverride {
  rule: string;
  category: RuleCategory;
  sessionType: SessionType;
  message: string;
}

export interface RuleEvaluation {
  /** Names of matched rules in evaluation order. */
  matched: string[];
  override: RuleOverride | null;
  warnings: RuleWarning[];
  constraints: Constraints;
  /** Product of adjustPrediction multipliers (1 when none). */
  predictionMultiplier: number;
}

/** What rules may read: the check-in's values (by the registry's index) plus the current baseline (for `baseline.<field>`). */
export interface RuleContext {
  values: CheckInValues;
  baseline: Readonly<Record<string, unknown>> | null;
}

// ---------------------------------------------------------------- model (domain.md section 6)

/** Per-user posterior (or the population prior standing in for it). Arrays are in MODEL_TERMS order. */
export interface UserModel {
  phase: ModelPhase;
  /** Posterior mean, length P. */
  mean: number[];
  /** Posterior covariance, P x P row-major (length P*P). */
  covariance: number[];
  sigma2: number;
  sessionsIncluded: number;
  shrinkageFactor: number;
}

export interface Contribution {
  variable: string;
  value: number;
}

export interface Prediction {
  expectedQuality: number;
  /** Before rule multipliers and clamping, for transparency. */
  rawQuality: number;
  /** The 95 % predictive interval of whole ratings (predictive-distribution.ts), after rule multipliers. */
  interval: { low: number; high: number };
  /**
   * P(rating = k) for k = 1..10 (index k - 1), after rule multipliers; empty for a stored recommendation written
   * before distributions were kept.
   */
  distribution: number[];
  contributions: Contribution[];
  phase: ModelPhase;
  confidence: 'LOW' | 'MEDIUM' | 'HIGH';
  /** The model's variables the check-in left out, taken at their reference value; the ones that matter most first. */
  assumed: AssumedValue[];
}

/** A model variable missing from a check-in: the value the prediction took for it, and how much it could matter. */
export interface AssumedValue {
  variable: string;
  /** The reference value the model takes for a missing variable. */
  value: number;
  /**
   * |coefficient| x a typical difference of the variable: quality points the prediction would move if it were given
   * and typically different. null for a stored prediction read back (its coefficients are not kept).
   */
  sensitivity: number | null;
}

export interface Suggestion {
  variable: string;
  /** Current (or reference) value and the suggested one. */
  from: number;
  to: number;
  expectedGain: number;
  message: string;
}

// ---------------------------------------------------------------- statistics (domain.md section 7)

export interface PopulationStat {
  variable: string;
  mean: number;
  std: number;
  min: number;
  max: number;
  n: number;
}

/** A completed past session as the statistical context reads it. */
export interface PastSession {
  id: string;
  startedAt: Date;
  sessionQuality: number;
  checkIn: CheckIn;
}
