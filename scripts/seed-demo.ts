// npm run seed:demo: synthetic athletes with known true coefficients (scripts/lib/synthetic.ts), written through
// the GraphQL API, as an athlete's client does it (each athlete with their own token): a baseline, then per session
// a check-in whose stored recommendation (the `recommendation` query) starts the session (startSession with
// recommendationId), completed with a rating, so every demo session has a prediction linked to its outcome and
// every completion triggers the quick model update. Unless --no-train, the nightly pipeline (runNightlyTraining)
// runs for each of the last --nights weekly nights (02:00 UTC) between the sessions, written in the order they
// happened: each night trains on the sessions before it, so the model history, the held-out error and the
// training runs have a past. When the script runs its own server (no server owns the directory), each run is then
// dated at its night (the run's start and end, its snapshots, its population model); beside a running server the
// nights train in the same order but keep the time they ran at. When a server owns the PGlite directory, all of it
// goes through that server; otherwise the script starts one in-process on a free loopback port for its run.
//
//   npm run seed:demo -- [--athletes 24] [--seed 20240601] [--sessions-min 5] [--sessions-max 60] [--nights 8] [--reset] [--no-train]
//
// A demo coach (deterministic id too) is linked to the first DEMO_TEAM_SIZE demo athletes the way the API links
// them (each athlete's invitation, redeemed by the coach), and its token command is printed.
//
// Demo users have deterministic ids (from the seed and their index): a second run finds them and skips them;
// --reset deletes them (and everything of theirs) first (the API deletes no users: not beside a running server).
// Works on PGlite (PGLITE_DIR, default ./data/pglite) and on DATABASE_URL, like the server.
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.ts';
import { Random, simulateAthlete, DEFAULT_TRUTH_POPULATION, type SimulatedAthlete } from './lib/synthetic.ts';
import { TERM_NAMES, checkInColumns, type CheckIn } from '../src/engine/variables.ts';
import { startServer, type RunningServer } from '../src/server.ts';
import { startupFailure } from '../src/services.ts';
import { stripNulls } from '../src/schema/baseline.ts';
import { CLI_ADMIN_ID, graphql, mintToken, owningServer } from './lib/api-client.ts';

