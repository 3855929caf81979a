// The suite's own start-up (tests/support/global-setup.ts): every test server starts on a copy of one migrated,
// seeded database made once per run, so its start-up migration and seed find nothing to do, yet it serves the
// seeded rules and priors and writes land in its own copy alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk } from '../support/client.ts';
import { startTestServer, tokenFor, usingPostgres, type TestServer } from '../support/server.ts';

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
