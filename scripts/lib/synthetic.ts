// Seeded synthetic athletes for the offline evaluation, the fit benchmark and the demo seed.
// Each athlete's true coefficients come from a known population; check-ins stay inside the ranges of
// variables.ts (integers where the variable is an integer); the outcome follows the model's own form,
// rounded and clamped to the 1-10 scale an athlete would report.
import { MODEL_TERMS, P as TERM_COUNT, designRow, type CheckIn } from '../../src/engine/variables.ts';

const P = TERM_COUNT;

/** mulberry32: small, fast, seedable 32-bit PRNG; uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Random {
  private readonly next: () => number;
  private spare: number | null = null;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  uniform(): number {
    return this.next();
  }
  /** Standard normal (Box-Muller, the second draw cached). */
  normal(mean = 0, sd = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + sd * z;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + sd * r * Math.cos(2 * Math.PI * v);
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  bernoulli(p: number): boolean {
    return this.next() < p;
  }
}

/** A population of true coefficients: beta_u ~ N(mean, diag(sd²)), MODEL_TERMS order. */
export interface TruthPopulation {
  mean: number[];
  sd: number[];
}

/**
 * The seed priors taken literally: mean = priorMean, sd = sqrt(individualVariance). Unrealistic for the
 * features (caffeine sd 0.063 per mg = 6 quality points per 100 mg; warm-up 0.14 per minute), which is why it
 * is not the default.
 */
export const PRIOR_TRUTH_POPULATION: TruthPopulation = {
  mean: MODEL_TERMS.map((t) => t.priorMean),
  sd: MODEL_TERMS.map((t) => Math.sqrt(t.individualVariance)),
};

/**
 * Default truth: mean = priorMean; between-athlete sd 1.0 for the intercept (= sqrt(individualVariance)) and
 * half the population effect for every feature (an athlete's sensitivity typically within ±50 % of the
 * population's; sign flips are rare, ~2 %).
 */
export const DEFAULT_TRUTH_POPULATION: TruthPopulation = {
  mean: MODEL_TERMS.map((t) => t.priorMean),
  sd: MODEL_TERMS.map((t, j) => (j === 0 ? Math.sqrt(t.individualVariance) : 0.5 * Math.abs(t.priorMean))),
};

/** Outcome noise sd (before rounding to the 1-10 scale). */
export const DEFAULT_NOISE_SD = 1.2;

/**
 * Ratings that pile at the ends of the scale, as real ones do: athletes spread wider around a higher mean
 * (intercept 6.5, between-athlete sd 2.6) with noisier sessions (BOUNDED_NOISE_SD): about 27 % of ratings are 1
 * or 10 (8 % with the default population).
 */
export const BOUNDED_TRUTH_POPULATION: TruthPopulation = {
  mean: DEFAULT_TRUTH_POPULATION.mean.map((m, j) => (j === 0 ? 6.5 : m)),
  sd: DEFAULT_TRUTH_POPULATION.sd.map((sd, j) => (j === 0 ? 2.6 : sd)),
};
export const BOUNDED_NOISE_SD = 1.8;

export interface SimulatedSession {
  /** Days since the athlete's first simulated session. */
  day: number;
  checkIn: CheckIn;
  sessionQuality: number;
}

export interface SimulatedAthlete {
  index: number;
  trueCoefficients: number[];
  sessions: SimulatedSession[];
}

export interface SimulationOptions {
  seed: number;
  athletes: number;
  /** Sessions per athlete: a number, one per athlete, or a function of the athlete index. */
  sessionsPerAthlete: number | readonly number[] | ((index: number) => number);
  population?: TruthPopulation;
  noiseSd?: number;
  /**
   * 'rated' (default): the outcome an athlete reports, rounded and clamped to 1-10. 'linear': the model's
   * exact form with Gaussian noise, unrounded (for checking the inference itself).
   */
  outcome?: 'rated' | 'linear';
  /**
   * Caffeine (mg) drawn uniformly from these levels at every session (e.g. 0, 100, 200, 300: a slope each athlete
   * identifies only weakly) instead of around the athlete's habit.
   */
  caffeineLevels?: readonly number[];
}

const clamp = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
const clampInt = (x: number, lo: number, hi: number) => clamp(Math.round(x), lo, hi);

/** One athlete's habits: their check-ins vary around these. */
interface Habits {
  sleep: number;
  stress: number;
  motivation: number;
  caffeine: number;
  warmup: number;
  sessionsPerWeek: number;
  habitualCaffeine: boolean;
}

function drawHabits(rng: Random): Habits {
  const habitualCaffeine = rng.bernoulli(0.6);
  return {
    sleep: clamp(rng.normal(7.2, 0.7), 5.5, 9),
    stress: clamp(rng.normal(4.2, 1.2), 1.5, 8),
    motivation: clamp(rng.normal(6.2, 1), 3, 9),
    caffeine: habitualCaffeine ? rng.pick([80, 100, 150, 200, 250]) : rng.pick([0, 0, 0, 50]),
    warmup: clamp(rng.normal(14, 5), 0, 35),
    sessionsPerWeek: rng.int(2, 5),
    habitualCaffeine,
  };
}

/** Days since the last hard session, 0-7 (most athletes go hard every 2-3 days). */
const DAYS_SINCE_HARD_WEIGHTS = [6, 26, 28, 18, 10, 6, 4, 2];
const DAYS_SINCE_HARD_TOTAL = DAYS_SINCE_HARD_WEIGHTS.reduce((a, b) => a + b, 0);

