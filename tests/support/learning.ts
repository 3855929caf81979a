// Shared pieces of the learning-loop integration tests: an athlete with a known truth, sessions logged through
// the API (startSession with the check-in, completeSession with the outcome), and the model queries.
import { randomUUID } from 'node:crypto';
import { Random, simulateAthlete, type SimulatedAthlete, type TruthPopulation } from '../../scripts/lib/synthetic.ts';
import { addRatedSession, addRatingLinearised, emptyStats, linearisedStats, userPosterior, type Hyperparameters, type SufficientStats } from '../../src/engine/bayes/index.ts';
import { checkInColumns, designRow, MODEL_TERMS, P, TERM_NAMES, type CheckIn } from '../../src/engine/variables.ts';
import pg from 'pg';
import { gqlOk } from './client.ts';
import { dropTestDatabase } from './server.ts';

export const PRIOR_MEAN: Record<string, number> = Object.fromEntries(MODEL_TERMS.map((t) => [t.name, t.priorMean]));
export const PRIOR_TAU2: Record<string, number> = Object.fromEntries(MODEL_TERMS.map((t) => [t.name, t.individualVariance]));

/**
 * The statistics the quick updates store for sessions completed one by one: the first recomputed in full, then
 * one step per session, a rating at 1 or 10 linearised at the posterior of the sessions before it.
 */
export function quickUpdateStats(sessions: readonly { checkIn: CheckIn; sessionQuality: number }[], hyper: Hyperparameters): SufficientStats {
  let stats = emptyStats();
  for (const [i, s] of sessions.entries()) {
    if (i === 0) {
      addRatedSession(stats, s.checkIn as Record<string, unknown>, s.sessionQuality);
      stats = linearisedStats(stats, userPosterior(stats, hyper).mean, hyper);
    } else stats = addRatingLinearised(stats, designRow(s.checkIn as Record<string, unknown>), s.sessionQuality, hyper);
  }
  return stats;
}

/** Every coefficient at its prior mean except sleepHours 0.5 and stressLevel -0.4; no between-athlete spread. */
export const SLEEP_STRESS_TRUTH: Record<string, number> = { ...PRIOR_MEAN, sleepHours: 0.5, stressLevel: -0.4 };

export function truthPopulation(truth: Record<string, number>): TruthPopulation {
  return { mean: TERM_NAMES.map((n) => truth[n]), sd: TERM_NAMES.map(() => 0) };
}

/**
 * A seeded athlete whose outcomes follow SLEEP_STRESS_TRUTH exactly plus small noise, rated 1-10 like a real
 * athlete (rounded, clamped). Check-in variables are drawn independently over wide, realistic ranges so that 40
 * sessions identify the sleep and stress effects (synthetic.ts draws sleep quality and energy from sleep hours,
 * which is realistic but leaves 40 sessions unable to tell those effects apart).
 */
export function sleepStressAthlete(sessions: number, seed: number, noiseSd = 0.3): SimulatedAthlete {
  const rng = new Random(seed);
  const beta = TERM_NAMES.map((n) => SLEEP_STRESS_TRUTH[n]);
  const x = new Float64Array(P);
  const out: SimulatedAthlete['sessions'] = [];
  for (let s = 0; s < sessions; s++) {
    const checkIn: CheckIn = {
      sleepHours: 4 + rng.int(0, 24) / 4,
      sleepQuality: rng.int(3, 9),
      energyLevel: rng.int(3, 9),
      stressLevel: rng.int(1, 10),
      motivationLevel: rng.int(3, 9),
      sorenessLevel: rng.int(1, 6),
      daysSinceHardSession: rng.int(0, 5),
      caffeineMg: rng.pick([0, 0, 100, 200]),
      warmupMin: rng.int(5, 25),
      daysSinceLastSession: rng.int(1, 3),
      daysSinceRestDay: rng.int(0, 3),
      hydrationStatus: rng.int(5, 9),
    };
    designRow(checkIn as Record<string, unknown>, x);
    let q = rng.normal(0, noiseSd);
    for (let j = 0; j < P; j++) q += beta[j] * x[j];
    out.push({ day: s, checkIn, sessionQuality: Math.min(10, Math.max(1, Math.round(q))) });
  }
  return { index: 0, trueCoefficients: beta, sessions: out };
}

