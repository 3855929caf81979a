// Who may read and change whose data, decided here only. Athletes see and change only their own data; a coach
// also reads the data of the athletes who linked them (an active CoachLink, checked in the database on every
// request, so ending a link takes effect at once) and may add a note to their sessions, nothing more; analysts
// read everything and change nothing; admins read everything, change their own data, and manage rules, priors and
// jobs. Field gates (signed in, analysts and admins, admins, coaches) are the Pothos authScopes of
// src/schema/builder.ts, computed from the role predicates below; whose rows a request touches is `authorizeOwner`.
import type { Viewer } from '../auth.ts';
import type { Context } from '../context.ts';
import { forbidden, unauthenticated } from '../errors.ts';

/** Analysts and admins read every athlete's data. */
export const readsEveryone = (viewer: Viewer | null): boolean => viewer?.role === 'ANALYST' || viewer?.role === 'ADMIN';

export const isAdmin = (viewer: Viewer | null): boolean => viewer?.role === 'ADMIN';

/** Coaches (and admins) redeem invitations and follow their team's check-ins. */
export const coaches = (viewer: Viewer | null): boolean => viewer?.role === 'COACH' || viewer?.role === 'ADMIN';

export function requireViewer(ctx: Context): Viewer {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer;
}

/**
 * Is the viewer a coach of `athleteId` through an active link? Asked of the database (batched per request), never
 * cached across requests: a link ended a moment ago refuses the very next request.
 */
async function coachesAthlete(ctx: Context, viewer: Viewer, athleteId: string): Promise<boolean> {
  return viewer.role === 'COACH' && (await ctx.loaders.coachedAthlete.load({ coachId: viewer.id, athleteId }));
}

/**
 * The ownership rule: may the viewer read (own data; a linked coach: their athletes'; analysts and admins:
 * anyone's), change (own data only, never as an analyst) or annotate as a coach (`coachNote`: a linked coach only)
 * the data of `ownerId`? FORBIDDEN otherwise; returns the viewer.
 */
export async function authorizeOwner(ctx: Context, ownerId: string, access: 'read' | 'write' | 'coachNote'): Promise<Viewer> {
  const viewer = requireViewer(ctx);
  if (access === 'write') {
    if (viewer.role === 'ANALYST') throw forbidden('Analysts have read-only access');
    if (ownerId !== viewer.id) throw forbidden('You can only change your own data');
  } else if (access === 'coachNote') {
    if (!(await coachesAthlete(ctx, viewer, ownerId))) throw forbidden('Only a coach linked to this athlete can add a note to their sessions');
  } else if (ownerId !== viewer.id && !readsEveryone(viewer) && !(await coachesAthlete(ctx, viewer, ownerId))) {
    throw forbidden('You can only read your own data, or that of athletes who linked you as their coach');
  }
  return viewer;
}

/** The user a read of one user's data is about: `userId` when the viewer may read it, by default the viewer. */
export async function readableUserId(ctx: Context, userId?: string | null): Promise<string> {
  if (!userId) return requireViewer(ctx).id;
  await authorizeOwner(ctx, userId, 'read');
  return userId;
}

/**
 * The owner filter of a list: `userId` when the viewer may read it; without one, everyone (undefined) for
 * analysts and admins, the viewer for everyone else.
 */
export async function readableOwnerFilter(ctx: Context, userId?: string | null): Promise<string | undefined> {
  if (userId) return readableUserId(ctx, userId);
  return viewerOwnerFilter(ctx);
}

/** The owner filter of a list without a userId argument: everyone for analysts and admins, else the viewer. */
export function viewerOwnerFilter(ctx: Context): string | undefined {
  const viewer = requireViewer(ctx);
  return readsEveryone(viewer) ? undefined : viewer.id;
}

/** Only the user themself (and analysts and admins) see whom they coach or are coached by, and the link history. */
export function authorizeSelf(ctx: Context, userId: string): Viewer {
  const viewer = requireViewer(ctx);
  if (viewer.id !== userId && !readsEveryone(viewer)) throw forbidden('Only the user themself sees their coaches, athletes and link history');
  return viewer;
}

/**
 * The user a long-lived stream (modelUpdated) is about: yourself, or anyone for analysts and admins. Not a
 * coach's athlete: a stream is checked once, when subscribed to, and would outlive the link (teamCheckIns is the
 * coach's stream, and checks the link on every event).
 */
export function streamableUserId(ctx: Context, userId?: string | null): string {
  const viewer = requireViewer(ctx);
  if (!userId || userId === viewer.id) return viewer.id;
  if (!readsEveryone(viewer)) throw forbidden("You can only follow your own model (analysts and admins: anyone's)");
  return userId;
}

/** Whether the viewer may read `ownerId`'s data (the read rule of authorizeOwner, as a yes or no). */
export async function mayRead(ctx: Context, ownerId: string): Promise<boolean> {
  const viewer = ctx.viewer;
  if (!viewer) return false;
  return ownerId === viewer.id || readsEveryone(viewer) || (await coachesAthlete(ctx, viewer, ownerId));
}
