// The athlete's loop through the real server (docs/api.md "Operations"): me, baseline assessments, the session
// lifecycle (start -> complete | cancel, update, delete), the session queries and their filters, and the
// model / population read fields. Roles and errors have their own files; this one is the happy paths.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CHECK_IN_VARIABLES, TERM_NAMES } from '../../src/engine/variables.ts';
import {
  CANCEL_SESSION,
  COMPLETE_SESSION,
  DELETE_SESSION,
  expectError,
  FULL_CHECK_IN,
  gql,
  gqlOk,
  listSessionIds,
  RECORD_BASELINE,
  SESSION,
  startSession,
  UPDATE_SESSION,
  type SessionRecord,
} from '../support/foundation.ts';
import type { Connection, Page } from '../support/client.ts';
import type { PopulationModelView } from '../support/learning.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

/** What RECORD_BASELINE selects. */
interface Baseline {
  id: string;
  isCurrent: boolean;
  assessedAt: string;
  age: number | null;
  heightCm: number | null;
  weightKg: number | null;
  yearsClimbing: number | null;
  primaryDiscipline: string | null;
  maxHangEdgeMm: number | null;
  fearOfFalling: number | null;
  user: { id: string };
}
/** What MODEL (below) selects of a ModelOutput. */
interface Model {
  phase: string;
  sessionsIncluded: number;
  shrinkageFactor: number;
  modelVersion: string;
  lastTrainedAt: string;
  coefficients: { variable: string; value: number; lower: number; upper: number }[];
  user: { id: string };
}
type Outputs = { modelOutputs: Connection<{ user: { id: string }; phase?: string }> };

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('me and user', () => {
  it('creates the user on the first request and answers me with the token role', async () => {
    const { token, id } = await tokenFor('athlete');
    const data = await gqlOk<{
      me: { id: string; role: string; email: string | null; currentBaseline: { id: string } | null; modelOutput: { phase: string } | null; sessions: Connection<{ id: string }> };
    }>(server.url, '{ me { id role email currentBaseline { id } modelOutput { phase } sessions(first: 5) { edges { node { id } } } } }', {}, token);
    expect(data.me).toEqual({ id, role: 'ATHLETE', email: null, currentBaseline: null, modelOutput: null, sessions: { edges: [] } });
    // user(id) of yourself is the same user
    expect((await gqlOk<{ user: { id: string; role: string } | null }>(server.url, 'query($id: ID!) { user(id: $id) { id role } }', { id }, token)).user).toEqual({ id, role: 'ATHLETE' });
    // a later request with another role claim updates the stored role
    const asCoach = await tokenFor('coach', id);
    expect((await gqlOk<{ me: { id: string; role: string } }>(server.url, '{ me { id role } }', {}, asCoach.token)).me).toEqual({ id, role: 'COACH' });
  });

  it('lists users to an analyst page by page, each once', async () => {
    const created = await Promise.all([1, 2, 3].map(() => tokenFor('athlete')));
    for (const c of created) await gqlOk(server.url, '{ me { id } }', {}, c.token);
    const analyst = await tokenFor('analyst');
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: Page<{ id: string; role: string; createdAt: string }> = (
        await gqlOk<{ users: Page<{ id: string; role: string; createdAt: string }> }>(
          server.url,
          'query($after: String) { users(first: 2, after: $after) { edges { node { id role createdAt } } pageInfo { hasNextPage endCursor } } }',
          { after },
          analyst.token,
        )
      ).users;
      expect(page.edges.length).toBeLessThanOrEqual(2);
      seen.push(...page.edges.map((e) => e.node.id));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const c of created) expect(seen).toContain(c.id);
    expect(seen).toContain(analyst.id);
  });
});

