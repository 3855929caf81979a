import seedPriors from '../../prisma/seed/population-priors.json' with { type: 'json' };
import { INTENSITIES, SESSION_TYPES, TIMES_OF_DAY, type Intensity, type SessionType, type TimeOfDay } from './enums.ts';

// The canonical variable registry (domain.md section 2): one name, one scale, one meaning.
// GraphQL inputs, validation, rule fields, model features and statistics all derive from this module.

// Re-exported: the rest of the code reads the closed sets beside the variables that use them.
export { INTENSITIES, SESSION_TYPES, TIMES_OF_DAY, type Intensity, type SessionType, type TimeOfDay };

/** Intensity rank (low to high); LIMIT_BOULDERING ranks with PROJECT. */
export const SESSION_TYPE_RANK: Record<SessionType, number> = {
  REST_DAY: 0,
  ACTIVE_RECOVERY: 1,
  LIGHT_SESSION: 2,
  TECHNIQUE: 3,
  VOLUME: 4,
  PROJECT: 5,
  LIMIT_BOULDERING: 5,
};

export type VariableKind = 'int' | 'float' | 'boolean' | 'sessionType' | 'intensity' | 'timeOfDay' | 'niggles';

export interface VariableSpec {
  readonly name: string;
  readonly kind: VariableKind;
  readonly min?: number;
  readonly max?: number;
  readonly description: string;
  /** Used by the model as a (centred) feature. */
  readonly feature: boolean;
  /** Can the athlete change it before climbing (used for suggestions)? */
  readonly actionable?: boolean;
  /** Summarised by the nightly PopulationStatistic job and compared in the statistical context. */
  readonly statistic: boolean;
  /** Features: how the variable reads in sentences ("your sleep duration ..."). */
  readonly noun?: string;
  /**
   * Features: a typical between-day difference, the similarity distance's scale when no population statistic
   * (with a positive std) exists.
   */
  readonly typicalDifference?: number;
}

// Keeps each spec's literal name and flags (FeatureName below is read from them) while every spec stays a VariableSpec.
const v = <const S extends VariableSpec>(spec: S): S & VariableSpec => spec;

