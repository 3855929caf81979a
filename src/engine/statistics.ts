// Statistical context of a check-in (domain.md section 7): today against the population, the athlete's own
// history, the most similar past check-ins, the athlete's coefficients against the population's, and a few
// insight sentences. Pure, linear in the (at most 30) sessions read; runs in microseconds.
import { keepMemo, memoised, memoOf, memoSlot } from './memo.ts';
import { normalCdf, Z95 } from './normal.ts';
import { roundPercentile, roundRating, roundStatistic } from './rounding.ts';
import type { PastSession, PopulationStat, UserModel } from './types.ts';
import { CHECK_IN_VARIABLES, checkInValues, FEATURES, MODEL_TERMS, P, TERM_VARIABLE_INDEX, type CheckInValues, type FeatureSpec } from './variables.ts';

/** At most this many of the newest completed sessions are read. */
export const HISTORY_WINDOW = 30;
export const SIMILAR_SESSION_COUNT = 3;
/** A grouped comparison is worth a sentence only when both groups have at least this many sessions. */
export const MIN_GROUP_SIZE = 2;
export const MAX_INSIGHTS = 5;

/** Fallback scales of the similarity distance: each feature's typical between-day difference (the registry's). */
const FEATURE_SCALES: ReadonlyMap<string, number> = new Map(FEATURES.map((spec) => [spec.name, spec.typicalDifference ?? 1]));

/** How features read in sentences (the registry's nouns). */
const FEATURE_NOUNS: ReadonlyMap<string, string> = new Map(FEATURES.map((spec) => [spec.name, spec.noun ?? spec.name]));

// ---------------------------------------------------------------- shapes (JSON-serialisable)

export type Descriptor = 'well below average' | 'below average' | 'about average' | 'above average' | 'well above average';

export interface PopulationComparison {
  variable: string;
  value: number;
  populationMean: number;
  populationStd: number;
  zScore: number;
  /** 0-100, from the normal CDF of zScore. */
  percentile: number;
  descriptor: Descriptor;
}

export interface GroupStat {
  n: number;
  /** Mean session quality of the group; null when n = 0. */
  mean: number | null;
}

export interface PersonalHistory {
  n: number;
  mean: number | null;
  /** Sample standard deviation (n - 1); null when n < 2. */
  sd: number | null;
  best: number | null;
  worst: number | null;
  /** Least-squares slope of quality per session, oldest to newest; null when n < 3. */
  trendPerSession: number | null;
  sleep: { under6h: GroupStat; atLeast7h: GroupStat };
  stress: { high: GroupStat; lower: GroupStat };
  caffeine: { atLeast200mg: GroupStat; under50mg: GroupStat };
  daysSinceHardSession: { upTo1: GroupStat; from2To4: GroupStat; atLeast5: GroupStat };
}

export interface SimilarSession {
  sessionId: string;
  /** ISO 8601. */
  date: string;
  /** 1 / (1 + distance), in (0, 1]; 1 = the same values on every shared feature. */
  similarity: number;
  /** Features present on both sides that the distance used. */
  sharedFeatures: number;
  sessionQuality: number;
}

export type Sensitivity = 'MORE_SENSITIVE' | 'LESS_SENSITIVE' | 'SIMILAR' | 'OPPOSITE';

export interface CoefficientComparison {
  variable: string;
  userCoefficient: number;
  populationCoefficient: number;
  /** userCoefficient - populationCoefficient. */
  difference: number;
  /**
   * Effect in the expected direction relative to the population's (user / population for both signs);
   * null when the population coefficient is 0 or the athlete's effect has the opposite sign.
   */
  ratio: number | null;
  /** The user's 95 % credible interval (posterior mean ± 1.96 posterior SD). */
  userInterval: [number, number];
  /** The population coefficient lies outside the user's 95 % credible interval. */
  clearlyDifferent: boolean;
  sensitivity: Sensitivity;
  message: string;
}

export interface StatisticalContext {
  populationComparison: PopulationComparison[];
  personalHistory: PersonalHistory;
  similarSessions: SimilarSession[];
  coefficientComparisons: CoefficientComparison[];
  insights: string[];
}

