// One process owns a PGlite directory (issue 12, section 1). Everything here runs as separate processes on one
// data directory, as a user would: `npm start` (src/main.ts), `npm run seed:demo`, `npm run train`,
// `npm run db:migrate`, each spawned from the run's bundle (tests/support/processes.ts). The directory starts as a
// copy of the run's migrated database (a first start's migrations are tested in memory.test.ts). The directory is
// PGlite whatever TEST_DATABASE_URL says: the lock is about the embedded database.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk } from '../support/client.ts';
import { trainingRuns } from '../support/learning.ts';
import { moduleImport, nodeArgs } from '../support/processes.ts';
import { migratedPgliteDir, TEST_JWT_SECRET, tokenFor } from '../support/server.ts';

let tmp: string;
let pgliteDir: string;

const env = (dir: string) => ({ ...process.env, PORT: '0', HOST: '127.0.0.1', PGLITE_DIR: dir, DATABASE_URL: '', JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'test' });

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a script to its end. */
function run(script: string, args: string[] = [], dir = pgliteDir): Promise<Finished> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, nodeArgs(script, args), { cwd: process.cwd(), env: env(dir) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface ServerProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  port: number;
  exited: Promise<number | null>;
}

/** `npm start` in its own process; resolves once it prints its GraphiQL address. */
function startServerProcess(dir = pgliteDir): Promise<ServerProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs('src/main.ts'), { cwd: process.cwd(), env: env(dir) });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.on('data', (d) => {
      out += d;
      const match = /GraphiQL at (http:\/\/127\.0\.0\.1:(\d+)\/graphql)/.exec(out);
      if (match) resolve({ child, pid: child.pid!, url: match[1], port: Number(match[2]), exited });
    });
    void exited.then((code) => reject(new Error(`server exited (${code}) before it was ready: ${out}${err}`)));
  });
}

