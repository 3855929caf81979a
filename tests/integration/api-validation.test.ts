// Input validation through the real server (domain.md section 2: "Out-of-range or wrong-typed input is rejected
// with a clear, field-specific error; nothing is clamped silently"). Every check-in variable of the registry,
// every outcome field and every baseline field: just below / just above the range and non-integers for whole
// numbers; unknown enum values; bad niggles. Each is BAD_USER_INPUT with extensions.field naming the field and
// a message naming the allowed range, and a rejected mutation changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASELINE_NUMERIC_FIELDS, CHECK_IN_VARIABLES, SESSION_FIELDS, type VariableSpec } from '../../src/engine/variables.ts';
import { COMPLETE_SESSION, expectError, FULL_CHECK_IN, gql, gqlOk, listSessionIds, RECORD_BASELINE, START_SESSION, startSession, UPDATE_SESSION, type SessionRecord } from '../support/foundation.ts';
import type { GraphQLResponse } from '../support/client.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let athlete: { token: string; id: string };
let active: string;
let completed: string;
let baselineId: string;

beforeAll(async () => {
  server = await startTestServer();
  athlete = await tokenFor('athlete');
  active = (await startSession(server.url, athlete.token, { ...FULL_CHECK_IN, plannedDurationMin: 60 })).id;
  completed = (await startSession(server.url, athlete.token, { ...FULL_CHECK_IN, startedAt: '2026-01-01T10:00:00.000Z' })).id;
  await gqlOk(server.url, COMPLETE_SESSION, { id: completed, input: { sessionQuality: 7, satisfaction: 4, totalClimbs: 20, endedAt: '2026-01-01T12:00:00.000Z' } }, athlete.token);
  baselineId = (await gqlOk<{ recordBaselineAssessment: { id: string } }>(server.url, RECORD_BASELINE, { input: { age: 30, heightCm: 180, maxHangEdgeMm: 20 } }, athlete.token))
    .recordBaselineAssessment.id;
});
afterAll(async () => {
  await server?.close();
});