describe('baseline assessments', () => {
  const first = { age: 31, heightCm: 178.5, weightKg: 70.2, yearsClimbing: 6.5, primaryDiscipline: 'BOULDER', maxHangEdgeMm: 20, fearOfFalling: 4, assessedAt: '2026-01-10T09:00:00.000Z' };

  it('returns null before any assessment, then the recorded one as current', async () => {
    const { token, id } = await tokenFor('athlete');
    expect((await gqlOk<{ baselineAssessment: { id: string } | null }>(server.url, '{ baselineAssessment { id } }', {}, token)).baselineAssessment).toBeNull();
    const recorded = (await gqlOk<{ recordBaselineAssessment: Baseline }>(server.url, RECORD_BASELINE, { input: first }, token)).recordBaselineAssessment;
    expect(recorded).toMatchObject({ ...first, isCurrent: true, user: { id } });
    const current = await gqlOk<{ baselineAssessment: { id: string; isCurrent: boolean; age: number | null } | null; me: { currentBaseline: { id: string } | null } }>(
      server.url,
      '{ baselineAssessment { id isCurrent age } me { currentBaseline { id } } }',
      {},
      token,
    );
    expect(current.baselineAssessment).toEqual({ id: recorded.id, isCurrent: true, age: 31 });
    expect(current.me.currentBaseline).toEqual({ id: recorded.id });
  });

  it('a second assessment retires the first: exactly one is current', async () => {
    const { token, id } = await tokenFor('athlete');
    const a = (await gqlOk<{ recordBaselineAssessment: Baseline }>(server.url, RECORD_BASELINE, { input: first }, token)).recordBaselineAssessment;
    const b = (await gqlOk<{ recordBaselineAssessment: Baseline }>(server.url, RECORD_BASELINE, { input: { ...first, age: 32, maxHangEdgeMm: 15 } }, token)).recordBaselineAssessment;
    expect(b.id).not.toBe(a.id);
    expect(
      (
        await gqlOk<{ baselineAssessment: { id: string; age: number | null; maxHangEdgeMm: number | null; isCurrent: boolean } | null }>(
          server.url,
          '{ baselineAssessment { id age maxHangEdgeMm isCurrent } }',
          {},
          token,
        )
      ).baselineAssessment,
    ).toEqual({
      id: b.id,
      age: 32,
      maxHangEdgeMm: 15,
      isCurrent: true,
    });
    const rows = await server.db.prisma.baselineAssessment.findMany({ where: { userId: id }, orderBy: { createdAt: 'asc' } });
    expect(rows.map((r) => [r.id, r.isCurrent])).toEqual([
      [a.id, false],
      [b.id, true],
    ]);
  });

  it('concurrent assessments of one athlete still leave exactly one current', async () => {
    const { token, id } = await tokenFor('athlete');
    await gqlOk(server.url, '{ me { id } }', {}, token);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => gql(server.url, RECORD_BASELINE, { input: { ...first, age: 20 + i } }, token)));
    for (const r of results) expect(r.errors).toBeUndefined();
    const rows = await server.db.prisma.baselineAssessment.findMany({ where: { userId: id } });
    expect(rows).toHaveLength(8);
    expect(rows.filter((r) => r.isCurrent)).toHaveLength(1);
    const current = (await gqlOk<{ baselineAssessment: { id: string } | null }>(server.url, '{ baselineAssessment { id } }', {}, token)).baselineAssessment;
    expect(current?.id).toBe(rows.find((r) => r.isCurrent)!.id);
  });

  it('an analyst reads any athlete baseline by userId', async () => {
    const athlete = await tokenFor('athlete');
    const recorded = (await gqlOk<{ recordBaselineAssessment: Baseline }>(server.url, RECORD_BASELINE, { input: first }, athlete.token)).recordBaselineAssessment;
    const analyst = await tokenFor('analyst');
    const read = await gqlOk<{ baselineAssessment: { id: string; user: { id: string } } | null }>(
      server.url,
      'query($u: ID) { baselineAssessment(userId: $u) { id user { id } } }',
      { u: athlete.id },
      analyst.token,
    );
    expect(read.baselineAssessment).toEqual({ id: recorded.id, user: { id: athlete.id } });
  });
});