export interface StatisticalContextInput {
  /** The check-in's values by the registry's index. */
  values: CheckInValues;
  model: UserModel;
  /** Population mean coefficients in MODEL_TERMS order (intercept first); null when no fit exists. */
  population: { mu: number[] } | null;
  /** The model's terms with the expected directions of the PopulationPrior table. */
  terms: readonly FeatureSpec[];
  populationStats: PopulationStat[];
  /** Completed, rated sessions, newest first (the first 30 are read). */
  history: PastSession[];
}

// ---------------------------------------------------------------- numerics

/** |z| <= 0.5 about average; 0.5 < |z| <= 1.5 above/below; beyond 1.5 well above/below. */
export function describeZ(z: number): Descriptor {
  if (z < -1.5) return 'well below average';
  if (z < -0.5) return 'below average';
  if (z <= 0.5) return 'about average';
  if (z <= 1.5) return 'above average';
  return 'well above average';
}

const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const one = (n: number) => n.toFixed(1);

// ---------------------------------------------------------------- (a) population comparison

/** The variables the statistics summarise (VariableSpec.statistic): their index in CheckInValues, in registry order. */
const STATISTIC_INDICES: readonly number[] = CHECK_IN_VARIABLES.flatMap((spec, i) => (spec.statistic ? [i] : []));

/**
 * Comparisons kept per variable and population statistics version, by value: a comparison is a function of those two
 * alone, and a check-in's values mostly come from small sets (1-10 scales, whole minutes and milligrams, tenths of an
 * hour), so every athlete's answer under one version shares them (and their stored JSON: recommendation-store.ts).
 * Bounded: a variable's values past this many are compared afresh, not kept. 256 holds a 1-10 scale, sleep in tenths
 * of an hour, caffeine in 5 mg steps; a kept comparison is about 350 bytes with its stored JSON, so one version keeps
 * at most about 1.6 MB (18 variables).
 */
const KEPT_COMPARISONS_PER_VARIABLE = 256;

/** Today's value of each variable against the population's statistic (the PopulationStatsMemo of one version). */
function comparePopulation(values: CheckInValues, stats: PopulationStatsMemo): PopulationComparison[] {
  const out: PopulationComparison[] = [];
  for (let k = 0; k < STATISTIC_INDICES.length; k++) {
    const i = STATISTIC_INDICES[k];
    const value = num(values[i]);
    const stat = stats.statAt[i];
    if (value === null || stat === undefined || !(stat.std > 0)) continue;
    const kept = stats.comparisonsAt[i];
    let comparison = kept.get(value);
    if (comparison === undefined) {
      comparison = comparisonOf(stat, value);
      if (kept.size < KEPT_COMPARISONS_PER_VARIABLE) kept.set(value, comparison);
    }
    out.push(comparison);
  }
  return out;
}

function comparisonOf(stat: PopulationStat, value: number): PopulationComparison {
  const z = (value - stat.mean) / stat.std;
  const zScore = roundStatistic(z);
  return {
    variable: stat.variable,
    value,
    populationMean: roundStatistic(stat.mean),
    populationStd: roundStatistic(stat.std),
    zScore,
    percentile: roundPercentile(100 * normalCdf(z)),
    descriptor: describeZ(zScore), // the z-score as the API shows it, so the two never disagree at a boundary
  };
}

// ---------------------------------------------------------------- (b) personal history

class Group {
  n = 0;
  sum = 0;
  add(q: number) {
    this.n++;
    this.sum += q;
  }
  stat(): GroupStat {
    return { n: this.n, mean: this.n > 0 ? roundRating(this.sum / this.n) : null };
  }
}