/** The same truth through synthetic.ts's habits-driven check-ins (the seed and evaluation generator). */
export function syntheticSleepStressAthlete(sessions: number, seed: number, noiseSd = 0.3): SimulatedAthlete {
  return simulateAthlete(0, sessions, { seed, population: truthPopulation(SLEEP_STRESS_TRUTH), noiseSd });
}

export const MODEL_FIELDS = `phase sessionsIncluded shrinkageFactor modelVersion lastTrainedAt trainingDurationMs
  coefficients { variable value lower upper }`;

export const MODEL_QUERY = `query Model($userId: ID) { modelOutput(userId: $userId) { ${MODEL_FIELDS} } }`;

export interface Coefficient {
  variable: string;
  value: number;
  lower: number;
  upper: number;
}

/** The population model as `populationModel` answers it. */
export interface PopulationModelView {
  fittedAt: string;
  usersIncluded: number;
  sessionsIncluded: number;
  sigma: number;
  modelVersion: string;
  coefficients: { variable: string; value: number; lower: number; upper: number }[];
  betweenAthleteSd: { variable: string; value: number }[];
}

export interface ModelOutputView {
  phase: 'COLD_START' | 'LEARNING' | 'PERSONALIZED';
  sessionsIncluded: number;
  shrinkageFactor: number;
  modelVersion: string;
  lastTrainedAt: string;
  trainingDurationMs: number;
  coefficients: Coefficient[];
}

export async function modelOutput(url: string, token: string, userId?: string): Promise<ModelOutputView | null> {
  const data = await gqlOk<{ modelOutput: ModelOutputView | null }>(url, MODEL_QUERY, { userId }, token);
  return data.modelOutput;
}

export const coefficient = (m: { coefficients: Coefficient[] }, variable: string): Coefficient => {
  const c = m.coefficients.find((x) => x.variable === variable);
  if (!c) throw new Error(`no coefficient ${variable}`);
  return c;
};

const START = `mutation Start($input: StartSessionInput!) { startSession(input: $input) { id status } }`;
const COMPLETE = `mutation Complete($id: ID!, $input: CompleteSessionInput!) {
  completeSession(id: $id, input: $input) { id status sessionQuality deviatedFromPlan actualCaffeineMg }
}`;

/** The check-in fields the API takes (the synthetic check-in has exactly these). */
export function checkInInput(checkIn: CheckIn): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(checkIn)) if (v !== undefined && v !== null) out[k] = v;
  return out;
}

export async function startSession(url: string, token: string, checkIn: CheckIn, startedAt?: Date): Promise<string> {
  const started = await gqlOk<{ startSession: { id: string; status: string } }>(
    url,
    START,
    { input: { ...checkInInput(checkIn), ...(startedAt ? { startedAt: startedAt.toISOString() } : {}) } },
    token,
  );
  if (started.startSession.status !== 'ACTIVE') throw new Error(`startSession returned ${started.startSession.status}`);
  return started.startSession.id;
}

/** What COMPLETE selects of the completed session. */
export interface CompletedSession {
  id: string;
  status: string;
  sessionQuality: number | null;
  deviatedFromPlan: boolean | null;
  actualCaffeineMg: number | null;
}

export async function completeSession(url: string, token: string, id: string, outcome: Record<string, unknown>): Promise<CompletedSession> {
  return (await gqlOk<{ completeSession: CompletedSession }>(url, COMPLETE, { id, input: outcome }, token)).completeSession;
}

/** startSession with the check-in, then completeSession with the outcome; returns the session id. */
export async function logSession(url: string, token: string, checkIn: CheckIn, outcome: Record<string, unknown>, startedAt?: Date): Promise<{ id: string; completed: CompletedSession }> {
  const id = await startSession(url, token, checkIn, startedAt);
  return { id, completed: await completeSession(url, token, id, outcome) };
}