const { values: args } = parseArgs({
  options: {
    athletes: { type: 'string', default: '24' },
    seed: { type: 'string', default: '20240601' },
    'sessions-min': { type: 'string', default: '5' },
    'sessions-max': { type: 'string', default: '60' },
    nights: { type: 'string', default: '8' },
    reset: { type: 'boolean', default: false },
    'no-train': { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log('npm run seed:demo -- [--athletes 24] [--seed 20240601] [--sessions-min 5] [--sessions-max 60] [--nights 8] [--reset] [--no-train] [--quiet]');
  process.exit(0);
}

function intArg(name: string, min: number, max: number): number {
  const raw = (args as Record<string, unknown>)[name] as string;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    console.error(`--${name} must be a whole number between ${min} and ${max} (got "${raw}")`);
    process.exit(2);
  }
  return n;
}

const athletes = intArg('athletes', 1, 10_000);
const seed = intArg('seed', 0, 2 ** 31 - 1);
const sessionsMin = intArg('sessions-min', 1, 1000);
const sessionsMax = intArg('sessions-max', sessionsMin, 1000);
const nights = intArg('nights', 1, 12);

/** Deterministic RFC 4122-shaped (version 4 layout) id of demo athlete i under this seed. */
function demoUserId(seedValue: number, index: number): string {
  const h = createHash('sha256').update(`climbiq-demo:${seedValue}:${index}`).digest('hex');
  const variant = ((parseInt(h[16], 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const DAY = 86_400_000;
const fmt = (x: number, digits = 3) => (x >= 0 ? ' ' : '') + x.toFixed(digits);
const elapsed = (t0: number) => `${((performance.now() - t0) / 1000).toFixed(1)} s`;
const log = args.quiet ? () => {} : (m: string) => console.log(m);

// Session counts spread over [min, max] (seeded), so the demo shows every phase.
const counts = (() => {
  const rng = new Random(seed ^ 0x5eed);
  return Array.from({ length: athletes }, () => rng.int(sessionsMin, sessionsMax));
})();

const SESSION_TYPES = ['TECHNIQUE', 'VOLUME', 'PROJECT', 'LIGHT_SESSION'] as const;
const DISCIPLINES = ['BOULDER', 'SPORT', 'TRAD', 'MIXED'] as const;

/** How long to wait for the quick model updates of the written sessions (they run after each completion). */
const QUICK_UPDATES_WAIT_MS = 120_000;

const RECORD_BASELINE = `mutation ($input: BaselineAssessmentInput!) { recordBaselineAssessment(input: $input) { id } }`;
const RECOMMEND = `query ($input: PreSessionInput!) { recommendation(input: $input) { id } }`;
const START_SESSION = `mutation ($input: StartSessionInput!) { startSession(input: $input) { id } }`;
const COMPLETE_SESSION = `mutation ($id: ID!, $input: CompleteSessionInput!) { completeSession(id: $id, input: $input) { id } }`;
const INVITE = `mutation { createCoachInvitation(expiresInHours: 1) { code } }`;
const ACCEPT = `mutation ($code: String!) { acceptCoachInvitation(code: $code) { id } }`;
const COACH_ROSTER = `{ me { athletes(first: 100) { edges { node { id } } } } }`;
/** The demo coach's athletes: the first ones of the demo. */
const DEMO_TEAM_SIZE = 8;
/** The demo coach's index in demoUserId (far past any athlete's). */
const DEMO_COACH_INDEX = 1_000_000;
const DEMO_USER = `query ($id: ID!) { user(id: $id) { id modelOutput { phase sessionsIncluded shrinkageFactor coefficients { variable value } } } }`;
const RUN_NIGHTLY = `mutation { runNightlyTraining(wait: true) { id status usersTrained sessionsUsed error stageTimings { totalMs } } }`;

interface NightlyRun {
  id: string;
  night: Date;
  status: string;
  usersTrained: number;
  sessionsUsed: number;
  error: string | null;
  stageTimings: unknown;
}

interface DemoModel {
  phase: string;
  sessionsIncluded: number;
  shrinkageFactor: number;
  coefficients: { variable: string; value: number }[];
}

let exitCode = 0;
let local: RunningServer | null = null;
try {
  const config = loadConfig();
  const dbLog = (m: string) => (m.startsWith('[DB]') || m.startsWith('[TRAIN]') || m.startsWith('[CLI]') ? console.log(m) : log(m));
  const server = await owningServer(config, dbLog);
  if (server) {
    if (args.reset) {
      throw new Error(
        `--reset deletes users, which the API does not do, and the server at ${server.url} (pid ${server.owner.pid}) owns ${config.pgliteDir}: stop it (kill ${server.owner.pid}) and run this again`,
      );
    }
    console.log(`[SEED] the server at ${server.url} (pid ${server.owner.pid}) owns ${config.pgliteDir}: writing through its API`);
  } else {
    // Its own server for this run, on a free loopback port, holding the directory like any server.
    local = await startServer({ config: { ...config, host: '127.0.0.1', port: 0 }, schedule: false, log: dbLog, command: 'npm run seed:demo' });
  }
  const url = server?.url ?? local!.url;
  const admin = await mintToken(config, CLI_ADMIN_ID, 'admin');
  const ids = Array.from({ length: athletes }, (_, i) => demoUserId(seed, i));
  const demoUser = async (id: string) => (await graphql<{ user: { id: string; modelOutput: DemoModel | null } | null }>(url, admin, DEMO_USER, { id })).user;

  if (args.reset && local) {
    const deleted = await local.services.prisma.user.deleteMany({ where: { id: { in: ids } } });
    console.log(`[SEED] --reset: deleted ${deleted.count} demo athlete(s) of seed ${seed} and everything of theirs`);
    await local.training.idle();
  }
  const existing = new Set<string>();
  for (const id of ids) if (await demoUser(id)) existing.add(id);
  if (existing.size === athletes) {
    console.log(`[SEED] all ${athletes} demo athletes of seed ${seed} already exist; nothing to write (--reset rewrites them)`);
  } else if (existing.size > 0) {
    console.log(`[SEED] ${existing.size} of ${athletes} demo athletes of seed ${seed} already exist and are skipped`);
  }

  const t0 = performance.now();
  const written: { index: number; id: string; athlete: SimulatedAthlete }[] = [];
  let sessionsWritten = 0;
  const now = Date.now();
  /** One session as its athlete's app writes it, planned ahead so that all athletes' sessions go in time order. */
  interface PlannedSession {
    userId: string;
    startedAt: Date;
    write: () => Promise<void>;
  }
  const planned: PlannedSession[] = [];
  for (let i = 0; i < athletes; i++) {
    const id = ids[i];
    const athlete = simulateAthlete(i, counts[i], { seed });
    if (existing.has(id)) continue;
    const rng = new Random((seed * 31 + i) >>> 0);
    // The athlete's first request creates them.
    const token = await mintToken(config, id, 'athlete');
    await graphql(url, token, RECORD_BASELINE, {
      input: {
        assessedAt: new Date(now - (athlete.sessions.at(-1)!.day + 7) * DAY),
        age: rng.int(18, 55),
        sex: rng.pick(['MALE', 'FEMALE', 'OTHER', 'UNDISCLOSED'] as const),
        heightCm: Math.round(rng.normal(172, 9)),
        weightKg: Math.round(rng.normal(66, 9)),
        yearsClimbing: rng.int(1, 15),
        primaryDiscipline: rng.pick(DISCIPLINES),
        sessionsPerWeek: rng.int(2, 5),
        maxPullups: rng.int(3, 25),
        fearOfFalling: rng.int(1, 9),
        performanceAnxiety: rng.int(1, 9),
        competitionOrientation: rng.int(1, 10),
        processVsOutcome: rng.int(1, 10),
        typicalRecoveryDays: rng.int(1, 3),
        sleepQualityTypical: rng.int(4, 9),
        hasHangboard: rng.bernoulli(0.5),
        hasHomeWall: rng.bernoulli(0.15),
        gymAccess: true,
      },
    });
    // Sessions at the simulated days, the last one yesterday, in the evening; started ACTIVE, then completed.
    const lastDay = athlete.sessions.at(-1)!.day;
    for (const s of athlete.sessions) {
      const startedAt = new Date(now - (lastDay - s.day + 1) * DAY + rng.int(0, 6) * 3_600_000);
      const checkIn: CheckIn = s.checkIn;
      const plannedType = rng.pick(SESSION_TYPES);
      const plannedDurationMin = rng.pick([60, 90, 120]);
      const outcome = {
        endedAt: new Date(startedAt.getTime() + rng.int(60, 150) * 60_000),
        actualSessionType: plannedType,
        sessionQuality: s.sessionQuality,
        sessionRpe: Math.min(10, Math.max(1, Math.round(rng.normal(6.5, 1.5)))),
        satisfaction: Math.min(5, Math.max(1, Math.round(s.sessionQuality / 2))),
        totalClimbs: rng.int(8, 40),
      };
      planned.push({
        userId: id,
        startedAt,
        write: async () => {
          const shown = await graphql<{ recommendation: { id: string } }>(url, token, RECOMMEND, {
            input: { ...stripNulls(checkInColumns(checkIn)), plannedSessionType: plannedType },
          });
          const started = await graphql<{ startSession: { id: string } }>(url, token, START_SESSION, {
            input: { recommendationId: shown.recommendation.id, startedAt, plannedDurationMin },
          });
          await graphql(url, token, COMPLETE_SESSION, { id: started.startSession.id, input: outcome });
        },
      });
    }
    written.push({ index: i, id, athlete });
  }

  // The nights trained: the last `nights` weekly ticks at 02:00 UTC, the latest one at or before now.
  const lastTick = Math.floor((now - 2 * 3_600_000) / DAY) * DAY + 2 * 3_600_000;
  const ticks = args['no-train'] || planned.length === 0 ? [] : Array.from({ length: nights }, (_, k) => new Date(lastTick - (nights - 1 - k) * 7 * DAY));
  planned.sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime());
  let nextSession = 0;
  const runs: NightlyRun[] = [];
  for (const tick of [...ticks, null]) {
    // The sessions that happened before this night (all that remain, after the last one).
    for (; nextSession < planned.length && (tick === null || planned[nextSession].startedAt < tick); nextSession++) {
      await planned[nextSession].write();
      sessionsWritten += 1;
      if (sessionsWritten % 200 === 0) log(`[SEED] ${sessionsWritten} of ${planned.length} sessions written in ${elapsed(t0)}`);
    }
    if (tick === null) break;
    // Every quick update of the sessions so far lands before the night reads them (as the night would find them).
    await quickUpdatesDone(written, planned.slice(0, nextSession));
    runs.push(await nightlyRun(tick));
  }
  await quickUpdatesDone(written, planned);
  if (written.length > 0) console.log(`[SEED] wrote ${written.length} athletes, ${sessionsWritten} sessions in ${elapsed(t0)} (quick updates included)`);

  // True coefficients (the demo's ground truth) and what the models learned.
  const all = Array.from({ length: athletes }, (_, i) => ({ index: i, id: ids[i], athlete: simulateAthlete(i, counts[i], { seed }) }));
  console.log(`\n[SEED] truth population (seed ${seed}): mean and between-athlete sd per term`);
  console.log(TERM_NAMES.map((t, j) => `  ${t.padEnd(21)} mean ${fmt(DEFAULT_TRUTH_POPULATION.mean[j], 4)}  sd ${DEFAULT_TRUTH_POPULATION.sd[j].toFixed(4)}`).join('\n'));
  if (runs.length > 0) {
    console.log(`\n[TRAIN] ${runs.length} nightly runs:`);
    for (const run of runs) {
      const timings = (run.stageTimings ?? {}) as Record<string, number>;
      console.log(
        `  ${run.night.toISOString()} ${run.status}: ${run.usersTrained} athletes, ${run.sessionsUsed} sessions` +
          (timings.totalMs !== undefined ? ` in ${(timings.totalMs / 1000).toFixed(1)} s` : '') +
          (run.error ? ` (${run.error})` : ''),
      );
      if (run.status === 'FAILED') exitCode = 1;
    }
    if (!local) console.log('[SEED] beside a running server the runs keep the time they ran at (a server of its own dates each at its night)');
  }
  await summary(runs.length > 0 ? 'after the nightly fits' : 'after the quick updates', all);
  await linkDemoCoach();

  /**
   * The nightly pipeline for one night, through the API; with a server of its own, the run is then dated at its
   * night: its start and end, the snapshots it took and the population model it fitted.
   */
  async function nightlyRun(night: Date): Promise<NightlyRun> {
    const run = (await graphql<{ runNightlyTraining: Omit<NightlyRun, 'night'> }>(url, admin, RUN_NIGHTLY)).runNightlyTraining;
    if (local) {
      const prisma = local.services.db.prisma;
      const row = await prisma.trainingRun.findUniqueOrThrow({ where: { id: run.id } });
      const shift = night.getTime() - row.startedAt.getTime();
      const moved = (t: Date | null) => (t ? new Date(t.getTime() + shift) : null);
      await prisma.$transaction([
        prisma.populationModel.updateMany({
          where: { fittedAt: { gte: row.startedAt, lte: row.finishedAt ?? new Date() } },
          data: { fittedAt: moved(row.finishedAt) ?? night },
        }),
        prisma.modelSnapshot.updateMany({ where: { trainingRunId: run.id }, data: { fittedAt: moved(row.finishedAt) ?? night } }),
        prisma.trainingRun.update({ where: { id: run.id }, data: { startedAt: night, finishedAt: moved(row.finishedAt) } }),
      ]);
    }
    log(`[SEED] night ${night.toISOString()}: ${run.status}, ${run.usersTrained} athletes, ${run.sessionsUsed} sessions`);
    return { ...run, night };
  }

  /** The demo coach, linked to the first demo athletes through the consent flow (skipping those already linked). */
  async function linkDemoCoach() {
    const coachId = demoUserId(seed, DEMO_COACH_INDEX);
    const coach = await mintToken(config, coachId, 'coach');
    const roster = await graphql<{ me: { athletes: { edges: { node: { id: string } }[] } } }>(url, coach, COACH_ROSTER);
    const linked = new Set(roster.me.athletes.edges.map((e) => e.node.id));
    const team = ids.slice(0, Math.min(DEMO_TEAM_SIZE, athletes));
    let added = 0;
    for (const athleteId of team) {
      if (linked.has(athleteId)) continue;
      const { createCoachInvitation } = await graphql<{ createCoachInvitation: { code: string } }>(url, await mintToken(config, athleteId, 'athlete'), INVITE);
      await graphql(url, coach, ACCEPT, { code: createCoachInvitation.code });
      added += 1;
    }
    console.log(`\n[SEED] demo coach ${coachId} coaches ${team.length} demo athletes (${added} linked now); a token for them:\n` + `  npm run token -- --sub ${coachId} --role coach --expires 8h`);
  }

  /** The quick updates run after each completion: wait until every written athlete's model includes their sessions. */
  async function quickUpdatesDone(list: { id: string; athlete: SimulatedAthlete }[], sessions: PlannedSession[]) {
    const deadline = Date.now() + QUICK_UPDATES_WAIT_MS;
    // Sessions written per athlete so far.
    const byId = new Map<string, number>();
    for (const s of sessions) byId.set(s.userId, (byId.get(s.userId) ?? 0) + 1);
    let pending = list.filter((a) => (byId.get(a.id) ?? 0) > 0);
    while (pending.length > 0 && Date.now() < deadline) {
      const models = await Promise.all(pending.map(async (a) => ({ a, model: (await demoUser(a.id))?.modelOutput })));
      pending = models.filter(({ a, model }) => (model?.sessionsIncluded ?? 0) < (byId.get(a.id) ?? 0)).map(({ a }) => a);
      if (pending.length > 0) await new Promise((r) => setTimeout(r, 200));
    }
    if (pending.length > 0) console.log(`[SEED] ${pending.length} athlete(s)' quick updates still running after ${QUICK_UPDATES_WAIT_MS / 1000} s`);
  }

  /** Phases of the demo athletes' models, and how close their sleep and stress coefficients are to the truth. */
  async function summary(when: string, list: { index: number; id: string; athlete: SimulatedAthlete }[]) {
    const byUser = new Map<string, DemoModel | null>();
    for (const { id } of list) byUser.set(id, (await demoUser(id))?.modelOutput ?? null);
    const phases: Record<string, number> = { COLD_START: 0, LEARNING: 0, PERSONALIZED: 0, 'no model': 0 };
    console.log(`\n[SEED] demo athletes ${when}:`);
    console.log('  #   id                                    sessions  phase          shrink   sleepHours true / model     stressLevel true / model');
    const j = { sleep: TERM_NAMES.indexOf('sleepHours'), stress: TERM_NAMES.indexOf('stressLevel') };
    const errors = { sleepHours: [] as number[], stressLevel: [] as number[] };
    for (const { index, id, athlete } of list) {
      const o = byUser.get(id);
      const c = Object.fromEntries((o?.coefficients ?? []).map((x) => [x.variable, x.value])) as Record<string, number>;
      if (typeof c.sleepHours === 'number') errors.sleepHours.push(Math.abs(c.sleepHours - athlete.trueCoefficients[j.sleep]));
      if (typeof c.stressLevel === 'number') errors.stressLevel.push(Math.abs(c.stressLevel - athlete.trueCoefficients[j.stress]));
      phases[o?.phase ?? 'no model'] += 1;
      const model = (name: string) => (typeof c[name] === 'number' ? fmt(c[name]) : '     –');
      console.log(
        `  ${String(index).padStart(2)}  ${id}  ${String(athlete.sessions.length).padStart(8)}  ${(o?.phase ?? 'no model').padEnd(13)}  ${o ? o.shrinkageFactor.toFixed(2).padStart(6) : '     –'}   ${fmt(athlete.trueCoefficients[j.sleep])} / ${model('sleepHours')}        ${fmt(athlete.trueCoefficients[j.stress])} / ${model('stressLevel')}`,
      );
    }
    const mae = (xs: number[]) => (xs.length ? (xs.reduce((a, b) => a + b, 0) / xs.length).toFixed(3) : '–');
    console.log(
      `  phases: ${Object.entries(phases)
        .filter(([, n]) => n > 0)
        .map(([p, n]) => `${p} ${n}`)
        .join(', ')}`,
    );
    console.log(`  mean absolute error vs the truth: sleepHours ${mae(errors.sleepHours)}, stressLevel ${mae(errors.stressLevel)}`);
  }
} catch (err) {
  console.error(startupFailure(err));
  exitCode = 1;
} finally {
  await local?.stop();
}
process.exit(exitCode);
