// The analyst's lists through the real server: one connection type per node type with totalCount, the new
// filters (users by role and phase, sessions by type and quality, training runs, model outputs), ordering
// by quality with cursors that stay correct in both directions, and errors for contradictory filters.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Counted, PageInfo } from '../support/client.ts';
import { expectError, gql, gqlOk } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let statements: string[] = [];
let analyst: { token: string; id: string };
let athlete: { token: string; id: string };

type Row = { id: string; startedAt: Date; sessionQuality: number | null; sessionType: 'VOLUME' | 'PROJECT' | 'TECHNIQUE' | null; status: 'COMPLETED' | 'ACTIVE' };
const rows: Row[] = [];

const SESSIONS = `query($first: Int, $after: String, $userId: ID, $sessionType: SessionType, $qualityMin: Int, $qualityMax: Int, $orderBy: SessionOrder) {
  sessions(first: $first, after: $after, userId: $userId, sessionType: $sessionType, qualityMin: $qualityMin, qualityMax: $qualityMax, orderBy: $orderBy) {
    totalCount
    edges { node { id sessionQuality startedAt } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** What SESSIONS selects. */
interface Sessions {
  sessions: Counted<{ id: string; sessionQuality: number | null; startedAt: string }> & { pageInfo: PageInfo };
}

/** What the introspection below selects of a field: its type's named inner type (and, on Query, that type's fields). */
interface IntrospectedField {
  name: string;
  type: { ofType: { name: string | null; fields?: { name: string; type: { kind: string; ofType: { name: string } | null } }[] | null } | null };
}

async function pageAll(args: Record<string, unknown>, first: number): Promise<{ ids: string[]; totals: number[] }> {
  const ids: string[] = [];
  const totals: number[] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const page: Sessions['sessions'] = (await gqlOk<Sessions>(server.url, SESSIONS, { ...args, first, after }, analyst.token)).sessions;
    ids.push(...page.edges.map((e) => e.node.id));
    totals.push(page.totalCount);
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  return { ids, totals };
}

/** Expected order: quality (unrated last), then startedAt, then id, all in `dir`. */
function byQuality(list: Row[], dir: 'ASC' | 'DESC'): string[] {
  const s = dir === 'ASC' ? 1 : -1;
  return [...list]
    .sort((a, b) => {
      if (a.sessionQuality !== b.sessionQuality) {
        if (a.sessionQuality === null) return 1;
        if (b.sessionQuality === null) return -1;
        return s * (a.sessionQuality - b.sessionQuality);
      }
      if (a.startedAt.getTime() !== b.startedAt.getTime()) return s * (a.startedAt.getTime() - b.startedAt.getTime());
      return s * (a.id < b.id ? -1 : 1);
    })
    .map((r) => r.id);
}

beforeAll(async () => {
  server = await startTestServer({ onQuery: (sql) => statements.push(sql) });
  analyst = await tokenFor('analyst');
  athlete = await tokenFor('athlete');
  await gqlOk(server.url, '{ me { id } }', {}, athlete.token);
  await gqlOk(server.url, '{ me { id } }', {}, analyst.token);
  // 30 sessions: qualities repeat (ties), a few share startedAt (ties within ties), 6 are unrated and ACTIVE.
  const types = ['VOLUME', 'PROJECT', 'TECHNIQUE'] as const;
  for (let i = 0; i < 30; i++) {
    const active = i % 5 === 4;
    rows.push({
      id: randomUUID(),
      startedAt: new Date(Date.UTC(2026, 2, 1 + Math.floor(i / 2))),
      sessionQuality: active ? null : 1 + ((i * 7) % 10),
      sessionType: active ? null : types[i % 3],
      status: active ? 'ACTIVE' : 'COMPLETED',
    });
  }
  await server.db.prisma.climbingSession.createMany({ data: rows.map((r) => ({ ...r, userId: athlete.id, sleepHours: 7 })) });
});
afterAll(async () => {
  await server?.close();
});

describe('one connection type per node, with totalCount', () => {
  it('Query.sessions and User.sessions share ClimbingSessionConnection; every connection has totalCount', async () => {
    const res = await gqlOk<{ q: { fields: IntrospectedField[] }; u: { fields: IntrospectedField[] } }>(
      server.url,
      `{ q: __type(name: "Query") { fields { name type { ofType { name fields { name type { kind ofType { name } } } } } } }
         u: __type(name: "User") { fields { name type { ofType { name } } } } }`,
      {},
      analyst.token,
    );
    const connections = res.q.fields.filter((f) => f.type.ofType?.name?.endsWith('Connection'));
    expect(Object.fromEntries(connections.map((f) => [f.name, f.type.ofType?.name]))).toEqual({
      sessions: 'ClimbingSessionConnection',
      users: 'UserConnection',
      modelOutputs: 'ModelOutputConnection',
      trainingRuns: 'TrainingRunConnection',
    });
    for (const f of connections) {
      expect(f.type.ofType?.fields?.find((x) => x.name === 'totalCount')?.type).toEqual({ kind: 'NON_NULL', ofType: { name: 'Int' } });
    }
    expect(res.u.fields.find((f) => f.name === 'sessions')?.type.ofType?.name).toBe('ClimbingSessionConnection');
  });

  it('totalCount counts every matching row, not the page; the same on User.sessions', async () => {
    const page = (await gqlOk<Sessions>(server.url, SESSIONS, { first: 4, userId: athlete.id }, analyst.token)).sessions;
    expect(page.edges).toHaveLength(4);
    expect(page.totalCount).toBe(30);
    const me = (await gqlOk<{ me: { sessions: Counted<{ id: string }> } }>(server.url, '{ me { sessions(first: 2) { totalCount edges { node { id } } } } }', {}, athlete.token)).me;
    expect(me.sessions.totalCount).toBe(30);
    expect(me.sessions.edges).toHaveLength(2);
    // only the count selected
    expect((await gqlOk<{ sessions: { totalCount: number } }>(server.url, '{ sessions(qualityMin: 8) { totalCount } }', {}, athlete.token)).sessions.totalCount).toBe(
      rows.filter((r) => (r.sessionQuality ?? 0) >= 8).length,
    );
  });
});

describe('session filters and ordering', () => {
  it('filters by sessionType and by a quality range', async () => {
    const project = await pageAll({ userId: athlete.id, sessionType: 'PROJECT' }, 4);
    const expectedProject = rows.filter((r) => r.sessionType === 'PROJECT');
    expect(new Set(project.ids)).toEqual(new Set(expectedProject.map((r) => r.id)));
    expect(project.totals.every((t) => t === expectedProject.length)).toBe(true);

    const mid = await pageAll({ userId: athlete.id, qualityMin: 4, qualityMax: 7 }, 5);
    const expectedMid = rows.filter((r) => r.sessionQuality !== null && r.sessionQuality >= 4 && r.sessionQuality <= 7);
    expect(expectedMid.length).toBeGreaterThan(5);
    expect(new Set(mid.ids)).toEqual(new Set(expectedMid.map((r) => r.id)));
    expect(mid.totals[0]).toBe(expectedMid.length);
  });

  for (const direction of ['ASC', 'DESC'] as const) {
    it(`orders by QUALITY ${direction}: pages of 4 visit every row once, unrated last, ties by startedAt and id`, async () => {
      const { ids } = await pageAll({ userId: athlete.id, orderBy: { field: 'QUALITY', direction } }, 4);
      expect(ids).toEqual(byQuality(rows, direction));
    });
  }

  it('orders by STARTED_AT ASC, and pages with a quality filter and ordering together', async () => {
    const asc = await pageAll({ userId: athlete.id, orderBy: { field: 'STARTED_AT', direction: 'ASC' } }, 7);
    const expected = [...rows].sort((a, b) => a.startedAt.getTime() - b.startedAt.getTime() || (a.id < b.id ? -1 : 1)).map((r) => r.id);
    expect(asc.ids).toEqual(expected);
    const high = await pageAll({ userId: athlete.id, qualityMin: 5, orderBy: { field: 'QUALITY', direction: 'DESC' } }, 3);
    expect(high.ids).toEqual(
      byQuality(
        rows.filter((r) => (r.sessionQuality ?? 0) >= 5),
        'DESC',
      ),
    );
  });

  it('refuses qualityMin above qualityMax, a quality outside 1-10 and from after to, naming the field', async () => {
    expectError(await gql(server.url, SESSIONS, { qualityMin: 8, qualityMax: 3 }, analyst.token), 'BAD_USER_INPUT', 'qualityMin');
    expectError(await gql(server.url, SESSIONS, { qualityMax: 11 }, analyst.token), 'BAD_USER_INPUT', 'qualityMax');
    expectError(await gql(server.url, '{ sessions(from: "2026-02-01T00:00:00Z", to: "2026-01-01T00:00:00Z") { totalCount } }', {}, analyst.token), 'BAD_USER_INPUT', 'from');
  });
});

describe('users, training runs and model outputs', () => {
  it('filters users by role and by model phase (COLD_START includes the never trained)', async () => {
    const learning = await tokenFor('athlete');
    const personalized = await tokenFor('athlete');
    const coldWithModel = await tokenFor('athlete');
    for (const u of [learning, personalized, coldWithModel]) await gqlOk(server.url, '{ me { id } }', {}, u.token);
    const model = (userId: string, phase: 'LEARNING' | 'PERSONALIZED' | 'COLD_START', sessionsIncluded: number) => ({
      userId,
      phase,
      sessionsIncluded,
      coefficients: {},
      credibleIntervals: {},
      covariance: [],
      sufficientStats: {},
      modelVersion: 'test',
    });
    await server.db.prisma.modelOutput.createMany({
      data: [model(learning.id, 'LEARNING', 12), model(personalized.id, 'PERSONALIZED', 40), model(coldWithModel.id, 'COLD_START', 3)],
    });
    const USERS = `query($role: Role, $phase: ModelPhase) { users(role: $role, phase: $phase, first: 100) { totalCount edges { node { id role } } } }`;
    const ids = async (vars: Record<string, unknown>) => {
      const users = (await gqlOk<{ users: Counted<{ id: string; role: string }> }>(server.url, USERS, vars, analyst.token)).users;
      expect(users.totalCount).toBe(users.edges.length);
      return users.edges.map((e) => e.node.id).sort();
    };
    expect(await ids({ phase: 'LEARNING' })).toEqual([learning.id]);
    expect(await ids({ phase: 'PERSONALIZED' })).toEqual([personalized.id]);
    expect(await ids({ phase: 'COLD_START', role: 'ATHLETE' })).toEqual([athlete.id, coldWithModel.id].sort());
    expect(await ids({ role: 'ANALYST' })).toEqual([analyst.id]);

    const OUTPUTS = `query($phase: ModelPhase, $minSessions: Int) { modelOutputs(phase: $phase, minSessions: $minSessions) { totalCount edges { node { user { id } sessionsIncluded } } } }`;
    type Outputs = { modelOutputs: Counted<{ user: { id: string }; sessionsIncluded: number }> };
    const outputs = (await gqlOk<Outputs>(server.url, OUTPUTS, { minSessions: 10 }, analyst.token)).modelOutputs;
    expect(outputs.totalCount).toBe(2);
    expect(outputs.edges.map((e) => e.node.user.id).sort()).toEqual([learning.id, personalized.id].sort());
    expect((await gqlOk<Outputs>(server.url, OUTPUTS, { phase: 'LEARNING', minSessions: 20 }, analyst.token)).modelOutputs.totalCount).toBe(0);
    expectError(await gql(server.url, OUTPUTS, { minSessions: -1 }, analyst.token), 'BAD_USER_INPUT', 'minSessions');
    // an athlete sees only their own model
    expect((await gqlOk<Outputs>(server.url, OUTPUTS, {}, learning.token)).modelOutputs.totalCount).toBe(1);
    expectError(await gql(server.url, USERS, {}, athlete.token), 'FORBIDDEN');
  });

  it('filters training runs by kind, status and period', async () => {
    const at = (d: number) => new Date(Date.UTC(2026, 0, d));
    await server.db.prisma.trainingRun.createMany({
      data: [
        { kind: 'NIGHTLY', status: 'SUCCEEDED', trigger: 'SCHEDULE', startedAt: at(1) },
        { kind: 'NIGHTLY', status: 'FAILED', trigger: 'SCHEDULE', startedAt: at(2) },
        { kind: 'NIGHTLY', status: 'SUCCEEDED', trigger: 'MANUAL', startedAt: at(3) },
        { kind: 'QUICK_UPDATE', status: 'SUCCEEDED', trigger: 'SESSION_COMPLETED', startedAt: at(2), userId: athlete.id },
      ],
    });
    const RUNS = `query($kind: TrainingRunKind, $status: TrainingRunStatus, $from: DateTime, $to: DateTime) {
      trainingRuns(kind: $kind, status: $status, from: $from, to: $to, first: 10) { totalCount edges { node { kind status startedAt } } } }`;
    const runs = async (vars: Record<string, unknown>) =>
      (await gqlOk<{ trainingRuns: Counted<{ kind: string; status: string; startedAt: string }> }>(server.url, RUNS, vars, analyst.token)).trainingRuns;
    const nightlyOk = await runs({ kind: 'NIGHTLY', status: 'SUCCEEDED' });
    expect(nightlyOk.totalCount).toBe(2);
    expect(nightlyOk.edges.map((e) => e.node.startedAt)).toEqual([at(3).toISOString(), at(1).toISOString()]);
    const secondDay = await runs({ from: at(2).toISOString(), to: at(2).toISOString() });
    expect(secondDay.edges.map((e) => e.node.kind).sort()).toEqual(['NIGHTLY', 'QUICK_UPDATE']);
    expect((await runs({ status: 'FAILED' })).totalCount).toBe(1);
    expectError(await gql(server.url, RUNS, { from: at(3).toISOString(), to: at(1).toISOString() }, analyst.token), 'BAD_USER_INPUT', 'from');
  });

  it('a nightly run reports typed stage timings, and its fit typed diagnostics', async () => {
    const admin = await tokenFor('admin');
    const run = (
      await gqlOk<{
        runNightlyTraining: {
          id: string;
          status: string;
          stageTimings: { totalMs: number; trainingDataMs: number; fitMs: number; computeMs: number | null; path: string | null; stages: { stage: string; ms: number }[] };
        };
      }>(server.url, 'mutation { runNightlyTraining(wait: true) { id status stageTimings { totalMs trainingDataMs fitMs computeMs path stages { stage ms } } } }', {}, admin.token)
    ).runNightlyTraining;
    expect(run.status).toBe('SUCCEEDED');
    const timings = run.stageTimings;
    expect(timings.totalMs).toBeTypeOf('number');
    expect(timings.trainingDataMs).toBeTypeOf('number');
    expect(timings.fitMs).toBeTypeOf('number');
    expect(timings).toMatchObject({ computeMs: null, path: null }); // quick-update stages only
    expect(timings.stages.map((s) => s.stage)).toEqual(expect.arrayContaining(['trainingData', 'trainedModel', 'fit', 'populationStatistics']));
    expect(timings.stages.find((s) => s.stage === 'fit')?.ms).toBe(timings.fitMs);
    const model = (
      await gqlOk<{
        populationModel: {
          sessionsIncluded: number;
          diagnostics: {
            iterations: number;
            converged: boolean;
            delta: number;
            elbo: number;
            elboTrace: number[];
            usersWithData: number;
            sessions: number;
            tau2Prior: number;
            elapsedMs: number;
          };
        };
      }>(server.url, '{ populationModel { sessionsIncluded diagnostics { iterations converged delta elbo elboTrace usersWithData sessions tau2Prior elapsedMs } } }', {}, analyst.token)
    ).populationModel;
    expect(model.diagnostics.iterations).toBeGreaterThan(0);
    expect(model.diagnostics.sessions).toBe(model.sessionsIncluded);
    expect(model.diagnostics.elboTrace.length).toBeGreaterThan(0);
    expect(typeof model.diagnostics.converged).toBe('boolean');
  });
});

describe('SQL statements per list page', () => {
  async function countStatements<T>(query: string, variables: Record<string, unknown>) {
    statements = [];
    const data = await gqlOk<T>(server.url, query, variables, analyst.token);
    return { data, count: statements.length, sql: statements.join('\n') };
  }

  it('the same number for 10 or 100 rows: sessions by quality with totalCount and users; users with their sessions count and model', async () => {
    // 120 athletes with two completed sessions each, written in bulk.
    const users = Array.from({ length: 120 }, () => ({ id: randomUUID(), role: 'ATHLETE' as const }));
    await server.db.prisma.user.createMany({ data: users });
    await server.db.prisma.climbingSession.createMany({
      data: users.flatMap((u, i) => [0, 1].map((k) => ({ userId: u.id, status: 'COMPLETED' as const, sessionQuality: 1 + ((i + k) % 10), startedAt: new Date(Date.UTC(2027, 0, 1, k, i)) }))),
    });
    const SESSIONS_PAGE = `query($first: Int!) { sessions(first: $first, qualityMin: 2, orderBy: {field: QUALITY, direction: DESC}) {
      totalCount edges { node { id sessionQuality user { id role } } } pageInfo { hasNextPage endCursor } } }`;
    type SessionsPage = { sessions: Counted<{ id: string; sessionQuality: number; user: { id: string; role: string } }> & { pageInfo: PageInfo } };
    const ten = await countStatements<SessionsPage>(SESSIONS_PAGE, { first: 10 });
    const hundred = await countStatements<SessionsPage>(SESSIONS_PAGE, { first: 100 });
    expect(hundred.data.sessions.edges).toHaveLength(100);
    expect(hundred.data.sessions.totalCount).toBe(ten.data.sessions.totalCount);
    expect(hundred.count, hundred.sql).toBe(ten.count);
    expect(hundred.count).toBeLessThanOrEqual(4);

    const USERS_PAGE = `query($first: Int!) { users(first: $first, role: ATHLETE, phase: COLD_START) {
      totalCount edges { node { id modelOutput { phase } sessions(first: 1) { totalCount edges { node { id } } } } } } }`;
    type UsersPage = { users: Counted<{ id: string; modelOutput: { phase: string } | null; sessions: Counted<{ id: string }> }> };
    const u10 = await countStatements<UsersPage>(USERS_PAGE, { first: 10 });
    const u100 = await countStatements<UsersPage>(USERS_PAGE, { first: 100 });
    expect(u100.data.users.edges).toHaveLength(100);
    expect(u100.data.users.edges.filter((e) => users.some((u) => u.id === e.node.id)).every((e) => e.node.sessions.totalCount === 2)).toBe(true);
    expect(u100.count, u100.sql).toBe(u10.count);
    expect(u100.count).toBeLessThanOrEqual(5);
  });
});