describe('session lifecycle', () => {
  it('startSession stores every check-in variable, the plan and the recommendation shown, status ACTIVE', async () => {
    const { token, id } = await tokenFor('athlete');
    const input = { ...FULL_CHECK_IN, plannedDurationMin: 90, location: 'Boulderwelt', isOutdoor: false, startedAt: '2026-03-01T17:30:00.000Z', preSessionData: { form: 'v2' } };
    const s = await startSession(server.url, token, input);
    expect(s.status).toBe('ACTIVE');
    expect(s.user).toEqual({ id, role: 'ATHLETE' });
    for (const v of CHECK_IN_VARIABLES) expect(s[v.name], v.name).toEqual((FULL_CHECK_IN as Record<string, unknown>)[v.name]);
    expect(s).toMatchObject({ plannedDurationMin: 90, location: 'Boulderwelt', isOutdoor: false, startedAt: '2026-03-01T17:30:00.000Z', preSessionData: { form: 'v2' } });
    // The plan mirrors the check-in's caffeine and warm-up.
    expect(s).toMatchObject({ plannedCaffeineMg: 100, plannedWarmupMin: 15, endedAt: null, sessionQuality: null, deviatedFromPlan: false });
    // What the athlete was told is stored and linked to the session.
    expect(s.recommendation).toMatchObject({ source: 'MODEL', override: null });
    expect(['REST_DAY', 'ACTIVE_RECOVERY', 'LIGHT_SESSION', 'TECHNIQUE', 'VOLUME', 'PROJECT', 'LIMIT_BOULDERING']).toContain(s.recommendation?.sessionType);
    expect(s.recommendation?.prediction?.expectedQuality).toBeGreaterThanOrEqual(1);
    // session(id) reads back the same row
    const read = (await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session;
    expect(read).toEqual(s);
  });

  it('startSession with a safety condition stores the override that was shown', async () => {
    const { token } = await tokenFor('athlete');
    const s = await startSession(server.url, token, { pulleyInjuryGrade: 3, sleepHours: 8 });
    expect(s.recommendation).toMatchObject({ source: 'RULE_OVERRIDE', sessionType: 'REST_DAY', override: { rule: 'pulley_injury_grade2_plus' }, prediction: null });
  });

  it('completeSession records the outcome and deviation; the session becomes COMPLETED and cannot be completed twice', async () => {
    const { token } = await tokenFor('athlete');
    const s = await startSession(server.url, token, { sleepHours: 7, caffeineMg: 0, warmupMin: 10, startedAt: '2026-03-02T17:00:00.000Z' });
    const outcome = {
      sessionQuality: 8,
      sessionRpe: 7,
      satisfaction: 4,
      energyPost: 5,
      highestGradeSent: '7A',
      totalClimbs: 24,
      notes: 'good day',
      newNiggles: [{ location: 'right elbow', severity: 3 }],
      deviatedFromPlan: true,
      deviationReason: 'gym was busy',
      actualSessionType: 'TECHNIQUE',
      actualIntensity: 'HIGH',
      actualCaffeineMg: 200,
      actualWarmupMin: 20,
      actualDurationMin: 110,
      recommendationFollowed: false,
      endedAt: '2026-03-02T19:00:00.000Z',
      postSessionData: { form: 'post-v1' },
    };
    const done = (await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: s.id, input: outcome }, token)).completeSession;
    expect(done).toMatchObject({ ...outcome, id: s.id, status: 'COMPLETED', sessionType: 'TECHNIQUE', sleepHours: 7 });
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session).toMatchObject({ status: 'COMPLETED', sessionQuality: 8 });
    expectError(await gql(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: 3 } }, token), 'CONFLICT');
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session?.sessionQuality).toBe(8);
  });

  it('completeSession requires sessionQuality and an end not before the start', async () => {
    const { token } = await tokenFor('athlete');
    const s = await startSession(server.url, token, { sleepHours: 7, startedAt: '2026-03-02T17:00:00.000Z' });
    // Non-null in the schema, so codegen types it as required and GraphQL refuses it before any resolver runs.
    const input = await gqlOk<{ __type: { inputFields: { name: string; type: { kind: string; ofType: { name: string } | null } }[] } }>(
      server.url,
      '{ __type(name: "CompleteSessionInput") { inputFields { name type { kind ofType { name } } } } }',
      {},
      token,
    );
    expect(input.__type.inputFields.find((f) => f.name === 'sessionQuality')?.type).toEqual({ kind: 'NON_NULL', ofType: { name: 'Int' } });
    expect(expectError(await gql(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionRpe: 5 } }, token), 'BAD_USER_INPUT', 'sessionQuality').message).toMatch(/^sessionQuality is required/);
    expectError(await gql(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: null } }, token), 'BAD_USER_INPUT', 'sessionQuality');
    const inline = await gql(server.url, 'mutation($id: ID!) { completeSession(id: $id, input: { sessionRpe: 5 }) { id } }', { id: s.id }, token);
    expect(inline.errors?.[0].message).toMatch(/sessionQuality.*required/);
    expect(expectError(await gql(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: 11 } }, token), 'BAD_USER_INPUT', 'sessionQuality').message).toMatch(/between 1 and 10/);
    expectError(await gql(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: 5, endedAt: '2026-03-02T16:00:00.000Z' } }, token), 'BAD_USER_INPUT', 'endedAt');
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session).toMatchObject({ status: 'ACTIVE', sessionQuality: null, endedAt: null });
  });

  it('cancelSession ends an ACTIVE session as CANCELLED; a cancelled one cannot be cancelled or completed', async () => {
    const { token } = await tokenFor('athlete');
    const s = await startSession(server.url, token);
    const before = Date.now();
    const cancelled = (await gqlOk<{ cancelSession: { id: string; status: string; endedAt: string | null } }>(server.url, CANCEL_SESSION, { id: s.id }, token)).cancelSession;
    expect(cancelled).toMatchObject({ id: s.id, status: 'CANCELLED' });
    expect(Math.abs(new Date(cancelled.endedAt!).getTime() - before)).toBeLessThan(60_000);
    expectError(await gql(server.url, CANCEL_SESSION, { id: s.id }, token), 'CONFLICT');
    expectError(await gql(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: 5 } }, token), 'CONFLICT');
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session?.status).toBe('CANCELLED');
  });

  it('updateSession corrects check-in fields of an ACTIVE session and outcome fields of a COMPLETED one', async () => {
    const { token } = await tokenFor('athlete');
    const s = await startSession(server.url, token, { sleepHours: 6, energyLevel: 5, startedAt: '2026-03-03T08:00:00.000Z' });
    const fixed = (await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { sleepHours: 6.5, location: 'Crag', startedAt: '2026-03-03T07:30:00.000Z' } }, token))
      .updateSession;
    expect(fixed).toMatchObject({ status: 'ACTIVE', sleepHours: 6.5, energyLevel: 5, location: 'Crag', startedAt: '2026-03-03T07:30:00.000Z' });
    // Outcome fields belong to completed sessions.
    expectError(await gql(server.url, UPDATE_SESSION, { id: s.id, input: { sessionQuality: 7 } }, token), 'CONFLICT', 'sessionQuality');
    await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: 6 } }, token);
    const rerated = (await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { sessionQuality: 9, notes: 'actually great' } }, token)).updateSession;
    expect(rerated).toMatchObject({ status: 'COMPLETED', sessionQuality: 9, notes: 'actually great', sleepHours: 6.5 });
    // Explicit null clears an optional field; it cannot clear the rating of a completed session.
    expect((await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { location: null } }, token)).updateSession.location).toBeNull();
    expectError(await gql(server.url, UPDATE_SESSION, { id: s.id, input: { sessionQuality: null } }, token), 'BAD_USER_INPUT', 'sessionQuality');
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session?.sessionQuality).toBe(9);
  });

  it('correcting actualSessionType through updateSession changes sessionType with it, as completeSession does', async () => {
    const { token } = await tokenFor('athlete');
    const s = await startSession(server.url, token, { sleepHours: 7, plannedSessionType: 'PROJECT' });
    const done = (await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: 6, actualSessionType: 'TECHNIQUE' } }, token)).completeSession;
    expect(done).toMatchObject({ actualSessionType: 'TECHNIQUE', sessionType: 'TECHNIQUE' });
    const fixed = (await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { actualSessionType: 'VOLUME' } }, token)).updateSession;
    expect(fixed).toMatchObject({ actualSessionType: 'VOLUME', sessionType: 'VOLUME' });
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session).toMatchObject({ actualSessionType: 'VOLUME', sessionType: 'VOLUME' });
    // Clearing what was done clears both; an update that does not name it leaves both alone.
    expect((await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { actualSessionType: null } }, token)).updateSession).toMatchObject({
      actualSessionType: null,
      sessionType: null,
    });
    await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { actualSessionType: 'LIGHT_SESSION' } }, token);
    expect((await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { notes: 'easy day' } }, token)).updateSession).toMatchObject({
      actualSessionType: 'LIGHT_SESSION',
      sessionType: 'LIGHT_SESSION',
    });
  });

  it('the data migration repairs sessions that an earlier correction left with a stale sessionType', async () => {
    const { token } = await tokenFor('athlete');
    const stale = await startSession(server.url, token, { sleepHours: 7 });
    await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: stale.id, input: { sessionQuality: 6, actualSessionType: 'TECHNIQUE' } }, token);
    const untouched = await startSession(server.url, token, { sleepHours: 7 });
    await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: untouched.id, input: { sessionQuality: 6 } }, token);
    // As updateSession used to leave a correction: actualSessionType changed, sessionType not.
    await server.db.prisma.climbingSession.update({ where: { id: stale.id }, data: { actualSessionType: 'VOLUME', sessionType: 'TECHNIQUE' } });
    await server.db.prisma.climbingSession.update({ where: { id: untouched.id }, data: { sessionType: 'PROJECT' } });
    const sql = readFileSync(new URL('../../prisma/migrations/20261201025618_session_type_mirrors_actual/migration.sql', import.meta.url), 'utf8');
    await server.db.prisma.$executeRawUnsafe(sql);
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: stale.id }, token)).session).toMatchObject({ actualSessionType: 'VOLUME', sessionType: 'VOLUME' });
    // Without an actualSessionType there is nothing to mirror (seed:demo writes sessionType alone).
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: untouched.id }, token)).session).toMatchObject({ actualSessionType: null, sessionType: 'PROJECT' });
  });

  it('updateSession refuses a start after the stored end and an end before the stored start; nothing is written', async () => {
    const { token } = await tokenFor('athlete');
    const s = await startSession(server.url, token, { sleepHours: 7, startedAt: '2026-03-04T17:00:00.000Z' });
    await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: 6, endedAt: '2026-03-04T19:00:00.000Z' } }, token);
    const stored = { startedAt: '2026-03-04T17:00:00.000Z', endedAt: '2026-03-04T19:00:00.000Z', sleepHours: 7, sessionQuality: 6 };

    const late = expectError(await gql(server.url, UPDATE_SESSION, { id: s.id, input: { startedAt: '2026-03-04T19:30:00.000Z', sleepHours: 4 } }, token), 'BAD_USER_INPUT', 'startedAt');
    expect(late.message).toMatch(/startedAt must not be after the session ended/);
    expectError(await gql(server.url, UPDATE_SESSION, { id: s.id, input: { endedAt: '2026-03-04T16:00:00.000Z', sessionQuality: 9 } }, token), 'BAD_USER_INPUT', 'endedAt');
    // Both at once are checked against each other: the end is named.
    expectError(await gql(server.url, UPDATE_SESSION, { id: s.id, input: { startedAt: '2026-03-04T21:00:00.000Z', endedAt: '2026-03-04T20:00:00.000Z' } }, token), 'BAD_USER_INPUT', 'endedAt');
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session).toMatchObject(stored);

    // Within the stored bounds both may move; start and end may coincide.
    expect((await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { startedAt: '2026-03-04T19:00:00.000Z' } }, token)).updateSession).toMatchObject({
      startedAt: '2026-03-04T19:00:00.000Z',
      endedAt: '2026-03-04T19:00:00.000Z',
    });
    expect(
      (await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { startedAt: '2026-03-04T21:00:00.000Z', endedAt: '2026-03-04T22:00:00.000Z' } }, token))
        .updateSession,
    ).toMatchObject({
      startedAt: '2026-03-04T21:00:00.000Z',
      endedAt: '2026-03-04T22:00:00.000Z',
    });

    // A cancelled session has an end too.
    const c = await startSession(server.url, token, { sleepHours: 7, startedAt: '2026-03-05T08:00:00.000Z' });
    const cancelled = (await gqlOk<{ cancelSession: { id: string; status: string; endedAt: string | null } }>(server.url, CANCEL_SESSION, { id: c.id }, token)).cancelSession;
    const afterEnd = new Date(new Date(cancelled.endedAt!).getTime() + 60_000).toISOString();
    expectError(await gql(server.url, UPDATE_SESSION, { id: c.id, input: { startedAt: afterEnd } }, token), 'BAD_USER_INPUT', 'startedAt');
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: c.id }, token)).session?.startedAt).toBe('2026-03-05T08:00:00.000Z');
  });

  it('deleteSession removes the session and returns its id; a second delete is NOT_FOUND', async () => {
    const { token } = await tokenFor('athlete');
    const s = await startSession(server.url, token);
    expect((await gqlOk<{ deleteSession: string }>(server.url, DELETE_SESSION, { id: s.id }, token)).deleteSession).toBe(s.id);
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: s.id }, token)).session).toBeNull();
    expect(await listSessionIds(server.url, token)).not.toContain(s.id);
    expectError(await gql(server.url, DELETE_SESSION, { id: s.id }, token), 'NOT_FOUND');
  });

  it('session(id) of an unknown id is null; a malformed id is BAD_USER_INPUT', async () => {
    const { token } = await tokenFor('athlete');
    expect((await gqlOk<{ session: SessionRecord | null }>(server.url, SESSION, { id: '00000000-0000-4000-8000-00000000abcd' }, token)).session).toBeNull();
    expectError(await gql(server.url, SESSION, { id: 'not-a-uuid' }, token), 'BAD_USER_INPUT', 'id');
    expectError(await gql(server.url, COMPLETE_SESSION, { id: '00000000-0000-4000-8000-00000000abcd', input: { sessionQuality: 5 } }, token), 'NOT_FOUND');
  });
});

