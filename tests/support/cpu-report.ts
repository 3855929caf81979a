// Where the suite's CPU goes, per file: `TEST_CPU_REPORT=<file> npm test` (vitest.config.ts adds this file to
// `setupFiles` then) appends one JSON line per test file to <file>: the worker's own CPU during the file (all its
// threads: the in-process servers' PGlite threads and fit workers), the CPU of the child processes it reaped (spawned
// servers and CLIs, chromium), the file's wall time, and its in-process server starts with their CPU. The suite's
// CPU is what bounds it on 2 cores (README "The test suite"); vitest's own durations only give the wall time.
import { appendFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import { serverStarts } from './server.ts';

/** CPU of this process's reaped children (cutime + cstime of /proc/self/stat, in clock ticks of 10 ms). */
function childrenCpuMs(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[13]) + Number(fields[14])) * 10;
}

const ownCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

let start = { own: 0, children: 0, wall: 0, starts: 0, startsCpu: 0 };
beforeAll(() => {
  start = { own: ownCpuMs(), children: childrenCpuMs(), wall: Date.now(), starts: serverStarts.count, startsCpu: serverStarts.cpuMs };
});
afterAll(() => {
  const file = (expect.getState().testPath ?? '?').replace(`${process.cwd()}/`, '');
  const line = {
    file,
    ownCpuMs: Math.round(ownCpuMs() - start.own),
    childrenCpuMs: Math.round(childrenCpuMs() - start.children),
    wallMs: Date.now() - start.wall,
    serverStarts: serverStarts.count - start.starts,
    serverStartsCpuMs: Math.round(serverStarts.cpuMs - start.startsCpu),
  };
  appendFileSync(process.env.TEST_CPU_REPORT!, `${JSON.stringify(line)}\n`);
});
