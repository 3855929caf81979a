// The server with the flags a container runs it with (package.json start's, on the suite's bundle of src/main.ts, a
// real process): its migrations are applied by a child process that has exited before the server opens the database,
// only when some are pending; a fresh PGlite directory is unpacked from the build's initdb image (the tests' global
// setup makes it, as `npm run build` does) instead of running initdb, so the migration process stays small; a restart
// on the same PGlite directory stays within a 512 MB container (peak) and 350 MB idle; GraphiQL's page, loaded on
// first use, is still served. Resident sizes are read from /proc (Linux).
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startFlags } from '../../scripts/lib/start-flags.ts';
import { gqlOk } from '../support/client.ts';
import { type ServerProcess, startServerProcess } from '../support/pglite-processes.ts';
import { createTestDatabase, dropTestDatabase, tokenFor, usingPostgres } from '../support/server.ts';

const MB = 1024 * 1024;
const tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-memory-'));
const dropLater: string[] = [];
afterAll(async () => {
  rmSync(tmp, { recursive: true, force: true });
  for (const url of dropLater) await dropTestDatabase(url);
});

/** The server process with `npm start`'s flags, on a PGlite directory or (env DATABASE_URL) a PostgreSQL server. */
const startWithFlags = (dir: string, env: Record<string, string> = {}) => startServerProcess(dir, { nodeFlags: startFlags().filter((f) => f !== '--enable-source-maps'), env });

async function stop(server: ServerProcess): Promise<void> {
  server.child.kill('SIGTERM');
  expect(await server.exited).toBe(0);
}

/** VmRSS and VmHWM (the peak so far) of the process, in MB. */
function residentMb(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)![1]) * 1024;
  return { rss: kb('VmRSS') / MB, peak: kb('VmHWM') / MB };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function appliedMigrations(url: string): Promise<number> {
  const admin = await tokenFor('admin');
  // The seeded reference data answers through the API: the schema the migrations made is in place.
  const priors = (await gqlOk<{ populationPriors: unknown[] }>(url, '{ populationPriors { variable } }', {}, admin.token)).populationPriors;
  return priors.length;
}

describe('the server process in a small container', () => {
  it('a fresh PGlite directory is unpacked from the initdb image and migrated in a child that peaks far under 512 MB; a restart starts none, peaks under 512 MB, idles under 350 MB and still serves GraphiQL', async () => {
    const dir = path.join(tmp, 'pglite');
    const first = await startWithFlags(dir);
    try {
      expect(first.output()).toContain(`${dir}: a new directory, unpacked from the build's initdb image`);
      expect(first.output()).toMatch(/migrations applied: \S+.* \(schema-engine\)/);
      // With initdb (no image) this child peaked at 550-580 MB; unpacked from the image, at about 280-330 MB.
      const childPeak = Number(/migration process: peak RSS (\d+) MB/.exec(first.output())?.[1]);
      expect(childPeak).toBeGreaterThan(0);
      expect(childPeak).toBeLessThanOrEqual(400);
      expect(residentMb(first.child.pid!).peak).toBeLessThanOrEqual(512);
      expect(await appliedMigrations(first.url)).toBe(18);
    } finally {
      await stop(first);
    }

    const second = await startWithFlags(dir);
    try {
      expect(second.output()).toMatch(/migrations up to date\n/);
      await sleep(2000);
      const idle = residentMb(second.child.pid!);
      expect(idle.peak).toBeLessThanOrEqual(512);
      expect(idle.rss).toBeLessThanOrEqual(350);
      expect(await appliedMigrations(second.url)).toBe(18);

      // GraphiQL's page is loaded with its first request, and served as before.
      const page = await fetch(second.url, { headers: { accept: 'text/html' } });
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('YogaGraphiQL');
      expect(residentMb(second.child.pid!).rss).toBeGreaterThan(idle.rss + 10);
    } finally {
      await stop(second);
    }
  }, 300_000);

  it.runIf(usingPostgres)(
    'on a fresh PostgreSQL database the migrations run in a child; a restart starts none',
    async () => {
      const url = await createTestDatabase();
      dropLater.push(url);
      const first = await startWithFlags(tmp, { DATABASE_URL: url });
      try {
        expect(first.output()).toMatch(/PostgreSQL server; migrations applied: \S+.* \(schema-engine\)/);
        expect(await appliedMigrations(first.url)).toBe(18);
      } finally {
        await stop(first);
      }
      const second = await startWithFlags(tmp, { DATABASE_URL: url });
      try {
        expect(second.output()).toMatch(/PostgreSQL server; migrations up to date\n/);
        expect(await appliedMigrations(second.url)).toBe(18);
      } finally {
        await stop(second);
      }
    },
    300_000,
  );
});