function summariseHistory(sessions: readonly PastSession[]): PersonalHistory {
  const n = sessions.length;
  const under6 = new Group(),
    atLeast7 = new Group();
  const stressHigh = new Group(),
    stressLower = new Group();
  const caf200 = new Group(),
    caf50 = new Group();
  const hard1 = new Group(),
    hard24 = new Group(),
    hard5 = new Group();

  let sum = 0;
  let best = -Infinity;
  let worst = Infinity;
  for (const s of sessions) {
    const q = s.sessionQuality;
    sum += q;
    if (q > best) best = q;
    if (q < worst) worst = q;
    const sleep = num(s.checkIn.sleepHours);
    if (sleep !== null) {
      if (sleep < 6) under6.add(q);
      else if (sleep >= 7) atLeast7.add(q);
    }
    const stress = num(s.checkIn.stressLevel);
    if (stress !== null) (stress >= 7 ? stressHigh : stressLower).add(q);
    const caffeine = num(s.checkIn.caffeineMg);
    if (caffeine !== null) {
      if (caffeine >= 200) caf200.add(q);
      else if (caffeine < 50) caf50.add(q);
    }
    const days = num(s.checkIn.daysSinceHardSession);
    if (days !== null) (days <= 1 ? hard1 : days >= 5 ? hard5 : hard24).add(q);
  }
  const mean = n > 0 ? sum / n : null;

  let sd: number | null = null;
  let trend: number | null = null;
  if (mean !== null && n >= 2) {
    // Sessions are newest first: time index t = n - 1 - i (oldest = 0).
    let ss = 0;
    let sxy = 0;
    const tMean = (n - 1) / 2;
    for (let i = 0; i < n; i++) {
      const d = sessions[i].sessionQuality - mean;
      ss += d * d;
      sxy += (n - 1 - i - tMean) * d;
    }
    sd = Math.sqrt(ss / (n - 1));
    // Sum of (t - tMean)² over t = 0..n-1 is n(n² - 1)/12.
    if (n >= 3) trend = sxy / ((n * (n * n - 1)) / 12);
  }

  return {
    n,
    mean: roundRating(mean),
    sd: roundRating(sd),
    best: n > 0 ? best : null,
    worst: n > 0 ? worst : null,
    trendPerSession: roundStatistic(trend),
    sleep: { under6h: under6.stat(), atLeast7h: atLeast7.stat() },
    stress: { high: stressHigh.stat(), lower: stressLower.stat() },
    caffeine: { atLeast200mg: caf200.stat(), under50mg: caf50.stat() },
    daysSinceHardSession: { upTo1: hard1.stat(), from2To4: hard24.stat(), atLeast5: hard5.stat() },
  };
}

// ---------------------------------------------------------------- (c) similar sessions

/**
 * findSimilar's working memory, reused by every call (it is synchronous): today's present terms and values, and the
 * nearest sessions kept so far (their index, distance and shared feature count), so a check-in's search allocates
 * nothing but its answer (arrays grown and spliced per call were about 1.9 KB a check-in).
 */
const similarScratch = {
  terms: new Int32Array(P),
  values: new Float64Array(P),
  nearest: new Int32Array(SIMILAR_SESSION_COUNT),
  distances: new Float64Array(SIMILAR_SESSION_COUNT),
  shared: new Int32Array(SIMILAR_SESSION_COUNT),
};

function findSimilar(today: CheckInValues, history: HistoryMemo, scales: Float64Array): SimilarSession[] {
  const { terms, values, nearest, distances, shared: sharedCounts } = similarScratch;
  // Today's present features (their term index) and values, read once.
  let present = 0;
  for (let j = 1; j < P; j++) {
    const v = num(today[TERM_VARIABLE_INDEX[j]]);
    if (v === null) continue;
    terms[present] = j;
    values[present] = v;
    present++;
  }
  if (present === 0) return [];

  // The nearest SIMILAR_SESSION_COUNT, nearest first, kept as the sessions are read (newest first): a session goes
  // before the kept ones only when strictly nearer, so equal distances keep newest first (as a stable sort did).
  let kept = 0;
  const { sessions, features } = history;
  for (let i = 0; i < sessions.length; i++) {
    const row = i * P;
    let sq = 0;
    let shared = 0;
    for (let k = 0; k < present; k++) {
      const j = terms[k];
      const v = features[row + j];
      if (Number.isNaN(v)) continue;
      const d = (v - values[k]) / scales[j];
      sq += d * d;
      shared++;
    }
    if (shared === 0) continue;
    // Root-mean-square over the shared features, so sessions that share fewer features are comparable.
    const distance = Math.sqrt(sq / shared);
    let at = kept;
    while (at > 0 && distances[at - 1] > distance) at--;
    if (at >= SIMILAR_SESSION_COUNT) continue;
    // The kept ones from `at` move down a place (the last falls off when all are kept).
    for (let m = Math.min(kept, SIMILAR_SESSION_COUNT - 1); m > at; m--) {
      nearest[m] = nearest[m - 1];
      distances[m] = distances[m - 1];
      sharedCounts[m] = sharedCounts[m - 1];
    }
    nearest[at] = i;
    distances[at] = distance;
    sharedCounts[at] = shared;
    if (kept < SIMILAR_SESSION_COUNT) kept++;
  }
  const out: SimilarSession[] = [];
  for (let n = 0; n < kept; n++) {
    const index = nearest[n];
    out.push({
      sessionId: sessions[index].id,
      date: history.dates[index],
      similarity: roundStatistic(1 / (1 + distances[n])),
      sharedFeatures: sharedCounts[n],
      sessionQuality: sessions[index].sessionQuality,
    });
  }
  return out;
}

