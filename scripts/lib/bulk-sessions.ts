// Fast server-side generation of athletes and completed, rated sessions (INSERT ... SELECT from
// generate_series), for benchmarks and tests that need volume rather than realism of the write path.
// User ids are md5(tag || i)::uuid, so a (tag, i) pair always names the same athlete. Each athlete's outcome
// follows the seed priors plus an athlete-specific intercept and noise (sd about 1.2), rounded and clamped to 1-10.
import type { PrismaClient } from '../../src/generated/prisma/client.ts';

export interface BulkOptions {
  users: number;
  sessionsPerUser: number;
  /** Distinguishes batches (user ids derive from it). */
  tag: string;
  /** random() seed (setseed), in [-1, 1]. */
  seed?: number;
  /** Users per INSERT statement (progress granularity). */
  usersPerStatement?: number;
  onProgress?: (usersDone: number, sessionsDone: number) => void;
}

const int = (n: number, name: string) => {
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer`);
  return n;
};

/** The user ids a batch creates (same order as generated). */
export const bulkUserIdSql = (tagParam: string, indexExpr: string) => `md5(${tagParam} || ':' || ${indexExpr})::uuid`;

export async function insertBulkAthletes(prisma: PrismaClient, opts: BulkOptions): Promise<{ users: number; sessions: number }> {
  const users = int(opts.users, 'users');
  const perUser = int(opts.sessionsPerUser, 'sessionsPerUser');
  const step = Math.max(1, int(opts.usersPerStatement ?? Math.max(1, Math.floor(200_000 / Math.max(1, perUser))), 'usersPerStatement'));
  const seed = opts.seed ?? 0.42;
  // One interactive transaction per chunk pins one connection, so setseed applies to the INSERT after it.
  await prisma.$executeRawUnsafe(`INSERT INTO users (id, role, "createdAt") SELECT ${bulkUserIdSql('$1::text', 'i::text')}, 'ATHLETE', now() FROM generate_series(1, ${users}) AS i`, opts.tag);
  let sessions = 0;
  for (let from = 1; from <= users; from += step) {
    const to = Math.min(users, from + step - 1);
    await prisma.$transaction(
      async (tx) => {
        await tx.$executeRawUnsafe(`SELECT setseed(${Math.max(-1, Math.min(1, seed * (1 - from / (users + 1))))})`);
        sessions += await tx.$executeRawUnsafe(
          `INSERT INTO climbing_sessions (
             id, "userId", status, "startedAt", "endedAt",
             "sleepHours", "sleepQuality", "energyLevel", "stressLevel", "motivationLevel", "sorenessLevel",
             "daysSinceHardSession", "caffeineMg", "warmupMin", "plannedCaffeineMg", "plannedWarmupMin",
             "daysSinceLastSession", "daysSinceRestDay", "hydrationStatus", "temperatureC",
             "sessionQuality", "deviatedFromPlan", "createdAt", "updatedAt")
           SELECT gen_random_uuid(), f.uid, 'COMPLETED', f.started, f.started + interval '2 hours',
             f.sleep, f.sq, f.energy, f.stress, f.mot, f.sore, f.dsh, f.caf, f.warm, f.caf, f.warm,
             f.dls, f.dsr, f.hyd, f.temp,
             GREATEST(1, LEAST(10, round(
               6 + f.b0 + 0.12 * (f.sleep - 7) + 0.18 * (f.sq - 6) + 0.22 * (f.energy - 6) - 0.18 * (f.stress - 4)
               + 0.15 * (f.mot - 6) - 0.20 * (f.sore - 3) + 0.30 * (f.dsh - 2) + 0.003 * f.caf + 0.02 * (f.warm - 15)
               + 2.4 * (random() + random() + random() - 1.5)
             )))::int,
             false, now(), now()
           FROM (
             SELECT ${bulkUserIdSql('$1::text', 'i::text')} AS uid,
               ((hashtext($1::text || ':' || i::text) % 1000) / 1000.0)::float8 AS b0,
               now() - make_interval(days => ${perUser} - k) AS started,
               round((5 + random() * 4)::numeric * 4) / 4 AS sleep,
               1 + floor(random() * 10)::int AS sq,
               1 + floor(random() * 10)::int AS energy,
               1 + floor(random() * 10)::int AS stress,
               1 + floor(random() * 10)::int AS mot,
               1 + floor(random() * 8)::int AS sore,
               floor(random() * 8)::int AS dsh,
               (floor(random() * 4) * 100)::int AS caf,
               floor(random() * 31)::int AS warm,
               1 + floor(random() * 4)::int AS dls,
               floor(random() * 6)::int AS dsr,
               3 + floor(random() * 8)::int AS hyd,
               round((5 + random() * 25)::numeric, 1)::float8 AS temp
             FROM generate_series(${from}, ${to}) AS i CROSS JOIN generate_series(1, ${perUser}) AS k
           ) f`,
          opts.tag,
        );
      },
      { timeout: 600_000, maxWait: 60_000 },
    );
    opts.onProgress?.(to, sessions);
  }
  return { users, sessions };
}
