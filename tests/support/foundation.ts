// Shared pieces of the foundation integration tests: error assertions, a complete valid check-in, session
// selections and small GraphQL helpers.
import { expect } from 'vitest';
import { CHECK_IN_VARIABLES, SESSION_FIELDS } from '../../src/engine/variables.ts';
import { gql, gqlOk, type GraphQLResponse } from './client.ts';

/** Asserts the first error's code (and field) and returns that error. */
export function expectError(res: GraphQLResponse, code: string, field?: string) {
  expect(res.errors, `expected ${code}, got ${JSON.stringify(res)}`).toBeDefined();
  const error = res.errors![0];
  expect(error.extensions?.code, JSON.stringify(res.errors)).toBe(code);
  if (field !== undefined) expect(error.extensions?.field, JSON.stringify(res.errors)).toBe(field);
  return error;
}

/** A check-in with every variable of domain.md section 2 set to a valid value (no rule overrides it). */
export const FULL_CHECK_IN = {
  sleepHours: 7.5,
  sleepQuality: 7,
  energyLevel: 6,
  stressLevel: 3,
  motivationLevel: 7,
  sorenessLevel: 2,
  daysSinceHardSession: 2,
  caffeineMg: 100,
  warmupMin: 15,
  daysSinceLastSession: 1,
  daysSinceRestDay: 1,
  injurySeverity: 0,
  pulleyInjuryGrade: 0,
  fingerInjuryPresent: false,
  alcoholLast24h: false,
  caffeineToday: true,
  caffeineHabitual: true,
  warmupCompleted: true,
  hydrationStatus: 7,
  temperatureC: 18.5,
  fearOfFalling: 3,
  performanceAnxiety: 3,
  trainingLoadChange: 0.05,
  plannedSessionType: 'VOLUME',
  plannedIntensity: 'MODERATE',
  timeOfDay: 'EVENING',
  timeAvailableMin: 120,
  currentNiggles: [{ location: 'left ring finger A2', severity: 2, notes: 'stiff in the morning', recurring: true }],
} as const;

// The registry and the fixture must not drift apart: every check-in variable is set above.
const missing = CHECK_IN_VARIABLES.map((v) => v.name).filter((name) => !(name in FULL_CHECK_IN));
if (missing.length) throw new Error(`FULL_CHECK_IN lacks ${missing.join(', ')}`);

const OUTCOME_NAMES = SESSION_FIELDS.map((f) => f.name);

/** Every scalar field of ClimbingSession a client can select. */
export const SESSION_SELECTION = `
  id status startedAt endedAt sessionType location isOutdoor
  ${CHECK_IN_VARIABLES.map((v) => v.name).join(' ')}
  ${OUTCOME_NAMES.join(' ')}
  plannedCaffeineMg plannedWarmupMin highestGradeSent notes deviatedFromPlan deviationReason
  recommendation { id source sessionType override { rule } prediction { expectedQuality } } recommendationFollowed preSessionData postSessionData createdAt updatedAt
  user { id role }
`;

export const START_SESSION = `mutation($input: StartSessionInput!) { startSession(input: $input) { ${SESSION_SELECTION} } }`;
export const COMPLETE_SESSION = `mutation($id: ID!, $input: CompleteSessionInput!) { completeSession(id: $id, input: $input) { ${SESSION_SELECTION} } }`;
export const UPDATE_SESSION = `mutation($id: ID!, $input: UpdateSessionInput!) { updateSession(id: $id, input: $input) { ${SESSION_SELECTION} } }`;
export const CANCEL_SESSION = `mutation($id: ID!) { cancelSession(id: $id) { id status endedAt } }`;
export const DELETE_SESSION = `mutation($id: ID!) { deleteSession(id: $id) }`;
export const SESSION = `query($id: ID!) { session(id: $id) { ${SESSION_SELECTION} } }`;
export const RECORD_BASELINE = `mutation($input: BaselineAssessmentInput!) {
  recordBaselineAssessment(input: $input) { id isCurrent assessedAt age heightCm weightKg yearsClimbing primaryDiscipline maxHangEdgeMm fearOfFalling user { id } }
}`;

/** What SESSION_SELECTION selects of a ClimbingSession: the fixed fields, then every check-in and outcome variable by name. */
export interface SessionRecord {
  id: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  sessionType: string | null;
  location: string | null;
  isOutdoor: boolean | null;
  recommendation: { id: string; source: string; sessionType: string; override: { rule: string } | null; prediction: { expectedQuality: number } | null } | null;
  recommendationFollowed: boolean | null;
  preSessionData: unknown;
  postSessionData: unknown;
  createdAt: string;
  updatedAt: string;
  user: { id: string; role: string };
  /** A check-in or outcome variable (CHECK_IN_VARIABLES, SESSION_FIELDS). */
  [variable: string]: unknown;
}

/** Starts a session as the token's owner and returns it. */
export async function startSession(url: string, token: string, input: Record<string, unknown> = { sleepHours: 7 }): Promise<SessionRecord> {
  return (await gqlOk<{ startSession: SessionRecord }>(url, START_SESSION, { input }, token)).startSession;
}

/** Ids of every session the viewer can list (all pages), newest first. */
export async function listSessionIds(url: string, token: string, args: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  let after: string | null = null;
  for (;;) {
    const res: { sessions: { edges: { node: { id: string } }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } = await gqlOk(
      url,
      `query($userId: ID, $status: SessionStatus, $from: DateTime, $to: DateTime, $after: String) {
        sessions(userId: $userId, status: $status, from: $from, to: $to, first: 100, after: $after) {
          edges { node { id } } pageInfo { hasNextPage endCursor }
        }
      }`,
      { ...args, after },
      token,
    );
    ids.push(...res.sessions.edges.map((e) => e.node.id));
    if (!res.sessions.pageInfo.hasNextPage) return ids;
    after = res.sessions.pageInfo.endCursor;
  }
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  return out;
}

export { gql, gqlOk };
