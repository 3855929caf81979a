// Filter pieces shared by the list fields and the aggregates.
import { badInput } from '../errors.ts';

/** BAD_USER_INPUT (field from) for a reversed `from`..`to` period. */
export function checkPeriod(from?: Date | null, to?: Date | null): void {
  if (from && to && from > to) throw badInput('from', 'from must not be after to');
}

/** A `from`..`to` period (either end open) as a Prisma date filter; BAD_USER_INPUT (field from) if reversed. */
export function period(from?: Date | null, to?: Date | null): { gte?: Date; lte?: Date } | undefined {
  checkPeriod(from, to);
  return from || to ? { gte: from ?? undefined, lte: to ?? undefined } : undefined;
}
