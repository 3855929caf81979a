// Read replicas (DATABASE_REPLICA_URLS): a Prisma client per PostgreSQL streaming standby for the reads that
// tolerate a little lag (src/resolvers/read-routing.ts decides which), spread over the replicas that are up and
// within REPLICA_MAX_LAG_SECONDS. Each replica's state is checked every REPLICA_CHECK_INTERVAL_SECONDS; a change
// (up -> down or lagging, and back) is logged once. No replica usable: pick() answers null and the read goes to the
// primary.
//
// Lag is measured against the primary, not by the clock alone: now() - pg_last_xact_replay_timestamp() keeps
// growing on a standby of an idle primary (no new transaction to replay), so a replica that has replayed all the
// WAL the primary had written before the check (replay LSN >= the primary's current LSN), or all that it has
// received while its WAL receiver streams, is caught up (lag 0); only one that is behind gets the time since the
// last transaction it replayed as its lag.
//
// Not @prisma/extension-read-replicas (which takes PrismaClient instances under Prisma 7): it sends every
// non-transactional read of the extended client to a replica picked at random, with no check of the replica's state
// or lag, where ClimbIQ reads the primary by default (read-your-writes) and needs a replica that is down or behind
// skipped. Here each replica is its own client, handed out only for the reads src/resolvers/read-routing.ts allows.
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.ts';
import { withSessionHook, type AppPrisma } from './session-hook.ts';
import type { SqlRunner } from './sql.ts';

export type ReplicaState = 'up' | 'lagging' | 'down';

/** One replica as /ready reports it. */
export interface ReplicaStatus {
  /** host:port/database of the URL (no credentials). */
  name: string;
  state: ReplicaState;
  /** Seconds behind the primary at the last check (0: caught up); null when down or not yet known. */
  lagSeconds: number | null;
  /** Why it is not up (the connection error, "not a standby", how far behind). */
  detail?: string;
  checkedAt: string | null;
}

export interface ReplicaOptions {
  urls: string[];
  maxLagSeconds: number;
  checkIntervalSeconds: number;
  /** The primary: its current WAL position is what each replica is compared with. */
  primarySql: SqlRunner;
  /** The primary's client: a read that fails on a replica is run again there. */
  primary: AppPrisma;
  log: (msg: string) => void;
  onQuery?: (sql: string) => void;
  /** Connections per replica pool (default 10). */
  poolMax?: number;
}

interface Replica {
  status: ReplicaStatus;
  pool: pg.Pool;
  prisma: AppPrisma;
  base: PrismaClient;
}

