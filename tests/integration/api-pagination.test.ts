// Cursor pagination through the real server: every row exactly once, newest first (ties on startedAt
// included), the 100-per-page cap, argument errors; and a constant number of SQL statements however many
// sessions (with their users) a page lists.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection, PageInfo } from '../support/client.ts';
import { CANCEL_SESSION, DELETE_SESSION, expectError, gql, gqlOk, mapLimit, startSession } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let statements: string[] = [];
let athlete: { token: string; id: string };
/** The athlete's sessions as created: id and startedAt. */
const created: { id: string; startedAt: string }[] = [];

const PAGE = `query($first: Int, $after: String, $status: SessionStatus, $userId: ID) {
  sessions(first: $first, after: $after, status: $status, userId: $userId) {
    edges { cursor node { id startedAt } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

/** What PAGE selects. */
interface SessionsPage {
  sessions: { edges: { cursor: string; node: { id: string; startedAt: string } }[]; pageInfo: PageInfo };
}

/** Newest first; equal startedAt ordered by id descending (the server's tie-break). */
const newestFirst = (rows: { id: string; startedAt: string }[]) =>
  [...rows].sort((a, b) => (a.startedAt === b.startedAt ? (a.id < b.id ? 1 : -1) : a.startedAt < b.startedAt ? 1 : -1)).map((r) => r.id);

async function pageAll(token: string, first: number, args: Record<string, unknown> = {}) {
  const pages: SessionsPage['sessions'][] = [];
  let after: string | null = null;
  for (let guard = 0; guard < 100; guard++) {
    const page: SessionsPage['sessions'] = (await gqlOk<SessionsPage>(server.url, PAGE, { ...args, first, after }, token)).sessions;
    pages.push(page);
    if (!page.pageInfo.hasNextPage) break;
    after = page.pageInfo.endCursor;
  }
  return { pages, ids: pages.flatMap((p) => p.edges.map((e) => e.node.id)) };
}

async function createSessions(count: number, startAt: number) {
  // Three sessions share each startedAt: ties must still page cleanly.
  const inputs = Array.from({ length: count }, (_, i) => ({ sleepHours: 7, startedAt: new Date(Date.UTC(2026, 0, 1) + (startAt + Math.floor(i / 3)) * 3_600_000).toISOString() }));
  const sessions = await mapLimit(inputs, 4, (input) => startSession(server.url, athlete.token, input));
  created.push(...sessions.map((s) => ({ id: s.id, startedAt: s.startedAt })));
}

beforeAll(async () => {
  server = await startTestServer({ onQuery: (sql) => statements.push(sql) });
  athlete = await tokenFor('athlete');
  await createSessions(45, 0);
});
afterAll(async () => {
  await server?.close();
});

describe('sessions pagination', () => {
  it('pages of 10 cover 45 sessions exactly once, newest first, with ties on startedAt', async () => {
    expect(new Set(created.map((c) => c.startedAt)).size).toBe(15);
    const { pages, ids } = await pageAll(athlete.token, 10);
    expect(pages.map((p) => p.edges.length)).toEqual([10, 10, 10, 10, 5]);
    expect(pages.map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, true, true, false]);
    expect(pages.map((p) => p.pageInfo.hasPreviousPage)).toEqual([false, true, true, true, true]);
    expect(new Set(ids).size).toBe(45);
    expect(ids).toEqual(newestFirst(created));
    for (const p of pages) {
      expect(p.pageInfo.startCursor).toBe(p.edges[0].cursor);
      expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)?.cursor);
    }
  });

  it('page sizes that split tie groups (7) and a default page (20) cover the same rows in the same order', async () => {
    expect((await pageAll(athlete.token, 7)).ids).toEqual(newestFirst(created));
    const firstPage = (
      await gqlOk<{ sessions: Connection<{ id: string }> & { pageInfo: { hasNextPage: boolean } } }>(server.url, '{ sessions { edges { node { id } } pageInfo { hasNextPage } } }', {}, athlete.token)
    ).sessions;
    expect(firstPage.edges.map((e) => e.node.id)).toEqual(newestFirst(created).slice(0, 20));
    expect(firstPage.pageInfo.hasNextPage).toBe(true);
  });

  it('a filtered listing pages through only the matching rows', async () => {
    const cancelled = newestFirst(created).filter((_, i) => i % 4 === 1); // 11 sessions spread over the list
    for (const id of cancelled) await gqlOk(server.url, CANCEL_SESSION, { id }, athlete.token);
    const { pages, ids } = await pageAll(athlete.token, 5, { status: 'CANCELLED' });
    expect(pages.map((p) => p.edges.length)).toEqual([5, 5, 1]);
    expect(ids).toEqual(cancelled);
    const active = (await pageAll(athlete.token, 10, { status: 'ACTIVE' })).ids;
    expect(active).toEqual(newestFirst(created).filter((id) => !cancelled.includes(id)));
  });

  it('another athlete sees none of these rows; an analyst pages through them by userId', async () => {
    const other = await tokenFor('athlete');
    expect((await pageAll(other.token, 10)).ids).toEqual([]);
    const analyst = await tokenFor('analyst');
    expect((await pageAll(analyst.token, 10, { userId: athlete.id })).ids).toEqual(newestFirst(created));
  });

  it('caps a page at 100 rows: first: 101 returns 100 and the rest on the next page', async () => {
    await createSessions(60, 100); // 105 in all
    expect(created).toHaveLength(105);
    const expected = newestFirst(created);
    const big = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 101 }, athlete.token)).sessions;
    expect(big.edges).toHaveLength(100);
    expect(big.pageInfo.hasNextPage).toBe(true);
    const rest = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 101, after: big.pageInfo.endCursor }, athlete.token)).sessions;
    expect(rest.edges).toHaveLength(5);
    expect(rest.pageInfo.hasNextPage).toBe(false);
    expect([...big.edges, ...rest.edges].map((e) => e.node.id)).toEqual(expected);
    const huge = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 10_000 }, athlete.token)).sessions;
    expect(huge.edges).toHaveLength(100);
    const exact = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 100 }, athlete.token)).sessions;
    expect(exact.edges.map((e) => e.node.id)).toEqual(expected.slice(0, 100));
    expect(exact.pageInfo.hasNextPage).toBe(true);
  });

  it('refuses a negative page size and a malformed cursor as BAD_USER_INPUT', async () => {
    expect(expectError(await gql(server.url, PAGE, { first: -1 }, athlete.token), 'BAD_USER_INPUT', 'first').message).toMatch(/first/);
    expectError(await gql(server.url, PAGE, { first: 10, after: 'not-a-cursor' }, athlete.token), 'BAD_USER_INPUT', 'after');
    const zero = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 0 }, athlete.token)).sessions;
    expect(zero.edges).toEqual([]);
  });
});

describe('a cursor whose session was deleted', () => {
  const BACKWARD = `query($last: Int, $before: String) {
    sessions(last: $last, before: $before) { edges { node { id } } pageInfo { hasNextPage hasPreviousPage } }
  }`;
  const MY_PAGE = `query($first: Int, $after: String) {
    me { sessions(first: $first, after: $after) { edges { node { id } } pageInfo { hasNextPage endCursor } } }
  }`;

  type MyPage = { me: { sessions: Connection<{ id: string }> & { pageInfo: { hasNextPage: boolean; endCursor: string | null } } } };

  /** A fresh athlete with 12 sessions, two to each startedAt (ties), newest first. */
  async function twelveSessions() {
    const owner = await tokenFor('athlete');
    const rows: { id: string; startedAt: string }[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await startSession(server.url, owner.token, { sleepHours: 7, startedAt: new Date(Date.UTC(2026, 5, 1) + Math.floor(i / 2) * 3_600_000).toISOString() });
      rows.push({ id: s.id, startedAt: s.startedAt });
    }
    return { owner, order: newestFirst(rows) };
  }
  const remove = (token: string, id: string) => gqlOk(server.url, DELETE_SESSION, { id }, token);

  it('sessions(after): the next page still starts right after the deleted row, and the listing goes on to the end', async () => {
    const { owner, order } = await twelveSessions();
    const first = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 5 }, owner.token)).sessions;
    expect(first.edges.map((e) => e.node.id)).toEqual(order.slice(0, 5));
    // The cursor's own row and the one before it go; the cursor shares its startedAt with the next row.
    await remove(owner.token, order[4]);
    await remove(owner.token, order[3]);
    const next = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 5, after: first.pageInfo.endCursor }, owner.token)).sessions;
    expect(next.edges.map((e) => e.node.id)).toEqual(order.slice(5, 10));
    expect(next.pageInfo.hasNextPage).toBe(true);
    const last = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 5, after: next.pageInfo.endCursor }, owner.token)).sessions;
    expect(last.edges.map((e) => e.node.id)).toEqual(order.slice(10));
    expect(last.pageInfo.hasNextPage).toBe(false);
  });

  it('sessions(before): the rows before a deleted cursor', async () => {
    const { owner, order } = await twelveSessions();
    const page = (await gqlOk<SessionsPage>(server.url, PAGE, { first: 8 }, owner.token)).sessions;
    const cursorOf7th = page.edges[7].cursor;
    await remove(owner.token, order[7]);
    const back = (
      await gqlOk<{ sessions: Connection<{ id: string }> & { pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean } } }>(server.url, BACKWARD, { last: 3, before: cursorOf7th }, owner.token)
    ).sessions;
    expect(back.edges.map((e) => e.node.id)).toEqual(order.slice(4, 7));
    expect(back.pageInfo).toEqual({ hasNextPage: true, hasPreviousPage: true });
  });

  describe('in the QUALITY order', () => {
    const BY_QUALITY = `query($first: Int, $after: String, $last: Int, $before: String, $direction: OrderDirection!) {
      sessions(first: $first, after: $after, last: $last, before: $before, orderBy: { field: QUALITY, direction: $direction }) {
        edges { cursor node { id sessionQuality } } pageInfo { hasNextPage hasPreviousPage endCursor }
      }
    }`;
    /** Twelve sessions rated 9, 7, 5 or not at all (ties in rating and in startedAt), in the QUALITY order. */
    async function rated(direction: 'ASC' | 'DESC') {
      const { owner, order } = await twelveSessions();
      const ratings = [7, null, 5, 9, 7, 5, null, 7, 9, 5, 7, null];
      await mapLimit(order, 4, (id, i) => server.db.prisma.climbingSession.update({ where: { id }, data: { sessionQuality: ratings[i] } }));
      // order is newest first (startedAt, id descending): a stable sort by rating keeps that within a rating.
      const byRating = order.map((id, i) => ({ id, q: ratings[i] }));
      const sorted = direction === 'DESC' ? byRating : [...byRating].reverse();
      sorted.sort((a, b) => (a.q === null ? (b.q === null ? 0 : 1) : b.q === null ? -1 : direction === 'DESC' ? b.q - a.q : a.q - b.q));
      return { owner, expected: sorted.map((r) => r.id) };
    }
    const list = async (token: string, variables: Record<string, unknown>) => {
      const page = (
        await gqlOk<{ sessions: { edges: { cursor: string; node: { id: string } }[]; pageInfo: { hasNextPage: boolean; hasPreviousPage: boolean; endCursor: string } } }>(
          server.url,
          BY_QUALITY,
          variables,
          token,
        )
      ).sessions;
      return { ids: page.edges.map((e) => e.node.id), cursors: page.edges.map((e) => e.cursor), pageInfo: page.pageInfo };
    };

    it.each(['DESC', 'ASC'] as const)('%s: pages go on past a deleted cursor, rated or unrated, to the end', async (direction) => {
      const { owner, expected } = await rated(direction);
      const first = await list(owner.token, { first: 4, direction });
      expect(first.ids).toEqual(expected.slice(0, 4));
      await remove(owner.token, expected[3]);
      await remove(owner.token, expected[2]);
      const second = await list(owner.token, { first: 4, after: first.pageInfo.endCursor, direction });
      expect(second.ids).toEqual(expected.slice(4, 8));
      expect(second.pageInfo.hasNextPage).toBe(true);
      // The last page crosses into the unrated sessions; its cursor row (unrated) goes too.
      const third = await list(owner.token, { first: 2, after: second.pageInfo.endCursor, direction });
      expect(third.ids).toEqual(expected.slice(8, 10));
      await remove(owner.token, expected[9]);
      const rest = await list(owner.token, { first: 4, after: third.pageInfo.endCursor, direction });
      expect(rest.ids).toEqual(expected.slice(10));
      expect(rest.pageInfo.hasNextPage).toBe(false);
    });

    it('last/before: the rows before a deleted cursor', async () => {
      const { owner, expected } = await rated('DESC');
      const page = await list(owner.token, { first: 11, direction: 'DESC' });
      await remove(owner.token, expected[7]);
      await remove(owner.token, expected[10]);
      expect((await list(owner.token, { last: 3, before: page.cursors[7], direction: 'DESC' })).ids).toEqual(expected.slice(4, 7));
      // Before an unrated cursor: the rated rows come before every unrated one.
      expect((await list(owner.token, { last: 3, before: page.cursors[10], direction: 'DESC' })).ids).toEqual([expected[6], expected[8], expected[9]]);
    });
  });

  it('me.sessions(after) pages on past a deleted cursor too', async () => {
    const { owner, order } = await twelveSessions();
    const first = (await gqlOk<MyPage>(server.url, MY_PAGE, { first: 4 }, owner.token)).me.sessions;
    expect(first.edges.map((e) => e.node.id)).toEqual(order.slice(0, 4));
    await remove(owner.token, order[3]);
    const next = (await gqlOk<MyPage>(server.url, MY_PAGE, { first: 4, after: first.pageInfo.endCursor }, owner.token)).me.sessions;
    expect(next.edges.map((e) => e.node.id)).toEqual(order.slice(4, 8));
    expect(next.pageInfo.hasNextPage).toBe(true);
  });
});

describe('SQL statements per page', () => {
  const LIST = `query($first: Int!, $from: DateTime) { sessions(first: $first, from: $from) { edges { node { id startedAt user { id role } } } } }`;

  async function countStatements<T>(token: string, query: string, variables: Record<string, unknown>) {
    statements = [];
    const data = await gqlOk<T>(server.url, query, variables, token);
    const count = statements.length;
    return { data, count, sql: [...statements] };
  }

  it('listing 10 or 100 sessions with their users (100 different users) takes the same small number of statements', async () => {
    // 100 athletes with one session each, after everything else: written directly, as a bulk import would.
    const users = Array.from({ length: 100 }, () => ({ id: randomUUID(), role: 'ATHLETE' as const }));
    await server.db.prisma.user.createMany({ data: users });
    await server.db.prisma.climbingSession.createMany({
      data: users.map((u, i) => ({ userId: u.id, status: 'ACTIVE' as const, startedAt: new Date(Date.UTC(2030, 0, 1, 0, i)), sleepHours: 7 })),
    });
    const analyst = await tokenFor('analyst');
    await gqlOk(server.url, '{ me { id } }', {}, analyst.token); // the viewer's first request creates its user row
    const from = '2030-01-01T00:00:00.000Z';

    type List = { sessions: Connection<{ id: string; startedAt: string; user: { id: string; role: string } }> };
    const ten = await countStatements<List>(analyst.token, LIST, { first: 10, from });
    const hundred = await countStatements<List>(analyst.token, LIST, { first: 100, from });
    expect(ten.data.sessions.edges).toHaveLength(10);
    expect(hundred.data.sessions.edges).toHaveLength(100);
    expect(new Set(hundred.data.sessions.edges.map((e) => e.node.user.id)).size).toBe(100);
    expect(hundred.data.sessions.edges.every((e) => e.node.user.role === 'ATHLETE')).toBe(true);
    expect(hundred.count, hundred.sql.join('\n')).toBe(ten.count);
    expect(hundred.count).toBeGreaterThan(0);
    expect(hundred.count).toBeLessThanOrEqual(3);
  });

  it('listing users with their baseline, model and latest sessions is constant too', async () => {
    const analyst = await tokenFor('analyst');
    await gqlOk(server.url, '{ me { id } }', {}, analyst.token);
    const query = `query($first: Int!) { users(first: $first) { edges { node { id currentBaseline { id } modelOutput { phase } sessions(first: 2) { edges { node { id } } } } } } }`;
    type Users = {
      users: Connection<{ id: string; currentBaseline: { id: string } | null; modelOutput: { phase: string } | null; sessions: Connection<{ id: string }> }>;
    };
    const ten = await countStatements<Users>(analyst.token, query, { first: 10 });
    const hundred = await countStatements<Users>(analyst.token, query, { first: 100 });
    expect(hundred.data.users.edges).toHaveLength(100);
    expect(hundred.count, hundred.sql.join('\n')).toBe(ten.count);
    expect(hundred.count).toBeLessThanOrEqual(5);
  });
});