/** Every pre-session check-in variable, in API order. */
// biome-ignore format: one variable a line reads as a table
export const CHECK_IN_VARIABLES = [
  v({ name: 'sleepHours', kind: 'float', min: 0, max: 24, feature: true, noun: 'sleep duration', typicalDifference: 1.5, statistic: true, description: 'Hours slept last night' }),
  v({ name: 'sleepQuality', kind: 'int', min: 1, max: 10, feature: true, noun: 'sleep quality', typicalDifference: 2, statistic: true, description: 'Sleep quality, 1-10' }),
  v({ name: 'energyLevel', kind: 'int', min: 1, max: 10, feature: true, noun: 'energy', typicalDifference: 2, statistic: true, description: 'Energy, 1-10' }),
  v({ name: 'stressLevel', kind: 'int', min: 1, max: 10, feature: true, noun: 'stress', typicalDifference: 2, statistic: true, description: 'Stress, 1-10' }),
  v({ name: 'motivationLevel', kind: 'int', min: 1, max: 10, feature: true, noun: 'motivation', typicalDifference: 2, statistic: true, description: 'Motivation, 1-10' }),
  v({ name: 'sorenessLevel', kind: 'int', min: 1, max: 10, feature: true, noun: 'soreness', typicalDifference: 2, statistic: true, description: 'Muscle soreness, 1-10' }),
  v({ name: 'daysSinceHardSession', kind: 'int', min: 0, max: 365, feature: true, noun: 'rest since a hard session', typicalDifference: 2, statistic: true, description: 'Days since the last hard session' }),
  v({ name: 'caffeineMg', kind: 'int', min: 0, max: 1000, feature: true, noun: 'caffeine', typicalDifference: 100, actionable: true, statistic: true, description: 'Caffeine planned before climbing, mg' }),
  v({ name: 'warmupMin', kind: 'int', min: 0, max: 180, feature: true, noun: 'warm-up length', typicalDifference: 10, actionable: true, statistic: true, description: 'Warm-up planned, minutes' }),
  v({ name: 'daysSinceLastSession', kind: 'int', min: 0, max: 365, feature: false, statistic: true, description: 'Days since the last session' }),
  v({ name: 'daysSinceRestDay', kind: 'int', min: 0, max: 365, feature: false, statistic: true, description: 'Days since the last rest day' }),
  v({ name: 'injurySeverity', kind: 'int', min: 0, max: 10, feature: false, statistic: true, description: 'Current injury severity, 0 = none' }),
  v({ name: 'pulleyInjuryGrade', kind: 'int', min: 0, max: 4, feature: false, statistic: false, description: 'Finger pulley injury grade, 0 = none, 4 = complete rupture' }),
  v({ name: 'fingerInjuryPresent', kind: 'boolean', feature: false, statistic: false, description: 'A finger injury is present' }),
  v({ name: 'alcoholLast24h', kind: 'boolean', feature: false, statistic: false, description: 'Alcohol in the last 24 hours' }),
  v({ name: 'caffeineToday', kind: 'boolean', feature: false, statistic: false, description: 'Caffeine taken today' }),
  v({ name: 'caffeineHabitual', kind: 'boolean', feature: false, statistic: false, description: 'Habitual caffeine user' }),
  v({ name: 'warmupCompleted', kind: 'boolean', feature: false, statistic: false, description: 'Warm-up already completed' }),
  v({ name: 'hydrationStatus', kind: 'int', min: 1, max: 10, feature: false, statistic: true, description: 'Hydration, 1-10' }),
  v({ name: 'temperatureC', kind: 'float', min: -40, max: 60, feature: false, statistic: true, description: 'Air temperature, °C' }),
  v({ name: 'fearOfFalling', kind: 'int', min: 1, max: 10, feature: false, statistic: true, description: 'Fear of falling today, 1-10' }),
  v({ name: 'performanceAnxiety', kind: 'int', min: 1, max: 10, feature: false, statistic: true, description: 'Performance anxiety today, 1-10' }),
  v({ name: 'trainingLoadChange', kind: 'float', min: -1, max: 10, feature: false, statistic: true, description: 'Change in training load as a fraction (0.10 = +10 %)' }),
  v({ name: 'plannedSessionType', kind: 'sessionType', feature: false, statistic: false, description: 'Planned session type' }),
  v({ name: 'plannedIntensity', kind: 'intensity', feature: false, statistic: false, description: 'Planned intensity' }),
  v({ name: 'timeOfDay', kind: 'timeOfDay', feature: false, statistic: false, description: 'Time of day of the session' }),
  v({ name: 'timeAvailableMin', kind: 'int', min: 0, max: 600, feature: false, statistic: true, description: 'Time available, minutes' }),
  v({ name: 'currentNiggles', kind: 'niggles', feature: false, statistic: false, description: 'Current niggles: location, severity 1-10, notes, recurring' }),
] as const satisfies readonly VariableSpec[];

