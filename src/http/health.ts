// GET /health (liveness) and GET /ready (readiness), each a JSON body that says what it checked, for a container's
// HEALTHCHECK, an orchestrator's probes and a load balancer (docs/operations.md "Health checks").
//   /health: 200 while this process serves HTTP; a database outage must not get a live process restarted, so
//            nothing else is checked, except the embedded database's own thread (PGlite in this process): 503 once
//            it has ended and could not be opened again, which no wait cures (while it is being reopened, 200).
//   /ready:  200 when every check passes, else 503: started (migrations applied at start, listening, not
//            stopping), the database answers, every migration of this build is recorded as applied, and Redis
//            answers when REDIS_URL is set. With DATABASE_REPLICA_URLS it also lists each read replica's state and
//            lag (its last periodic check): a replica that is down or lagging does not make the instance unready,
//            since its reads go to the primary meanwhile.
import type { Plugin } from 'graphql-yoga';
import type { PgliteThreadState } from '../db/pglite-thread.ts';
import type { ReplicaStatus } from '../db/replicas.ts';

export interface ReadinessChecks {
  /** The server has started (migrated, listening) and is not stopping. */
  started: () => boolean;
  /** `thread`: the embedded database's thread in this process, when PGlite runs on one (null otherwise). */
  database: { kind: string; ping: () => Promise<boolean>; thread?: { state(): PgliteThreadState } | null };
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

/** The embedded database's thread when it cannot answer (reopening or lost), said as a failed check; null when open. */
function threadCheck(kind: string, thread: PgliteThreadState): Check | null {
  if (thread.state === 'reopening') {
    const seconds = ((Date.now() - thread.since.getTime()) / 1000).toFixed(1);
    return { ok: false, detail: `${kind}: its thread ended ${seconds} s ago (${thread.cause}); reopening, attempt ${thread.attempt} of ${thread.attempts}` };
  }
  if (thread.state === 'lost') return { ok: false, detail: `${kind}: ${thread.reason}` };
  if (thread.state === 'closed') return { ok: false, detail: `${kind}: closed` };
  return null;
}

export async function readiness(checks: ReadinessChecks): Promise<{ ready: boolean; checks: Record<string, Check>; replicas?: ReplicaStatus[] }> {
  const started = checks.started();
  // While the thread is being reopened (or once it is lost) every check that needs the database would only wait for
  // it (and say "no answer within 2000 ms"): each says at once why instead.
  const threadDown = checks.database.thread ? threadCheck(checks.database.kind, checks.database.thread.state()) : null;
  const [database, migrations, redis] = await Promise.all([
    threadDown ?? timed(async () => ({ ok: await checks.database.ping(), detail: checks.database.kind })),
    threadDown ??
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
        const uptimeSeconds = Math.round((Date.now() - startedAt) / 1000);
        const thread = checks.database.thread?.state();
        if (!thread) endResponse(json(200, { status: 'ok', checked: ['process'], uptimeSeconds }));
        else if (thread.state === 'lost') endResponse(json(503, { status: 'failing', checked: ['process', 'databaseThread'], databaseThread: thread.state, detail: thread.reason, uptimeSeconds }));
        else endResponse(json(200, { status: 'ok', checked: ['process', 'databaseThread'], databaseThread: thread.state, uptimeSeconds }));
      } else if (url.pathname === endpoints.ready) {
        const { ready, checks: results, replicas } = await readiness(checks);
        endResponse(json(ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', checks: results, ...(replicas ? { replicas } : {}) }));
      }
    },
  };
}
