// The session-completion hook through every ClimbingSession write operation of the application's client: a
// session completed (and rated) by any of them updates the athlete's model, read back over HTTP. Inside an
// interactive transaction the hook reads on the transaction's client and reports on commit; a rolled-back
// transaction changes nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk } from '../support/client.ts';
import { modelOutput, trainingRuns } from '../support/learning.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

const app = () => server.services.prisma;

/** A new athlete (the first request creates the user row). */
async function athlete() {
  const a = await tokenFor('athlete');
  await gqlOk(server.url, '{ me { id } }', {}, a.token);
  return a;
}

let minute = 0;
/** A check-in as startSession stores it, each at its own time. */
function checkIn(userId: string) {
  minute += 1;
  return { userId, startedAt: new Date(Date.UTC(2026, 2, 1) + minute * 60_000), sleepHours: 7, energyLevel: 6, stressLevel: 3 };
}
const rated = (userId: string, sessionQuality = 7) => ({ ...checkIn(userId), status: 'COMPLETED' as const, sessionQuality });
const completion = { status: 'COMPLETED' as const, sessionQuality: 8 };
const active = (userId: string) => app().climbingSession.create({ data: checkIn(userId), select: { id: true } });

/** The sessions the athlete's model was trained on, once every quick update has run (0: no model). */
async function modelSessions(a: { token: string }): Promise<number> {
  await server.training.idle();
  return (await modelOutput(server.url, a.token))?.sessionsIncluded ?? 0;
}

describe('a session completed through each write operation updates the model', () => {
  const paths: [string, (userId: string) => Promise<unknown>, number][] = [
    // The result selects no id: the hook must still find the row it wrote.
    ['create', (userId) => app().climbingSession.create({ data: rated(userId), select: { status: true } }), 1],
    ['createMany', (userId) => app().climbingSession.createMany({ data: [rated(userId), rated(userId, 4), checkIn(userId)] }), 2],
    ['createManyAndReturn', (userId) => app().climbingSession.createManyAndReturn({ data: [rated(userId)], select: { status: true } }), 1],
    ['update', async (userId) => app().climbingSession.update({ where: { id: (await active(userId)).id }, data: completion }), 1],
    [
      'updateMany',
      async (userId) => {
        await active(userId);
        await active(userId);
        return app().climbingSession.updateMany({ where: { userId }, data: completion });
      },
      2,
    ],
    [
      'updateManyAndReturn',
      async (userId) => {
        await active(userId);
        return app().climbingSession.updateManyAndReturn({ where: { userId }, data: completion, select: { status: true } });
      },
      1,
    ],
    ['upsert (create)', (userId) => app().climbingSession.upsert({ where: { id: randomUUID() }, create: rated(userId), update: {}, select: { status: true } }), 1],
    ['upsert (update)', async (userId) => app().climbingSession.upsert({ where: { id: (await active(userId)).id }, create: rated(userId), update: completion }), 1],
    [
      'an interactive transaction (create, then complete the uncommitted row)',
      (userId) =>
        app().$transaction(async (tx) => {
          const s = await tx.climbingSession.create({ data: checkIn(userId), select: { id: true } });
          await tx.climbingSession.update({ where: { id: s.id }, data: completion });
          await tx.climbingSession.createMany({ data: [rated(userId)] });
        }),
      2,
    ],
  ];

  it.each(paths)('%s', async (_name, write, expected) => {
    const a = await athlete();
    expect(await modelSessions(a)).toBe(0);
    await write(a.id);
    expect(await modelSessions(a)).toBe(expected);
  });

  it('a deleteMany takes the sessions out of the model again', async () => {
    const a = await athlete();
    await app().climbingSession.createMany({ data: [rated(a.id), rated(a.id), rated(a.id)] });
    expect(await modelSessions(a)).toBe(3);
    await app().climbingSession.deleteMany({ where: { userId: a.id, sessionQuality: 7 } });
    expect(await modelSessions(a)).toBe(0);
  });
});

describe('a rolled-back transaction', () => {
  it('leaves the model and the training runs as they were', async () => {
    const a = await athlete();
    await app().climbingSession.create({ data: rated(a.id, 5) });
    expect(await modelSessions(a)).toBe(1);
    const runsBefore = await trainingRuns(server.url, a.token, 'USER');

    const rollback = app().$transaction(async (tx) => {
      await tx.climbingSession.createMany({ data: [rated(a.id, 9), rated(a.id, 9)] });
      const s = await tx.climbingSession.create({ data: checkIn(a.id), select: { id: true } });
      await tx.climbingSession.update({ where: { id: s.id }, data: completion });
      throw new Error('changed my mind');
    });
    await expect(rollback).rejects.toThrow('changed my mind');

    expect(await modelSessions(a)).toBe(1);
    expect(await trainingRuns(server.url, a.token, 'USER')).toEqual(runsBefore);
    expect(await app().climbingSession.count({ where: { userId: a.id } })).toBe(1);
  });
});
