// A benchmark's server in a child process (scripts/bench.ts --serve, scripts/floor-server.ts) driven over IPC, its CPU
// time, and one subscription timed from subscribe() to its first and last event. Shared by scripts/bench-floor.ts and
// scripts/profile-burst.ts.
import { type ChildProcess, fork } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Client } from 'graphql-ws';
import { openClient } from './benchmarking.ts';
import { startEnv } from './start-flags.ts';
import { monotonicMs } from './stall-timeline.ts';

/** The JWT secret scripts/bench.ts's server signs and verifies with (its child's tokens are signed with it too). */
export const BENCH_SECRET = 'bench-secret-bench-secret-bench-secret-0123456789';

export interface Child {
  proc: ChildProcess;
  url: string;
  wsUrl: string;
  request(cmd: string, extra?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

/** Forks `script` (a file URL) with npm start's environment (glibc's arena limit), once it says it listens. */
export async function forkChild(script: URL, argv: string[], execArgv: string[] = []): Promise<Child> {
  const proc = fork(fileURLToPath(script), argv, {
    execArgv: [...process.execArgv, ...execArgv],
    env: { ...process.env, ...startEnv() },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    proc.once('message', (m) => resolve(m as Record<string, unknown>));
    proc.once('exit', (code) => reject(new Error(`${fileURLToPath(script)} exited with ${code}`)));
  });
  let next = 0;
  const waiting = new Map<number, (m: Record<string, unknown>) => void>();
  proc.on('message', (m) => {
    const msg = m as Record<string, unknown>;
    waiting.get(msg.id as number)?.(msg);
  });
  return {
    proc,
    url: ready.url as string,
    wsUrl: ready.wsUrl as string,
    request: (cmd, extra = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        waiting.set(id, (msg) => (msg.ok ? resolve(msg) : reject(new Error(String(msg.error)))));
        proc.send({ id, cmd, ...extra });
      }),
  };
}

/**
 * The child's CPU time so far (user + system, ms): read around a measurement, what its streams cost the server,
 * which the machine's load moves far less than it moves latency.
 */
export async function cpuMs(child: Child): Promise<number> {
  const u = await child.request('cpu');
  return ((u.user as number) + (u.system as number)) / 1000;
}

export interface Timed {
  firstMs: number;
  lastMs: number;
  ok: boolean;
  /** When subscribe() was called, on the machine's monotonic clock (ms; scripts/lib/stall-timeline.ts). */
  startAt: number;
}

/**
 * One subscription, timed from subscribe() to its first event and to its last, which completes it; ok when no event
 * carried errors and the last one's `field` has type DONE.
 */
export function timedSubscription(client: Client, payload: { query: string; variables?: Record<string, unknown> }, field: string): Promise<Timed> {
  return new Promise((resolve) => {
    const startAt = monotonicMs();
    const t0 = performance.now();
    let firstMs = -1;
    let lastType: string | undefined;
    let failed = false;
    client.subscribe<Record<string, { type: string }>>(payload, {
      next: (v) => {
        if (firstMs < 0) firstMs = performance.now() - t0;
        if (v.errors) failed = true;
        lastType = v.data?.[field]?.type;
      },
      error: () => resolve({ firstMs, lastMs: performance.now() - t0, ok: false, startAt }),
      complete: () => resolve({ firstMs, lastMs: performance.now() - t0, ok: !failed && lastType === 'DONE', startAt }),
    });
  });
}

/** One graphql-ws connection per token, opened 100 at a time (the subscribers of a burst). */
export async function openClients(wsUrl: string, tokens: readonly string[]): Promise<Client[]> {
  const out: Client[] = [];
  for (let k = 0; k < tokens.length; k += 100) out.push(...(await Promise.all(tokens.slice(k, k + 100).map((t) => openClient(wsUrl, t)))));
  return out;
}
