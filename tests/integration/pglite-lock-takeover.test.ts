// A lock whose owner is gone is taken over at once (issue 20 section 1): after kill -9 (the data intact), when the
// recorded pid now belongs to another process, and when several processes race for it. Real processes on one PGlite
// directory (tests/support/pglite-processes.ts), a copy of the run's migrated database; the rest of the lock's
// behaviour: pglite-lock.test.ts, a zombie owner: pglite-lock-zombie.test.ts.
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startServerProcess, stopServerProcess, stored, writeAthletes, lockTestDirs } from '../support/pglite-processes.ts';
import { moduleImport } from '../support/processes.ts';

const dirs = lockTestDirs();

describe('a stale PGlite lock is taken over', () => {
  it('a lock left by a server killed with -9 is taken over by the next one, with the data intact', async () => {
    const killed = await startServerProcess(dirs.pgliteDir);
    const before = await writeAthletes(killed.url, 2, 3);
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(JSON.parse(readFileSync(`${dirs.pgliteDir}.lock`, 'utf8'))).toMatchObject({ pid: killed.pid, port: killed.port });

    const next = await startServerProcess(dirs.pgliteDir);
    try {
      expect(JSON.parse(readFileSync(`${dirs.pgliteDir}.lock`, 'utf8'))).toMatchObject({ pid: next.pid, port: next.port });
      expect(await stored(next.url)).toEqual(before);
    } finally {
      await stopServerProcess(next);
    }
  }, 300_000);

  it('a lock whose pid now belongs to another process (a reused pid) is taken over; its own process keeps it', async () => {
    const dir = path.join(dirs.tmp, 'reused', 'pglite');
    mkdirSync(path.dirname(dir), { recursive: true });
    const other = spawn('sleep', ['600']);
    try {
      const stat = readFileSync(`/proc/${other.pid}/stat`, 'utf8');
      const start = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
      const lockModule = moduleImport('src/db/pglite-lock.ts');
      const take = `
        import { acquireDirectoryLock } from '${lockModule.specifier}';
        try {
          acquireDirectoryLock(${JSON.stringify(dir)}, { command: 'taker', serves: false }).release();
          console.log('taken');
        } catch (err) {
          console.log('refused: ' + err.message);
        }`;
      const attempt = async (processStart: string): Promise<string> => {
        writeFileSync(
          `${dir}.lock`,
          JSON.stringify({ command: 'npm start', serves: true, pid: other.pid, hostname: hostname(), startedAt: new Date().toISOString(), id: `at-${processStart}`, processStart }),
        );
        const child = spawn(process.execPath, [...lockModule.nodeArgs, '--input-type=module', '-e', take], { cwd: process.cwd() });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        await new Promise((r) => child.on('close', r));
        return out.trim();
      };
      // The recorded owner started at another time: the live process with its pid is someone else.
      expect(await attempt(String(Number(start) - 1))).toBe('taken');
      expect(existsSync(`${dir}.lock`)).toBe(false);
      // The same pid and start time: the owner itself, still running.
      expect(await attempt(start)).toContain(`refused: Cannot open the embedded database ${dir}: it is in use by "npm start" (pid ${other.pid}`);
    } finally {
      other.kill('SIGKILL');
    }
  }, 120_000);

  it('processes racing to take over the same stale lock: exactly one wins, the others name it', async () => {
    const dir = path.join(dirs.tmp, 'race', 'pglite');
    mkdirSync(path.dirname(dir), { recursive: true });
    const gone = spawn(process.execPath, ['-e', '']);
    await new Promise((r) => gone.on('exit', r));
    writeFileSync(`${dir}.lock`, JSON.stringify({ command: 'npm start', serves: true, pid: gone.pid, hostname: hostname(), startedAt: new Date().toISOString(), id: 'stale' }));
    // A winner holds the lock until every racer has tried (its stdin is closed then), so no one wins a freed lock.
    const lockModule = moduleImport('src/db/pglite-lock.ts');
    const racer = `
      import { acquireDirectoryLock } from '${lockModule.specifier}';
      try {
        const lock = acquireDirectoryLock(${JSON.stringify(dir)}, { command: 'racer', serves: false });
        console.log('won ' + process.pid);
        process.stdin.resume();
        await new Promise((r) => process.stdin.on('end', r));
        lock.release();
      } catch (err) {
        console.log('refused: ' + err.message);
      }`;
    const racers = Array.from({ length: 6 }, () => {
      const child = spawn(process.execPath, [...lockModule.nodeArgs, '--input-type=module', '-e', racer], { cwd: process.cwd() });
      const closed = new Promise((r) => child.on('close', r));
      const outcome = new Promise<string>((resolve) => {
        let out = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (out.includes('\n')) resolve(out.trim());
        });
        void closed.then(() => resolve(out.trim()));
      });
      return { child, closed, outcome };
    });
    const outcomes = await Promise.all(racers.map((r) => r.outcome));
    for (const r of racers) r.child.stdin.end();
    await Promise.all(racers.map((r) => r.closed));
    const winners = outcomes.filter((o) => o.startsWith('won '));
    expect(winners, outcomes.join('\n')).toHaveLength(1);
    const winner = winners[0].slice('won '.length);
    for (const o of outcomes.filter((x) => x !== winners[0])) expect(o).toContain(`it is in use by "racer" (pid ${winner}`);
    // The winner released it on its way out: nothing is left behind.
    expect(readdirSync(path.dirname(dir))).toEqual([]);
  }, 120_000);
});