interface BadValue {
  /** What the test sends for the field. */
  value: unknown;
  /** extensions.field expected. */
  field: string;
  /** The message must match this (names the allowed range / values). */
  message: RegExp;
  label: string;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const range = (spec: VariableSpec) => new RegExp(`${esc(spec.name)}.*between ${esc(String(spec.min))} and ${esc(String(spec.max))}`);
/** "Just" outside: one unit for whole numbers, a hundredth for the others. */
const step = (spec: VariableSpec) => (spec.kind === 'int' ? 1 : 0.01);

/** The values each kind of variable must refuse. */
function badValues(spec: VariableSpec): BadValue[] {
  switch (spec.kind) {
    case 'int':
    case 'float': {
      const out: BadValue[] = [
        { label: 'below min', value: Number((spec.min! - step(spec)).toFixed(2)), field: spec.name, message: range(spec) },
        { label: 'above max', value: Number((spec.max! + step(spec)).toFixed(2)), field: spec.name, message: range(spec) },
      ];
      if (spec.kind === 'int')
        out.push({ label: 'non-integer', value: spec.min! + 0.5, field: spec.name, message: new RegExp(`${spec.name} must be a whole number between ${spec.min} and ${spec.max}`) });
      return out;
    }
    case 'boolean':
      return [{ label: 'not a boolean', value: 'yes', field: spec.name, message: new RegExp(`${spec.name} must be true or false`) }];
    case 'sessionType':
    case 'intensity':
    case 'timeOfDay':
      return [{ label: 'unknown enum value', value: 'NOT_A_VALUE', field: spec.name, message: new RegExp(`${spec.name} must be one of .*"NOT_A_VALUE"`) }];
    case 'niggles': {
      const ok = { location: 'left ring finger', severity: 3 };
      const severity = (i: number) => new RegExp(`${esc(`${spec.name}[${i}].severity`)} must be a whole number between 1 and 10`);
      return [
        { label: 'severity 0', value: [{ ...ok, severity: 0 }], field: `${spec.name}[0].severity`, message: severity(0) },
        { label: 'severity 11', value: [{ ...ok, severity: 11 }], field: `${spec.name}[0].severity`, message: severity(0) },
        { label: 'severity 2.5', value: [{ ...ok, severity: 2.5 }], field: `${spec.name}[0].severity`, message: severity(0) },
        { label: 'second niggle severity 11', value: [ok, { ...ok, severity: 11 }], field: `${spec.name}[1].severity`, message: severity(1) },
        { label: 'empty location', value: [{ ...ok, location: '' }], field: `${spec.name}[0].location`, message: new RegExp(`${esc(`${spec.name}[0].location`)} must be a non-empty string`) },
        { label: 'blank location', value: [{ ...ok, location: '   ' }], field: `${spec.name}[0].location`, message: new RegExp(`${esc(`${spec.name}[0].location`)} must be a non-empty string`) },
      ];
    }
  }
}

function expectRejected(res: GraphQLResponse, bad: BadValue, what: string): void {
  const error = expectError(res, 'BAD_USER_INPUT', bad.field);
  expect(error.message, `${what}: ${error.message}`).toMatch(bad.message);
  // A GraphQL answer's data is an object keyed by the root fields selected.
  const data = res.data as Record<string, unknown> | null | undefined;
  expect(data?.[Object.keys(data ?? {})[0]] ?? null, what).toBeNull();
}

const sessionRow = (id: string) => server.db.prisma.climbingSession.findUniqueOrThrow({ where: { id } });
const OUTCOME_FIELDS = SESSION_FIELDS.filter((f) => f.name !== 'plannedDurationMin') as readonly VariableSpec[];
const PLANNED_DURATION = SESSION_FIELDS.find((f) => f.name === 'plannedDurationMin') as VariableSpec;

describe('check-in variables', () => {
  it('the registry has every variable of domain.md section 2', () => {
    expect(CHECK_IN_VARIABLES.map((v) => v.name)).toEqual(Object.keys(FULL_CHECK_IN));
  });

  it.each([...CHECK_IN_VARIABLES, PLANNED_DURATION].map((spec) => [spec.name, spec] as const))(
    '%s: startSession, updateSession and recommendation refuse every bad value, and nothing is created or changed',
    async (_name, spec) => {
      const sessionsBefore = await listSessionIds(server.url, athlete.token);
      const activeBefore = await sessionRow(active);
      for (const bad of badValues(spec)) {
        const what = `${spec.name} ${bad.label} (${JSON.stringify(bad.value)})`;
        // A complete, valid check-in with this one field bad: no session is created.
        expectRejected(await gql(server.url, START_SESSION, { input: { ...FULL_CHECK_IN, [spec.name]: bad.value } }, athlete.token), bad, `startSession ${what}`);
        expectRejected(await gql(server.url, UPDATE_SESSION, { id: active, input: { sleepHours: 8, [spec.name]: bad.value } }, athlete.token), bad, `updateSession ${what}`);
        if (spec.name !== 'plannedDurationMin') {
          expectRejected(
            await gql(server.url, 'query($input: PreSessionInput!) { recommendation(input: $input) { sessionType } }', { input: { [spec.name]: bad.value } }, athlete.token),
            bad,
            `recommendation ${what}`,
          );
        }
      }
      expect(await listSessionIds(server.url, athlete.token)).toEqual(sessionsBefore);
      expect(await sessionRow(active)).toEqual(activeBefore);
    },
  );

  it('an out-of-range literal in the query text is rejected the same way', async () => {
    const res = await gql(server.url, 'mutation { startSession(input: { sleepHours: 24.5, energyLevel: 5 }) { id } }', {}, athlete.token);
    expect(expectError(res, 'BAD_USER_INPUT', 'sleepHours').message).toMatch(/between 0 and 24/);
  });

  it('the bounds themselves are accepted (nothing is clamped)', async () => {
    const lows = Object.fromEntries(CHECK_IN_VARIABLES.filter((v) => v.min !== undefined).map((v) => [v.name, v.min]));
    const highs = Object.fromEntries(CHECK_IN_VARIABLES.filter((v) => v.max !== undefined).map((v) => [v.name, v.max]));
    for (const input of [lows, highs]) {
      const s = await startSession(server.url, athlete.token, input);
      for (const [k, v] of Object.entries(input)) expect(s[k], k).toBe(v);
      await gqlOk(server.url, 'mutation($id: ID!) { deleteSession(id: $id) }', { id: s.id }, athlete.token);
    }
  });

  it('text fields have a maximum length', async () => {
    expect(expectError(await gql(server.url, START_SESSION, { input: { location: 'x'.repeat(201) } }, athlete.token), 'BAD_USER_INPUT', 'location').message).toMatch(/at most 200/);
    expect(expectError(await gql(server.url, UPDATE_SESSION, { id: completed, input: { notes: 'x'.repeat(5001) } }, athlete.token), 'BAD_USER_INPUT', 'notes').message).toMatch(/at most 5000/);
  });
});

describe('session outcome fields', () => {
  it.each(OUTCOME_FIELDS.map((spec) => [spec.name, spec] as const))('%s: completeSession and updateSession refuse every bad value; the session keeps its state', async (_name, spec) => {
    const activeBefore = await sessionRow(active);
    const completedBefore = await sessionRow(completed);
    for (const bad of badValues(spec)) {
      const what = `${spec.name} ${bad.label} (${JSON.stringify(bad.value)})`;
      expectRejected(await gql(server.url, COMPLETE_SESSION, { id: active, input: { sessionQuality: 6, [spec.name]: bad.value } }, athlete.token), bad, `completeSession ${what}`);
      expectRejected(await gql(server.url, UPDATE_SESSION, { id: completed, input: { sessionQuality: 8, [spec.name]: bad.value } }, athlete.token), bad, `updateSession ${what}`);
    }
    // The failed completion left the session ACTIVE without any outcome; the completed one kept its outcome.
    const after = await sessionRow(active);
    expect(after).toEqual(activeBefore);
    expect(after).toMatchObject({ status: 'ACTIVE', sessionQuality: null, endedAt: null });
    expect(
      (
        await gqlOk<{ session: { status: string; sessionQuality: number | null; endedAt: string | null } }>(
          server.url,
          'query($id: ID!) { session(id: $id) { status sessionQuality endedAt } }',
          { id: active },
          athlete.token,
        )
      ).session,
    ).toEqual({
      status: 'ACTIVE',
      sessionQuality: null,
      endedAt: null,
    });
    expect(await sessionRow(completed)).toEqual(completedBefore);
  });

  it('satisfaction is rated 1-5: 6 is refused and 5 accepted', async () => {
    const error = expectError(await gql(server.url, UPDATE_SESSION, { id: completed, input: { satisfaction: 6 } }, athlete.token), 'BAD_USER_INPUT', 'satisfaction');
    expect(error.message).toMatch(/between 1 and 5/);
    expect((await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: completed, input: { satisfaction: 5 } }, athlete.token)).updateSession.satisfaction).toBe(5);
    await gqlOk(server.url, UPDATE_SESSION, { id: completed, input: { satisfaction: 4 } }, athlete.token);
  });
});

