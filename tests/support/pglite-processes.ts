// The embedded database's lock tests (tests/integration/pglite-lock*.test.ts) as a user meets it: `npm start`,
// `npm run seed:demo`, `npm run train`, `npm run db:migrate`, each a process of its own on one PGlite directory,
// spawned from the run's bundle (tests/support/processes.ts). The directory is PGlite whatever TEST_DATABASE_URL
// says: the lock is about the embedded database.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect } from 'vitest';
import { gqlOk } from './client.ts';
import { trainingRuns } from './learning.ts';
import { nodeArgs } from './processes.ts';
import { migratedPgliteDir, TEST_JWT_SECRET, tokenFor } from './server.ts';

/** The environment of a server or CLI on the PGlite directory `dir`. */
export const processEnv = (dir: string) => ({ ...process.env, PORT: '0', HOST: '127.0.0.1', PGLITE_DIR: dir, DATABASE_URL: '', JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'test' });

export interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script on the PGlite directory `dir` to its end. */
export function run(script: string, args: string[], dir: string): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, nodeArgs(script, args), { cwd: process.cwd(), env: processEnv(dir) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  port: number;
  exited: Promise<number | null>;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
}

export interface ServerProcessOptions {
  /** Node options before the entry point (e.g. `npm start`'s flags, a preload with `--import`). */
  nodeFlags?: readonly string[];
  /** Added to processEnv(dir), overriding it (e.g. DATABASE_URL for a PostgreSQL server). */
  env?: Record<string, string>;
}

/** `npm start` on `dir` in its own process; resolves once it prints its GraphiQL address. */
export function startServerProcess(dir: string, opts: ServerProcessOptions = {}): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...(opts.nodeFlags ?? []), ...nodeArgs('src/main.ts')], { cwd: process.cwd(), env: { ...processEnv(dir), ...opts.env } });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let out = '';
    child.stderr.on('data', (d) => (out += d));
    child.stdout.on('data', (d) => {
      out += d;
      const match = /GraphiQL at (http:\/\/127\.0\.0\.1:(\d+)\/graphql)/.exec(out);
      if (match) resolve({ child, pid: child.pid!, url: match[1], port: Number(match[2]), exited, output: () => out });
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before it was ready: ${out}`)));
  });
}

export async function stopServerProcess(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

export interface Stored {
  athletes: number;
  sessions: number;
  nightlyManualRuns: number;
}

/** What the server holds, as an admin reads it over GraphQL. */
export async function stored(url: string): Promise<Stored> {
  const admin = await tokenFor('admin');
  const data = await gqlOk<{ users: { edges: { node: { role: string; sessions: { edges: unknown[] } } }[] } }>(
    url,
    '{ users(first: 10) { edges { node { role sessions(first: 50) { edges { node { id } } } } } } }',
    {},
    admin.token,
  );
  const athletes = data.users.edges.filter((e) => e.node.role === 'ATHLETE');
  const runs = await trainingRuns(url, admin.token, 'NIGHTLY');
  return {
    athletes: athletes.length,
    sessions: athletes.reduce((n, e) => n + e.node.sessions.edges.length, 0),
    nightlyManualRuns: runs.filter((r) => r.status === 'SUCCEEDED' && r.trigger === 'MANUAL').length,
  };
}

/**
 * Writes through the server what a takeover must keep: `athletes` new athletes with `sessions` completed sessions each
 * (each write acknowledged before the next), and one manual nightly run. Returns what the server then holds.
 */
export async function writeAthletes(url: string, athletes: number, sessions: number): Promise<Stored> {
  const admin = await tokenFor('admin');
  for (let a = 0; a < athletes; a++) {
    const { token } = await tokenFor('athlete');
    for (let s = 0; s < sessions; s++) {
      const { startSession } = await gqlOk<{ startSession: { id: string } }>(url, 'mutation { startSession(input: { sleepHours: 7 }) { id } }', {}, token);
      await gqlOk(url, 'mutation($id: ID!) { completeSession(id: $id, input: { sessionQuality: 6 }) { id } }', { id: startSession.id }, token);
    }
  }
  await gqlOk(url, 'mutation { runNightlyTraining(wait: true) { status } }', {}, admin.token);
  const held = await stored(url);
  expect(held).toMatchObject({ athletes, sessions: athletes * sessions, nightlyManualRuns: 1 });
  return held;
}

/**
 * A test file's directories, set up before its tests and removed after them: `tmp`, a temporary directory, and
 * `pgliteDir` inside it, a copy of the run's migrated PGlite directory the file's processes share.
 */
export function lockTestDirs(): { readonly tmp: string; readonly pgliteDir: string } {
  const dirs = { tmp: '', pgliteDir: '' };
  beforeAll(async () => {
    dirs.tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-lock-'));
    dirs.pgliteDir = await migratedPgliteDir(path.join(dirs.tmp, 'data', 'pglite'));
  });
  afterAll(() => rmSync(dirs.tmp, { recursive: true, force: true }));
  return dirs;
}
