// GET /health (liveness) and GET /ready (readiness), each a JSON body that says what it checked, for a container's
// HEALTHCHECK, an orchestrator's probes and a load balancer (docs/operations.md "Health checks").
//   /health: 200 while this process serves HTTP; nothing else is checked (a database outage must not get a
//            live process restarted).
//   /ready:  200 when every check passes, else 503: started (migrations applied at start, listening, not
//            stopping), the database answers, every migration of this build is recorded as applied, and Redis
//            answers when REDIS_URL is set. With DATABASE_REPLICA_URLS it also lists each read replica's state and
//            lag (its last periodic check): a replica that is down or lagging does not make the instance unready,
//            since its reads go to the primary meanwhile.
import type { Plugin } from 'graphql-yoga';
import type { ReplicaStatus } from '../db/replicas.ts';

export interface ReadinessChecks {
  /** The server has started (migrated, listening) and is not stopping. */
  started: () => boolean;
  database: { kind: string; ping: () => Promise<boolean> };
  /** Migrations of this build not recorded as applied in the database (empty: up to date). */
  pendingMigrations: () => Promise<string[]>;
  /** Null when REDIS_URL is unset. */
  redis: { ping: () => Promise<boolean> } | null;
  /** Each read replica as last checked; null when DATABASE_REPLICA_URLS is unset. */
  replicas: (() => ReplicaStatus[]) | null;
}

export interface Check {
  ok: boolean;
  ms?: number;
  detail?: string;
}

/** How long one check may take before it counts as failed. */
const CHECK_TIMEOUT_MS = 2000;

async function timed(run: () => Promise<{ ok: boolean; detail?: string }>): Promise<Check> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<{ ok: boolean; detail: string }>((resolve) => {
    timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${CHECK_TIMEOUT_MS} ms` }), CHECK_TIMEOUT_MS);
  });
  try {
    const result = await Promise.race([run().catch((err: unknown) => ({ ok: false, detail: err instanceof Error ? err.message : String(err) })), timeout]);
    return { ...result, ms: Math.round(performance.now() - started) };
  } finally {
    clearTimeout(timer);
  }
}

export async function readiness(checks: ReadinessChecks): Promise<{ ready: boolean; checks: Record<string, Check>; replicas?: ReplicaStatus[] }> {
  const started = checks.started();
  const [database, migrations, redis] = await Promise.all([
    timed(async () => ({ ok: await checks.database.ping(), detail: checks.database.kind })),
    timed(async () => {
      const pending = await checks.pendingMigrations();
      return pending.length ? { ok: false, detail: `pending: ${pending.join(', ')}` } : { ok: true, detail: 'all applied' };
    }),
    checks.redis ? timed(async () => ({ ok: await checks.redis!.ping() })) : Promise.resolve(null),
  ]);
  const all: Record<string, Check> = { started: { ok: started }, database, migrations, ...(redis ? { redis } : {}) };
  return { ready: Object.values(all).every((c) => c.ok), checks: all, ...(checks.replicas ? { replicas: checks.replicas() } : {}) };
}

/** Answers /health and /ready before anything else runs (no CORS, body limits or GraphQL involved). */
export function useHealthChecks(checks: ReadinessChecks, endpoints = { health: '/health', ready: '/ready' }): Plugin {
  const startedAt = Date.now();
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      const json = (status: number, body: unknown) =>
        new fetchAPI.Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'private, no-store' } });
      if (url.pathname === endpoints.health) {
        endResponse(json(200, { status: 'ok', checked: ['process'], uptimeSeconds: Math.round((Date.now() - startedAt) / 1000) }));
      } else if (url.pathname === endpoints.ready) {
        const { ready, checks: results, replicas } = await readiness(checks);
        endResponse(json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks: results, ...(replicas ? { replicas } : {}) }));
      }
    },
  };
}