describe('sessions query filters', () => {
  let athlete: { token: string; id: string };
  let other: { token: string; id: string };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    athlete = await tokenFor('athlete');
    other = await tokenFor('athlete');
    ids.jan = (await startSession(server.url, athlete.token, { sleepHours: 7, startedAt: '2026-01-15T10:00:00.000Z' })).id;
    ids.feb = (await startSession(server.url, athlete.token, { sleepHours: 7, startedAt: '2026-02-15T10:00:00.000Z' })).id;
    ids.mar = (await startSession(server.url, athlete.token, { sleepHours: 7, startedAt: '2026-03-15T10:00:00.000Z' })).id;
    ids.apr = (await startSession(server.url, athlete.token, { sleepHours: 7, startedAt: '2026-04-15T10:00:00.000Z' })).id;
    await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: ids.feb, input: { sessionQuality: 7, endedAt: '2026-02-15T12:00:00.000Z' } }, athlete.token);
    await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: ids.mar, input: { sessionQuality: 5, endedAt: '2026-03-15T12:00:00.000Z' } }, athlete.token);
    await gqlOk<{ cancelSession: { id: string; status: string; endedAt: string | null } }>(server.url, CANCEL_SESSION, { id: ids.apr }, athlete.token);
    ids.otherJan = (await startSession(server.url, other.token, { sleepHours: 7, startedAt: '2026-01-20T10:00:00.000Z' })).id;
  });

  it('lists the viewer own sessions newest first', async () => {
    expect(await listSessionIds(server.url, athlete.token)).toEqual([ids.apr, ids.mar, ids.feb, ids.jan]);
    expect(await listSessionIds(server.url, athlete.token, { userId: athlete.id })).toEqual([ids.apr, ids.mar, ids.feb, ids.jan]);
  });

  it('filters by status', async () => {
    expect(await listSessionIds(server.url, athlete.token, { status: 'COMPLETED' })).toEqual([ids.mar, ids.feb]);
    expect(await listSessionIds(server.url, athlete.token, { status: 'ACTIVE' })).toEqual([ids.jan]);
    expect(await listSessionIds(server.url, athlete.token, { status: 'CANCELLED' })).toEqual([ids.apr]);
  });

  it('filters by from / to (inclusive bounds on startedAt)', async () => {
    expect(await listSessionIds(server.url, athlete.token, { from: '2026-02-15T10:00:00.000Z' })).toEqual([ids.apr, ids.mar, ids.feb]);
    expect(await listSessionIds(server.url, athlete.token, { to: '2026-02-15T10:00:00.000Z' })).toEqual([ids.feb, ids.jan]);
    expect(await listSessionIds(server.url, athlete.token, { from: '2026-02-01T00:00:00.000Z', to: '2026-03-31T00:00:00.000Z' })).toEqual([ids.mar, ids.feb]);
    expect(await listSessionIds(server.url, athlete.token, { from: '2026-02-01T00:00:00.000Z', to: '2026-03-31T00:00:00.000Z', status: 'COMPLETED' })).toEqual([ids.mar, ids.feb]);
    expectError(await gql(server.url, '{ sessions(from: "2026-03-01T00:00:00Z", to: "2026-02-01T00:00:00Z") { edges { node { id } } } }', {}, athlete.token), 'BAD_USER_INPUT', 'from');
  });

  it('an analyst filters by userId across athletes', async () => {
    const analyst = await tokenFor('analyst');
    expect(await listSessionIds(server.url, analyst.token, { userId: athlete.id })).toEqual([ids.apr, ids.mar, ids.feb, ids.jan]);
    expect(await listSessionIds(server.url, analyst.token, { userId: other.id })).toEqual([ids.otherJan]);
    const janWindow = await listSessionIds(server.url, analyst.token, { from: '2026-01-01T00:00:00.000Z', to: '2026-01-31T00:00:00.000Z' });
    expect(janWindow).toEqual(expect.arrayContaining([ids.otherJan, ids.jan]));
    expect(janWindow.indexOf(ids.otherJan)).toBeLessThan(janWindow.indexOf(ids.jan));
  });

  it('me.sessions lists the same sessions as sessions()', async () => {
    const data = await gqlOk<{ me: { sessions: Connection<{ id: string }> } }>(server.url, '{ me { sessions(first: 10) { edges { node { id } } } } }', {}, athlete.token);
    expect(data.me.sessions.edges.map((e) => e.node.id)).toEqual([ids.apr, ids.mar, ids.feb, ids.jan]);
  });
});

