// The closed sets the engine shares with the database. Their one source is prisma/schema.prisma: `prisma generate`
// writes them as plain constants (no client, no I/O), so importing them keeps the engine pure. Lists keep the
// schema's order, which error messages and the intensity ranking follow.
import * as Db from '../generated/prisma/enums.ts';

export type SessionType = Db.SessionType;
export const SESSION_TYPES: readonly SessionType[] = Object.values(Db.SessionType);

export type Intensity = Db.Intensity;
export const INTENSITIES: readonly Intensity[] = Object.values(Db.Intensity);

export type TimeOfDay = Db.TimeOfDay;
export const TIMES_OF_DAY: readonly TimeOfDay[] = Object.values(Db.TimeOfDay);

export type Sex = Db.Sex;
export const SEXES: readonly Sex[] = Object.values(Db.Sex);

export type Discipline = Db.Discipline;
export const DISCIPLINES: readonly Discipline[] = Object.values(Db.Discipline);

export type RuleCategory = Db.RuleCategory;
export const RULE_CATEGORIES: readonly RuleCategory[] = Object.values(Db.RuleCategory);

export type ModelPhase = Db.ModelPhase;
