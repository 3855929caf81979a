// Who may do what (docs/api.md "Auth"): no token / a bad token is UNAUTHENTICATED; athletes (and coaches) see
// and change only their own data; analysts read everything and change nothing; admins also manage rules and
// priors. Over HTTP and over graphql-ws (token in connectionParams).
import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenService } from '../../src/auth.ts';
import { collect, wsClient, type Connection, type GraphQLErrorBody, type GraphQLResponse } from '../support/client.ts';
import {
  CANCEL_SESSION,
  COMPLETE_SESSION,
  DELETE_SESSION,
  expectError,
  gql,
  gqlOk,
  listSessionIds,
  RECORD_BASELINE,
  SESSION,
  startSession,
  UPDATE_SESSION,
  type SessionRecord,
} from '../support/foundation.ts';
import { startTestServer, TEST_JWT_SECRET, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
type Who = { token: string; id: string };
let athlete: Who;
let other: Who;
let coach: Who;
let analyst: Who;
let admin: Who;
/** athlete's sessions: one ACTIVE, one COMPLETED; other's: one ACTIVE. */
let mine: { active: string; completed: string };
/** What a `{ modelOutputs { edges { node { user { id } } } } }` query selects. */
type Outputs = { modelOutputs: Connection<{ user: { id: string } }> };
/** What MODEL_UPDATED selects. */
type ModelUpdated = { modelUpdated: { user: { id: string }; phase: string } };
let theirs: string;

const RULE_INPUT = {
  name: 'auth_test_rule',
  description: 'Cold crag: keep it light',
  conditions: { field: 'temperatureC', op: '<=', value: -20 },
  actions: [{ type: 'constrain', sessionTypeCeiling: 'LIGHT_SESSION', message: 'Very cold: keep the session light' }],
  category: 'CONSERVATIVE',
  priority: 30,
};
const UPSERT_RULE = 'mutation($input: ExpertRuleInput!) { upsertExpertRule(input: $input) { name priority isActive } }';
const SET_RULE_ACTIVE = 'mutation($name: String!, $active: Boolean!) { setExpertRuleActive(name: $name, active: $active) { name isActive } }';
const UPSERT_PRIOR = 'mutation($input: PopulationPriorInput!) { upsertPopulationPrior(input: $input) { variable populationMean } }';

async function sessionRow(id: string) {
  return server.db.prisma.climbingSession.findUnique({ where: { id } });
}

beforeAll(async () => {
  server = await startTestServer();
  [athlete, other, coach, analyst, admin] = await Promise.all([tokenFor('athlete'), tokenFor('athlete'), tokenFor('coach'), tokenFor('analyst'), tokenFor('admin')]);
  const active = await startSession(server.url, athlete.token, { sleepHours: 7, startedAt: '2026-05-01T10:00:00.000Z' });
  const completed = await startSession(server.url, athlete.token, { sleepHours: 6, startedAt: '2026-05-02T10:00:00.000Z' });
  await gqlOk(server.url, COMPLETE_SESSION, { id: completed.id, input: { sessionQuality: 6 } }, athlete.token);
  mine = { active: active.id, completed: completed.id };
  theirs = (await startSession(server.url, other.token, { sleepHours: 8, startedAt: '2026-05-03T10:00:00.000Z' })).id;
  await gqlOk(server.url, RECORD_BASELINE, { input: { age: 30 } }, athlete.token);
  await gqlOk(server.url, RECORD_BASELINE, { input: { age: 40 } }, other.token);
  await Promise.all([coach, analyst, admin].map((w) => gqlOk(server.url, '{ me { id } }', {}, w.token)));
  await server.training.idle(); // the completed session's quick update writes the athlete's model
});
afterAll(async () => {
  await server?.close();
});

/** Every root operation, with arguments that would succeed for an authorised caller. */
function operations(): Record<string, [string, Record<string, unknown>]> {
  return {
    me: ['{ me { id } }', {}],
    user: ['query($id: ID!) { user(id: $id) { id } }', { id: athlete.id }],
    users: ['{ users(first: 5) { edges { node { id } } } }', {}],
    baselineAssessment: ['{ baselineAssessment { id } }', {}],
    session: [SESSION, { id: mine.active }],
    sessions: ['{ sessions(first: 5) { edges { node { id } } } }', {}],
    modelOutput: ['{ modelOutput { phase } }', {}],
    modelOutputs: ['{ modelOutputs(first: 5) { edges { node { phase } } } }', {}],
    recommendation: ['{ recommendation(input: { sleepHours: 7 }) { sessionType } }', {}],
    populationPriors: ['{ populationPriors { variable } }', {}],
    expertRules: ['{ expertRules { name } }', {}],
    populationStatistics: ['{ populationStatistics { variable } }', {}],
    populationModel: ['{ populationModel { id } }', {}],
    recordBaselineAssessment: [RECORD_BASELINE, { input: { age: 50 } }],
    startSession: ['mutation { startSession(input: { sleepHours: 7 }) { id } }', {}],
    completeSession: [COMPLETE_SESSION, { id: mine.active, input: { sessionQuality: 9 } }],
    cancelSession: [CANCEL_SESSION, { id: mine.active }],
    updateSession: [UPDATE_SESSION, { id: mine.active, input: { sleepHours: 3 } }],
    deleteSession: [DELETE_SESSION, { id: mine.active }],
    upsertExpertRule: [UPSERT_RULE, { input: RULE_INPUT }],
    setExpertRuleActive: [SET_RULE_ACTIVE, { name: 'warmup_requirement', active: false }],
    upsertPopulationPrior: [UPSERT_PRIOR, { input: { variable: 'sleepHours', populationMean: 9, populationStd: 1, individualVariance: 1 } }],
  };
}

describe('without a valid token', () => {
  it('every root field and mutation is UNAUTHENTICATED without a token, and nothing changes', async () => {
    const before = await sessionRow(mine.active);
    for (const [name, [query, variables]] of Object.entries(operations())) {
      const res = await gql(server.url, query, variables);
      expect(res.errors?.[0]?.extensions?.code, `${name}: ${JSON.stringify(res)}`).toBe('UNAUTHENTICATED');
      expect(res.status, name).toBe(401);
    }
    expect(await sessionRow(mine.active)).toEqual(before);
    expect((await gqlOk<{ expertRules: { name: string }[] }>(server.url, '{ expertRules { name } }', {}, athlete.token)).expertRules.map((r) => r.name)).toContain('warmup_requirement');
  });

  it('rejects malformed, expired, wrongly signed and ill-formed tokens as UNAUTHENTICATED and creates no user', async () => {
    const key = new TextEncoder().encode(TEST_JWT_SECRET);
    const sub = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ role: 'athlete' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(sub)
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 60)
      .sign(key);
    const wrongSecret = await new TokenService('another-secret-another-secret-0123456789xx').sign({ sub, role: 'admin' });
    const badRole = await new SignJWT({ role: 'superuser' }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(key);
    // A sub that is not a uuid is a user (docs/api.md "Auth"); a token without one speaks for no one.
    const noSub = await new SignJWT({ role: 'athlete' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(key);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub, role: 'admin' })).toString('base64url')}.`;
    const valid = (await tokenFor('athlete', sub)).token;
    const tampered = valid.slice(0, -4) + (valid.endsWith('AAAA') ? 'BBBB' : 'AAAA');
    const cases: Record<string, string> = {
      garbage: 'Bearer not-a-jwt',
      expired: `Bearer ${expired}`,
      wrongSecret: `Bearer ${wrongSecret}`,
      badRole: `Bearer ${badRole}`,
      noSub: `Bearer ${noSub}`,
      algNone: `Bearer ${unsigned}`,
      tampered: `Bearer ${tampered}`,
      notBearer: `Token ${valid}`,
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json', authorization },
        body: JSON.stringify({ query: 'mutation { startSession(input: { sleepHours: 7 }) { id } }' }),
      });
      const body = (await res.json()) as GraphQLResponse;
      expect(body.errors?.[0]?.extensions?.code, `${name}: ${JSON.stringify(body)}`).toBe('UNAUTHENTICATED');
      expect(body.data ?? null, name).toBeNull();
      expect(res.status, name).toBe(401);
    }
    expect(body(await gql(server.url, 'query($id: ID!) { user(id: $id) { id } }', { id: sub }, analyst.token))).toEqual({ user: null });
    expect(await server.db.prisma.climbingSession.count({ where: { userId: sub } })).toBe(0);
  });
});

function body<T>(res: GraphQLResponse<T>) {
  expect(res.errors).toBeUndefined();
  return res.data;
}

describe.each(['athlete', 'coach'] as const)('a %s with another athlete', (role) => {
  const viewer = () => (role === 'athlete' ? other : coach);

  it("cannot read the athlete's session, sessions, user, baseline or model", async () => {
    const w = viewer();
    const session = await gql<{ session: SessionRecord | null }>(server.url, SESSION, { id: mine.active }, w.token);
    expectError(session, 'FORBIDDEN');
    expect(session.data?.session ?? null).toBeNull();
    expectError(await gql(server.url, 'query($u: ID) { sessions(userId: $u) { edges { node { id } } } }', { u: athlete.id }, w.token), 'FORBIDDEN');
    expectError(await gql(server.url, 'query($id: ID!) { user(id: $id) { id } }', { id: athlete.id }, w.token), 'FORBIDDEN');
    expectError(await gql(server.url, 'query($u: ID) { baselineAssessment(userId: $u) { id } }', { u: athlete.id }, w.token), 'FORBIDDEN');
    expectError(await gql(server.url, 'query($u: ID) { modelOutput(userId: $u) { phase } }', { u: athlete.id }, w.token), 'FORBIDDEN');
    expectError(await gql(server.url, '{ users(first: 5) { edges { node { id } } } }', {}, w.token), 'FORBIDDEN');
  });

  it('lists only its own sessions and model outputs', async () => {
    const w = viewer();
    const own = await listSessionIds(server.url, w.token);
    expect(own).not.toContain(mine.active);
    expect(own).not.toContain(mine.completed);
    if (role === 'athlete') expect(own).toEqual([theirs]);
    const outputs = (await gqlOk<Outputs>(server.url, '{ modelOutputs(first: 100) { edges { node { user { id } } } } }', {}, w.token)).modelOutputs.edges;
    for (const e of outputs) expect(e.node.user.id).toBe(w.id);
  });

  it("cannot complete, update, cancel or delete the athlete's session; it stays unchanged", async () => {
    const w = viewer();
    const before = await sessionRow(mine.active);
    expectError(await gql(server.url, COMPLETE_SESSION, { id: mine.active, input: { sessionQuality: 2 } }, w.token), 'FORBIDDEN');
    expectError(await gql(server.url, UPDATE_SESSION, { id: mine.active, input: { sleepHours: 2 } }, w.token), 'FORBIDDEN');
    expectError(await gql(server.url, CANCEL_SESSION, { id: mine.active }, w.token), 'FORBIDDEN');
    expectError(await gql(server.url, DELETE_SESSION, { id: mine.active }, w.token), 'FORBIDDEN');
    expectError(await gql(server.url, UPDATE_SESSION, { id: mine.completed, input: { sessionQuality: 1 } }, w.token), 'FORBIDDEN');
    expect(await sessionRow(mine.active)).toEqual(before);
    expect((await sessionRow(mine.completed))?.sessionQuality).toBe(6);
  });

  it('cannot upsert rules or priors, or toggle a rule', async () => {
    const w = viewer();
    const ops = operations();
    for (const name of ['upsertExpertRule', 'setExpertRuleActive', 'upsertPopulationPrior'] as const) {
      const [query, variables] = ops[name];
      expectError(await gql(server.url, query, variables, w.token), 'FORBIDDEN');
    }
    expect(await server.db.prisma.expertRule.findUnique({ where: { name: RULE_INPUT.name } })).toBeNull();
    expect((await server.db.prisma.expertRule.findUnique({ where: { name: 'warmup_requirement' } }))?.isActive).toBe(true);
    expect((await server.db.prisma.populationPrior.findUnique({ where: { variable: 'sleepHours' } }))?.populationMean).not.toBe(9);
  });

  it('sees only active rules even when asking for inactive ones', async () => {
    await server.db.prisma.expertRule.update({ where: { name: 'caffeine_timing_boost' }, data: { isActive: false } });
    try {
      const rules = (await gqlOk<{ expertRules: { name: string; isActive: boolean }[] }>(server.url, '{ expertRules(includeInactive: true) { name isActive } }', {}, viewer().token)).expertRules;
      expect(rules.map((r) => r.name)).not.toContain('caffeine_timing_boost');
      expect(rules.every((r) => r.isActive)).toBe(true);
    } finally {
      await server.db.prisma.expertRule.update({ where: { name: 'caffeine_timing_boost' }, data: { isActive: true } });
    }
  });
});

describe('an athlete with their own data', () => {
  it('reads and changes only their own sessions', async () => {
    expect((await gqlOk<{ session: SessionRecord }>(server.url, SESSION, { id: mine.active }, athlete.token)).session.id).toBe(mine.active);
    expect(await listSessionIds(server.url, athlete.token)).toEqual([mine.completed, mine.active]);
    const s = await startSession(server.url, athlete.token);
    expect((await gqlOk<{ updateSession: SessionRecord }>(server.url, UPDATE_SESSION, { id: s.id, input: { sleepHours: 5.5 } }, athlete.token)).updateSession.sleepHours).toBe(5.5);
    expect((await gqlOk<{ deleteSession: string }>(server.url, DELETE_SESSION, { id: s.id }, athlete.token)).deleteSession).toBe(s.id);
  });
});

describe('an analyst', () => {
  it('reads everything: users, any user, other athletes sessions, baselines and models', async () => {
    const users = (await gqlOk<{ users: Connection<{ id: string }> }>(server.url, '{ users(first: 100) { edges { node { id } } } }', {}, analyst.token)).users.edges.map((e) => e.node.id);
    expect(users).toEqual(expect.arrayContaining([athlete.id, other.id, coach.id, analyst.id, admin.id]));
    expect((await gqlOk<{ user: { id: string; role: string } | null }>(server.url, 'query($id: ID!) { user(id: $id) { id role } }', { id: athlete.id }, analyst.token)).user).toEqual({
      id: athlete.id,
      role: 'ATHLETE',
    });
    expect((await gqlOk<{ session: SessionRecord }>(server.url, SESSION, { id: theirs }, analyst.token)).session.user.id).toBe(other.id);
    expect(await listSessionIds(server.url, analyst.token, { userId: athlete.id })).toEqual([mine.completed, mine.active]);
    const all = await listSessionIds(server.url, analyst.token);
    expect(all).toEqual(expect.arrayContaining([mine.active, mine.completed, theirs]));
    expect(
      (await gqlOk<{ baselineAssessment: { age: number | null } | null }>(server.url, 'query($u: ID) { baselineAssessment(userId: $u) { age } }', { u: other.id }, analyst.token)).baselineAssessment,
    ).toEqual({ age: 40 });
    expect(
      (await gqlOk<{ modelOutput: { user: { id: string } } | null }>(server.url, 'query($u: ID) { modelOutput(userId: $u) { user { id } } }', { u: athlete.id }, analyst.token)).modelOutput,
    ).toEqual({ user: { id: athlete.id } });
    const outputs = (await gqlOk<Outputs>(server.url, '{ modelOutputs(first: 100) { edges { node { user { id } } } } }', {}, analyst.token)).modelOutputs.edges;
    expect(outputs.map((e) => e.node.user.id)).toContain(athlete.id);
    const rules = (await gqlOk<{ expertRules: { name: string }[] }>(server.url, '{ expertRules(includeInactive: true) { name } }', {}, analyst.token)).expertRules;
    expect(rules).toHaveLength(15);
  });

  it('changes nothing: every mutation is FORBIDDEN, its own data included', async () => {
    const ops = operations();
    const mutations: Record<string, [string, Record<string, unknown>]> = {
      recordBaselineAssessment: ops.recordBaselineAssessment,
      startSession: ops.startSession,
      completeSession: ops.completeSession,
      cancelSession: ops.cancelSession,
      updateSession: ops.updateSession,
      deleteSession: ops.deleteSession,
      upsertExpertRule: ops.upsertExpertRule,
      setExpertRuleActive: ops.setExpertRuleActive,
      upsertPopulationPrior: ops.upsertPopulationPrior,
      trainUserModel: ['mutation($u: ID) { trainUserModel(userId: $u) { id } }', { u: athlete.id }],
      trainOwnModel: ['mutation { trainUserModel { id } }', {}],
      runNightlyTraining: ['mutation { runNightlyTraining { id } }', {}],
      setTrainingSchedulePaused: ['mutation { setTrainingSchedulePaused(paused: true) { paused } }', {}],
      createCoachInvitation: ['mutation { createCoachInvitation { code } }', {}],
      acceptCoachInvitation: ['mutation { acceptCoachInvitation(code: "AAAAAAAAAAAAAAAAAAAAAAAAAAA") { id } }', {}],
      endCoachLink: ['mutation { endCoachLink(id: "00000000-0000-4000-8000-00000000c0ac") { id } }', {}],
      addCoachNote: ['mutation($s: ID!) { addCoachNote(sessionId: $s, text: "note") { id } }', { s: theirs }],
    };
    // Every mutation of the schema is in the table (a new one needs its analyst case here).
    const schemaMutations = (
      await gqlOk<{ __schema: { mutationType: { fields: { name: string }[] } } }>(server.url, '{ __schema { mutationType { fields { name } } } }')
    ).__schema.mutationType.fields.map((f) => f.name);
    for (const name of schemaMutations) expect(Object.keys(mutations), `analyst case for ${name}`).toContain(name);

    const before = { session: await sessionRow(mine.active), runs: await server.db.prisma.trainingRun.count(), baselines: await server.db.prisma.baselineAssessment.count() };
    for (const [name, [query, variables]] of Object.entries(mutations)) {
      const res = await gql(server.url, query, variables, analyst.token);
      expect(res.errors?.[0]?.extensions?.code, `${name}: ${JSON.stringify(res)}`).toBe('FORBIDDEN');
      expect(res.data ?? null, name).toBeNull();
    }
    expect(await sessionRow(mine.active)).toEqual(before.session);
    expect(await server.db.prisma.trainingRun.count()).toBe(before.runs);
    expect(await server.db.prisma.baselineAssessment.count()).toBe(before.baselines);
    expect(await server.db.prisma.climbingSession.count({ where: { userId: analyst.id } })).toBe(0);
    expect(await server.db.prisma.expertRule.findUnique({ where: { name: RULE_INPUT.name } })).toBeNull();
    expect((await gqlOk<{ trainingSchedule: { paused: boolean } }>(server.url, '{ trainingSchedule { paused } }', {}, analyst.token)).trainingSchedule.paused).toBe(false);
  });
});

describe('an admin', () => {
  it('reads everything and manages rules and priors', async () => {
    expect((await gqlOk<{ session: SessionRecord }>(server.url, SESSION, { id: theirs }, admin.token)).session.id).toBe(theirs);
    expect((await gqlOk<{ users: Connection<{ id: string }> }>(server.url, '{ users(first: 100) { edges { node { id } } } }', {}, admin.token)).users.edges.length).toBeGreaterThanOrEqual(5);
    expect((await gqlOk<{ upsertExpertRule: { name: string; priority: number; isActive: boolean } }>(server.url, UPSERT_RULE, { input: RULE_INPUT }, admin.token)).upsertExpertRule).toEqual({
      name: RULE_INPUT.name,
      priority: 30,
      isActive: true,
    });
    expect((await gqlOk<{ setExpertRuleActive: { name: string; isActive: boolean } }>(server.url, SET_RULE_ACTIVE, { name: RULE_INPUT.name, active: false }, admin.token)).setExpertRuleActive).toEqual(
      { name: RULE_INPUT.name, isActive: false },
    );
    const prior = { variable: 'hydrationStatus', populationMean: 0.07, populationStd: 0.05 };
    expect((await gqlOk<{ upsertPopulationPrior: { variable: string; populationMean: number } }>(server.url, UPSERT_PRIOR, { input: prior }, admin.token)).upsertPopulationPrior).toEqual({
      variable: 'hydrationStatus',
      populationMean: 0.07,
    });
  });

  it("keeps their own data, but cannot change an athlete's session", async () => {
    const own = await startSession(server.url, admin.token);
    expect(own.user.id).toBe(admin.id);
    const before = await sessionRow(mine.active);
    expectError(await gql(server.url, COMPLETE_SESSION, { id: mine.active, input: { sessionQuality: 1 } }, admin.token), 'FORBIDDEN');
    expectError(await gql(server.url, DELETE_SESSION, { id: mine.active }, admin.token), 'FORBIDDEN');
    expect(await sessionRow(mine.active)).toEqual(before);
  });
});

describe('over graphql-ws', () => {
  const MODEL_UPDATED = 'subscription($u: ID) { modelUpdated(userId: $u) { user { id } phase } }';

  /** Resolves with the first event of a subscription (or its first error), publishing `poke` until one arrives. */
  function firstEvent(client: Client, query: string, variables: Record<string, unknown>, poke: () => void): Promise<{ data?: ModelUpdated | null; errors?: readonly GraphQLErrorBody[] }> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setInterval(poke, 100);
      const timeout = setTimeout(() => done(() => reject(new Error('no event within 10 s'))), 10_000);
      const done = (fn: () => void) => {
        if (settled) return;
        settled = true;
        clearInterval(timer);
        clearTimeout(timeout);
        unsubscribe();
        fn();
      };
      const unsubscribe = client.subscribe(
        { query, variables },
        {
          next: (value) => done(() => resolve(value as { data?: ModelUpdated | null; errors?: readonly GraphQLErrorBody[] })),
          error: (err) => done(() => resolve({ errors: (Array.isArray(err) ? err : [err]) as GraphQLErrorBody[] })),
          complete: () => done(() => resolve({})),
        },
      );
    });
  }

  it('without a token a query is UNAUTHENTICATED; with an invalid token the connection is refused (4403; expired: 4440)', async () => {
    const anonymous = wsClient(server.wsUrl);
    try {
      const out = await collect<{ session: SessionRecord | null }>(anonymous, SESSION, { id: mine.active });
      expect((out.errors[0] as GraphQLErrorBody).extensions?.code).toBe('UNAUTHENTICATED');
      expect(out.events.every((e) => e.session === null)).toBe(true);
      const sub = await collect(anonymous, 'subscription { preSessionRecommendation(input: { sleepHours: 7 }) { type } }');
      expect((sub.errors.flat()[0] as GraphQLErrorBody).extensions?.code).toBe('UNAUTHENTICATED');
      expect(sub.events).toEqual([]);
    } finally {
      await anonymous.dispose();
    }
    const key = new TextEncoder().encode(TEST_JWT_SECRET);
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ role: 'admin' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(athlete.id)
      .setIssuedAt(now - 3600)
      .setExpirationTime(now - 60)
      .sign(key);
    const wrongSecret = await new TokenService('another-secret-another-secret-0123456789xx').sign({ sub: athlete.id, role: 'admin' });
    // An expired token closes with 4440 (reconnect with a fresh token), any other invalid one with 4403.
    for (const [bad, code] of [
      ['garbage', 4403],
      [expired, 4440],
      [wrongSecret, 4403],
    ] as const) {
      const client = wsClient(server.wsUrl, bad);
      try {
        const out = await collect(client, SESSION, { id: mine.active });
        expect(out.events).toEqual([]);
        expect((out.errors[0] as { code?: number }).code).toBe(code);
      } finally {
        await client.dispose();
      }
    }
  });

  it("an athlete reads their own session but not another athlete's", async () => {
    const client = wsClient(server.wsUrl, other.token);
    try {
      const own = await collect<{ session: SessionRecord | null }>(client, SESSION, { id: theirs });
      expect(own.errors).toEqual([]);
      expect(own.events[0].session?.id).toBe(theirs);
      const foreign = await collect<{ session: SessionRecord | null }>(client, SESSION, { id: mine.active });
      expect((foreign.errors[0] as GraphQLErrorBody).extensions?.code).toBe('FORBIDDEN');
      expect(foreign.events.every((e) => e.session === null)).toBe(true);
      const update = await collect(client, UPDATE_SESSION, { id: mine.active, input: { sleepHours: 1 } });
      expect((update.errors[0] as GraphQLErrorBody).extensions?.code).toBe('FORBIDDEN');
    } finally {
      await client.dispose();
    }
    expect((await sessionRow(mine.active))?.sleepHours).toBe(7);
  });

  it("modelUpdated: an athlete follows their own model, not another athlete's; an analyst follows anyone's", async () => {
    const poke = () => void server.services.pubsub.publish('modelUpdated', athlete.id, { userId: athlete.id });
    const own = wsClient(server.wsUrl, athlete.token);
    const foreign = wsClient(server.wsUrl, other.token);
    const reader = wsClient(server.wsUrl, analyst.token);
    try {
      const [a, b, c] = await Promise.all([
        firstEvent(own, MODEL_UPDATED, {}, poke),
        firstEvent(foreign, MODEL_UPDATED, { u: athlete.id }, poke),
        firstEvent(reader, MODEL_UPDATED, { u: athlete.id }, poke),
      ]);
      expect(a.errors).toBeUndefined();
      expect(a.data?.modelUpdated.user.id).toBe(athlete.id);
      expect(b.data ?? null).toBeNull();
      expect(b.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
      expect(c.errors).toBeUndefined();
      expect(c.data?.modelUpdated.user.id).toBe(athlete.id);
    } finally {
      await Promise.all([own.dispose(), foreign.dispose(), reader.dispose()]);
    }
  });

  it('an analyst over graphql-ws cannot mutate', async () => {
    const client = wsClient(server.wsUrl, analyst.token);
    try {
      const out = await collect(client, CANCEL_SESSION, { id: mine.active });
      expect((out.errors[0] as GraphQLErrorBody).extensions?.code).toBe('FORBIDDEN');
    } finally {
      await client.dispose();
    }
    expect((await sessionRow(mine.active))?.status).toBe('ACTIVE');
  });
});
