// Keyset pagination for the session lists (Query.sessions, User.sessions). Their cursors hold a session's
// (startedAt, id), the `startedAt_id` unique; Query.sessions' also its sessionQuality, for the QUALITY order. Prisma resolves a cursor by looking its row up again, so once that
// session was deleted the page after it came back empty and the listing ended. This extension places the page
// by the cursor's values alone, for a findMany on sessions and for the sessions nested under a user.
import { Prisma } from '../generated/prisma/client.ts';

type SessionPage = Prisma.ClimbingSessionFindManyArgs;
type Direction = 'asc' | 'desc';

/** The directions of an order by exactly (startedAt, id); null for any other order. */
function keysetDirections(list: readonly Prisma.ClimbingSessionOrderByWithRelationInput[]): [Direction, Direction] | null {
  if (list.length !== 2 || Object.keys(list[0]).length !== 1 || Object.keys(list[1]).length !== 1) return null;
  const [first, second] = [list[0].startedAt, list[1].id];
  return isDirection(first) && isDirection(second) ? [first, second] : null;
}

const isDirection = (d: unknown): d is Direction => d === 'asc' || d === 'desc';

const orderList = (orderBy: SessionPage['orderBy']): Prisma.ClimbingSessionOrderByWithRelationInput[] => (Array.isArray(orderBy) ? orderBy : orderBy ? [orderBy] : []);

/** The direction of an order by sessionQuality (nulls last) then (startedAt, id), all one way; null otherwise. */
function qualityDirection(list: readonly Prisma.ClimbingSessionOrderByWithRelationInput[]): Direction | null {
  if (list.length !== 3 || Object.keys(list[0]).length !== 1) return null;
  const quality = list[0].sessionQuality;
  const sort = typeof quality === 'object' && quality !== null && quality.nulls === 'last' ? quality.sort : null;
  const tail = keysetDirections(list.slice(1));
  return isDirection(sort) && tail && tail[0] === sort && tail[1] === sort ? sort : null;
}

/** The cursor's (startedAt, id), and its sessionQuality where the cursor carries one (Query.sessions' cursors do). */
function cursorKey(cursor: SessionPage['cursor']): { startedAt: Date | string; id: string; quality?: number | null } | null {
  const withQuality = cursor?.sessionQuality_startedAt_id;
  if (withQuality) return { startedAt: withQuality.startedAt, id: withQuality.id, quality: withQuality.sessionQuality as number | null };
  const key = cursor?.startedAt_id;
  return key ? { startedAt: key.startedAt, id: key.id } : null;
}

/** The same page without Prisma's cursor: a where on the cursor's values takes its place. */
export function keysetSessionPage(args: SessionPage): SessionPage {
  const key = cursorKey(args.cursor);
  if (!key) return args;
  const list = orderList(args.orderBy);
  const directions = keysetDirections(list);
  const quality = directions ? null : qualityDirection(list);
  if (!directions && !(quality && key.quality !== undefined)) return args;
  const { cursor: _rowLookup, skip = 0, ...rest } = args;
  // A negative take reads the rows before the cursor; Prisma's cursor row itself is in the page unless skipped.
  const backward = (args.take ?? 0) < 0;
  const beyond = (d: Direction) => ((d === 'desc') !== backward ? 'lt' : 'gt');
  const [startedDirection, idDirection] = directions ?? [quality!, quality!];
  const idBeyond = skip > 0 ? beyond(idDirection) : beyond(idDirection) === 'lt' ? 'lte' : 'gte';
  const tail: Prisma.ClimbingSessionWhereInput = {
    OR: [{ startedAt: { [beyond(startedDirection)]: key.startedAt } }, { startedAt: key.startedAt, id: { [idBeyond]: key.id } }],
  };
  const page = quality ? qualityPage(quality, backward, key.quality ?? null, tail) : tail;
  return { ...rest, skip: Math.max(0, skip - 1), where: rest.where ? { AND: [rest.where, page] } : page };
}

/**
 * The rows past a cursor in the QUALITY order (unrated sessions last, either direction), given `tail`, the rows
 * past it among those of the same rating.
 */
function qualityPage(direction: Direction, backward: boolean, quality: number | null, tail: Prisma.ClimbingSessionWhereInput): Prisma.ClimbingSessionWhereInput {
  const beyond = (direction === 'desc') !== backward ? 'lt' : 'gt';
  if (quality === null) {
    // Forward from an unrated cursor: only unrated rows follow; backward: every rated row comes before it.
    return backward ? { OR: [{ sessionQuality: { not: null } }, { sessionQuality: null, ...tail }] } : { sessionQuality: null, ...tail };
  }
  const further: Prisma.ClimbingSessionWhereInput[] = [{ sessionQuality: { [beyond]: quality } }, { sessionQuality: quality, ...tail }];
  // Forward, the unrated rows follow every rated one.
  return { OR: backward ? further : [...further, { sessionQuality: null }] };
}

/** A user query's nested `sessions` page, in place (the output's shape does not change); returns `args`. */
function keysetNestedSessions<A extends { include?: Prisma.UserInclude | null; select?: Prisma.UserSelect | null }>(args: A): A {
  for (const shape of [args.include, args.select]) {
    if (shape && typeof shape.sessions === 'object') shape.sessions = keysetSessionPage(shape.sessions);
  }
  return args;
}

export const sessionListCursors = Prisma.defineExtension({
  name: 'session-list-cursors',
  query: {
    climbingSession: {
      findMany: ({ args, query }) => query(keysetSessionPage(args)),
    },
    user: {
      findUnique: ({ args, query }) => query(keysetNestedSessions(args)),
      findUniqueOrThrow: ({ args, query }) => query(keysetNestedSessions(args)),
      findFirst: ({ args, query }) => query(keysetNestedSessions(args)),
      findFirstOrThrow: ({ args, query }) => query(keysetNestedSessions(args)),
      findMany: ({ args, query }) => query(keysetNestedSessions(args)),
    },
  },
});
