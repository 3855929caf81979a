// The suite's own start-up (tests/support/global-setup.ts): every test server starts on a copy of one migrated,
// seeded database made once per run, so its start-up migration and seed find nothing to do, yet it serves the
// seeded rules and priors and writes land in its own copy alone. A server on a new PGlite directory starts on a
// copy of the same database; an empty PGlite from the run's empty image has no tables; spawned processes run the
// run's bundle.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk } from '../support/client.ts';
import { startFlags } from '../../scripts/lib/start-flags.ts';
import { nodeArgs } from '../support/processes.ts';
import { emptyPgliteImage, startTestServer, tokenFor, usingPostgres, type TestServer } from '../support/server.ts';

const logs: string[][] = [[], []];
let servers: TestServer[] = [];

beforeAll(async () => {
  servers = await Promise.all(logs.map((log) => startTestServer({ log: (m) => log.push(m) })));
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

describe('test servers start on copies of the run image', () => {
  it('find their migrations up to date and the seed already in place', () => {
    for (const log of logs) {
      const boot = log.join('\n');
      expect(boot).toMatch(usingPostgres ? /PostgreSQL server; migrations up to date/ : /embedded PGlite at memory:\/\/; migrations up to date/);
      expect(boot).not.toMatch(/\[DB\] seeded/);
    }
  });

  it('serve the seeded rules and priors, and keep each copy separate', async () => {
    const admin = await tokenFor('admin');
    const query = '{ expertRules { name } populationPriors { variable } }';
    const [a, b] = await Promise.all(servers.map((s) => gqlOk<{ expertRules: { name: string }[]; populationPriors: { variable: string }[] }>(s.url, query, {}, admin.token)));
    expect(a.expertRules.length).toBeGreaterThan(0);
    expect(a.populationPriors.length).toBeGreaterThan(0);
    expect(b).toEqual(a);

    const athlete = await tokenFor('athlete');
    await gqlOk(servers[0].url, 'mutation { startSession(input: { sleepHours: 7 }) { id } }', {}, athlete.token);
    const count = (url: string) => gqlOk<{ sessions: { edges: unknown[] } }>(url, '{ sessions(first: 10) { edges { node { id } } } }', {}, admin.token);
    expect((await count(servers[0].url)).sessions.edges).toHaveLength(1);
    expect((await count(servers[1].url)).sessions.edges).toHaveLength(0);
  });
});

describe('the run image for PGlite directories, empty databases and spawned processes', () => {
  it('a server on a new PGlite directory starts on a copy of the migrated, seeded database, which stays on disk', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'climbiq-image-dir-'));
    const log: string[] = [];
    try {
      const server = await startTestServer({ pgliteDir: path.join(dir, 'pglite'), databaseUrl: null, log: (m) => log.push(m) });
      try {
        expect(log.join('\n')).toMatch(/migrations up to date/);
        expect(log.join('\n')).not.toMatch(/\[DB\] seeded/);
        const admin = await tokenFor('admin');
        expect((await gqlOk<{ expertRules: unknown[] }>(server.url, '{ expertRules { name } }', {}, admin.token)).expertRules.length).toBeGreaterThan(0);
      } finally {
        await server.close();
      }
      expect(existsSync(path.join(dir, 'pglite', 'PG_VERSION'))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the empty image is a database with no tables', async () => {
    const image = await emptyPgliteImage();
    expect(image).toBeDefined();
    const db = new PGlite({ loadDataDir: image });
    try {
      const tables = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
      expect(tables.rows[0].n).toBe(0);
    } finally {
      await db.close();
    }
  });

  it('spawned processes run the bundle made for this run, not the source through tsx', () => {
    const [flag, file, ...rest] = nodeArgs('src/main.ts', ['--flag']);
    // With npm start's WebAssembly tier (package.json's start script).
    expect(flag).toBe('--liftoff-only');
    expect(startFlags()).toContain(flag);
    expect(file).toMatch(/\.tmp\/test-bundle-[^/]+\/main\.js$/);
    expect(existsSync(file)).toBe(true);
    expect(rest).toEqual(['--flag']);
    expect(nodeArgs('scripts/not-bundled.ts')).toEqual(['--liftoff-only', '--import', 'tsx', 'scripts/not-bundled.ts']);
  });
});
