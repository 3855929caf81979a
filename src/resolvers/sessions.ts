// Session lifecycle: ACTIVE (check-in + plan) -> COMPLETED (outcome) | CANCELLED. Ownership checked here.
import { setTimeout as delay } from 'node:timers/promises';
import { validate, version } from 'uuid';
import type { Context } from '../context.ts';
import { AppError, badInput, conflict, notFound } from '../errors.ts';
import { Prisma } from '../generated/prisma/client.ts';
import type { CheckIn, Niggle } from '../engine/variables.ts';
import { period } from './filters.ts';
import { authorizeOwner, readableOwnerFilter, requireViewer } from './access.ts';
import { recommend } from './recommendation.ts';

type Query = { include?: Prisma.ClimbingSessionInclude; select?: Prisma.ClimbingSessionSelect };

export interface StartSessionInput extends CheckIn {
  /** The stored recommendation the athlete is acting on (stream DONE or the `recommendation` query). */
  recommendationId?: string | null;
  startedAt?: Date | null;
  location?: string | null;
  isOutdoor?: boolean | null;
  plannedDurationMin?: number | null;
  preSessionData?: unknown;
}

export interface OutcomeInput {
  sessionQuality?: number | null;
  sessionRpe?: number | null;
  satisfaction?: number | null;
  energyPost?: number | null;
  highestGradeSent?: string | null;
  totalClimbs?: number | null;
  notes?: string | null;
  newNiggles?: Niggle[] | null;
  deviatedFromPlan?: boolean | null;
  deviationReason?: string | null;
  actualSessionType?: CheckIn['plannedSessionType'];
  actualIntensity?: CheckIn['plannedIntensity'];
  actualCaffeineMg?: number | null;
  actualWarmupMin?: number | null;
  actualDurationMin?: number | null;
  recommendationFollowed?: boolean | null;
  endedAt?: Date | null;
  postSessionData?: unknown;
}

export type UpdateSessionInput = StartSessionInput & OutcomeInput;

const OUTCOME_KEYS = [
  'sessionQuality',
  'sessionRpe',
  'satisfaction',
  'energyPost',
  'highestGradeSent',
  'totalClimbs',
  'notes',
  'newNiggles',
  'deviatedFromPlan',
  'deviationReason',
  'actualSessionType',
  'actualIntensity',
  'actualCaffeineMg',
  'actualWarmupMin',
  'actualDurationMin',
  'recommendationFollowed',
  'endedAt',
  'postSessionData',
] as const satisfies readonly (keyof OutcomeInput)[];

const json = (value: unknown) => (value === null || value === undefined ? undefined : (value as Prisma.InputJsonValue));

/** Check-in + plan columns from an input (absent stays absent; explicit null clears on update). */
function checkInData(input: StartSessionInput): Prisma.ClimbingSessionUncheckedUpdateInput {
  const { preSessionData, currentNiggles, startedAt: _startedAt, ...rest } = input;
  const data: Prisma.ClimbingSessionUncheckedUpdateInput = { ...rest };
  if (currentNiggles !== undefined) data.currentNiggles = currentNiggles === null ? Prisma.DbNull : (currentNiggles as unknown as Prisma.InputJsonValue);
  if (preSessionData !== undefined) data.preSessionData = preSessionData === null ? Prisma.DbNull : json(preSessionData);
  // The plan mirrors what the athlete intends before climbing (the check-in's caffeine and warm-up).
  if (input.caffeineMg !== undefined) data.plannedCaffeineMg = input.caffeineMg;
  if (input.warmupMin !== undefined) data.plannedWarmupMin = input.warmupMin;
  return data;
}