/** Plan, outcome and deviation fields of a session (validated with the same machinery). */
export const SESSION_FIELDS = [
  v({ name: 'plannedDurationMin', kind: 'int', min: 0, max: 1440, feature: false, statistic: false, description: 'Planned duration, minutes' }),
  v({ name: 'sessionQuality', kind: 'int', min: 1, max: 10, feature: false, statistic: true, description: 'Session quality, 1-10: the key outcome' }),
  v({ name: 'sessionRpe', kind: 'int', min: 1, max: 10, feature: false, statistic: false, description: 'Session RPE, 1-10' }),
  v({ name: 'satisfaction', kind: 'int', min: 1, max: 5, feature: false, statistic: false, description: 'Satisfaction, 1-5' }),
  v({ name: 'energyPost', kind: 'int', min: 1, max: 10, feature: false, statistic: false, description: 'Energy after the session, 1-10' }),
  v({ name: 'totalClimbs', kind: 'int', min: 0, max: 1000, feature: false, statistic: false, description: 'Climbs attempted' }),
  v({ name: 'actualSessionType', kind: 'sessionType', feature: false, statistic: false, description: 'Session type actually done' }),
  v({ name: 'actualIntensity', kind: 'intensity', feature: false, statistic: false, description: 'Intensity actually done' }),
  v({ name: 'actualCaffeineMg', kind: 'int', min: 0, max: 1000, feature: false, statistic: false, description: 'Caffeine actually taken, mg' }),
  v({ name: 'actualWarmupMin', kind: 'int', min: 0, max: 180, feature: false, statistic: false, description: 'Warm-up actually done, minutes' }),
  v({ name: 'actualDurationMin', kind: 'int', min: 0, max: 1440, feature: false, statistic: false, description: 'Actual duration, minutes' }),
  v({ name: 'newNiggles', kind: 'niggles', feature: false, statistic: false, description: 'Niggles that appeared during the session' }),
] as const satisfies readonly VariableSpec[];

/** Numeric fields of a baseline assessment with their plausible ranges. */
export const BASELINE_NUMERIC_FIELDS = [
  v({ name: 'age', kind: 'int', min: 5, max: 100, feature: false, statistic: false, description: 'Age, years' }),
  v({ name: 'heightCm', kind: 'float', min: 80, max: 250, feature: false, statistic: false, description: 'Height, cm' }),
  v({ name: 'weightKg', kind: 'float', min: 15, max: 250, feature: false, statistic: false, description: 'Body weight, kg' }),
  v({ name: 'armSpanCm', kind: 'float', min: 80, max: 270, feature: false, statistic: false, description: 'Arm span, cm' }),
  v({ name: 'yearsClimbing', kind: 'float', min: 0, max: 80, feature: false, statistic: false, description: 'Years climbing' }),
  v({ name: 'sessionsPerWeek', kind: 'float', min: 0, max: 21, feature: false, statistic: false, description: 'Sessions per week' }),
  v({ name: 'maxHangWeightKg', kind: 'float', min: -100, max: 200, feature: false, statistic: false, description: 'Max hang: added weight, kg (negative = assisted)' }),
  v({ name: 'maxHangEdgeMm', kind: 'int', min: 3, max: 60, feature: false, statistic: false, description: 'Max hang edge depth, mm' }),
  v({ name: 'maxPullups', kind: 'int', min: 0, max: 200, feature: false, statistic: false, description: 'Max pull-ups' }),
  v({ name: 'fearOfFalling', kind: 'int', min: 1, max: 10, feature: false, statistic: false, description: 'Typical fear of falling, 1-10' }),
  v({ name: 'performanceAnxiety', kind: 'int', min: 1, max: 10, feature: false, statistic: false, description: 'Typical performance anxiety, 1-10' }),
  v({ name: 'competitionOrientation', kind: 'int', min: 1, max: 10, feature: false, statistic: false, description: 'Competition orientation, 1-10' }),
  v({ name: 'processVsOutcome', kind: 'int', min: 1, max: 10, feature: false, statistic: false, description: 'Process (1) vs outcome (10) focus' }),
  v({ name: 'typicalRecoveryDays', kind: 'int', min: 0, max: 30, feature: false, statistic: false, description: 'Typical recovery days after a hard session' }),
  v({ name: 'sleepQualityTypical', kind: 'int', min: 1, max: 10, feature: false, statistic: false, description: 'Typical sleep quality, 1-10' }),
] as const satisfies readonly VariableSpec[];

export interface Niggle {
  location: string;
  severity: number;
  notes?: string | null;
  recurring?: boolean | null;
}

