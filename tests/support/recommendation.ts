// Shared pieces of the recommendation integration tests: the query and the stream with every field the
// tests read, typed results, and the cold-start prediction computed independently from the seed priors file.
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { collect, gql, gqlOk, sse, wsClient, type GraphQLErrorBody, type GraphQLResponse } from './client.ts';

const CONSTRAINTS = `sessionTypeCeiling suggestedSessionType avoid include warmupMin maxDurationMin reduceVolume hydrationBreaks`;
const PREDICTION = `expectedQuality rawQuality interval { low high } distribution { rating probability } contributions { variable value } phase confidence`;
const WARNING = `rule category message reason`;
const SUGGESTION = `variable from to expectedGain message`;
const GROUP = `n mean`;
/** The operator's example check-in (domain.md section 8): no rule overrides it. */
export const OPERATOR = { sleepHours: 7, energyLevel: 4, stressLevel: 2 };
/** A check-in that matches rules with prediction multipliers (good sleep, caffeine timing) and warnings. */
export const MULTIPLIER_CHECK_IN = {
  sleepHours: 8,
  sleepQuality: 8,
  energyLevel: 8,
  motivationLevel: 9,
  sorenessLevel: 2,
  caffeineMg: 50,
  warmupMin: 5,
  warmupCompleted: false,
  caffeineToday: true,
  caffeineHabitual: false,
  trainingLoadChange: 0.2,
};

export const STATISTICAL_CONTEXT = `
  populationComparison { variable value populationMean populationStd zScore percentile descriptor }
  personalHistory {
    n mean sd best worst trendPerSession
    sleep { under6h { ${GROUP} } atLeast7h { ${GROUP} } }
    stress { high { ${GROUP} } lower { ${GROUP} } }
    caffeine { atLeast200mg { ${GROUP} } under50mg { ${GROUP} } }
    daysSinceHardSession { upTo1 { ${GROUP} } from2To4 { ${GROUP} } atLeast5 { ${GROUP} } }
  }
  similarSessions { sessionId date similarity sharedFeatures sessionQuality }
  coefficientComparisons { variable userCoefficient populationCoefficient difference ratio userInterval { low high } clearlyDifferent sensitivity message }
  insights`;

export const RECOMMENDATION_QUERY = `query Rec($input: PreSessionInput!) {
  recommendation(input: $input) {
    id createdAt source sessionType
    override { rule category sessionType message }
    prediction { ${PREDICTION} }
    rulesApplied
    warnings { ${WARNING} }
    constraints { ${CONSTRAINTS} }
    suggestions { ${SUGGESTION} }
    statisticalContext { ${STATISTICAL_CONTEXT} }
    personalization { phase sessionsIncluded hasBaseline hasPersonalization }
    generatedAt
  }
}`;

export const STREAM_QUERY = `subscription Stream($input: PreSessionInput!) {
  preSessionRecommendation(input: $input) {
    __typename type sequence elapsedMs
    ... on ContextLoadedEvent { phase sessionsAvailable hasBaseline hasPersonalization }
    ... on RulesAppliedEvent { rules warnings { ${WARNING} } constraints { ${CONSTRAINTS} } }
    ... on RuleOverrideEvent { rule category sessionType message warnings { ${WARNING} } }
    ... on PredictionEvent { prediction { ${PREDICTION} } }
    ... on RecommendationsEvent { sessionType suggestions { ${SUGGESTION} } constraints { ${CONSTRAINTS} } }
    ... on StatsEvent { context { ${STATISTICAL_CONTEXT} } }
    ... on DoneEvent { source totalMs recommendationId sessionType expectedQuality }
    ... on ErrorEvent { code message }
  }
}`;

export interface GroupStat {
  n: number;
  mean: number | null;
}
/** What STATISTICAL_CONTEXT selects of a StatisticalContext. */
export interface StatisticalContext {
  populationComparison: { variable: string; value: number; populationMean: number; populationStd: number; zScore: number; percentile: number; descriptor: string }[];
  personalHistory: {
    n: number;
    mean: number | null;
    sd: number | null;
    best: number | null;
    worst: number | null;
    trendPerSession: number | null;
    sleep: { under6h: GroupStat; atLeast7h: GroupStat };
    stress: { high: GroupStat; lower: GroupStat };
    caffeine: { atLeast200mg: GroupStat; under50mg: GroupStat };
    daysSinceHardSession: { upTo1: GroupStat; from2To4: GroupStat; atLeast5: GroupStat };
  };
  similarSessions: { sessionId: string; date: string; similarity: number; sharedFeatures: number; sessionQuality: number }[];
  coefficientComparisons: {
    variable: string;
    userCoefficient: number;
    populationCoefficient: number;
    difference: number;
    ratio: number | null;
    userInterval: { low: number; high: number };
    clearlyDifferent: boolean;
    sensitivity: string;
    message: string;
  }[];
  insights: string[];
}

