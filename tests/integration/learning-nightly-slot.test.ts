// Issue 12 section 4: a nightly run asked for a slot (a tick of the schedule) that already succeeded returns that
// run instead of training again; a manual run without a slot always trains.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateAthletes } from '../../scripts/lib/synthetic.ts';
import { gql, gqlOk } from '../support/client.ts';
import { insertAthletes, TRAINING_RUN_FIELDS, waitFor, type TrainingRunView } from '../support/learning.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

const RUN = `mutation($slot: DateTime) { runNightlyTraining(wait: true, slot: $slot) { ${TRAINING_RUN_FIELDS} slot } }`;
const PAUSE = `mutation($paused: Boolean!) { setTrainingSchedulePaused(paused: $paused) { paused } }`;
type SlotRun = TrainingRunView & { slot: string | null };

/** The last 02:00 UTC at or before now: a past tick of the default schedule. */
function lastTwoAm(): Date {
  const now = new Date();
  const tick = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 2));
  if (tick > now) tick.setUTCDate(tick.getUTCDate() - 1);
  return tick;
}

let server: TestServer;
let admin: { token: string; id: string };
const fits = () => server.services.db.prisma.populationModel.count();
const nightlyRuns = () => server.services.db.prisma.trainingRun.count({ where: { kind: 'NIGHTLY' } });
const run = async (slot?: string) => (await gqlOk<{ runNightlyTraining: SlotRun }>(server.url, RUN, { slot }, admin.token)).runNightlyTraining;

beforeAll(async () => {
  server = await startTestServer();
  admin = await tokenFor('admin');
  await insertAthletes(server.services.db.prisma, simulateAthletes({ seed: 99, athletes: 5, sessionsPerAthlete: 12 }));
});
afterAll(async () => {
  await server?.close();
});

describe('runNightlyTraining(slot:)', () => {
  it("trains a slot once: asked again, it returns the slot's SUCCEEDED run and trains nothing", async () => {
    const slot = lastTwoAm().toISOString();
    const first = await run(slot);
    expect(first).toMatchObject({ kind: 'NIGHTLY', status: 'SUCCEEDED', trigger: 'MANUAL', slot });
    const [fitsBefore, runsBefore] = [await fits(), await nightlyRuns()];

    const again = await run(slot);
    expect(again).toEqual(first);
    expect(await fits()).toBe(fitsBefore);
    expect(await nightlyRuns()).toBe(runsBefore);

    // Without a slot, a manual run always trains.
    const unslotted = await run();
    expect(unslotted).toMatchObject({ status: 'SUCCEEDED', slot: null });
    expect(unslotted.id).not.toBe(first.id);
    expect(await fits()).toBe(fitsBefore + 1);
  });

  it('refuses a slot that is not a past tick of the schedule, naming the field', async () => {
    const offTick = new Date(lastTwoAm().getTime() + 30 * 60_000).toISOString();
    const future = new Date(lastTwoAm().getTime() + 2 * 86_400_000).toISOString();
    for (const slot of [offTick, future]) {
      const res = await gql(server.url, RUN, { slot }, admin.token);
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'slot' });
      expect(res.errors?.[0].message).toMatch(/^slot must be a past tick of the nightly schedule "0 2 \* \* \*" \(UTC; the next is .*T02:00:00\.000Z\)$/);
    }
  });
});

describe('the schedule', () => {
  it("records each tick's slot; that slot asked for later returns the scheduled run", async () => {
    await server.close();
    // Ticks every second, so that one happens during the test.
    server = await startTestServer({ schedule: true, env: { NIGHTLY_TRAINING_CRON: '* * * * * *' } });
    const scheduled = await waitFor(async () => {
      const runs = await server.services.db.prisma.trainingRun.findMany({ where: { kind: 'NIGHTLY', trigger: 'SCHEDULE', status: 'SUCCEEDED' } });
      return runs[0] ?? null;
    }, 30_000);
    await gqlOk(server.url, PAUSE, { paused: true }, admin.token);
    await server.training.idle();

    // The slot is the tick's time, a whole second.
    expect(scheduled.slot).not.toBeNull();
    expect(scheduled.slot!.getUTCMilliseconds()).toBe(0);
    const fitsBefore = await fits();
    const asked = await run(scheduled.slot!.toISOString());
    expect(asked).toMatchObject({ id: scheduled.id, trigger: 'SCHEDULE', status: 'SUCCEEDED', slot: scheduled.slot!.toISOString() });
    expect(await fits()).toBe(fitsBefore);
  });
});