/** The value a variable of each kind holds. */
interface KindValues {
  int: number;
  float: number;
  boolean: boolean;
  sessionType: SessionType;
  intensity: Intensity;
  timeOfDay: TimeOfDay;
  niggles: Niggle[];
}

/** A check-in, one optional field per registry variable; missing means "unknown" (features fall back to the reference value). */
export type CheckIn = { [S in (typeof CHECK_IN_VARIABLES)[number] as S['name']]?: KindValues[S['kind']] | null };

/** Each check-in variable's index in CHECK_IN_VARIABLES (the registry's order): where CheckInValues holds it. */
export const CHECK_IN_INDEX: ReadonlyMap<string, number> = new Map(CHECK_IN_VARIABLES.map((spec, i) => [spec.name, i]));

/** A check-in variable's index in the registry; throws for a name that is not one. */
export function checkInIndex(name: string): number {
  const i = CHECK_IN_INDEX.get(name);
  if (i === undefined) throw new Error(`${name} is not a check-in variable`);
  return i;
}

/**
 * A check-in's values by the registry's index (CHECK_IN_VARIABLES order; undefined for a variable not given): one
 * array shape (28 elements, the same elements kind) whatever fields the athlete sent. The engine reads a check-in
 * through it, each read an element load at an index fixed when the rule or the model's variable list is compiled,
 * not a keyed load by a computed name, which V8 can only look up in its global stub cache once one site has seen
 * many names and check-in shapes (BENCHMARKS.md, issue 19, fourteenth round).
 */
export type CheckInValues = readonly unknown[];

/** A packed array of undefined, one per variable: copied (slice keeps its elements kind) for each check-in's values. */
const NO_VALUES: readonly unknown[] = CHECK_IN_VARIABLES.map(() => undefined);

/**
 * The check-in's values by index (CheckInValues): its own keys walked once (a field that is no variable is
 * skipped). `out` (a CheckInValues of the registry's length) is reused when given, e.g. over many past sessions.
 */
export function checkInValues(checkIn: CheckIn | Readonly<Record<string, unknown>>, out?: unknown[]): unknown[] {
  let values: unknown[];
  if (out === undefined) values = NO_VALUES.slice();
  else {
    values = out;
    values.fill(undefined);
  }
  const record = checkIn as Readonly<Record<string, unknown>>;
  for (const name in record) {
    const i = CHECK_IN_INDEX.get(name);
    if (i !== undefined) values[i] = record[name];
  }
  return values;
}

type CheckInColumns = { [K in Exclude<keyof CheckIn, 'currentNiggles'>]-?: NonNullable<CheckIn[K]> | null };

/** A check-in as session columns: every scalar variable is its own column, null when the check-in lacks it. */
export function checkInColumns(c: CheckIn): CheckInColumns {
  const values = c as Readonly<Record<string, unknown>>;
  return Object.fromEntries(CHECK_IN_VARIABLES.filter((v) => v.kind !== 'niggles').map((v) => [v.name, values[v.name] ?? null])) as CheckInColumns;
}

// ---------------------------------------------------------------------------
// Model features (domain.md sections 5 and 6)

export const INTERCEPT = 'intercept';

export interface FeatureSpec {
  readonly name: string;
  /** Reference value c: the model uses x - c. */
  readonly reference: number;
  readonly priorMean: number;
  readonly priorStd: number;
  /** Between-athlete variance of the coefficient (tau² prior centre). */
  readonly individualVariance: number;
  readonly direction: 'positive' | 'negative' | 'none';
  readonly optimalMin?: number;
  readonly optimalMax?: number;
}

/** The check-in variables the model uses as features, in registry order. */
export type FeatureName = Extract<(typeof CHECK_IN_VARIABLES)[number], { feature: true }>['name'];
/** The features the athlete can still change before climbing: a session plans them and records what was done. */
export type ActionableFeatureName = Extract<(typeof CHECK_IN_VARIABLES)[number], { feature: true; actionable: true }>['name'];