describe('models and population', () => {
  const MODEL = 'phase sessionsIncluded shrinkageFactor modelVersion lastTrainedAt coefficients { variable value lower upper } user { id }';

  it('modelOutput is null before training and appears after a completed, rated session (quick update)', async () => {
    const { token, id } = await tokenFor('athlete');
    expect((await gqlOk<{ modelOutput: Model | null }>(server.url, `{ modelOutput { ${MODEL} } }`, {}, token)).modelOutput).toBeNull();
    const s = await startSession(server.url, token, { sleepHours: 8, energyLevel: 8, stressLevel: 2 });
    await gqlOk<{ completeSession: SessionRecord }>(server.url, COMPLETE_SESSION, { id: s.id, input: { sessionQuality: 9 } }, token);
    await server.training.idle();
    const model = (await gqlOk<{ modelOutput: Model | null }>(server.url, `{ modelOutput { ${MODEL} } }`, {}, token)).modelOutput;
    expect(model).toMatchObject({ phase: 'COLD_START', sessionsIncluded: 1, user: { id } });
    expect(model?.coefficients.map((c) => c.variable)).toEqual(TERM_NAMES);
    for (const c of model?.coefficients ?? []) {
      expect(c.lower).toBeLessThan(c.value);
      expect(c.upper).toBeGreaterThan(c.value);
    }

    // modelOutputs: the athlete sees their own; an analyst sees it too, and the phase filter applies.
    const mine = (await gqlOk<Outputs>(server.url, '{ modelOutputs(first: 100) { edges { node { user { id } phase } } } }', {}, token)).modelOutputs.edges;
    expect(mine).toEqual([{ node: { user: { id }, phase: 'COLD_START' } }]);
    const analyst = await tokenFor('analyst');
    const all = (await gqlOk<Outputs>(server.url, '{ modelOutputs(first: 100, phase: COLD_START) { edges { node { user { id } phase } } } }', {}, analyst.token)).modelOutputs.edges;
    expect(all.map((e) => e.node.user.id)).toContain(id);
    const personalized = (await gqlOk<Outputs>(server.url, '{ modelOutputs(first: 100, phase: PERSONALIZED) { edges { node { user { id } } } } }', {}, analyst.token)).modelOutputs.edges;
    expect(personalized.map((e) => e.node.user.id)).not.toContain(id);
    expect((await gqlOk<{ modelOutput: Model | null }>(server.url, `query($u: ID) { modelOutput(userId: $u) { ${MODEL} } }`, { u: id }, analyst.token)).modelOutput).toEqual(model);
  });

  it('populationModel and populationStatistics expose the latest nightly fit', async () => {
    const { token } = await tokenFor('athlete');
    // No nightly fit has run on this database: null, and no statistics. The rows are then written as the
    // nightly job would (the job itself is tested with the training pipeline).
    const before = await gqlOk<{ populationModel: { id: string } | null; populationStatistics: { variable: string }[] }>(
      server.url,
      '{ populationModel { id } populationStatistics { variable } }',
      {},
      token,
    );
    expect(before).toEqual({ populationModel: null, populationStatistics: [] });
    const mu = Object.fromEntries(TERM_NAMES.map((t, j) => [t, j === 0 ? 6 : 0.1 * j]));
    const muSd = Object.fromEntries(TERM_NAMES.map((t) => [t, 0.5]));
    const tau2 = Object.fromEntries(TERM_NAMES.map((t) => [t, 0.04]));
    await server.db.prisma.populationModel.create({
      data: { mu, muSd, tau2, sigma2: 2.25, usersIncluded: 12, sessionsIncluded: 340, modelVersion: 'test-fit', fittedAt: new Date(Date.now() + 60_000) },
    });
    await server.db.prisma.populationStatistic.upsert({
      where: { variable: 'sleepHours' },
      create: { variable: 'sleepHours', mean: 7.1, std: 1.2, min: 3, max: 10, n: 340 },
      update: { mean: 7.1, std: 1.2, min: 3, max: 10, n: 340 },
    });
    const data = await gqlOk<{
      populationModel: Omit<PopulationModelView, 'fittedAt'>;
      populationStatistics: { variable: string; mean: number; std: number; min: number; max: number; n: number; computedAt: string }[];
    }>(
      server.url,
      '{ populationModel { usersIncluded sessionsIncluded sigma modelVersion coefficients { variable value lower upper } betweenAthleteSd { variable value } } populationStatistics { variable mean std min max n computedAt } }',
      {},
      token,
    );
    expect(data.populationModel).toMatchObject({ usersIncluded: 12, sessionsIncluded: 340, sigma: 1.5, modelVersion: 'test-fit' });
    expect(data.populationModel.coefficients.map((c) => c.variable)).toEqual(TERM_NAMES);
    expect(data.populationModel.coefficients[0].value).toBe(6);
    expect(data.populationModel.coefficients[0].lower).toBeCloseTo(6 - 1.96 * 0.5, 10);
    expect(data.populationModel.coefficients[0].upper).toBeCloseTo(6 + 1.96 * 0.5, 10);
    for (const sd of data.populationModel.betweenAthleteSd) expect(sd.value).toBeCloseTo(0.2, 12);
    expect(data.populationStatistics).toContainEqual(expect.objectContaining({ variable: 'sleepHours', mean: 7.1, std: 1.2, min: 3, max: 10, n: 340 }));
    const names = data.populationStatistics.map((s) => s.variable);
    expect(names).toEqual([...names].sort());
  });
});
