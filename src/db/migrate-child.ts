// Migrations applied by a child process that exits before the server opens its own connection: the WASM schema
// engine (and, on a fresh PGlite directory, PGlite's initdb with its second WASM instance) costs the server's
// process nothing afterwards. Measured (BENCHMARKS.md "Memory"): the schema engine leaves about 30 MB behind in the
// process that ran it, and a fresh PGlite directory's initdb about 450 MB, which no close gives back.
//
// This module is both sides, as the nightly fit's worker is: migrateInChildProcess (the server) starts `node` on a
// small evaluated bootstrap that loads this same file (through tsx's API from source; its own bundle from the build) and calls runMigrationChild, which opens the
// database, applies the migrations, closes it and reports over the IPC channel. An in-memory PGlite lives only in
// the process that made it: there the migrations run in place.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { openDatabase, type Database, type DatabaseOptions } from './client.ts';
import { pendingMigrations, type MigrationResult } from './migrate.ts';
import { DatabaseOpenError, type LockHolder } from './pglite-lock.ts';
import { importWorkerModule } from './worker-module.ts';

/**
 * V8 compiles WebAssembly only with its baseline compiler (Liftoff) in the child: on Node 24 the optimising tier's
 * compilations of PGlite's and Prisma's WASM more than double a process's start-up peak (BENCHMARKS.md "Memory").
 */
export const LIFTOFF_ONLY = ['--liftoff-only'];

/** Where the child applies the migrations. */
export interface MigrationTarget {
  /** PostgreSQL server URL; null: the PGlite directory. */
  url: string | null;
  pgliteDir: string;
  holder?: LockHolder;
}

/** What the child sends its parent. */
type ChildMessage = { log: string } | { result: MigrationResult } | { error: { name: string; message: string } };

/**
 * Opens the database with its migrations applied. When every migration is already recorded (the usual restart) no
 * runner starts at all; otherwise a child process applies them (and makes a fresh PGlite directory), then the
 * database opens here. An in-memory PGlite is migrated in place.
 */
export async function openMigratedDatabase(opts: DatabaseOptions): Promise<{ db: Database; migrated: MigrationResult }> {
  const log = opts.log ?? (() => {});
  if (!opts.url && opts.pgliteDir.startsWith('memory://')) {
    const db = await openDatabase(opts);
    try {
      return { db, migrated: await db.migrate() };
    } catch (err) {
      await db.close();
      throw err;
    }
  }
  const freshDirectory = !opts.url && !existsSync(path.join(opts.pgliteDir, 'PG_VERSION'));
  if (!freshDirectory) {
    const db = await openDatabase(opts);
    try {
      if ((await pendingMigrations((sql) => db.prisma.$queryRawUnsafe(sql))).length === 0) return { db, migrated: { applied: [], runner: 'none' } };
    } catch (err) {
      await db.close();
      throw err;
    }
    // A PGlite directory has one owner: closed here while the child migrates it.
    await db.close();
  }
  const migrated = await migrateInChildProcess({ url: opts.url, pgliteDir: opts.pgliteDir, holder: opts.holder }, log);
  return { db: await openDatabase(opts), migrated };
}

/** Applies the pending migrations in a child `node` process, which has exited when this resolves. */
export function migrateInChildProcess(target: MigrationTarget, log: (msg: string) => void = () => {}): Promise<MigrationResult> {
  // From the build its own bundle beside the caller's, from source the `.ts` file through tsx (worker-module.ts).
  const load = importWorkerModule(import.meta.url, 'migrate-child');
  const bootstrap = `${load}.then((m) => m.runMigrationChild())`;
  const child = spawn(process.execPath, [...LIFTOFF_ONLY, '--input-type=module', '--eval', bootstrap], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise<MigrationResult>((resolve, reject) => {
    let outcome: { result: MigrationResult } | { error: Error } | null = null;
    child.on('message', (message: ChildMessage) => {
      if ('log' in message) log(message.log);
      else if ('result' in message) outcome = { result: message.result };
      else outcome = { error: childError(message.error) };
    });
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      if (outcome && 'result' in outcome && code === 0) resolve(outcome.result);
      else if (outcome && 'error' in outcome) reject(outcome.error);
      else reject(new Error(`The migration process ended without applying the migrations (${signal ? `signal ${signal}` : `exit code ${code}`})`));
    });
    child.send(target);
  });
}

/** The child's failure as the server reports it: a database that does not open keeps its plain-words class. */
function childError({ name, message }: { name: string; message: string }): Error {
  const err = name === 'DatabaseOpenError' || name === 'DirectoryLockedError' ? new DatabaseOpenError(message) : new Error(message);
  if (err.name !== name) Object.defineProperty(err, 'name', { value: name });
  return err;
}

/** The child's side: receive the target, migrate, report, exit. */
export function runMigrationChild(): void {
  const send = (message: ChildMessage) => new Promise<void>((resolve) => process.send!(message, () => resolve()));
  process.once('message', async (target: MigrationTarget) => {
    let code = 0;
    try {
      const db = await openDatabase({
        url: target.url,
        pgliteDir: target.pgliteDir,
        log: (msg) => void send({ log: msg }),
        holder: { command: `${target.holder?.command ?? 'node'} (migrations)`, serves: false },
      });
      try {
        const result = await db.migrate();
        // Its own peak, for the start-up's log (a fresh PGlite directory's is the largest: BENCHMARKS.md "Memory").
        await send({ log: `[DB] migration process: peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB` });
        await send({ result });
      } finally {
        await db.close();
      }
    } catch (err) {
      code = 1;
      const { name, message } = err instanceof Error ? err : new Error(String(err));
      await send({ error: { name, message } });
    }
    process.disconnect();
    process.exitCode = code;
  });
}
