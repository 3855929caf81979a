// The nightly fit runs in a worker thread: while it is running (held between two sweeps in its worker), the
// same instance answers a recommendation stream from its first event to DONE; released, the run finishes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logAthlete, sleepStressAthlete } from '../support/learning.ts';
import { eventOf, streamWs, types } from '../support/recommendation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

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
    expect(logs.some((l) => /^\[TRAIN\] heldOutError: 2 sessions predicted in [\d.]+ s \(in the worker\)$/.test(l))).toBe(true);
    expect(final.heldOutN).toBe(2);
    expect(logs).toContain('[TRAIN] trainedModel: 2 of 2 athlete models written');
  }, 180_000);
});