export const FEATURES: readonly (VariableSpec & { name: FeatureName })[] = CHECK_IN_VARIABLES.filter((spec): spec is Extract<(typeof CHECK_IN_VARIABLES)[number], { feature: true }> => spec.feature);
const FEATURE_NAMES: readonly FeatureName[] = FEATURES.map((spec) => spec.name);

/** The model's terms in order: intercept first, then the features (p = 10 with the 9 features). */
const MODEL_TERM_NAMES: readonly string[] = [INTERCEPT, ...FEATURE_NAMES];

export interface SeedPrior {
  variable: string;
  populationMean: number;
  populationStd: number;
  individualVariance?: number | null;
  referenceValue?: number | null;
  effectDirection?: string | null;
  category?: string | null;
  confidence?: string | null;
  source?: string | null;
  literatureRefs: string[];
  description?: string | null;
  optimalMin?: number | null;
  optimalMax?: number | null;
  isActive: boolean;
}

/** The seed priors (domain.md section 5): one data file feeds the engine's defaults and the database seed. */
export const SEED_PRIORS: readonly SeedPrior[] = seedPriors as SeedPrior[];

/** A stored population prior: a row of the PopulationPrior table (the seed file has the same shape). */
export type PriorRow = Pick<SeedPrior, 'variable' | 'populationMean' | 'populationStd' | 'individualVariance' | 'effectDirection' | 'optimalMin' | 'optimalMax' | 'isActive'>;

/** A term with the prior, optimal range and direction of its prior row. */
function termSpec(name: string, reference: number, prior: PriorRow, seedIndividualVariance?: number): FeatureSpec {
  const individualVariance = prior.individualVariance ?? seedIndividualVariance;
  if (individualVariance == null) throw new Error(`prior for model term ${name} has no individualVariance`);
  return {
    name,
    reference,
    priorMean: prior.populationMean,
    priorStd: prior.populationStd,
    individualVariance,
    direction: prior.effectDirection === 'positive' || prior.effectDirection === 'negative' ? prior.effectDirection : 'none',
    optimalMin: prior.optimalMin ?? undefined,
    optimalMax: prior.optimalMax ?? undefined,
  };
}

/** The model's terms with the seed priors: what the PopulationPrior table holds until an admin edits it. */
export const MODEL_TERMS: readonly FeatureSpec[] = MODEL_TERM_NAMES.map((name) => {
  const prior = SEED_PRIORS.find((p) => p.variable === name);
  if (!prior) throw new Error(`seed prior for model term ${name} is missing`);
  return termSpec(name, prior.referenceValue ?? 0, prior);
});

/**
 * The model's terms with the priors, optimal ranges and directions of the PopulationPrior table, the one source
 * an admin edits (upsertPopulationPrior); a term without an active row keeps its seed values. The reference
 * values are not editable: stored sufficient statistics are centred on them.
 */
export function termsWithPriors(rows: readonly PriorRow[]): readonly FeatureSpec[] {
  const byName = new Map(rows.filter((r) => r.isActive).map((r) => [r.variable, r]));
  return MODEL_TERMS.map((term) => {
    const row = byName.get(term.name);
    return row ? termSpec(term.name, term.reference, row, term.individualVariance) : term;
  });
}

export const P = MODEL_TERMS.length;
export const TERM_NAMES: readonly string[] = MODEL_TERMS.map((t) => t.name);
/** Term j's variable: its index in CheckInValues (j >= 1; -1 for the intercept, which reads none). */
export const TERM_VARIABLE_INDEX: Int32Array = Int32Array.from(MODEL_TERMS, (t, j) => (j === 0 ? -1 : checkInIndex(t.name)));