/** Outcome columns from an input. The one place sessionType is derived: it mirrors actualSessionType. */
function outcomeData(input: OutcomeInput): Prisma.ClimbingSessionUncheckedUpdateInput {
  const { newNiggles, postSessionData, deviatedFromPlan, ...rest } = input;
  const data: Prisma.ClimbingSessionUncheckedUpdateInput = { ...rest };
  if (input.actualSessionType !== undefined) data.sessionType = input.actualSessionType;
  if (deviatedFromPlan !== undefined && deviatedFromPlan !== null) data.deviatedFromPlan = deviatedFromPlan;
  if (newNiggles !== undefined) data.newNiggles = newNiggles === null ? Prisma.DbNull : (newNiggles as unknown as Prisma.InputJsonValue);
  if (postSessionData !== undefined) data.postSessionData = postSessionData === null ? Prisma.DbNull : json(postSessionData);
  return data;
}

/** Loads a session for a write by its owner; NOT_FOUND / FORBIDDEN otherwise. */
async function ownedSession(ctx: Context, id: string) {
  const session = await ctx.services.prisma.climbingSession.findUnique({ where: { id }, select: { id: true, userId: true, status: true, startedAt: true, endedAt: true } });
  if (!session) throw notFound('Session');
  await authorizeOwner(ctx, session.userId, 'write');
  return session;
}

/** An end before the start is refused, naming the field being changed (the end when both are). */
function checkTimes(startedAt: Date, endedAt: Date | null | undefined, field: 'startedAt' | 'endedAt' = 'endedAt'): void {
  if (!endedAt || endedAt.getTime() >= startedAt.getTime()) return;
  throw field === 'endedAt' ? badInput('endedAt', 'endedAt must not be before the session started') : badInput('startedAt', 'startedAt must not be after the session ended');
}

const isUniqueViolation = (err: unknown) => err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2002';

/**
 * Starts a session. With `recommendationId` the session is linked to that stored recommendation (the
 * viewer's own) and takes its check-in where the input leaves a value out; starting with the same id again
 * returns the session already started. Without one, the check-in is recommended on now and linked: what
 * the athlete was told is always on record.
 */
export async function startSession(ctx: Context, input: StartSessionInput, query: Query) {
  const viewer = requireViewer(ctx);
  await authorizeOwner(ctx, viewer.id, 'write');
  const { recommendationId, ...fields } = input;
  if (recommendationId) return startWithRecommendation(ctx, recommendationId, fields, query);
  const { startedAt: _s, location: _l, isOutdoor: _o, plannedDurationMin: _d, preSessionData: _p, ...checkIn } = fields;
  const { recommendations } = ctx.services;
  // The advice is a record for analysts; failing to compute or store it must not stop the athlete checking in.
  const shown = await recommend(ctx, checkIn).then(
    async (r) => {
      await recommendations.written(r.id);
      return r.id;
    },
    (err: unknown) => {
      console.error('[ENGINE] startSession: no recommendation stored', err);
      return undefined;
    },
  );
  return createSession(ctx, fields, query, shown);
}

function createSession(ctx: Context, input: StartSessionInput, query: Query, recommendationId: string | undefined) {
  const data = checkInData(input) as Prisma.ClimbingSessionUncheckedCreateInput;
  return ctx.services.prisma.climbingSession.create({
    ...query,
    data: { ...data, startedAt: input.startedAt ?? undefined, userId: requireViewer(ctx).id, status: 'ACTIVE', recommendationId },
  });
}

/**
 * How long after it was given a recommendation may still be on its way to the database: queued in the batch of
 * the instance that gave it (whose `written()` this instance cannot see), its INSERT slowed by load or a lock.
 */
const PENDING_WRITE_WINDOW_MS = 10_000;
/** Between two looks for such a row: doubling from 25 ms up to this. */
const PENDING_WRITE_MAX_POLL_MS = 400;

/**
 * When the recommendation with this id was given (ms since the epoch): ids are UUIDv7, whose first 48 bits are
 * that time. Null for an id of another version (not given by this API, or given before v7 ids).
 */
function givenAt(id: string): number | null {
  return validate(id) && version(id) === 7 ? Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16) : null;
}

