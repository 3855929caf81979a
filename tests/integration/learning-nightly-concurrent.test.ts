// Issue 12 section 5: a quick update committed while the nightly run is between its read and its write keeps its
// effect; the nightly write does not reset the athlete's stored statistics to what it read, and later quick
// updates build on the right statistics. The run is held between read and write by a table lock taken from a
// second connection (PostgreSQL: an embedded PGlite has one connection, the server's).
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateAthletes, type SimulatedAthlete } from '../../scripts/lib/synthetic.ts';
import { gqlOk } from '../support/client.ts';
import { insertAthletes, logAthlete, logSession, modelOutput, RUN_NIGHTLY, waitFor, type TrainingRunView } from '../support/learning.ts';
import { startTestServer, tokenFor, usingPostgres, type TestServer } from '../support/server.ts';

/**
 * Ratings kept inside the scale (2-9): a stored 1 or 10 is linearised at the athlete's posterior (the bounded
 * model), so the sum of squared ratings below is the stored y'y only for ratings inside it.
 */
const insideTheScale = (athletes: SimulatedAthlete[]) => athletes.map((a) => ({ ...a, sessions: a.sessions.map((s) => ({ ...s, sessionQuality: Math.min(9, Math.max(2, s.sessionQuality)) })) }));

describe.runIf(usingPostgres)('a nightly run and quick updates committed between its read and its write', () => {
  let server: TestServer;
  let db: pg.Client;
  const [population, first, deleting, later] = [
    insideTheScale(simulateAthletes({ seed: 77, athletes: 6, sessionsPerAthlete: 15 })),
    ...insideTheScale(simulateAthletes({ seed: 78, athletes: 3, sessionsPerAthlete: 12 })).map((a) => [a]),
  ];

  beforeAll(async () => {
    server = await startTestServer();
    db = new pg.Client({ connectionString: server.databaseUrl! });
    await db.connect();
    await insertAthletes(server.services.db.prisma, population);
  });
  afterAll(async () => {
    await db?.end();
    await server?.close();
  });

  /** Rated sessions and the sum of their squared ratings: what the athlete's stored statistics must hold. */
  async function expectedStats(userId: string) {
    const rows = await server.services.db.prisma.climbingSession.findMany({ where: { userId, status: 'COMPLETED', sessionQuality: { not: null } } });
    return { n: rows.length, yty: rows.reduce((sum, r) => sum + r.sessionQuality! ** 2, 0) };
  }
  async function storedStats(userId: string) {
    const row = await server.services.db.prisma.modelOutput.findUniqueOrThrow({ where: { userId } });
    const stats = row.sufficientStats as { n: number; yty: number };
    return { n: stats.n, yty: stats.yty };
  }

  it('keeps a first completion and a deletion committed meanwhile, and the next quick updates build on them', async () => {
    const admin = await tokenFor('admin');
    // A: a model before any rated session (a retrain), then a session started, to be completed during the run.
    const a = await tokenFor('athlete');
    await gqlOk(server.url, `mutation { trainUserModel { status } }`, {}, a.token);
    const [aFirst, aSecond] = first[0].sessions;
    const START = `mutation($input: StartSessionInput!) { startSession(input: $input) { id } }`;
    const started = await gqlOk<{ startSession: { id: string } }>(server.url, START, { input: aFirst.checkIn }, a.token);
    // B: 12 rated sessions, one of them deleted during the run.
    const b = await tokenFor('athlete');
    const bIds = await logAthlete(server.url, b.token, deleting[0]);
    await server.training.idle();
    expect(await storedStats(b.id)).toEqual(await expectedStats(b.id));

    // Hold the run after its read: its write of the population model waits for this lock (reads pass).
    await db.query('BEGIN');
    await db.query('LOCK TABLE population_models IN EXCLUSIVE MODE');
    const nightly = gqlOk<{ runNightlyTraining: TrainingRunView }>(server.url, RUN_NIGHTLY, { wait: true }, admin.token);
    await waitFor(async () => {
      const { rows } = await db.query(
        `SELECT count(*)::int AS waiting FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
         WHERE c.relname = 'population_models' AND NOT l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
      );
      return rows[0].waiting > 0;
    }, 60_000);

    await gqlOk(
      server.url,
      `mutation($id: ID!, $input: CompleteSessionInput!) { completeSession(id: $id, input: $input) { id } }`,
      {
        id: started.startSession.id,
        input: { sessionQuality: aFirst.sessionQuality },
      },
      a.token,
    );
    await gqlOk(server.url, `mutation($id: ID!) { deleteSession(id: $id) }`, { id: bIds[3] }, b.token);
    // Both quick updates commit while the run waits.
    await waitFor(async () => (await storedStats(a.id)).n === 1 && (await storedStats(b.id)).n === 11, 30_000);
    await db.query('COMMIT');
    expect((await nightly).runNightlyTraining.status).toBe('SUCCEEDED');

    expect(await storedStats(a.id)).toEqual(await expectedStats(a.id));
    expect(await storedStats(b.id)).toEqual(await expectedStats(b.id));
    expect((await modelOutput(server.url, a.token))!.sessionsIncluded).toBe(1);
    expect((await modelOutput(server.url, b.token))!.sessionsIncluded).toBe(11);

    // The next quick updates start from the right statistics.
    await logSession(server.url, a.token, aSecond.checkIn, { sessionQuality: aSecond.sessionQuality });
    await logSession(server.url, b.token, later[0].sessions[0].checkIn, { sessionQuality: later[0].sessions[0].sessionQuality });
    await server.training.idle();
    expect(await storedStats(a.id)).toEqual({ ...(await expectedStats(a.id)), n: 2 });
    expect(await storedStats(b.id)).toEqual({ ...(await expectedStats(b.id)), n: 12 });
  });
});
