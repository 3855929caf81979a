import { z } from 'zod';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs: a malformed one is bad input, not a database error. */
export const uuid = z
  .string()
  .regex(UUID, { error: 'must be a UUID' })
  .transform((s) => s.toLowerCase());
