// Ownership: athletes (and coaches) see and change only their own data; analysts read everything and
// change nothing; admins read everything, change their own data, and manage rules, priors and jobs.
import type { Viewer } from '../auth.ts';
import type { Context } from '../context.ts';
import { forbidden, unauthenticated } from '../errors.ts';

export function requireViewer(ctx: Context): Viewer {
  if (!ctx.viewer) throw unauthenticated();
  return ctx.viewer;
}

export const canReadEveryone = (viewer: Viewer): boolean => viewer.role === 'ANALYST' || viewer.role === 'ADMIN';

/** The user whose data a read is about: the viewer by default; someone else only for analysts and admins. */
export function readableUserId(ctx: Context, userId?: string | null): string {
  const viewer = requireViewer(ctx);
  if (!userId || userId === viewer.id) return viewer.id;
  if (!canReadEveryone(viewer)) throw forbidden("You can only read your own data");
  return userId;
}

export function assertCanRead(ctx: Context, ownerId: string): void {
  readableUserId(ctx, ownerId);
}

/** Writes to athlete data: only the owner, and never an analyst. */
export function assertCanWrite(ctx: Context, ownerId: string): Viewer {
  const viewer = requireViewer(ctx);
  if (viewer.role === 'ANALYST') throw forbidden('Analysts have read-only access');
  if (ownerId !== viewer.id) throw forbidden('You can only change your own data');
  return viewer;
}

export function assertAdmin(ctx: Context): Viewer {
  const viewer = requireViewer(ctx);
  if (viewer.role !== 'ADMIN') throw forbidden('Only admins can do this');
  return viewer;
}