describe('baseline assessment fields', () => {
  const current = async () =>
    (
      await gqlOk<{ baselineAssessment: { id: string; age: number | null; heightCm: number | null; maxHangEdgeMm: number | null; isCurrent: boolean } | null }>(
        server.url,
        '{ baselineAssessment { id age heightCm maxHangEdgeMm isCurrent } }',
        {},
        athlete.token,
      )
    ).baselineAssessment;

  it.each(BASELINE_NUMERIC_FIELDS.map((spec) => [spec.name, spec] as const))('%s: recordBaselineAssessment refuses every bad value and keeps the current baseline', async (_name, spec) => {
    const countBefore = await server.db.prisma.baselineAssessment.count({ where: { userId: athlete.id } });
    for (const bad of badValues(spec)) {
      expectRejected(await gql(server.url, RECORD_BASELINE, { input: { age: 35, [spec.name]: bad.value } }, athlete.token), bad, `${spec.name} ${bad.label}`);
    }
    expect(await current()).toEqual({ id: baselineId, age: 30, heightCm: 180, maxHangEdgeMm: 20, isCurrent: true });
    expect(await server.db.prisma.baselineAssessment.count({ where: { userId: athlete.id } })).toBe(countBefore);
  });

  it('grades must be short non-empty strings; enums must be known', async () => {
    expectError(await gql(server.url, RECORD_BASELINE, { input: { currentBoulderGrade: '' } }, athlete.token), 'BAD_USER_INPUT', 'currentBoulderGrade');
    expectError(await gql(server.url, RECORD_BASELINE, { input: { peakRouteGrade: 'x'.repeat(17) } }, athlete.token), 'BAD_USER_INPUT', 'peakRouteGrade');
    const discipline = expectError(await gql(server.url, RECORD_BASELINE, { input: { primaryDiscipline: 'FREE_SOLO' } }, athlete.token), 'BAD_USER_INPUT', 'primaryDiscipline');
    expect(discipline.message).toContain('FREE_SOLO');
    expect(await current()).toMatchObject({ id: baselineId, age: 30 });
  });
});
