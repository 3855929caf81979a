// Who may read and change whose data, decided here only. Athletes (and coaches) see and change only their own
// data; analysts read everything and change nothing; admins read everything, change their own data, and manage
// rules, priors and jobs. Field gates (signed in, analysts and admins, admins) are the Pothos authScopes of
// src/schema/builder.ts, computed from the role predicates below; whose rows a request touches is `authorizeOwner`.
import type { Viewer } from '../auth.ts';
import type { Context } from '../context.ts';
import { forbidden, unauthenticated } from '../errors.ts';

/** Analysts and admins read every athlete's data. */
export const readsEveryone = (viewer: Viewer | null): boolean => viewer?.role === 'ANALYST' || viewer?.role === 'ADMIN';

export const isAdmin = (viewer: Viewer | null): boolean => viewer?.role === 'ADMIN';

export function requireViewer(ctx: Context): Viewer {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer;
}

/**
 * The ownership rule: may the viewer read (own data, or anyone's for analysts and admins) or change (own data
 * only, never as an analyst) the data of `ownerId`? FORBIDDEN otherwise; returns the viewer.
 */
export function authorizeOwner(ctx: Context, ownerId: string, access: 'read' | 'write'): Viewer {
  const viewer = requireViewer(ctx);
  if (access === 'write') {
    if (viewer.role === 'ANALYST') throw forbidden('Analysts have read-only access');
    if (ownerId !== viewer.id) throw forbidden('You can only change your own data');
  } else if (ownerId !== viewer.id && !readsEveryone(viewer)) {
    throw forbidden('You can only read your own data');
  }
  return viewer;
}

/** The user a read of one user's data is about: `userId` when the viewer may read it, by default the viewer. */
export function readableUserId(ctx: Context, userId?: string | null): string {
  if (!userId) return requireViewer(ctx).id;
  authorizeOwner(ctx, userId, 'read');
  return userId;
}

/**
 * The owner filter of a list: `userId` when the viewer may read it; without one, everyone (undefined) for
 * analysts and admins, the viewer for everyone else.
 */
export function readableOwnerFilter(ctx: Context, userId?: string | null): string | undefined {
  if (userId) return readableUserId(ctx, userId);
  const viewer = requireViewer(ctx);
  return readsEveryone(viewer) ? undefined : viewer.id;
}
