// One process that stops when told (issue 24, point 3): README's `npm start` (and the same `node dist/src/main.js`
// the Dockerfile runs) as real processes on a temporary PGlite directory. SIGTERM or SIGINT sent to the pid that was
// started (npm's own pid for `npm start`) stops the server gracefully: a graphql-ws client is told (close 1001),
// the process exits 0, the port is closed, the directory's lock file is gone, and the next start on the same
// directory succeeds and serves what the previous one wrote. The built server also serves the insights page's
// files (web/, found from the bundle).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startFlags } from '../../scripts/lib/start-flags.ts';
import { gqlOk } from '../support/client.ts';
import { migratedPgliteDir, TEST_JWT_SECRET, tokenFor } from '../support/server.ts';

let tmp: string;
let pgliteDir: string;

interface Started {
  child: ChildProcess;
  url: string;
  port: number;
  output: () => string;
  exited: Promise<number | null>;
}

const env = () => ({ ...process.env, PORT: '0', HOST: '127.0.0.1', PGLITE_DIR: pgliteDir, DATABASE_URL: '', JWT_SECRET: TEST_JWT_SECRET, NODE_ENV: 'test' });

/** Starts a command and resolves once the server prints its address. */
function start(command: string, args: string[]): Promise<Started> {
  return new Promise((resolve, reject) => {
    // A process group of its own, so a failed test can end everything it started; the signals under test go to
    // the started pid alone.
    const child = spawn(command, args, { cwd: process.cwd(), env: env(), detached: true });
    let out = '';
    running.set(child, () => out);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.stderr!.on('data', (d) => (out += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const match = /Graph(?:i)?QL at (http:\/\/127\.0\.0\.1:(\d+)\/graphql)/.exec(out);
      if (match) resolve({ child, url: match[1], port: Number(match[2]), output: () => out, exited });
    });
    void exited.then((code) => reject(new Error(`${command} ${args.join(' ')} exited (${code}) before it was ready:\n${out}`)));
  });
}

/** A graphql-ws connection, acknowledged; `closed` resolves with the close code the server sends later. */
async function openSocket(url: string): Promise<{ closed: Promise<number> }> {
  const socket = new WebSocket(url.replace(/^http/, 'ws'), 'graphql-transport-ws');
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init' })));
    socket.on('message', (data) => {
      if ((JSON.parse(String(data)) as { type: string }).type === 'connection_ack') resolve();
    });
    socket.on('error', reject);
    socket.on('unexpected-response', (_req, res) => reject(new Error(`WebSocket upgrade refused: ${res.statusCode}`)));
  });
  return { closed }; // wrapped: an async function returning the promise itself would wait for it
}

async function portClosed(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/health`);
    return false;
  } catch {
    return true;
  }
}

const lockFile = () => `${pgliteDir}.lock`;
/** Processes a failed test left running. */
const running = new Map<ChildProcess, () => string>();
afterEach(() => {
  for (const [child, output] of running) {
    if (child.exitCode === null && child.signalCode === null) console.error(`still running after the test: ${child.spawnargs.join(' ')}\n${output()}`);
    try {
      process.kill(-child.pid!, 'SIGKILL'); // its whole process group: npm and the server it started
    } catch {
      // already gone
    }
  }
  running.clear();
});

beforeAll(async () => {
  tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-signals-'));
  // A copy of the run's migrated database: the first start opens it at once (a first start's migrations: memory.test.ts).
  pgliteDir = await migratedPgliteDir(path.join(tmp, 'data', 'pglite'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('the production start is one process that stops when told', () => {
  const cases: { name: string; command: string; args: string[]; signal: NodeJS.Signals }[] = [
    { name: 'npm start, SIGTERM to npm', command: 'npm', args: ['start', '--silent'], signal: 'SIGTERM' },
    { name: 'npm start, SIGINT to npm', command: 'npm', args: ['start', '--silent'], signal: 'SIGINT' },
    { name: 'node dist/src/main.js (the Dockerfile CMD), SIGTERM', command: 'node', args: [...startFlags(), 'dist/src/main.js'], signal: 'SIGTERM' },
    { name: 'node dist/src/main.js, SIGINT', command: 'node', args: [...startFlags(), 'dist/src/main.js'], signal: 'SIGINT' },
  ];
  let athleteId: string | null = null;

  for (const { name, command, args, signal } of cases) {
    it(`${name}: graceful stop, exit 0, port closed, lock gone, the next start serves the same data`, { timeout: 240_000 }, async () => {
      const server = await start(command, args);
      const admin = await tokenFor('admin', '00000000-0000-4000-8000-0000000000ad');
      if (athleteId === null) {
        // First start: write an athlete; the built server serves the insights page's files (from web/).
        const athlete = await tokenFor('athlete');
        await gqlOk(server.url, '{ me { id } }', {}, athlete.token);
        athleteId = athlete.id;
        const page = await fetch(server.url.replace(/\/graphql$/, '/insights/main.js'));
        expect(page.status).toBe(200);
      }
      const users = await gqlOk<{ users: { edges: { node: { id: string } }[] } }>(server.url, '{ users(first: 50) { edges { node { id } } } }', {}, admin.token);
      expect(users.users.edges.map((e) => e.node.id)).toContain(athleteId);
      expect(existsSync(lockFile())).toBe(true);

      const socket = await openSocket(server.url);
      const sentAt = Date.now();
      server.child.kill(signal);
      expect(await server.exited).toBe(0);
      expect(Date.now() - sentAt).toBeLessThan(10_000);
      expect(await socket.closed).toBe(1001);
      expect(server.output()).toMatch(new RegExp(`${signal}: shutting down`));
      expect(server.output()).toMatch(/stopped in \d+ ms/);
      expect(await portClosed(server.port)).toBe(true);
      expect(existsSync(lockFile())).toBe(false);
    });
  }
});

describe('the Dockerfile', () => {
  it('starts the same single process as npm start, as a non-root user, on 0.0.0.0, with a HEALTHCHECK', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const scripts = (JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }).scripts;
    const cmd = /^CMD (\[.*\])$/m.exec(dockerfile);
    expect(cmd).not.toBeNull();
    expect((JSON.parse(cmd![1]) as string[]).join(' ')).toBe(['node', ...startFlags(), 'dist/src/main.js'].join(' '));
    // npm start's glibc arena limit (its default, which an operator's own value overrides), as the image's ENV.
    expect(scripts.start).toMatch(/^exec env MALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-(\d+)\} node /);
    expect(dockerfile).toMatch(new RegExp(`^ENV .*MALLOC_ARENA_MAX=${/:-(\d+)\}/.exec(scripts.start)![1]}\\b`, 'm'));
    expect(dockerfile).toMatch(/^USER (?!root)\w+/m);
    expect(dockerfile).toMatch(/^ENV .*HOST=0\.0\.0\.0/m);
    expect(dockerfile).toMatch(/^HEALTHCHECK [\s\S]*?CMD [^\n]*\/health/m);
    expect(dockerfile).toMatch(/npm run build/);
  });
});

it('npm run build writes the bundle the start runs', () => {
  const built = spawnSync('npm', ['run', '--silent', 'build'], { cwd: process.cwd(), encoding: 'utf8' });
  expect(built.status, built.stderr).toBe(0);
  expect(existsSync('dist/src/main.js') && existsSync('dist/src/fit-worker.js') && existsSync('dist/src/migrate-child.js')).toBe(true);
});
