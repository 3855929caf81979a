// A server killed with -9 that its parent does not reap (a zombie, as under a container's PID 1) no longer holds
// its PGlite directory: the next start succeeds at once, time after time (issue 20 section 1). Real processes on one
// directory (tests/support/pglite-processes.ts), a copy of the run's migrated database.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { processEnv, type ServerProcess, stored, writeAthletes, lockTestDirs } from '../support/pglite-processes.ts';
import { nodeArgs } from '../support/processes.ts';

const dirs = lockTestDirs();

describe('a zombie owner of a PGlite directory', () => {
  it('a server killed with -9 and left a zombie (its parent does not reap it) is replaced at once, time after time', async () => {
    // As under a container's PID 1 that does not reap: the server's parent is `sleep`, which never waits for
    // it, so after kill -9 the server stays a zombie (state Z) holding its pid while the next one starts.
    const parents: ChildProcess[] = [];
    const servers: number[] = [];
    const unreaped = (): Promise<ServerProcess> =>
      new Promise((resolve, reject) => {
        const parent = spawn('sh', ['-c', '"$0" "$@" & echo "server pid $!"; exec sleep 600', process.execPath, ...nodeArgs('src/main.ts')], {
          cwd: process.cwd(),
          env: processEnv(dirs.pgliteDir),
        });
        parents.push(parent);
        const exited = new Promise<number | null>((r) => parent.on('exit', (code) => r(code)));
        let out = '';
        const seen = (d: Buffer) => {
          out += d;
          const pid = /server pid (\d+)/.exec(out);
          const match = /GraphiQL at (http:\/\/127\.0\.0\.1:(\d+)\/graphql)/.exec(out);
          if (pid && !servers.includes(Number(pid[1]))) servers.push(Number(pid[1]));
          if (pid && match) resolve({ child: parent, pid: Number(pid[1]), url: match[1], port: Number(match[2]), exited, output: () => out });
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
      const before = await writeAthletes(server.url, 2, 3);
      for (let restart = 0; restart < 4; restart++) {
        process.kill(server.pid, 'SIGKILL');
        while (procState(server.pid) !== 'Z') await new Promise((r) => setTimeout(r, 5));
        expect(JSON.parse(readFileSync(`${dirs.pgliteDir}.lock`, 'utf8'))).toMatchObject({ pid: server.pid });
        // No pause: the next server starts while the killed one is still a zombie.
        const next = await unreaped();
        expect(procState(server.pid)).toBe('Z');
        expect(JSON.parse(readFileSync(`${dirs.pgliteDir}.lock`, 'utf8'))).toMatchObject({ pid: next.pid, port: next.port });
        server = next;
      }
      expect(await stored(server.url)).toEqual(before);
      process.kill(server.pid, 'SIGTERM');
      while (procState(server.pid) !== 'Z') await new Promise((r) => setTimeout(r, 20));
      expect(existsSync(`${dirs.pgliteDir}.lock`)).toBe(false);
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
});
