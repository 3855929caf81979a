// What every benchmark script shares: percentiles, a throwaway database on a PostgreSQL server, and the
// BENCHMARKS.md block each script owns.
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';

// ---------------------------------------------------------------- figures

/** The nearest-rank p-th percentile (p in 0-100) of values sorted ascending. */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** The (lower) median of unsorted values. */
export const median = (values: readonly number[]): number =>
  percentile(
    [...values].sort((a, b) => a - b),
    50,
  );

// ---------------------------------------------------------------- throwaway databases

/** One statement on the server's maintenance database (`adminUrl`, e.g. postgresql://…/postgres). */
export async function adminQuery(adminUrl: string, sql: string, params: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    return await client.query(sql, params);
  } finally {
    await client.end();
  }
}

/** The URL of database `name` on the server `adminUrl` names. */
export const databaseUrl = (adminUrl: string, name: string): string => Object.assign(new URL(adminUrl), { pathname: `/${name}` }).toString();

/** A fresh database name, e.g. climbiq_bench_3f1c0a4e1111. */
export const throwawayDatabaseName = (prefix = 'climbiq_bench'): string => `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 12)}`;

/** Creates database `name` (a fresh one by default) and returns its URL. */
export async function createDatabase(adminUrl: string, name: string = throwawayDatabaseName()): Promise<string> {
  await adminQuery(adminUrl, `CREATE DATABASE ${name}`);
  return databaseUrl(adminUrl, name);
}

/** Drops the database `url` names, closing its connections. */
export async function dropDatabase(adminUrl: string, url: string): Promise<void> {
  await adminQuery(adminUrl, `DROP DATABASE IF EXISTS ${new URL(url).pathname.slice(1)} WITH (FORCE)`);
}

// ---------------------------------------------------------------- BENCHMARKS.md

export const BENCHMARKS_FILE = fileURLToPath(new URL('../../BENCHMARKS.md', import.meta.url));

/** BENCHMARKS.md is shared by several scripts: each owns one block between <!-- name:start --> and <!-- name:end -->. */
export function writeBlock(file: string, name: string, body: string): void {
  const start = `<!-- ${name}:start -->`;
  const end = `<!-- ${name}:end -->`;
  const block = `${start}\n${body}\n${end}`;
  let text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n';
  const i = text.indexOf(start);
  const k = text.indexOf(end);
  if (i >= 0 && k > i) text = text.slice(0, i) + block + text.slice(k + end.length);
  else text = `${text.replace(/\s*$/, '')}\n\n${block}\n`;
  writeFileSync(file, text);
}

// ---------------------------------------------------------------- clients

/** A graphql-ws client with the athlete's token, resolved once connected (no retries: a benchmark counts failures). */
export function openClient(wsUrl: string, token: string): Promise<Client> {
  return new Promise((resolve, reject) => {
    const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, lazy: false, retryAttempts: 0, onNonLazyError: reject });
    const off = client.on('connected', () => {
      off();
      resolve(client);
    });
  });
}

/** The recommendation stream as the benchmarks subscribe to it: every phase's fields, so each is computed and sent. */
export const STREAM = `subscription($input: PreSessionInput!) {
  preSessionRecommendation(input: $input) {
    type sequence elapsedMs
    ... on ContextLoadedEvent { phase hasPersonalization }
    ... on RuleOverrideEvent { sessionType message }
    ... on PredictionEvent { prediction { expectedQuality interval { low high } confidence } }
    ... on RecommendationsEvent { sessionType suggestions { message expectedGain } constraints { sessionTypeCeiling avoid } }
    ... on StatsEvent { context { populationComparison { variable zScore percentile descriptor } personalHistory { n mean sd best worst trendPerSession } similarSessions { sessionId similarity sessionQuality } coefficientComparisons { variable userCoefficient populationCoefficient sensitivity message } insights } }
    ... on DoneEvent { source totalMs recommendationId sessionType expectedQuality }
    ... on ErrorEvent { code message }
  }
}`;
/** The check-in the benchmarks send (no rule overrides it: the model answers). */
export const OPERATOR = { sleepHours: 7, energyLevel: 4, stressLevel: 2 };