/** Term-keyed record -> array in MODEL_TERMS order; null when a term is missing or not a number. */
export function termArray(record: unknown): number[] | null {
  if (!record || typeof record !== 'object' || Array.isArray(record)) return null;
  const r = record as Record<string, unknown>;
  const out = TERM_NAMES.map((name) => r[name]);
  return out.every((x) => typeof x === 'number' && Number.isFinite(x)) ? (out as number[]) : null;
}

/** Array in MODEL_TERMS order -> term-keyed record (the stored JSON shape). */
export const termRecord = (values: ArrayLike<number>): Record<string, number> => Object.fromEntries(TERM_NAMES.map((name, j) => [name, values[j]]));

/** Default residual variance when no population fit exists yet (sigma = 1.5). */
export const DEFAULT_SIGMA2 = 1.5 * 1.5;

/**
 * Centred design row for a check-in's values: [1, x1 - c1, ...]. A missing feature contributes 0
 * (it is taken at its reference value); a legitimate 0 is a value.
 */
export function valuesDesignRow(values: CheckInValues, out: Float64Array = new Float64Array(P)): Float64Array {
  out[0] = 1;
  for (let j = 1; j < P; j++) {
    const x = values[TERM_VARIABLE_INDEX[j]];
    out[j] = typeof x === 'number' && Number.isFinite(x) ? x - MODEL_TERMS[j].reference : 0;
  }
  return out;
}

// Safe to share: designRow is synchronous.
const recordValues: unknown[] = NO_VALUES.slice();

/** valuesDesignRow for a check-in-like record (a stored check-in, a training row's values). */
export function designRow(values: Readonly<Record<string, unknown>>, out: Float64Array = new Float64Array(P)): Float64Array {
  return valuesDesignRow(checkInValues(values, recordValues), out);
}

// ---------------------------------------------------------------------------
// Validation (shared by GraphQL inputs and the engine)

export class VariableRangeError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'VariableRangeError';
  }
}

/** Throws VariableRangeError naming the field and the allowed range; never clamps. */
export function validateVariable(spec: VariableSpec, value: unknown, path: string = spec.name): void {
  if (value === null || value === undefined) return;
  switch (spec.kind) {
    case 'int':
    case 'float': {
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new VariableRangeError(path, `${path} must be a number`);
      }
      if (spec.kind === 'int' && !Number.isInteger(value)) {
        throw new VariableRangeError(path, `${path} must be a whole number between ${spec.min} and ${spec.max}`);
      }
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max)) {
        throw new VariableRangeError(path, `${path} must be between ${spec.min} and ${spec.max} (got ${value})`);
      }
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') throw new VariableRangeError(path, `${path} must be true or false`);
      return;
    case 'sessionType':
      if (!(SESSION_TYPES as readonly unknown[]).includes(value)) {
        throw new VariableRangeError(path, `${path} must be one of ${SESSION_TYPES.join(', ')}`);
      }
      return;
    case 'intensity':
      if (!(INTENSITIES as readonly unknown[]).includes(value)) {
        throw new VariableRangeError(path, `${path} must be one of ${INTENSITIES.join(', ')}`);
      }
      return;
    case 'timeOfDay':
      if (!(TIMES_OF_DAY as readonly unknown[]).includes(value)) {
        throw new VariableRangeError(path, `${path} must be one of ${TIMES_OF_DAY.join(', ')}`);
      }
      return;
    case 'niggles': {
      if (!Array.isArray(value)) throw new VariableRangeError(path, `${path} must be a list`);
      value.forEach((n: unknown, i) => {
        const item = n as Partial<Niggle> | null;
        if (!item || typeof item.location !== 'string' || item.location.trim() === '') {
          throw new VariableRangeError(`${path}[${i}].location`, `${path}[${i}].location must be a non-empty string`);
        }
        const s = item.severity;
        if (typeof s !== 'number' || !Number.isInteger(s) || s < 1 || s > 10) {
          throw new VariableRangeError(`${path}[${i}].severity`, `${path}[${i}].severity must be a whole number between 1 and 10`);
        }
      });
      return;
    }
  }
}
