// Keyset pagination for the session lists (Query.sessions, User.sessions). Their cursors hold a session's
// (startedAt, id), the `startedAt_id` unique. Prisma resolves a cursor by looking its row up again, so once that
// session was deleted the page after it came back empty and the listing ended. This extension places the page
// by the cursor's values alone, for a findMany on sessions and for the sessions nested under a user.
import { Prisma } from '../generated/prisma/client.ts';

type SessionPage = Prisma.ClimbingSessionFindManyArgs;
type Direction = 'asc' | 'desc';

/** The directions of an order by exactly (startedAt, id); null for any other order (left to Prisma's cursor). */
function keysetDirections(orderBy: SessionPage['orderBy']): [Direction, Direction] | null {
  const list = Array.isArray(orderBy) ? orderBy : orderBy ? [orderBy] : [];
  if (list.length !== 2 || Object.keys(list[0]).length !== 1 || Object.keys(list[1]).length !== 1) return null;
  const [first, second] = [list[0].startedAt, list[1].id];
  const isDirection = (d: unknown): d is Direction => d === 'asc' || d === 'desc';
  return isDirection(first) && isDirection(second) ? [first, second] : null;
}

/** The same page without Prisma's cursor: a where on the cursor's (startedAt, id) takes its place. */
export function keysetSessionPage(args: SessionPage): SessionPage {
  const key = args.cursor?.startedAt_id;
  const directions = key ? keysetDirections(args.orderBy) : null;
  if (!key || !directions) return args;
  const { cursor: _rowLookup, skip = 0, ...rest } = args;
  // A negative take reads the rows before the cursor; Prisma's cursor row itself is in the page unless skipped.
  const backward = (args.take ?? 0) < 0;
  const beyond = (d: Direction) => ((d === 'desc') !== backward ? 'lt' : 'gt');
  const idBeyond = skip > 0 ? beyond(directions[1]) : beyond(directions[1]) === 'lt' ? 'lte' : 'gte';
  const page: Prisma.ClimbingSessionWhereInput = {
    OR: [{ startedAt: { [beyond(directions[0])]: key.startedAt } }, { startedAt: key.startedAt, id: { [idBeyond]: key.id } }],
  };
  return { ...rest, skip: Math.max(0, skip - 1), where: rest.where ? { AND: [rest.where, page] } : page };
}

/** A user query's nested `sessions` page, in place (the output's shape does not change). */
function keysetNestedSessions(args: { include?: Prisma.UserInclude | null; select?: Prisma.UserSelect | null }): void {
  for (const shape of [args.include, args.select]) {
    if (shape && typeof shape.sessions === 'object') shape.sessions = keysetSessionPage(shape.sessions);
  }
}

export const sessionListCursors = Prisma.defineExtension({
  name: 'session-list-cursors',
  query: {
    climbingSession: {
      findMany: ({ args, query }) => query(keysetSessionPage(args)),
    },
    user: {
      findUnique: ({ args, query }) => (keysetNestedSessions(args), query(args)),
      findUniqueOrThrow: ({ args, query }) => (keysetNestedSessions(args), query(args)),
      findFirst: ({ args, query }) => (keysetNestedSessions(args), query(args)),
      findFirstOrThrow: ({ args, query }) => (keysetNestedSessions(args), query(args)),
      findMany: ({ args, query }) => (keysetNestedSessions(args), query(args)),
    },
  },
});
