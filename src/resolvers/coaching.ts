// Coaches and their athletes (docs/api.md "Coaches"): the athlete's invitation (a random code, kept only as its
// hash), the coach's redemption, the link either side ends, the link history, a coach's notes, and the check-ins
// a coach follows live. Who may read what through a link is decided in access.ts.
import { createHash, randomBytes } from 'node:crypto';
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import type { Context } from '../context.ts';
import { AppError, badInput, forbidden } from '../errors.ts';
import type { CoachLink, CoachNote, Prisma, User } from '../generated/prisma/client.ts';
import { endsWithReader, type AppPubSub, type CheckInEvent, type CoachLinkChangedEvent } from '../pubsub.ts';
import { authorizeOwner, authorizeSelf, coaches, requireViewer } from './access.ts';
import type { RecommendationRow } from './recommendation-store.ts';

/** 160 random bits: guessing a live code is hopeless even without the rate limit. */
const CODE_BYTES = 20;
const CODE_PATTERN = /^[A-Za-z0-9_-]{27}$/;
export const INVITATION_HOURS = { default: 72, min: 1, max: 720 } as const;

const hashCode = (code: string) => createHash('sha256').update(code).digest('hex');

/** The one answer for a code that is unknown, expired or used: no hint which. */
const invalidCode = () => new AppError('BAD_USER_INPUT', 'code: this invitation code is not valid (unknown, expired or already used); ask the athlete for a new one', 'code');

export interface CreatedInvitation {
  id: string;
  code: string;
  createdAt: Date;
  expiresAt: Date;
}

/** The athlete invites a coach: the code is answered once, only its hash is stored. */
export async function createCoachInvitation(ctx: Context, expiresInHours: number): Promise<CreatedInvitation> {
  const viewer = requireViewer(ctx);
  await authorizeOwner(ctx, viewer.id, 'write');
  const code = randomBytes(CODE_BYTES).toString('base64url');
  const createdAt = new Date();
  const expiresAt = new Date(createdAt.getTime() + expiresInHours * 3_600_000);
  const invitation = await ctx.services.prisma.$transaction(async (tx) => {
    const created = await tx.coachInvitation.create({ data: { athleteId: viewer.id, codeHash: hashCode(code), createdAt, expiresAt } });
    await tx.coachLinkEvent.create({ data: { kind: 'INVITED', at: createdAt, athleteId: viewer.id, actorId: viewer.id, invitationId: created.id } });
    return created;
  });
  return { id: invitation.id, code, createdAt, expiresAt };
}

/**
 * A coach (or admin) redeems an invitation: the code is used up and the link starts, in one transaction (two
 * coaches racing for one code: one wins, the other gets the same refusal as for a used code).
 */
export async function acceptCoachInvitation(ctx: Context, code: string): Promise<CoachLink> {
  const viewer = requireViewer(ctx);
  if (!coaches(viewer)) throw forbidden('Only a coach (or an admin) can redeem a coach invitation');
  if (!CODE_PATTERN.test(code)) throw invalidCode();
  const codeHash = hashCode(code);
  const link = await ctx.services.prisma.$transaction(async (tx) => {
    const now = new Date();
    const invitation = await tx.coachInvitation.findUnique({ where: { codeHash } });
    if (!invitation || invitation.usedAt || invitation.expiresAt <= now) throw invalidCode();
    if (invitation.athleteId === viewer.id) throw badInput('code', 'code: this is your own invitation; give it to your coach to redeem');
    // The athlete's row serialises redemptions for one athlete: two codes redeemed by one coach at once make one link.
    await tx.$queryRaw`SELECT 1 FROM "users" WHERE "id" = ${invitation.athleteId}::uuid FOR UPDATE`;
    const existing = await tx.coachLink.findFirst({ where: { coachId: viewer.id, athleteId: invitation.athleteId, endedAt: null }, select: { id: true } });
    if (existing) throw new AppError('CONFLICT', 'code: you already coach this athlete (the invitation stays unused)', 'code');
    const used = await tx.coachInvitation.updateMany({ where: { id: invitation.id, usedAt: null, expiresAt: { gt: now } }, data: { usedAt: now, usedById: viewer.id } });
    if (used.count !== 1) throw invalidCode();
    const created = await tx.coachLink.create({ data: { coachId: viewer.id, athleteId: invitation.athleteId, invitationId: invitation.id, since: now } });
    await tx.coachLinkEvent.create({
      data: { kind: 'ACCEPTED', at: now, athleteId: invitation.athleteId, coachId: viewer.id, actorId: viewer.id, linkId: created.id, invitationId: invitation.id },
    });
    return created;
  });
  ctx.services.pubsub.publish('coachLinkChanged', { coachId: link.coachId, athleteId: link.athleteId, active: true });
  return link;
}