// ---------------------------------------------------------------- (d) coefficient comparisons

/** Relative difference below which the athlete counts as "about as sensitive as most climbers". */
export const SIMILAR_SENSITIVITY_TOLERANCE = 0.2;

function compareCoefficients(model: UserModel, mu: readonly number[], terms: readonly FeatureSpec[]): CoefficientComparison[] {
  const out: CoefficientComparison[] = [];
  for (let j = 1; j < P; j++) {
    const term = terms[j];
    const user = model.mean[j];
    const pop = mu[j];
    if (!Number.isFinite(user) || !Number.isFinite(pop)) continue;
    const sd = Math.sqrt(Math.max(0, model.covariance[j * P + j]));
    const lo = user - Z95 * sd;
    const hi = user + Z95 * sd;
    // The expected sign: the documented direction, else the population's own sign.
    const sign = term.direction === 'negative' ? -1 : term.direction === 'positive' ? 1 : Math.sign(pop) || 1;
    const userEffect = sign * user; // > 0: the variable acts in the expected direction for this athlete
    const popEffect = sign * pop;
    const ratio = popEffect > 0 && userEffect >= 0 ? userEffect / popEffect : null;
    const noun = FEATURE_NOUNS.get(term.name) ?? term.name;

    let sensitivity: Sensitivity;
    let message: string;
    if (popEffect > 0 && userEffect <= 0) {
      sensitivity = 'OPPOSITE';
      message =
        sign < 0
          ? `${capitalise(noun)} does not seem to lower your session quality, unlike for most climbers`
          : `${capitalise(noun)} does not seem to help your session quality, unlike for most climbers`;
    } else if (Math.abs(userEffect - popEffect) <= SIMILAR_SENSITIVITY_TOLERANCE * Math.abs(popEffect)) {
      sensitivity = 'SIMILAR';
      message = `You are about as sensitive to ${noun} as most climbers`;
    } else if (userEffect > popEffect) {
      sensitivity = 'MORE_SENSITIVE';
      message = `You are more sensitive to ${noun} than most climbers`;
    } else {
      sensitivity = 'LESS_SENSITIVE';
      message = `You are less sensitive to ${noun} than most climbers`;
    }
    out.push({
      variable: term.name,
      userCoefficient: user,
      populationCoefficient: pop,
      difference: user - pop,
      ratio,
      userInterval: [lo, hi],
      clearlyDifferent: pop < lo || pop > hi,
      sensitivity,
      message,
    });
  }
  return out;
}

const capitalise = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

// ---------------------------------------------------------------- (e) insights

function groupInsight(a: GroupStat, b: GroupStat, text: (ma: string, mb: string) => string): string | null {
  if (a.n < MIN_GROUP_SIZE || b.n < MIN_GROUP_SIZE || a.mean === null || b.mean === null) return null;
  return text(one(a.mean), one(b.mean));
}

/** The sentences that read only the athlete's history and coefficients, in the order they are offered. */
interface HistorySentences {
  /** Grouped comparisons and the clearest coefficient difference: offered first. */
  lead: readonly string[];
  /** The trend over the last sessions (null: none worth a sentence). */
  trend: string | null;
  /** The last sessions' average (null: no rated session). */
  summary: string | null;
}