function drawDaysSinceHard(rng: Random): number {
  let u = rng.uniform() * DAYS_SINCE_HARD_TOTAL;
  for (let d = 0; d < DAYS_SINCE_HARD_WEIGHTS.length; d++) {
    u -= DAYS_SINCE_HARD_WEIGHTS[d];
    if (u < 0) return d;
  }
  return DAYS_SINCE_HARD_WEIGHTS.length - 1;
}

function drawCheckIn(rng: Random, h: Habits, state: { daysSinceRest: number }, gap: number, caffeineLevels?: readonly number[]): CheckIn {
  const sleepHours = clamp(Math.round(rng.normal(h.sleep, 0.9) * 4) / 4, 3, 11);
  const sleepQuality = clampInt(6 + 0.9 * (sleepHours - 7) + rng.normal(0, 1.5), 1, 10);
  const daysSinceHardSession = drawDaysSinceHard(rng);
  const sorenessLevel = clampInt(5 - 0.9 * Math.min(daysSinceHardSession, 5) + rng.normal(0, 1.4), 1, 10);
  const stressLevel = clampInt(rng.normal(h.stress, 1.6), 1, 10);
  const energyLevel = clampInt(6 + 0.5 * (sleepQuality - 6) - 0.25 * (sorenessLevel - 3) - 0.15 * (stressLevel - 4) + rng.normal(0, 1.4), 1, 10);
  const motivationLevel = clampInt(h.motivation + 0.4 * (energyLevel - 6) - 0.2 * (stressLevel - 4) + rng.normal(0, 1.3), 1, 10);
  const habitual = clampInt(h.caffeine > 0 ? h.caffeine + rng.pick([-50, 0, 0, 0, 50, 100]) : rng.bernoulli(0.1) ? 80 : 0, 0, 1000);
  const caffeineMg = caffeineLevels ? rng.pick(caffeineLevels) : habitual;
  const warmupMin = clampInt(rng.normal(h.warmup, 5), 0, 180);
  return {
    sleepHours,
    sleepQuality,
    energyLevel,
    stressLevel,
    motivationLevel,
    sorenessLevel,
    daysSinceHardSession,
    caffeineMg,
    warmupMin,
    daysSinceLastSession: gap,
    daysSinceRestDay: clampInt(state.daysSinceRest, 0, 365),
    hydrationStatus: clampInt(rng.normal(6.5, 1.5), 1, 10),
    temperatureC: Math.round(rng.normal(18, 6) * 10) / 10,
    injurySeverity: rng.bernoulli(0.08) ? rng.int(1, 4) : 0,
    pulleyInjuryGrade: 0,
    fingerInjuryPresent: false,
    alcoholLast24h: rng.bernoulli(0.08),
    caffeineToday: caffeineMg > 0,
    caffeineHabitual: h.habitualCaffeine,
    warmupCompleted: false,
    fearOfFalling: clampInt(rng.normal(4, 1.8), 1, 10),
    performanceAnxiety: clampInt(rng.normal(4, 1.8), 1, 10),
    trainingLoadChange: Math.round(rng.normal(0, 0.08) * 100) / 100,
    timeAvailableMin: rng.pick([60, 90, 120, 150, 180]),
  };
}

function sessionsFor(opt: SimulationOptions['sessionsPerAthlete'], i: number): number {
  if (typeof opt === 'number') return opt;
  if (typeof opt === 'function') return opt(i);
  return opt[i];
}

/** Draws one athlete (coefficients, then sessions in time order); deterministic in (seed, index). */
export function simulateAthlete(index: number, sessions: number, opts: Omit<SimulationOptions, 'athletes' | 'sessionsPerAthlete'>): SimulatedAthlete {
  // One stream per athlete so an athlete does not change when others are added or resized.
  const rng = new Random((Math.imul(opts.seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(index + 1, 0xc2b2ae35)) >>> 0);
  const pop = opts.population ?? DEFAULT_TRUTH_POPULATION;
  const noiseSd = opts.noiseSd ?? DEFAULT_NOISE_SD;
  const beta = pop.mean.map((m, j) => rng.normal(m, pop.sd[j]));
  const habits = drawHabits(rng);
  const x = new Float64Array(P);
  const state = { daysSinceRest: rng.int(0, 2) };
  const out: SimulatedSession[] = [];
  let day = 0;
  for (let s = 0; s < sessions; s++) {
    const gap = s === 0 ? 0 : Math.max(1, Math.round(7 / habits.sessionsPerWeek + rng.normal(0, 0.8)));
    day += gap;
    if (s > 0) state.daysSinceRest = gap > 1 ? 0 : state.daysSinceRest + 1;
    const checkIn = drawCheckIn(rng, habits, state, gap, opts.caffeineLevels);
    designRow(checkIn as Record<string, unknown>, x);
    let q = rng.normal(0, noiseSd);
    for (let j = 0; j < P; j++) q += beta[j] * x[j];
    const sessionQuality = opts.outcome === 'linear' ? q : clampInt(q, 1, 10);
    out.push({ day, checkIn, sessionQuality });
  }
  return { index, trueCoefficients: beta, sessions: out };
}

export function simulateAthletes(opts: SimulationOptions): SimulatedAthlete[] {
  const out: SimulatedAthlete[] = [];
  for (let i = 0; i < opts.athletes; i++) out.push(simulateAthlete(i, sessionsFor(opts.sessionsPerAthlete, i), opts));
  return out;
}