/** Logs every session of a simulated athlete through the API, oldest first, one day apart ending today. */
export async function logAthlete(url: string, token: string, athlete: SimulatedAthlete, count = athlete.sessions.length, between?: () => Promise<void>): Promise<string[]> {
  const ids: string[] = [];
  const now = Date.now();
  const sessions = athlete.sessions.slice(0, count);
  for (const [i, s] of sessions.entries()) {
    const startedAt = new Date(now - (sessions.length - i) * 86_400_000);
    const { id } = await logSession(url, token, s.checkIn, { sessionQuality: s.sessionQuality }, startedAt);
    ids.push(id);
    await between?.();
  }
  return ids;
}

export const TRAINING_RUN_FIELDS = `id kind status trigger startedAt finishedAt usersTrained sessionsUsed error attempts stageTimings { totalMs trainingDataMs trainedModelMs fitMs populationStatisticsMs computeMs path } user { id }`;

export interface TrainingRunView {
  id: string;
  kind: 'NIGHTLY' | 'USER' | 'QUICK_UPDATE';
  status: 'QUEUED' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'SKIPPED';
  trigger: string;
  startedAt: string;
  finishedAt: string | null;
  usersTrained: number;
  sessionsUsed: number;
  error: string | null;
  attempts: number;
  stageTimings: Record<string, number | string | null> | null;
  user: { id: string } | null;
}

export async function trainingRuns(url: string, token: string, kind?: string, first = 100): Promise<TrainingRunView[]> {
  const data = await gqlOk<{ trainingRuns: { edges: { node: TrainingRunView }[] } }>(
    url,
    `query Runs($kind: TrainingRunKind, $first: Int) { trainingRuns(kind: $kind, first: $first) { edges { node { ${TRAINING_RUN_FIELDS} } } } }`,
    { kind, first },
    token,
  );
  return data.trainingRuns.edges.map((e) => e.node);
}

export const RUN_NIGHTLY = `mutation Nightly($wait: Boolean) { runNightlyTraining(wait: $wait) { ${TRAINING_RUN_FIELDS} } }`;

/** Polls until `check` returns a value (not undefined/null/false) or the timeout passes. */
export async function waitFor<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** The columns of a completed, rated session for a simulated check-in (for writes that bypass the API). */
export function sessionRow(userId: string, s: SimulatedAthlete['sessions'][number], startedAt: Date) {
  const c = s.checkIn;
  return {
    userId,
    status: 'COMPLETED' as const,
    startedAt,
    endedAt: new Date(startedAt.getTime() + 2 * 3_600_000),
    ...checkInColumns(c),
    plannedCaffeineMg: c.caffeineMg ?? null,
    plannedWarmupMin: c.warmupMin ?? null,
    sessionQuality: s.sessionQuality,
  };
}

/** The writes insertAthletes makes: the base client's (no hook) or the server's hooked one (services.prisma). */
interface AthleteWriter {
  user: { createMany(args: { data: { id: string; role: 'ATHLETE' }[] }): Promise<unknown> };
  climbingSession: { createMany(args: { data: ReturnType<typeof sessionRow>[] }): Promise<unknown> };
}

/** Writes athletes (User rows and completed sessions) with the base client: no hook, so no quick update. */
export async function insertAthletes(prisma: AthleteWriter, athletes: SimulatedAthlete[]): Promise<string[]> {
  const ids = athletes.map(() => randomUUID());
  await prisma.user.createMany({ data: ids.map((id) => ({ id, role: 'ATHLETE' as const })) });
  const now = Date.now();
  const rows = athletes.flatMap((a, i) => a.sessions.map((s, k) => sessionRow(ids[i], s, new Date(now - (a.sessions.length - k) * 86_400_000))));
  for (let i = 0; i < rows.length; i += 1000) await prisma.climbingSession.createMany({ data: rows.slice(i, i + 1000) });
  return ids;
}

/**
 * Drops a test database once no backend is connected to it any more. A closed pool's clients finish closing
 * their sockets asynchronously; DROP DATABASE ... WITH (FORCE) in that window sends them a FATAL 57P01 that
 * surfaces as an unhandled error event of a client the pool has already let go.
 */
export async function dropWhenIdle(url: string, timeoutMs = 5000): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL! });
  await admin.connect();
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
      if (rows[0].n === 0 || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await admin.end();
  }
  await dropTestDatabase(url);
}