async function startWithRecommendation(ctx: Context, recommendationId: string, input: StartSessionInput, query: Query) {
  const { prisma, recommendations } = ctx.services;
  // DONE leaves before its batch is written: a client starting right after it waits for that batch here.
  await recommendations.written(recommendationId).catch(() => {}); // a failed write leaves no row: NOT_FOUND below
  const find = () =>
    prisma.recommendation.findUnique({
      where: { id: recommendationId },
      select: { userId: true, checkIn: true, session: { select: { id: true } } },
    });
  let stored = await find();
  // Given by another instance, the row may still be in that instance's batch: it is looked for again until the
  // id is older than the window (counted from when it was given, by its UUIDv7 time, and never from later than
  // now, so an id claiming a future time waits no longer). An unknown id of another kind is NOT_FOUND at once.
  const at = givenAt(recommendationId);
  if (!stored && at !== null) {
    const deadline = Math.min(at, Date.now()) + PENDING_WRITE_WINDOW_MS;
    for (let wait = 25; !stored && Date.now() < deadline; wait = Math.min(wait * 2, PENDING_WRITE_MAX_POLL_MS)) {
      await delay(Math.min(wait, Math.max(0, deadline - Date.now())));
      stored = await find();
    }
  }
  if (!stored) throw new AppError('NOT_FOUND', 'Recommendation not found', 'recommendationId');
  if (stored.userId !== requireViewer(ctx).id) throw new AppError('FORBIDDEN', 'recommendationId must be one of your own recommendations', 'recommendationId');
  const existing = () => prisma.climbingSession.findUniqueOrThrow({ ...query, where: { recommendationId } });
  if (stored.session) return existing();
  try {
    return await createSession(ctx, { ...(stored.checkIn as CheckIn), ...input }, query, recommendationId);
  } catch (err) {
    // A concurrent start with the same recommendation won the unique link: answer with its session.
    if (isUniqueViolation(err)) return existing();
    throw err;
  }
}

/** The outcome carries its rating: CompleteSessionInput.sessionQuality is non-null in the schema. */
export async function completeSession(ctx: Context, id: string, input: OutcomeInput, query: Query) {
  const session = await ownedSession(ctx, id);
  if (session.status !== 'ACTIVE') throw conflict(`Only an ACTIVE session can be completed (this one is ${session.status})`);
  const endedAt = input.endedAt ?? new Date();
  checkTimes(session.startedAt, endedAt);
  try {
    return await ctx.services.prisma.climbingSession.update({
      ...query,
      // The status guard makes a concurrent second completion fail instead of overwriting the first.
      where: { id, status: 'ACTIVE' },
      data: { ...outcomeData(input), endedAt, status: 'COMPLETED' },
    });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') throw conflict('The session is no longer ACTIVE');
    throw err;
  }
}

export async function cancelSession(ctx: Context, id: string, query: Query) {
  const session = await ownedSession(ctx, id);
  if (session.status !== 'ACTIVE') throw conflict(`Only an ACTIVE session can be cancelled (this one is ${session.status})`);
  try {
    return await ctx.services.prisma.climbingSession.update({
      ...query,
      where: { id, status: 'ACTIVE' },
      data: { status: 'CANCELLED', endedAt: new Date() },
    });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') throw conflict('The session is no longer ACTIVE');
    throw err;
  }
}

export async function updateSession(ctx: Context, id: string, input: UpdateSessionInput, query: Query) {
  const session = await ownedSession(ctx, id);
  const outcome: OutcomeInput = {};
  const checkIn: StartSessionInput = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined) continue;
    if ((OUTCOME_KEYS as readonly string[]).includes(key)) (outcome as Record<string, unknown>)[key] = value;
    else (checkIn as Record<string, unknown>)[key] = value;
  }
  if (Object.keys(outcome).length > 0 && session.status !== 'COMPLETED') {
    const field = Object.keys(outcome)[0];
    throw new AppError('CONFLICT', `${field} can only be changed on a COMPLETED session (this one is ${session.status})`, field);
  }
  if (session.status === 'COMPLETED' && outcome.sessionQuality === null) throw badInput('sessionQuality', 'sessionQuality cannot be cleared on a completed session');
  if (checkIn.startedAt === null) throw badInput('startedAt', 'startedAt cannot be cleared');
  if (checkIn.startedAt !== undefined || outcome.endedAt !== undefined) {
    const endedAt = outcome.endedAt !== undefined ? outcome.endedAt : session.endedAt;
    checkTimes(checkIn.startedAt ?? session.startedAt, endedAt, outcome.endedAt !== undefined ? 'endedAt' : 'startedAt');
  }
  return ctx.services.prisma.climbingSession.update({
    ...query,
    where: { id },
    data: { ...checkInData(checkIn), ...outcomeData(outcome), startedAt: checkIn.startedAt ?? undefined },
  });
}