/** Either side ends a link, at once: the coach's next request for that athlete is FORBIDDEN. */
export async function endCoachLink(ctx: Context, id: string): Promise<CoachLink> {
  const viewer = requireViewer(ctx);
  if (viewer.role === 'ANALYST') throw forbidden('Analysts have read-only access');
  const { prisma, pubsub } = ctx.services;
  const link = await prisma.coachLink.findUnique({ where: { id } });
  // Someone else's link is answered as if it did not exist.
  if (!link || (link.coachId !== viewer.id && link.athleteId !== viewer.id)) throw new AppError('NOT_FOUND', 'id: no coach link of yours has this id', 'id');
  if (link.endedAt) throw new AppError('CONFLICT', `id: this link already ended at ${link.endedAt.toISOString()}`, 'id');
  const now = new Date();
  const ended = await prisma.$transaction(async (tx) => {
    const updated = await tx.coachLink.updateMany({ where: { id, endedAt: null }, data: { endedAt: now, endedById: viewer.id } });
    if (updated.count !== 1) throw new AppError('CONFLICT', 'id: this link already ended', 'id');
    await tx.coachLinkEvent.create({ data: { kind: 'ENDED', at: now, athleteId: link.athleteId, coachId: link.coachId, actorId: viewer.id, linkId: id } });
    return tx.coachLink.findUniqueOrThrow({ where: { id } });
  });
  pubsub.publish('coachLinkChanged', { coachId: link.coachId, athleteId: link.athleteId, active: false });
  return ended;
}

/** The athlete's active coaches (the athlete themself, analysts and admins). */
export async function activeCoachLinksOf(ctx: Context, athleteId: string): Promise<CoachLink[]> {
  authorizeSelf(ctx, athleteId);
  return ctx.services.prisma.coachLink.findMany({ where: { athleteId, endedAt: null }, orderBy: [{ since: 'asc' }, { id: 'asc' }] });
}

export interface CoachedAthleteEdge {
  cursor: string;
  node: User;
  /** The link this edge stands for. */
  link: CoachLink;
}

/** One page of a coach's active links, oldest first; the cursor is the link id. */
export async function coachedAthletes(ctx: Context, coachId: string, args: { first?: number | null; after?: string | null; last?: number | null; before?: string | null }) {
  authorizeSelf(ctx, coachId);
  const { prisma } = ctx.services;
  const where: Prisma.CoachLinkWhereInput = { coachId, endedAt: null };
  const position = async (cursor: string, field: 'after' | 'before') => {
    const found = CURSOR_PATTERN.test(cursor) ? await prisma.coachLink.findFirst({ where: { id: cursor, coachId }, select: { id: true, since: true } }) : null;
    if (!found) throw badInput(field, `${field} is not a cursor of this list`);
    return found;
  };
  const page = await resolveCursorConnection({ args, toCursor: (link: CoachLink & { athlete: User }) => link.id }, async ({ before, after, limit, inverted }: ResolveCursorConnectionArgs) => {
    const bounds: Prisma.CoachLinkWhereInput[] = [];
    if (after) {
      const c = await position(after, 'after');
      bounds.push({ OR: [{ since: { gt: c.since } }, { since: c.since, id: { gt: c.id } }] });
    }
    if (before) {
      const c = await position(before, 'before');
      bounds.push({ OR: [{ since: { lt: c.since } }, { since: c.since, id: { lt: c.id } }] });
    }
    const direction = inverted ? 'desc' : 'asc';
    return prisma.coachLink.findMany({ where: { ...where, AND: bounds }, include: { athlete: true }, orderBy: [{ since: direction }, { id: direction }], take: limit });
  });
  const edges: CoachedAthleteEdge[] = page.edges.map(({ cursor, node: { athlete, ...link } }) => ({ cursor, node: athlete, link }));
  return { ...page, edges, totalCount: () => prisma.coachLink.count({ where }) };
}