export interface Constraints {
  sessionTypeCeiling: string | null;
  suggestedSessionType: string | null;
  avoid: string[];
  include: string[];
  warmupMin: number | null;
  maxDurationMin: number | null;
  reduceVolume: boolean;
  hydrationBreaks: boolean;
}
export interface Prediction {
  expectedQuality: number;
  rawQuality: number;
  interval: { low: number; high: number };
  distribution: { rating: number; probability: number }[];
  contributions: { variable: string; value: number }[];
  phase: string;
  confidence: string;
}
export interface Warning {
  rule: string;
  category: string;
  message: string;
  reason: string;
}
export interface Suggestion {
  variable: string;
  from: number;
  to: number;
  expectedGain: number;
  message: string;
}
export interface Recommendation {
  id: string;
  createdAt: string;
  source: 'MODEL' | 'RULE_OVERRIDE';
  sessionType: string;
  override: { rule: string; category: string; sessionType: string; message: string } | null;
  prediction: Prediction | null;
  rulesApplied: string[];
  warnings: Warning[];
  constraints: Constraints | null;
  suggestions: Suggestion[];
  statisticalContext: StatisticalContext;
  personalization: { phase: string; sessionsIncluded: number; hasBaseline: boolean; hasPersonalization: boolean };
  generatedAt: string;
}
/** One event of the stream: the union of every concrete type's fields (only the ones of its type are set). */
export interface StreamEvent {
  __typename: string;
  type: string;
  sequence: number;
  elapsedMs: number;
  phase?: string;
  sessionsAvailable?: number;
  hasBaseline?: boolean;
  hasPersonalization?: boolean;
  rules?: string[];
  warnings?: Warning[];
  constraints?: Constraints;
  rule?: string;
  category?: string;
  sessionType?: string;
  message?: string;
  prediction?: Prediction;
  suggestions?: Suggestion[];
  context?: StatisticalContext;
  source?: string;
  totalMs?: number;
  recommendationId?: string;
  expectedQuality?: number | null;
  code?: string;
}

export type CheckIn = Record<string, unknown>;

export async function recommendation(url: string, token: string, input: CheckIn): Promise<Recommendation> {
  return (await gqlOk<{ recommendation: Recommendation }>(url, RECOMMENDATION_QUERY, { input }, token)).recommendation;
}

export async function recommendationRaw(url: string, token: string | undefined, input: CheckIn) {
  return gql<{ recommendation: Recommendation }>(url, RECOMMENDATION_QUERY, { input }, token);
}

/** The whole stream over graphql-ws (one connection per call): events, errors, and whether it completed. */
export async function streamWs(wsUrl: string, token: string | undefined, input: CheckIn) {
  const client = wsClient(wsUrl, token);
  try {
    const out = await collect<{ preSessionRecommendation: StreamEvent }>(client, STREAM_QUERY, { input });
    return { events: out.events.map((e) => e.preSessionRecommendation), errors: out.errors.flat() as GraphQLErrorBody[], completed: out.completed };
  } finally {
    await client.dispose();
  }
}

/** The whole stream over SSE. */
export async function streamSse(url: string, token: string | undefined, input: CheckIn) {
  const res = await sse<{ preSessionRecommendation: StreamEvent }>(url, STREAM_QUERY, { input }, token);
  const responses: GraphQLResponse<{ preSessionRecommendation: StreamEvent }>[] = res.events;
  return {
    status: res.status,
    events: responses.filter((r) => r.data?.preSessionRecommendation).map((r) => r.data!.preSessionRecommendation),
    errors: responses.flatMap((r) => r.errors ?? []),
  };
}

export const types = (events: StreamEvent[]) => events.map((e) => e.type);
export const eventOf = (events: StreamEvent[], type: string): StreamEvent => {
  const e = events.find((x) => x.type === type);
  if (!e) throw new Error(`no ${type} event in ${types(events).join(', ')}`);
  return e;
};

/** sequence 1..n in order, elapsedMs non-decreasing, DONE's totalMs = its own elapsedMs (the whole request). */
export function expectWellFormed(events: StreamEvent[]): void {
  expect(events.map((e) => e.sequence)).toEqual(events.map((_, i) => i + 1));
  for (let i = 1; i < events.length; i++) expect(events[i].elapsedMs).toBeGreaterThanOrEqual(events[i - 1].elapsedMs);
  for (const e of events) {
    expect(e.__typename).toMatch(/Event$/);
    expect(e.elapsedMs).toBeGreaterThanOrEqual(0);
  }
  const done = events.find((e) => e.type === 'DONE');
  if (done) expect(done.totalMs).toBe(done.elapsedMs);
}

// ---------------------------------------------------------------- the cold-start model, from the seed file

interface SeedPrior {
  variable: string;
  populationMean: number;
  populationStd: number;
  individualVariance?: number | null;
  referenceValue?: number | null;
}