async function stopServerProcess(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

interface Stored {
  athletes: number;
  sessions: number;
  nightlyManualRuns: number;
}

/** What the server holds, as an admin reads it over GraphQL. */
async function stored(url: string): Promise<Stored> {
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

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-lock-'));
  pgliteDir = await migratedPgliteDir(path.join(tmp, 'data', 'pglite'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('one process owns a PGlite directory', () => {
  it('beside a running server, a second server and db:migrate refuse naming it; seed:demo and train work through it; after a restart nothing is lost', async () => {
    const server = await startServerProcess();
    try {
      const owner = new RegExp(`pid ${server.pid}, port ${server.port}\\b`);

      const second = await run('src/main.ts');
      expect(second.code).toBe(1);
      expect(second.stderr).toMatch(owner);
      expect(second.stderr).toMatch(/stop that process \(kill \d+/);
      expect(second.stderr).toMatch(/DATABASE_URL/);
      expect(second.stderr).not.toMatch(/^\s+at /m);

      const migrate = await run('scripts/migrate.ts');
      expect(migrate.code).toBe(1);
      expect(migrate.stderr).toMatch(owner);
      expect(migrate.stderr).toMatch(/restart it to apply new ones/);

      const seed = await run('scripts/seed-demo.ts', ['--athletes', '2', '--sessions-min', '4', '--sessions-max', '6', '--no-train', '--quiet']);
      expect(seed.code, seed.stderr).toBe(0);
      expect(seed.stdout).toContain(`the server at ${server.url} (pid ${server.pid})`);
      const wrote = /wrote 2 athletes, (\d+) sessions/.exec(seed.stdout);
      expect(wrote, seed.stdout).not.toBeNull();
      const sessions = Number(wrote![1]);
      expect(sessions).toBeGreaterThanOrEqual(8);

      const train = await run('scripts/train.ts');
      expect(train.code, train.stderr).toBe(0);
      expect(train.stdout).toContain(`the server at ${server.url} (pid ${server.pid})`);
      expect(train.stdout).toMatch(/\[TRAIN\] SUCCEEDED: 2 athletes, \d+ sessions/);

      // The running server sees every write at once...
      expect(await stored(server.url)).toEqual({ athletes: 2, sessions, nightlyManualRuns: 1 });
      await stopServerProcess(server);
      expect(existsSync(`${pgliteDir}.lock`)).toBe(false);

      // ...and they are on disk: a restarted server has them all.
      const restarted = await startServerProcess();
      try {
        expect(await stored(restarted.url)).toEqual({ athletes: 2, sessions, nightlyManualRuns: 1 });
      } finally {
        await stopServerProcess(restarted);
      }
    } finally {
      server.child.kill('SIGKILL');
    }
  }, 600_000);

  it('a lock left by a server killed with -9 is taken over by the next one, with the data intact', async () => {
    const killed = await startServerProcess();
    const before = await stored(killed.url);
    killed.child.kill('SIGKILL');
    await killed.exited;
    expect(JSON.parse(readFileSync(`${pgliteDir}.lock`, 'utf8'))).toMatchObject({ pid: killed.pid, port: killed.port });

    const next = await startServerProcess();
    try {
      expect(JSON.parse(readFileSync(`${pgliteDir}.lock`, 'utf8'))).toMatchObject({ pid: next.pid, port: next.port });
      expect(await stored(next.url)).toEqual(before);
    } finally {
      await stopServerProcess(next);
    }
  }, 300_000);

  it('a server killed with -9 and left a zombie (its parent does not reap it) is replaced at once, time after time', async () => {
    // As under a container's PID 1 that does not reap: the server's parent is `sleep`, which never waits for
    // it, so after kill -9 the server stays a zombie (state Z) holding its pid while the next one starts.
    const parents: ChildProcess[] = [];
    const servers: number[] = [];
    const unreaped = (): Promise<ServerProcess> =>
      new Promise((resolve, reject) => {
        const parent = spawn('sh', ['-c', '"$0" "$@" & echo "server pid $!"; exec sleep 600', process.execPath, ...nodeArgs('src/main.ts')], {
          cwd: process.cwd(),
          env: env(pgliteDir),
        });
        parents.push(parent);
        const exited = new Promise<number | null>((r) => parent.on('exit', (code) => r(code)));
        let out = '';
        const seen = (d: Buffer) => {
          out += d;
          const pid = /server pid (\d+)/.exec(out);
          const match = /GraphiQL at (http:\/\/127\.0\.0\.1:(\d+)\/graphql)/.exec(out);
          if (pid && !servers.includes(Number(pid[1]))) servers.push(Number(pid[1]));
          if (pid && match) resolve({ child: parent, pid: Number(pid[1]), url: match[1], port: Number(match[2]), exited });
          if (/Cannot open the embedded database/.test(out)) reject(new Error(out));
        };
        parent.stdout.on('data', seen);
        parent.stderr.on('data', seen);
        void exited.then((code) => reject(new Error(`exited (${code}) before the server was ready: ${out}`)));
      });
    const procState = (pid: number): string => {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    };
    try {
      let server = await unreaped();
      const before = await stored(server.url);
      for (let restart = 0; restart < 4; restart++) {
        process.kill(server.pid, 'SIGKILL');
        while (procState(server.pid) !== 'Z') await new Promise((r) => setTimeout(r, 5));
        expect(JSON.parse(readFileSync(`${pgliteDir}.lock`, 'utf8'))).toMatchObject({ pid: server.pid });
        // No pause: the next server starts while the killed one is still a zombie.
        const next = await unreaped();
        expect(procState(server.pid)).toBe('Z');
        expect(JSON.parse(readFileSync(`${pgliteDir}.lock`, 'utf8'))).toMatchObject({ pid: next.pid, port: next.port });
        server = next;
      }
      expect(await stored(server.url)).toEqual(before);
      process.kill(server.pid, 'SIGTERM');
      while (procState(server.pid) !== 'Z') await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(`${pgliteDir}.lock`)).toBe(false);
    } finally {
      for (const pid of servers) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone already
        }
      }
      for (const parent of parents) parent.kill('SIGKILL');
    }
  }, 600_000);

  it('a lock whose pid now belongs to another process (a reused pid) is taken over; its own process keeps it', async () => {
    const dir = path.join(tmp, 'reused', 'pglite');
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
    const dir = path.join(tmp, 'race', 'pglite');
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

  it('a damaged directory, or one made by another PostgreSQL version, is refused in plain words, not a WASM stack', async () => {
    const damaged = path.join(tmp, 'damaged', 'pglite');
    cpSync(pgliteDir, damaged, { recursive: true });
    writeFileSync(path.join(damaged, 'global', 'pg_control'), Buffer.alloc(100, 0x5a));
    const corrupt = await run('src/main.ts', [], damaged);
    expect(corrupt.code).toBe(1);
    expect(corrupt.stderr).toContain(`Cannot open the embedded database in ${damaged}: its files are damaged or half-written`);
    expect(corrupt.stderr).toContain(`mv ${damaged} ${damaged}.broken`);
    expect(corrupt.stderr).not.toMatch(/^\s+at /m);
    // A refused open leaves no lock behind.
    expect(existsSync(`${damaged}.lock`)).toBe(false);

    const older = path.join(tmp, 'older', 'pglite');
    cpSync(pgliteDir, older, { recursive: true });
    writeFileSync(path.join(older, 'PG_VERSION'), '14\n');
    const migrate = await run('scripts/migrate.ts', [], older);
    expect(migrate.code).toBe(1);
    expect(migrate.stderr).toMatch(/it was made by PostgreSQL 14, and this PGlite runs PostgreSQL \d+/);
    expect(migrate.stderr).not.toMatch(/^\s+at /m);
  }, 300_000);
});