function historySentences(history: PersonalHistory, coefficients: readonly CoefficientComparison[]): HistorySentences {
  const lead: string[] = [];
  const push = (s: string | null) => {
    if (s !== null) lead.push(s);
  };
  push(groupInsight(history.sleep.under6h, history.sleep.atLeast7h, (a, b) => `Your sessions after < 6 h sleep average ${a} vs ${b} after 7+ h.`));
  push(groupInsight(history.stress.high, history.stress.lower, (a, b) => `With stress at 7+ your sessions average ${a} vs ${b} when calmer.`));
  push(groupInsight(history.caffeine.atLeast200mg, history.caffeine.under50mg, (a, b) => `With 200+ mg caffeine your sessions average ${a} vs ${b} with under 50 mg.`));

  const restGroups: [string, GroupStat][] = [
    ['0-1 days', history.daysSinceHardSession.upTo1],
    ['2-4 days', history.daysSinceHardSession.from2To4],
    ['5+ days', history.daysSinceHardSession.atLeast5],
  ];
  const usable = restGroups.filter(([, g]) => g.n >= MIN_GROUP_SIZE && g.mean !== null);
  if (usable.length >= 2) {
    let best = usable[0];
    let worst = usable[0];
    for (const g of usable) {
      if (g[1].mean! > best[1].mean!) best = g;
      if (g[1].mean! < worst[1].mean!) worst = g;
    }
    if (best !== worst) {
      push(`Your sessions ${best[0]} after a hard session average ${one(best[1].mean!)} vs ${one(worst[1].mean!)} after ${worst[0]}.`);
    }
  }

  // The clearest coefficient difference the data supports.
  let strongest: CoefficientComparison | null = null;
  for (const c of coefficients) {
    if (!c.clearlyDifferent || c.sensitivity === 'SIMILAR') continue;
    if (!strongest || Math.abs(c.difference / (c.populationCoefficient || 1)) > Math.abs(strongest.difference / (strongest.populationCoefficient || 1))) {
      strongest = c;
    }
  }
  if (strongest) push(`${strongest.message}.`);

  const t = history.trendPerSession;
  const trend = t !== null && Math.abs(t) >= 0.05 ? `Your session quality is trending ${t > 0 ? 'up' : 'down'} (${t > 0 ? '+' : ''}${t.toFixed(2)} per session over the last ${history.n}).` : null;
  const summary =
    history.n > 0 && history.mean !== null ? `Your last ${history.n} session${history.n === 1 ? '' : 's'} average ${one(history.mean)} (best ${history.best}, worst ${history.worst}).` : null;
  return { lead, trend, summary };
}

function buildInsights(
  values: CheckInValues,
  phase: UserModel['phase'],
  population: readonly PopulationComparison[],
  history: PersonalHistory,
  similar: readonly SimilarSession[],
  sentences: HistorySentences,
): string[] {
  const out: string[] = [];
  const push = (s: string | null) => {
    if (s !== null && out.length < MAX_INSIGHTS) out.push(s);
  };

  for (const s of sentences.lead) push(s);

  if (similar.length > 0) {
    const avg = similar.reduce((s, x) => s + x.sessionQuality, 0) / similar.length;
    const list = similar.map((s) => s.sessionQuality).join(', ');
    push(
      similar.length === 1 ? `Your most similar past check-in led to a session rated ${list}.` : `Your ${similar.length} most similar past check-ins led to sessions averaging ${one(avg)} (${list}).`,
    );
  }

  push(sentences.trend);

  const extreme = population.find((p) => p.descriptor === 'well below average' || p.descriptor === 'well above average');
  if (extreme) {
    push(`Your ${FEATURE_NOUNS.get(extreme.variable) ?? extreme.variable} today (${extreme.value}) is ${extreme.descriptor} for climbers (percentile ${Math.round(extreme.percentile)}).`);
  }

  push(sentences.summary);

  // Always at least two sentences.
  if (out.length < 2 && phase === 'COLD_START') {
    push('Predictions use population averages until you have rated 10 sessions.');
  }
  if (out.length < 2 && history.n === 0) push('Rate each session after climbing to unlock personal statistics.');
  if (out.length < 2 && values.every((v) => v === undefined)) push('Fill in more of the check-in for a sharper prediction.');
  if (out.length < 2) push('More rated sessions will sharpen these comparisons.');
  return out;
}

// ---------------------------------------------------------------- entry point

// What changes only with the athlete's history, model or the population is computed once per version of it: the
// engine-runtime caches hand out the same history array, model and population objects until a session, a fit
// or an update replaces them, so these memos (kept on those objects, gone with them: memo.ts) serve every
// check-in in between. The parts they hand out are shared between answers and never changed after they are made.
/** One population statistics version: by variable, and the similarity distance's scale of each model term (index j). */
interface PopulationStatsMemo {
  /** Each check-in variable's statistic by its index in CheckInValues (undefined: none). */
  statAt: readonly (PopulationStat | undefined)[];
  /** The population's sd of term j, else (none, or not positive) the registry's typical between-day difference. */
  scales: Float64Array;
  /** Each check-in variable's comparisons made under this version, by value (comparePopulation). */
  comparisonsAt: readonly Map<number, PopulationComparison>[];
}
const POPULATION_STATS_MEMO = memoSlot<PopulationStatsMemo>('populationStatsMemo');
/**
 * One history version as the statistics read it: its sessions (newest first, rated, at most HISTORY_WINDOW), their
 * summary, each session's model features as numbers (row i, column j: term j of session i; NaN when not given) and
 * date as text, and the sentences of the summary per coefficient set.
 */
