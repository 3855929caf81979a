// One process owns a PGlite directory (issue 12, section 1): beside a running server the other commands refuse or
// work through it, and a directory that cannot be opened is refused in plain words. Everything runs as separate
// processes on one data directory, as a user would (tests/support/pglite-processes.ts). The directory starts as a
// copy of the run's migrated database (a first start's migrations are tested in memory.test.ts). A lock left by a
// killed server: pglite-lock-takeover.test.ts and pglite-lock-zombie.test.ts (three files, so that their process
// starts spread over the suite's workers).
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { run, startServerProcess, stopServerProcess, stored, lockTestDirs } from '../support/pglite-processes.ts';

const dirs = lockTestDirs();

describe('one process owns a PGlite directory', () => {
  it('beside a running server, a second server and db:migrate refuse naming it; seed:demo and train work through it; after a restart nothing is lost', async () => {
    const server = await startServerProcess(dirs.pgliteDir);
    try {
      const owner = new RegExp(`pid ${server.pid}, port ${server.port}\\b`);

      const second = await run('src/main.ts', [], dirs.pgliteDir);
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(owner);
      expect(second.stderr).toMatch(/stop that process \(kill \d+/);
      expect(second.stderr).toMatch(/DATABASE_URL/);
      expect(second.stderr).not.toMatch(/^\s+at /m);

      const migrate = await run('scripts/migrate.ts', [], dirs.pgliteDir);
      expect(migrate.code).toBe(1);
      expect(migrate.stderr).toMatch(owner);
      expect(migrate.stderr).toMatch(/restart it to apply new ones/);

      const seed = await run('scripts/seed-demo.ts', ['--athletes', '2', '--sessions-min', '4', '--sessions-max', '6', '--no-train', '--quiet'], dirs.pgliteDir);
      expect(seed.code, seed.stderr).toBe(0);
      expect(seed.stdout).toContain(`the server at ${server.url} (pid ${server.pid})`);
      const wrote = /wrote 2 athletes, (\d+) sessions/.exec(seed.stdout);
      expect(wrote, seed.stdout).not.toBeNull();
      const sessions = Number(wrote![1]);
      expect(sessions).toBeGreaterThanOrEqual(8);

      const train = await run('scripts/train.ts', [], dirs.pgliteDir);
      expect(train.code, train.stderr).toBe(0);
      expect(train.stdout).toContain(`the server at ${server.url} (pid ${server.pid})`);
      expect(train.stdout).toMatch(/\[TRAIN\] SUCCEEDED: 2 athletes, \d+ sessions/);

      // The running server sees every write at once...
      expect(await stored(server.url)).toEqual({ athletes: 2, sessions, nightlyManualRuns: 1 });
      await stopServerProcess(server);
      expect(existsSync(`${dirs.pgliteDir}.lock`)).toBe(false);

      // ...and they are on disk: a restarted server has them all.
      const restarted = await startServerProcess(dirs.pgliteDir);
      try {
        expect(await stored(restarted.url)).toEqual({ athletes: 2, sessions, nightlyManualRuns: 1 });
      } finally {
        await stopServerProcess(restarted);
      }
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 600_000);

  it('a damaged directory, or one made by another PostgreSQL version, is refused in plain words, not a WASM stack', async () => {
    const damaged = path.join(dirs.tmp, 'damaged', 'pglite');
    cpSync(dirs.pgliteDir, damaged, { recursive: true });
    writeFileSync(path.join(damaged, 'global', 'pg_control'), Buffer.alloc(100, 0x5a));
    const corrupt = await run('src/main.ts', [], damaged);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(`Cannot open the embedded database in ${damaged}: its files are damaged or half-written`);
    expect(corrupt.stderr).toContain(`mv ${damaged} ${damaged}.broken`);
    expect(corrupt.stderr).not.toMatch(/^\s+at /m);
    // A refused open leaves no lock behind.
    expect(existsSync(`${damaged}.lock`)).toBe(false);

    const older = path.join(dirs.tmp, 'older', 'pglite');
    cpSync(dirs.pgliteDir, older, { recursive: true });
    writeFileSync(path.join(older, 'PG_VERSION'), '14\n');
    const migrate = await run('scripts/migrate.ts', [], older);
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toMatch(/it was made by PostgreSQL 14, and this PGlite runs PostgreSQL \d+/);
    expect(migrate.stderr).not.toMatch(/^\s+at /m);
  }, 300_000);
});
