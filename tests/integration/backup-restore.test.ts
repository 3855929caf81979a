// Backups and restores (docs/operations.md "Backups"): `npm run backup` and `npm run restore` as real processes;
// a server started on the restored database serves, through the API, the data written before the backup. On the
// embedded database always (a backup beside the running server is refused, naming it); on PostgreSQL (pg_dump /
// pg_restore) when TEST_DATABASE_URL is set.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gqlOk } from '../support/client.ts';
import { nodeArgs } from '../support/processes.ts';
import { createMigratedTestDatabase, createTestDatabase, dropTestDatabase, startTestServer, tokenFor, usingPostgres, type TestServerOptions } from '../support/server.ts';

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'climbiq-backup-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function npmRun(script: 'backup' | 'restore', file: string, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, nodeArgs(`scripts/${script}.ts`, [file]), { cwd: process.cwd(), env: { ...process.env, DATABASE_URL: '', ...env } });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('close', (code) => resolve({ code, out }));
  });
}

interface Snapshot {
  users: string[];
  rules: { name: string; active: boolean }[];
}

/** What an admin reads: every user and every rule (one of them deactivated before the backup). */
async function snapshot(url: string): Promise<Snapshot> {
  const admin = await tokenFor('admin', '00000000-0000-4000-8000-0000000000ad');
  const data = await gqlOk<{ users: { edges: { node: { id: string } }[] }; expertRules: { name: string; isActive: boolean }[] }>(
    url,
    '{ users(first: 100) { edges { node { id } } } expertRules(includeInactive: true) { name isActive } }',
    {},
    admin.token,
  );
  return { users: data.users.edges.map((e) => e.node.id).sort(), rules: data.expertRules.map((r) => ({ name: r.name, active: r.isActive })).sort((a, b) => a.name.localeCompare(b.name)) };
}

/** Writes two athletes and deactivates a rule; returns what the API then serves. */
async function writeData(opts: TestServerOptions): Promise<Snapshot> {
  const server = await startTestServer(opts);
  try {
    for (const role of ['athlete', 'athlete'] as const) await gqlOk(server.url, '{ me { id } }', {}, (await tokenFor(role)).token);
    const admin = await tokenFor('admin', '00000000-0000-4000-8000-0000000000ad');
    const { expertRules } = await gqlOk<{ expertRules: { name: string }[] }>(server.url, '{ expertRules { name } }', {}, admin.token);
    await gqlOk(server.url, 'mutation ($name: String!) { setExpertRuleActive(name: $name, active: false) { name } }', { name: expertRules[0].name }, admin.token);
    return await snapshot(server.url);
  } finally {
    await server.stop();
  }
}

async function served(opts: TestServerOptions): Promise<Snapshot> {
  const server = await startTestServer(opts);
  try {
    return await snapshot(server.url);
  } finally {
    await server.stop();
  }
}

describe('npm run backup / npm run restore', () => {
  it('embedded database: the restored directory serves the same data; a backup beside the running server is refused', { timeout: 240_000 }, async () => {
    const source = path.join(tmp, 'source', 'pglite');
    const restored = path.join(tmp, 'restored', 'pglite');
    const file = path.join(tmp, 'backups', 'climbiq.tar.gz');
    const before = await writeData({ pgliteDir: source, databaseUrl: null });
    expect(before.users.length).toBe(3);
    expect(before.rules.some((r) => !r.active)).toBe(true);

    const running = await startTestServer({ pgliteDir: source, databaseUrl: null });
    try {
      const refused = await npmRun('backup', file, { PGLITE_DIR: source });
      expect(refused.code).toBe(1);
      expect(refused.out).toMatch(/it is in use by .*pid \d+/);
    } finally {
      await running.stop();
    }

    const backup = await npmRun('backup', file, { PGLITE_DIR: source });
    expect(backup.code, backup.out).toBe(0);
    expect(backup.out).toMatch(/Backed up the embedded database .* to .*climbiq\.tar\.gz/);

    const restore = await npmRun('restore', file, { PGLITE_DIR: restored });
    expect(restore.code, restore.out).toBe(0);
    expect(await served({ pgliteDir: restored, databaseUrl: null })).toEqual(before);

    const again = await npmRun('restore', file, { PGLITE_DIR: restored });
    expect(again.code).toBe(1);
    expect(again.out).toMatch(/is not empty: restore into a new directory/);
  });

  it.runIf(usingPostgres)('PostgreSQL: pg_dump and pg_restore into an empty database serve the same data', { timeout: 240_000 }, async () => {
    // The source as a deployment has it (migrated); pg_restore needs an empty database.
    const [sourceUrl, restoredUrl] = [await createMigratedTestDatabase(), await createTestDatabase()];
    try {
      const before = await writeData({ databaseUrl: sourceUrl });
      const file = path.join(tmp, 'backups', 'climbiq.dump');
      const backup = await npmRun('backup', file, { DATABASE_URL: sourceUrl });
      expect(backup.code, backup.out).toBe(0);
      const restore = await npmRun('restore', file, { DATABASE_URL: restoredUrl });
      expect(restore.code, restore.out).toBe(0);
      expect(await served({ databaseUrl: restoredUrl })).toEqual(before);
    } finally {
      await dropTestDatabase(sourceUrl);
      await dropTestDatabase(restoredUrl);
    }
  });
});