/** host:port/database of a connection URL, without the user and password. */
export function replicaName(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || '5432'}${u.pathname}`;
}

/** How long one check of one replica may take before it counts as down. */
const CHECK_TIMEOUT_MS = 2000;

export interface LagRow {
  recovery: boolean;
  replay_lsn: string | null;
  receive_lsn: string | null;
  replayed_primary: boolean | null;
  replayed_received: boolean | null;
  streaming: boolean;
  since_replay: number | null;
}

export class ReplicaSet {
  private readonly replicas: Replica[];
  private next = 0;
  private timer: NodeJS.Timeout | null = null;
  private checking: Promise<void> | null = null;

  constructor(private readonly opts: ReplicaOptions) {
    this.replicas = opts.urls.map((url) => {
      const pool = new pg.Pool({ connectionString: url, max: opts.poolMax ?? 10, connectionTimeoutMillis: CHECK_TIMEOUT_MS });
      // A replica that goes away must not crash the process: it is marked down at the next check.
      pool.on('error', (err) => opts.log(`[DB] idle connection to replica ${replicaName(url)} lost: ${err.message}`));
      const base = new PrismaClient({ adapter: new PrismaPg(pool), ...(opts.onQuery ? { log: [{ emit: 'event', level: 'query' }] } : {}) });
      if (opts.onQuery) {
        const onQuery = opts.onQuery;
        (base as unknown as { $on(event: 'query', cb: (e: { query: string }) => void): void }).$on('query', (e) => onQuery(`/* replica */ ${e.query}`));
      }
      // The application's client type (the session lists' cursors included); nothing is ever written through it.
      // A read that fails there (the replica went away since its last check, a query cancelled by a conflict with
      // recovery) is run again on the primary, and the replica checked at once: the reader sees no error.
      const name = replicaName(url);
      const prisma = withSessionHook(base, () => {}).$extends({
        query: {
          $allOperations: async ({ model, operation, args, query }) => {
            try {
              return await query(args);
            } catch (err) {
              opts.log(`[DB] a read on replica ${name} failed (${err instanceof Error ? err.message.split('\n')[0] : String(err)}): run again on the primary`);
              void this.check();
              return rerunOnPrimary(opts.primary, model, operation, args);
            }
          },
        },
      });
      // Down until the first check says otherwise: nothing is read from a replica not yet seen to be current.
      return { pool, base, prisma, status: { name: replicaName(url), state: 'down' as ReplicaState, lagSeconds: null, detail: 'not checked yet', checkedAt: null } };
    });
  }

  /** Checks every replica now, then every checkIntervalSeconds. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.opts.checkIntervalSeconds * 1000);
    this.timer.unref();
  }

  /** A replica that is up and within the lag limit, in turn; null when there is none (read from the primary). */
  pick(): AppPrisma | null {
    const n = this.replicas.length;
    for (let i = 0; i < n; i++) {
      const replica = this.replicas[(this.next + i) % n];
      if (replica.status.state === 'up') {
        this.next = (this.next + i + 1) % n;
        return replica.prisma;
      }
    }
    return null;
  }

  status(): ReplicaStatus[] {
    return this.replicas.map((r) => ({ ...r.status }));
  }

  /** Re-checks every replica (one check at a time: a call during one waits for it). */
  check(): Promise<void> {
    this.checking ??= (async () => {
      try {
        let primaryLsn: string | null = null;
        try {
          primaryLsn = (await this.opts.primarySql.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn'))[0]?.lsn ?? null;
        } catch {
          // The primary's own outage is /ready's database check; each replica is then judged by itself.
        }
        await Promise.all(this.replicas.map((r) => this.checkOne(r, primaryLsn)));
      } finally {
        this.checking = null;
      }
    })();
    return this.checking;
  }

  private async checkOne(replica: Replica, primaryLsn: string | null): Promise<void> {
    const before = replica.status.state;
    const first = replica.status.checkedAt === null;
    let next: Omit<ReplicaStatus, 'name' | 'checkedAt'>;
    try {
      const row = await withTimeout(
        replica.pool.query<LagRow>(
          `SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn()::text AS replay_lsn, pg_last_wal_receive_lsn()::text AS receive_lsn,
                  pg_last_wal_replay_lsn() >= $1::pg_lsn AS replayed_primary,
                  pg_last_wal_replay_lsn() >= pg_last_wal_receive_lsn() AS replayed_received,
                  EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming,
                  EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8 AS since_replay`,
          [primaryLsn ?? '0/0'],
        ),
      );
      next = judge(row.rows[0], primaryLsn, this.opts.maxLagSeconds);
    } catch (err) {
      next = { state: 'down', lagSeconds: null, detail: err instanceof Error ? err.message : String(err) };
    }
    replica.status = { name: replica.status.name, ...next, checkedAt: new Date().toISOString() };
    // The first check's outcome is in the start-up line (openServices); every later change is logged once.
    if (!first && next.state !== before) {
      const why = next.state === 'up' ? `lag ${next.lagSeconds?.toFixed(1)} s: lag-tolerant reads go to it again` : `${next.detail}: its reads go to the primary until it is back`;
      this.opts.log(`[DB] replica ${replica.status.name} ${before} -> ${next.state} (${why})`);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  async close(): Promise<void> {
    this.stop();
    await this.checking?.catch(() => {});
    await Promise.all(
      this.replicas.map(async (r) => {
        await r.base.$disconnect();
        await r.pool.end();
      }),
    );
  }
}

/** The same read on the primary: a model operation (findMany, count...) or a raw query (its Sql object). */
function rerunOnPrimary(primary: AppPrisma, model: string | undefined, operation: string, args: unknown): Promise<unknown> {
  if (!model) {
    const raw = primary as unknown as Record<string, (sql: unknown) => Promise<unknown>>;
    return raw[operation](args);
  }
  const delegate = (primary as unknown as Record<string, Record<string, (a: unknown) => Promise<unknown>>>)[model.charAt(0).toLowerCase() + model.slice(1)];
  return delegate[operation](args);
}

/** A replica's state from its answer to the lag query. */
export function judge(row: LagRow | undefined, primaryLsn: string | null, maxLagSeconds: number): Omit<ReplicaStatus, 'name' | 'checkedAt'> {
  if (!row?.recovery) return { state: 'down', lagSeconds: null, detail: 'not a standby (pg_is_in_recovery() is false): refusing to read from it' };
  const caughtUp = (primaryLsn !== null && row.replayed_primary === true) || (row.streaming && row.replayed_received === true);
  const position = `replayed ${row.replay_lsn}, received ${row.receive_lsn}${row.streaming ? ' (streaming)' : ' (not streaming)'}, primary at ${primaryLsn ?? 'unknown'}`;
  const lag = caughtUp ? 0 : row.since_replay;
  if (lag === null) return { state: 'lagging', lagSeconds: null, detail: `behind the primary and has replayed no transaction yet: ${position}` };
  // Compared unrounded: with a limit of 0 a replica behind at all is skipped. Reported as at least 0.1 s, so that
  // 0 always means caught up.
  const lagSeconds = caughtUp ? 0 : Math.max(0.1, Math.round(lag * 10) / 10);
  if (lag > maxLagSeconds) return { state: 'lagging', lagSeconds, detail: `${lagSeconds} s behind the primary (REPLICA_MAX_LAG_SECONDS=${maxLagSeconds}): ${position}` };
  return caughtUp ? { state: 'up', lagSeconds } : { state: 'up', lagSeconds, detail: position };
}

function withTimeout<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