const CURSOR_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The link history of a user (as athlete or as coach), newest first. */
export async function linkEventsOf(ctx: Context, userId: string) {
  authorizeSelf(ctx, userId);
  return ctx.services.prisma.coachLinkEvent.findMany({ where: { OR: [{ athleteId: userId }, { coachId: userId }] }, orderBy: [{ at: 'desc' }, { id: 'desc' }], take: 500 });
}

/** A linked coach's note on an athlete's session: the one write a coach makes to an athlete's data. */
export async function addCoachNote(ctx: Context, sessionId: string, text: string): Promise<CoachNote> {
  const viewer = requireViewer(ctx);
  const { prisma } = ctx.services;
  const session = await prisma.climbingSession.findUnique({ where: { id: sessionId }, select: { userId: true } });
  if (!session) throw new AppError('NOT_FOUND', 'sessionId: session not found', 'sessionId');
  await authorizeOwner(ctx, session.userId, 'coachNote');
  return prisma.coachNote.create({ data: { sessionId, coachId: viewer.id, text } });
}

/** Published as each stored recommendation's DONE leaves (any instance, through the shared pub/sub). */
export function publishCheckIn(pubsub: AppPubSub, r: RecommendationRow): void {
  if (!pubsub.heard('checkIn')) return; // no coach's stream open in this process (and no other instance to tell)
  pubsub.publish('checkIn', {
    athleteId: r.userId,
    recommendationId: r.id,
    sessionType: r.sessionType,
    expectedQuality: r.expectedQuality,
    overrideRule: r.overrideRule,
    at: r.createdAt.toISOString(),
  });
}

/**
 * A coach's live check-ins: every event of the shared `checkIn` topic whose athlete is on the coach's roster.
 * The roster is read when subscribed to and kept current by `coachLinkChanged` (links started or ended on any
 * instance); an event of a rostered athlete is delivered only after the link is confirmed active in the database,
 * so an ended link delivers nothing more even if its change has not arrived yet.
 */
export function teamCheckIns(ctx: Context): AsyncGenerator<CheckInEvent> {
  const viewer = requireViewer(ctx);
  if (!coaches(viewer)) throw forbidden('teamCheckIns is for coaches');
  const { pubsub } = ctx.services;
  const checkIns = pubsub.subscribe('checkIn')[Symbol.asyncIterator]();
  const changes = pubsub.subscribe('coachLinkChanged')[Symbol.asyncIterator]();
  return endsWithReader(teamCheckInEvents(ctx, viewer.id, checkIns, changes), [checkIns, changes]);
}

async function* teamCheckInEvents(ctx: Context, coachId: string, checkIns: AsyncIterator<CheckInEvent>, changes: AsyncIterator<CoachLinkChangedEvent>): AsyncGenerator<CheckInEvent> {
  const { prisma } = ctx.services;
  // Listening starts with the first next(): before the roster is read, so no change falls in between.
  let nextCheckIn = checkIns.next();
  const firstChange = changes.next();
  const roster = new Set<string>();
  const stillLinked = async (athleteId: string) => (await prisma.coachLink.count({ where: { coachId, athleteId, endedAt: null } })) > 0;
  // The roster's changes are followed beside the check-ins (not raced against them: a race would leave a reaction
  // on the pending change for every check-in).
  const following = (async () => {
    for (let change = await firstChange; !change.done; change = await changes.next()) {
      if (change.value.coachId !== coachId) continue;
      if (change.value.active) roster.add(change.value.athleteId);
      else roster.delete(change.value.athleteId);
    }
  })();
  following.catch(() => {});
  try {
    const links = await prisma.coachLink.findMany({ where: { coachId, endedAt: null }, select: { athleteId: true } });
    for (const l of links) roster.add(l.athleteId);
    for (let event = await nextCheckIn; !event.done; event = await nextCheckIn) {
      nextCheckIn = checkIns.next();
      if (roster.has(event.value.athleteId) && (await stillLinked(event.value.athleteId))) yield event.value;
    }
  } finally {
    await Promise.allSettled([checkIns.return?.(), changes.return?.()]);
  }
}
