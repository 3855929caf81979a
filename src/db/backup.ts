// Backups and restores of either database (docs/operations.md "Backups"): `npm run backup -- <file>` and
// `npm run restore -- <file>`.
//   PGlite: PGlite's own dumpDataDir, a gzipped tarball of the whole data directory, taken under the directory's
//           lock (so never beside a running server, whose buffers the files on disk may not yet hold); restored
//           with PGlite's loadDataDir into a new, empty directory.
//   PostgreSQL: pg_dump's custom format (a consistent snapshot, taken while the servers run); restored with
//           pg_restore into an empty database (--no-owner: the restoring role owns the objects).
import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { acquireDirectoryLock, DatabaseOpenError } from './pglite-lock.ts';

export class BackupError extends Error {
  override name = 'BackupError';
}

export interface BackupTarget {
  /** PostgreSQL server URL, or null for the PGlite directory. */
  databaseUrl: string | null;
  pgliteDir: string;
}

function run(command: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'inherit', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) => reject(new BackupError(`${command} could not be started (${err.message}): install the PostgreSQL client tools (Debian: postgresql-client)`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new BackupError(`${command} failed (exit ${code}): ${stderr.trim()}`))));
  });
}

/** Writes a backup of the database to `file`; returns what was written. */
export async function backupDatabase(target: BackupTarget, file: string): Promise<{ kind: 'pglite' | 'postgres'; bytes: number }> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  if (target.databaseUrl) {
    await run('pg_dump', ['--format=custom', '--no-owner', `--file=${file}`, `--dbname=${target.databaseUrl}`]);
    return { kind: 'postgres', bytes: (await stat(file)).size };
  }
  if (!(await stat(target.pgliteDir).catch(() => null))?.isDirectory()) {
    throw new BackupError(`There is no embedded database at ${target.pgliteDir} (PGLITE_DIR) to back up`);
  }
  const lock = acquireDirectoryLock(target.pgliteDir, { command: 'npm run backup', serves: false });
  try {
    const db = new PGlite(target.pgliteDir);
    try {
      await db.waitReady;
      const tarball = await db.dumpDataDir('gzip');
      const bytes = new Uint8Array(await tarball.arrayBuffer());
      await writeFile(file, bytes);
      return { kind: 'pglite', bytes: bytes.byteLength };
    } finally {
      await db.close();
    }
  } finally {
    lock.release();
  }
}

/** Restores `file` (from backupDatabase) into an empty database: a new PGlite directory, or an empty PostgreSQL database. */
export async function restoreDatabase(target: BackupTarget, file: string): Promise<{ kind: 'pglite' | 'postgres' }> {
  if (!(await stat(file).catch(() => null))?.isFile()) throw new BackupError(`No backup file at ${file}`);
  if (target.databaseUrl) {
    await run('pg_restore', ['--no-owner', '--exit-on-error', `--dbname=${target.databaseUrl}`, file]);
    return { kind: 'postgres' };
  }
  const existing = await readdir(target.pgliteDir).catch(() => [] as string[]);
  if (existing.length > 0) {
    throw new BackupError(
      `${target.pgliteDir} (PGLITE_DIR) is not empty: restore into a new directory (set PGLITE_DIR to it), or move the current one aside first (mv ${target.pgliteDir} ${target.pgliteDir}.old)`,
    );
  }
  await mkdir(path.dirname(path.resolve(target.pgliteDir)), { recursive: true });
  const lock = acquireDirectoryLock(target.pgliteDir, { command: 'npm run restore', serves: false });
  try {
    const tarball = new Blob([await readFile(file)], { type: 'application/x-gzip' });
    let db: PGlite;
    try {
      db = new PGlite(target.pgliteDir, { loadDataDir: tarball });
      await db.waitReady;
      await db.query('SELECT 1 FROM _prisma_migrations LIMIT 1');
    } catch (err) {
      throw new DatabaseOpenError(`${file} is not a backup of the embedded database (npm run backup): ${err instanceof Error ? err.message : String(err)}`);
    }
    await db.close();
    return { kind: 'pglite' };
  } finally {
    lock.release();
  }
}