interface HistoryMemo {
  sessions: readonly PastSession[];
  summary: PersonalHistory;
  features: Float64Array;
  dates: readonly string[];
  /** The sentences of the summary for the last coefficient set asked for (an athlete has one model at a time). */
  sentences: { coefficients: readonly CoefficientComparison[]; sentences: HistorySentences } | null;
}
const HISTORY_MEMO = memoSlot<HistoryMemo>('historyMemo');
const COEFFICIENTS_MEMO = memoSlot<{ mu: readonly number[]; terms: readonly FeatureSpec[]; comparisons: CoefficientComparison[] }>('coefficientsMemo');

function populationStatsOf(populationStats: readonly PopulationStat[]): PopulationStatsMemo {
  return memoised(populationStats, POPULATION_STATS_MEMO, () => {
    const byVariable = new Map(populationStats.map((s) => [s.variable, s]));
    const scales = new Float64Array(P).fill(1);
    for (let j = 1; j < P; j++) {
      const name = MODEL_TERMS[j].name;
      const std = byVariable.get(name)?.std;
      scales[j] = std !== undefined && std > 0 ? std : (FEATURE_SCALES.get(name) ?? 1);
    }
    const statAt = CHECK_IN_VARIABLES.map((spec) => byVariable.get(spec.name));
    return { statAt, scales, comparisonsAt: CHECK_IN_VARIABLES.map(() => new Map<number, PopulationComparison>()) };
  });
}

function historyOf(history: readonly PastSession[]): HistoryMemo {
  return memoised(history, HISTORY_MEMO, () => {
    const sessions: PastSession[] = [];
    for (const s of history) {
      if (sessions.length >= HISTORY_WINDOW) break;
      if (Number.isFinite(s.sessionQuality)) sessions.push(s);
    }
    const features = new Float64Array(sessions.length * P).fill(Number.NaN);
    let past: unknown[] | undefined; // each session's values in turn, in one array
    sessions.forEach((session, i) => {
      past = checkInValues(session.checkIn, past);
      for (let j = 1; j < P; j++) features[i * P + j] = num(past[TERM_VARIABLE_INDEX[j]]) ?? Number.NaN;
    });
    const dates = sessions.map((session) => session.startedAt.toISOString());
    return { sessions, summary: summariseHistory(sessions), features, dates, sentences: null };
  });
}

function sentencesOf(history: HistoryMemo, coefficients: readonly CoefficientComparison[]): HistorySentences {
  if (history.sentences?.coefficients !== coefficients) history.sentences = { coefficients, sentences: historySentences(history.summary, coefficients) };
  return history.sentences.sentences;
}

/** A COLD_START answer's comparisons: none (one shared empty set, so its sentences are memoised like any other). */
const NO_COMPARISONS: CoefficientComparison[] = [];

function coefficientsOf(model: UserModel, mu: readonly number[], terms: readonly FeatureSpec[]): CoefficientComparison[] {
  const memo = memoOf(model, COEFFICIENTS_MEMO);
  if (memo && memo.mu === mu && memo.terms === terms) return memo.comparisons;
  return keepMemo(model, COEFFICIENTS_MEMO, { mu, terms, comparisons: compareCoefficients(model, mu, terms) }).comparisons;
}

export function buildStatisticalContext(input: StatisticalContextInput): StatisticalContext {
  const { values, model, population, populationStats } = input;
  const stats = populationStatsOf(populationStats);
  const history = historyOf(input.history);
  const personalHistory = history.summary;

  const populationComparison = comparePopulation(values, stats);
  const similarSessions = findSimilar(values, history, stats.scales);
  const coefficientComparisons = model.phase !== 'COLD_START' && population && population.mu.length === P ? coefficientsOf(model, population.mu, input.terms) : NO_COMPARISONS;
  const insights = buildInsights(values, model.phase, populationComparison, personalHistory, similarSessions, sentencesOf(history, coefficientComparisons));

  return { populationComparison, personalHistory, similarSessions, coefficientComparisons, insights };
}
