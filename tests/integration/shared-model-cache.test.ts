// The per-athlete engine state shared through Redis (src/engine-runtime/shared-engine-cache.ts): a second instance
// answers a known athlete from Redis, a write on one instance drops the state everywhere, and with Redis stopped
// the check-ins still answer from the database. Two instances on PostgreSQL with a Redis of this file's own (it is
// stopped and started again), so it runs where the multi-instance tests do (TEST_DATABASE_URL and TEST_REDIS_URL).
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk } from '../support/client.ts';
import { COMPLETE_SESSION, RECORD_BASELINE, startSession } from '../support/foundation.ts';
import { waitFor } from '../support/learning.ts';
import { OPERATOR } from '../support/recommendation.ts';
import { startTwoInstances, tokenFor, type TestServer, type TwoInstances } from '../support/server.ts';
import { INSERT_RECOMMENDATIONS_SQL } from '../../src/resolvers/recommendation-store.ts';

const enabled = !!process.env.TEST_DATABASE_URL && !!process.env.TEST_REDIS_URL;

const CHECK_IN = `query($input: PreSessionInput!) { recommendation(input: $input) { sessionType personalization { phase sessionsIncluded hasBaseline } } }`;
interface CheckInView {
  recommendation: { sessionType: string; personalization: { phase: string; sessionsIncluded: number; hasBaseline: boolean } };
}
const checkIn = async (server: TestServer, token: string) => (await gqlOk<CheckInView>(server.url, CHECK_IN, { input: OPERATOR }, token)).recommendation.personalization;

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/** A Redis server of this file's own, on `port`: resolves once it accepts connections. */
async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => {}); // refused until the server listens: that is what the loop waits out
  try {
    await waitFor(
      () =>
        probe.connect().then(
          () => true,
          () => false,
        ),
      10_000,
      50,
    );
  } finally {
    probe.disconnect();
  }
  return child;
}

async function stopRedis(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await once(child, 'exit');
}

describe.runIf(enabled)('the engine state shared by two instances through Redis', () => {
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;
  let redis: ChildProcess;
  let port: number;
  /** Every statement instance B sends through Prisma. */
  const readsOnB: string[] = [];

  beforeAll(async () => {
    port = await freePort();
    redis = await startRedis(port);
    instances = await startTwoInstances(`redis://127.0.0.1:${port}`, { b: { onQuery: (sql) => readsOnB.push(sql) } });
    ({ a, b } = instances);
  }, 60_000);
  afterAll(async () => {
    if (redis.exitCode !== null) redis = await startRedis(port); // the instances say goodbye to Redis
    await instances?.close();
    await stopRedis(redis);
  });

  it('instance B answers an athlete A has served from Redis, reading nothing from the database: a baseline written behind the caches is not seen', async () => {
    const athlete = await tokenFor('athlete');
    expect(await checkIn(a, athlete.token)).toMatchObject({ hasBaseline: false, sessionsIncluded: 0 });
    // Written straight into the database, as nothing of the application does: no invalidation anywhere.
    await a.db.prisma.baselineAssessment.create({ data: { userId: athlete.id, age: 30 } });
    // B has never served this athlete: what it answers came from Redis, not from the database, which B does not
    // read at all for them (the only statement of a check-in is the INSERT of its answer, written behind).
    readsOnB.length = 0;
    expect(await checkIn(b, athlete.token)).toMatchObject({ hasBaseline: false });
    expect(readsOnB.filter((sql) => sql !== INSERT_RECOMMENDATIONS_SQL)).toEqual([]);
    // The same athlete unknown to Redis: B reads the database (the control).
    const other = await tokenFor('athlete');
    await gqlOk(a.url, '{ me { id } }', {}, other.token); // its user row
    await a.db.prisma.baselineAssessment.create({ data: { userId: other.id, age: 30 } });
    readsOnB.length = 0;
    expect(await checkIn(b, other.token)).toMatchObject({ hasBaseline: true });
    expect(readsOnB.some((sql) => sql.includes('model_outputs'))).toBe(true);
  });

  it("a write on A drops the athlete's state on B and in Redis at once: baseline, model and history", async () => {
    const athlete = await tokenFor('athlete');
    // Both instances and Redis hold the athlete's empty state.
    expect(await checkIn(a, athlete.token)).toMatchObject({ hasBaseline: false, sessionsIncluded: 0 });
    expect(await checkIn(b, athlete.token)).toMatchObject({ hasBaseline: false, sessionsIncluded: 0 });

    await gqlOk(a.url, RECORD_BASELINE, { input: { age: 31 } }, athlete.token);
    expect(await waitFor(async () => (await checkIn(b, athlete.token)).hasBaseline, 5_000, 20)).toBe(true);

    const session = await startSession(a.url, athlete.token, OPERATOR);
    await gqlOk(a.url, COMPLETE_SESSION, { id: session.id, input: { sessionQuality: 8 } }, athlete.token);
    // The quick model update on A writes the model and drops it everywhere: B then serves one rated session.
    const after = await waitFor(
      async () => {
        const p = await checkIn(b, athlete.token);
        return p.sessionsIncluded === 1 ? p : null;
      },
      10_000,
      50,
    );
    expect(after).toMatchObject({ hasBaseline: true, sessionsIncluded: 1 });
  });

  it('Redis stopped: both instances still answer, from the database, without an error; back, the cache is used again', async () => {
    const known = await tokenFor('athlete');
    expect(await checkIn(a, known.token)).toMatchObject({ hasBaseline: false });
    await stopRedis(redis);

    // A known athlete on the instance that never served them, and a new athlete: both answered, quickly.
    await a.db.prisma.baselineAssessment.create({ data: { userId: known.id, age: 40 } });
    const started = performance.now();
    expect(await checkIn(b, known.token)).toMatchObject({ hasBaseline: true });
    const fresh = await tokenFor('athlete');
    expect(await checkIn(b, fresh.token)).toMatchObject({ hasBaseline: false, sessionsIncluded: 0 });
    expect(performance.now() - started).toBeLessThan(5_000);

    redis = await startRedis(port); // an empty Redis
    const probe = new Redis(port, '127.0.0.1');
    try {
      // Once the instance has reconnected (and its few seconds of leaving Redis alone are over), a new athlete's
      // first check-in leaves their state in Redis again.
      await waitFor(
        async () => {
          const later = await tokenFor('athlete');
          await checkIn(a, later.token);
          return (await probe.exists(`climbiq:engine:v1:baseline:${later.id}`)) === 1;
        },
        15_000,
        250,
      );
    } finally {
      probe.disconnect();
    }
  }, 30_000);
});