export const SEED_PRIORS: SeedPrior[] = JSON.parse(readFileSync(new URL('../../prisma/seed/population-priors.json', import.meta.url), 'utf8'));
/** The 9 model features of domain.md section 2 (written out here, not imported from the engine). */
export const MODEL_FEATURES = ['sleepHours', 'sleepQuality', 'energyLevel', 'stressLevel', 'motivationLevel', 'sorenessLevel', 'daysSinceHardSession', 'caffeineMg', 'warmupMin'];
const SIGMA2_DEFAULT = 1.5 ** 2;
const prior = (name: string) => {
  const p = SEED_PRIORS.find((x) => x.variable === name);
  if (!p) throw new Error(`no seed prior for ${name}`);
  return p;
};
/** The rating a latent quality gives on the bounded scale: 1 at or below 1.5, 10 at or above 9.5, itself in between. */
export const ratingOf = (latent: number) => (latent <= 1.5 ? 1 : latent >= 9.5 ? 10 : latent);

const simpson = (f: (z: number) => number, a: number, b: number) => {
  if (b <= a) return 0;
  const n = 4000;
  const h = (b - a) / n;
  let sum = f(a) + f(b);
  for (let i = 1; i < n; i++) sum += (i % 2 ? 4 : 2) * f(a + i * h);
  return (sum * h) / 3;
};
const normalDensity = (mean: number, sd: number) => (z: number) => Math.exp(-0.5 * ((z - mean) / sd) ** 2) / (sd * Math.sqrt(2 * Math.PI));

/**
 * E[rating] for a latent quality N(mean, sd²) on the bounded scale, by numerical integration (Simpson on each
 * smooth piece between the cuts): the tests' own account of the bounded model's expected rating.
 */
export function boundedExpectation(mean: number, sd: number): number {
  const density = normalDensity(mean, sd);
  const lo = mean - 12 * sd;
  const hi = mean + 12 * sd;
  const cut1 = Math.min(Math.max(1.5, lo), hi);
  const cut2 = Math.min(Math.max(9.5, lo), hi);
  return simpson(density, lo, cut1) * 1 + simpson((z) => z * density(z), cut1, cut2) + simpson(density, cut2, hi) * 10;
}

/**
 * P(rating = k) for k = 1..10 when the latent quality is N(mean, sd²) and the athlete reports it rounded to a whole
 * rating, 1 below 1.5 and 10 above 9.5: the density integrated over each rating's stretch (Simpson).
 */
export function ratingProbabilities(mean: number, sd: number): number[] {
  const density = normalDensity(mean, sd);
  const lo = Math.min(mean - 12 * sd, 0);
  const hi = Math.max(mean + 12 * sd, 11);
  return Array.from({ length: 10 }, (_, i) => simpson(density, i === 0 ? lo : i + 0.5, i === 9 ? hi : i + 1.5));
}

/**
 * The 95 % interval of whole ratings as docs/api.md states it, by brute force: every run of consecutive ratings;
 * of the most probable run of each width, the one whose probability is nearest 95 % (the shorter on a tie),
 * widened to the whole ratings around the expected rating (2 decimals) when it lies outside (when given).
 */
export function ratingIntervalOf(probabilities: readonly number[], expected?: number): { low: number; high: number; probability: number } {
  const runs: { low: number; high: number; probability: number }[] = [];
  for (let low = 1; low <= 10; low++) for (let high = low; high <= 10; high++) runs.push({ low, high, probability: probabilities.slice(low - 1, high).reduce((a, b) => a + b, 0) });
  const topOfWidth = Array.from({ length: 10 }, (_, w) => runs.filter((r) => r.high - r.low === w).reduce((a, b) => (b.probability > a.probability + 1e-12 ? b : a)));
  const best = topOfWidth.reduce((a, b) => (Math.abs(b.probability - 0.95) < Math.abs(a.probability - 0.95) - 1e-12 ? b : a));
  if (expected === undefined) return best;
  const shown = Math.round(expected * 100) / 100;
  return { low: Math.min(best.low, Math.floor(shown)), high: Math.max(best.high, Math.ceil(shown)), probability: best.probability };
}

/**
 * Prediction for an athlete with no rated session, as domain.md sections 5-7 document it (the posterior with no
 * data is the population): mean = intercept + sum prior mean_j (x_j - c_j); variance = sum over used features of
 * (x - c)² individualVariance + the intercept's individualVariance + sigma² (1.5²); the expected rating given the
 * bounds of the scale (boundedExpectation); the distribution of the whole rating from the latent value with
 * sigma² less the rounding's 1/12 (ratingProbabilities), and the 95 % interval read off it (ratingIntervalOf).
 */
export function coldStartPrediction(input: CheckIn, overrides: { interceptMean?: number } = {}) {
  const intercept = prior('intercept');
  let mean = overrides.interceptMean ?? intercept.populationMean;
  let variance = intercept.individualVariance! + SIGMA2_DEFAULT;
  for (const name of MODEL_FEATURES) {
    const x = input[name];
    if (typeof x !== 'number') continue;
    const p = prior(name);
    const d = x - (p.referenceValue ?? 0);
    mean += p.populationMean * d;
    variance += d * d * p.individualVariance!;
  }
  const expected = boundedExpectation(mean, Math.sqrt(variance));
  const distribution = ratingProbabilities(mean, Math.sqrt(variance - 1 / 12));
  const { low, high } = ratingIntervalOf(distribution, expected);
  return { raw: mean, expected, distribution, low, high, variance };
}