export async function deleteSession(ctx: Context, id: string): Promise<string> {
  await ownedSession(ctx, id);
  try {
    await ctx.services.prisma.climbingSession.delete({ where: { id } });
  } catch (err) {
    if (err instanceof Prisma.PrismaClientKnownRequestError && err.code === 'P2025') throw notFound('Session');
    throw err;
  }
  return id;
}

export async function readSession(ctx: Context, id: string, query: Query) {
  requireViewer(ctx);
  const session = await ctx.services.prisma.climbingSession.findUnique({ ...query, where: { id } });
  if (!session) return null;
  await authorizeOwner(ctx, session.userId, 'read');
  return session;
}

export interface SessionFilter {
  userId?: string | null;
  status?: 'ACTIVE' | 'COMPLETED' | 'CANCELLED' | null;
  from?: Date | null;
  to?: Date | null;
  sessionType?: CheckIn['plannedSessionType'];
  qualityMin?: number | null;
  qualityMax?: number | null;
  /** Source of the linked recommendation. */
  source?: 'MODEL' | 'RULE_OVERRIDE' | null;
  /** An expert rule the linked recommendation matched (by name). */
  rule?: string | null;
}

export interface SessionOrder {
  field: 'STARTED_AT' | 'QUALITY';
  direction: 'ASC' | 'DESC';
}

/** Where-clause for `sessions`: athletes only ever see their own; analysts and admins everyone's (or one user's). */
export async function sessionsWhere(ctx: Context, filter: SessionFilter): Promise<Prisma.ClimbingSessionWhereInput> {
  const userId = await readableOwnerFilter(ctx, filter.userId);
  const { qualityMin, qualityMax, source } = filter;
  if (qualityMin != null && qualityMax != null && qualityMin > qualityMax) throw badInput('qualityMin', 'qualityMin must not be above qualityMax');
  const rule = filter.rule?.trim() || null;
  // A misspelt rule would list nothing and look like "never matched": an unknown name is refused instead.
  if (rule && !(await ctx.loaders.ruleExists.load(rule))) {
    throw badInput('rule', `rule: there is no expert rule named "${rule}" (the names are listed by the rules query)`);
  }
  return {
    userId,
    status: filter.status ?? undefined,
    sessionType: filter.sessionType ?? undefined,
    startedAt: period(filter.from, filter.to),
    sessionQuality: qualityMin != null || qualityMax != null ? { gte: qualityMin ?? undefined, lte: qualityMax ?? undefined } : undefined,
    // matchedRules has a GIN index: `has` is its array containment.
    recommendation: source || rule ? { source: source ?? undefined, matchedRules: rule ? { has: rule } : undefined } : undefined,
  };
}

/**
 * A total order for cursor pagination: the chosen field, then startedAt and id as tie-breaks (cursors are ids,
 * so rows with equal values must still have one fixed position). Unrated sessions come last either way.
 */
export function sessionsOrderBy(order: SessionOrder | null | undefined): Prisma.ClimbingSessionOrderByWithRelationInput[] {
  const sort = order?.direction === 'ASC' ? 'asc' : 'desc';
  const tail: Prisma.ClimbingSessionOrderByWithRelationInput[] = [{ startedAt: sort }, { id: sort }];
  return order?.field === 'QUALITY' ? [{ sessionQuality: { sort, nulls: 'last' } }, ...tail] : tail;
}
