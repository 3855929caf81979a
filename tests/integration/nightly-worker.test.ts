// The nightly fit runs in a worker thread: while it is running (held between two sweeps in its worker), the
// same instance answers a recommendation stream from its first event to DONE; released, the run finishes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logAthlete, sleepStressAthlete } from '../support/learning.ts';
import { eventOf, streamWs, types } from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';
import { addRatedSession, emptyStats } from '../../src/engine/bayes/index.ts';
import { fitHeapLimitMb, startNightlyFit } from '../../src/jobs/fit-worker.ts';
import type { NightlyInput, UserData } from '../../src/jobs/training-data.ts';

const logs: string[] = [];
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ log: (m) => logs.push(m) });
});
afterAll(async () => {
  server?.training.fitControl.release();
  await server?.close();
});

describe('the nightly fit in its worker thread', () => {
  it('leaves the event loop free: a stream answers while the fit is running, and the run then finishes', async () => {
    const athletes = [await tokenFor('athlete'), await tokenFor('athlete')];
    for (const [i, a] of athletes.entries()) await logAthlete(server.url, a.token, sleepStressAthlete(12, 500 + i));
    await server.training.idle();

    const control = server.training.fitControl;
    control.hold();
    let finished = false;
    const run = server.training.startNightly('MANUAL');
    const done = run.finished.then((r) => {
      finished = true;
      return r;
    });
    try {
      const { id } = await run.started;
      // The worker reports itself waiting on the hold after its first sweep: the fit is running.
      await expect.poll(() => control.waiting, { timeout: 60_000, interval: 20 }).toBe(true);

      const out = await streamWs(server.wsUrl, athletes[0].token, { sleepHours: 7, energyLevel: 6, stressLevel: 3 });
      expect(out.errors).toEqual([]);
      expect(types(out.events)).toEqual(['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE']);
      expect(eventOf(out.events, 'PREDICTION').prediction!.phase).toBe('LEARNING');

      // Still the same fit, still running: nothing finished behind the stream's back.
      expect(control.waiting).toBe(true);
      expect(finished).toBe(false);
      const row = await server.services.db.prisma.trainingRun.findUniqueOrThrow({ where: { id } });
      expect(row.status).toBe('RUNNING');
    } finally {
      control.release();
    }
    const final = await done;
    expect(final).toMatchObject({ kind: 'NIGHTLY', status: 'SUCCEEDED', usersTrained: 2, sessionsUsed: 24 });

    // Progress by stage, with counts.
    expect(logs).toContain('[TRAIN] trainingData: 24 sessions from 2 athletes, 2 to hold out');
    expect(logs).toContain('[TRAIN] trainedModel: fitting 2 athletes in a worker thread');
    expect(logs.some((l) => /^\[TRAIN\] trainedModel: fit done in [\d.]+ s, \d+ sweeps$/.test(l))).toBe(true);
    expect(logs.some((l) => /^\[TRAIN\] heldOutError: 2 sessions predicted in [\d.]+ s \(in the worker, while the models were written\)$/.test(l))).toBe(true);
    expect(final.heldOutN).toBe(2);
    expect(logs).toContain('[TRAIN] trainedModel: 2 of 2 athlete models written');
    // The worker's heap limit, sized by the athletes (on a PostgreSQL server: by the users, an upper bound).
    const limit = Number(logs.map((l) => /^\[TRAIN\] trainingData: .*heap limit (\d+) MB\)?$/.exec(l)?.[1]).find(Boolean));
    expect(limit).toBeGreaterThanOrEqual(fitHeapLimitMb(2));
  }, 180_000);
});

describe("the fit worker's heap limit", () => {
  it('is the one fitHeapLimitMb gives, growing with the athletes; a worker over it fails the fit with an error naming the limit', async () => {
    expect(fitHeapLimitMb(10_000)).toBeLessThan(fitHeapLimitMb(100_000));
    // 20,000 athletes with a rated session each do not fit in 16 MB (the worker's modules alone take about 12).
    const users = new Map<string, UserData>();
    for (let i = 0; i < 20_000; i++) {
      const stats = emptyStats();
      addRatedSession(stats, { sleepHours: 6 + (i % 3), energyLevel: 5, stressLevel: 3 }, 5 + (i % 4));
      users.set(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, { stats, dataThrough: new Date() });
    }
    let written = 0;
    const fit = startNightlyFit(
      {
        kind: 'input',
        input: { versionsAtRead: new Map(), held: [], data: { users, sessions: users.size, populationStats: [] } },
        write: async (chunk) => {
          written += chunk.userIds.length;
          return [];
        },
      },
      { heapLimitMb: 16 },
    );
    try {
      await expect(fit.fitted).rejects.toThrow(/^the fit worker ran out of memory: its heap limit is 16 MB \(FIT_WORKER_HEAP_MB raises it/);
      expect(written).toBe(0);
    } finally {
      await fit.dispose();
    }
  }, 60_000);
});

describe("the fit worker's input, read while the worker starts (an embedded PGlite)", () => {
  const users = (count: number) => {
    const map = new Map<string, UserData>();
    for (let i = 0; i < count; i++) {
      const stats = emptyStats();
      for (let s = 0; s < 5; s++) addRatedSession(stats, { sleepHours: 6 + ((i + s) % 3), energyLevel: 4 + (s % 3), stressLevel: 3 }, 4 + ((i + s) % 5));
      map.set(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, { stats, dataThrough: new Date() });
    }
    return map;
  };

  it('waits for an input that arrives after the worker started, then fits and hands every athlete to be written', async () => {
    const data = users(30);
    let handOver!: () => void;
    const input = new Promise<NightlyInput>((resolve) => {
      handOver = () => resolve({ versionsAtRead: new Map(), held: [], data: { users: data, sessions: 150, populationStats: [] } });
    });
    const written: string[] = [];
    const write = async (chunk: { userIds: string[] }) => {
      written.push(...chunk.userIds);
      return [];
    };
    const fit = startNightlyFit({ kind: 'input', input, write }, { chunk: 10 });
    try {
      let read = false;
      void fit.read.then(() => (read = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(read).toBe(false);
      handOver();
      expect((await fit.read).users).toBe(30);
      const fitted = await fit.fitted;
      for await (const _ of fitted.written);
      expect(written).toEqual([...data.keys()]);
    } finally {
      await fit.dispose();
    }
  }, 60_000);

  it('a read that fails fails the fit with its error and ends the worker', async () => {
    const fit = startNightlyFit({ kind: 'input', input: Promise.reject(new Error('the read failed')), write: async () => [] });
    await expect(fit.read).rejects.toThrow('the read failed');
    await expect(fit.fitted).rejects.toThrow('the read failed');
    await fit.dispose();
  }, 60_000);
});
