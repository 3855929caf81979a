// Migrations and seed data on both databases: the migrations apply to an empty database and are a no-op the
// second time (Prisma's WASM schema engine, and the plain-SQL fallback runner writing the same
// `_prisma_migrations` table); the seed is inserted once and never overwrites what an admin edited, across
// restarts of the server on the same database.
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPg } from '@prisma/adapter-pg';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { afterAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/client.ts';
import { applyMigrations } from '../../src/db/migrate.ts';
import { loadMigrationList } from '../../src/db/schema-engine.ts';
import { gqlOk } from '../support/client.ts';
import { createTestDatabase, dropTestDatabase, emptyPgliteImage, startTestServer, tokenFor, usingPostgres } from '../support/server.ts';

const MIGRATION_ROWS = `SELECT id, migration_name, checksum, finished_at, rolled_back_at, applied_steps_count FROM "_prisma_migrations" ORDER BY migration_name`;
const TABLES = [
  'baseline_assessments',
  'climbing_sessions',
  'expert_rules',
  'model_outputs',
  'model_snapshots',
  'population_models',
  'population_priors',
  'population_statistics',
  'recommendations',
  'training_runs',
  'users',
];

/** Every migration folder with the sha256 of its SQL (the checksum Prisma records). */
async function expectedMigrations(): Promise<{ name: string; checksum: string }[]> {
  const list = await loadMigrationList();
  return list.migrationDirectories.map((d) => {
    if (d.migrationFile.content.tag !== 'ok') throw new Error(`unreadable migration ${d.path}`);
    return { name: d.path, checksum: createHash('sha256').update(d.migrationFile.content.value).digest('hex') };
  });
}

/** A row of raw SQL: column name -> value. */
type Row = Record<string, unknown>;
/** What MIGRATION_ROWS selects of Prisma's migration table. */
interface MigrationRow {
  id: string;
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  applied_steps_count: number;
}
interface Rule {
  name: string;
  priority: number;
  isActive: boolean;
  description: string;
}

/** A fresh empty database: its URL for openDatabase, an adapter factory for the runners, and raw SQL. */
interface Target {
  url: string | null;
  pgliteDir: string;
  factory: SqlMigrationAwareDriverAdapterFactory;
  query(sql: string, params?: unknown[]): Promise<Row[]>;
  /** Several statements at once (a migration file). */
  exec(sql: string): Promise<void>;
  close(): Promise<void>;
}

type TargetKind = 'pglite' | 'postgres';
const KINDS: TargetKind[] = usingPostgres ? ['pglite', 'postgres'] : ['pglite'];
const dropLater: string[] = [];
afterAll(async () => {
  for (const url of dropLater) await dropTestDatabase(url);
});

async function freshTarget(kind: TargetKind): Promise<Target> {
  if (kind === 'pglite') {
    // An empty in-memory PGlite, from the run's image of one (the same database initdb makes, seconds sooner).
    const empty = await emptyPgliteImage();
    const client = new PGlite(empty ? { loadDataDir: empty } : undefined);
    await client.waitReady;
    return {
      url: null,
      pgliteDir: 'memory://',
      factory: new PrismaPGlite(client),
      query: async (sql, params) => (await client.query<Row>(sql, params)).rows,
      exec: async (sql) => void (await client.exec(sql)),
      close: () => client.close(),
    };
  }
  const url = await createTestDatabase();
  dropLater.push(url);
  // One connection: the SQL runner's session-level advisory lock and its statements share it (as in src/db/client.ts).
  const pool = new pg.Pool({ connectionString: url, max: 1 });
  return {
    url,
    pgliteDir: 'memory://',
    factory: new PrismaPg(pool),
    query: async (sql, params) => (await pool.query(sql, params)).rows,
    exec: async (sql) => void (await pool.query(sql)),
    close: () => pool.end(),
  };
}

/**
 * Applies by hand (each file's SQL as it is) every migration before the one whose name ends with `suffix`, and
 * returns what applies that one and every later one.
 */
async function applyMigrationsBefore(target: Target, suffix: string): Promise<() => Promise<void>> {
  const list = await loadMigrationList();
  const sql = list.migrationDirectories.map((d) => ({ name: d.path, text: d.migrationFile.content.tag === 'ok' ? d.migrationFile.content.value : '' }));
  const split = sql.findIndex((m) => m.name.endsWith(suffix));
  if (split < 1) throw new Error(`no migration ending with ${suffix} after the first`);
  for (const m of sql.slice(0, split)) await target.exec(m.text);
  return async () => {
    for (const m of sql.slice(split)) await target.exec(m.text);
  };
}

async function migrationRows(query: Target['query']) {
  return query(MIGRATION_ROWS);
}

async function tablesOf(query: Target['query']): Promise<string[]> {
  return (await query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name`)).map((r) => r.table_name as string);
}

describe.each(KINDS)('migrations on %s', (kind) => {
  it('the stored-recommendations migration turns each recommendationShown snapshot into a linked, typed record', async () => {
    const target = await freshTarget(kind);
    try {
      const applyFrom = await applyMigrationsBefore(target, '_stored_recommendations');
      const user = '11111111-1111-4111-8111-111111111111';
      const shown = {
        source: 'MODEL',
        sessionType: 'VOLUME',
        override: null,
        prediction: { expectedQuality: 6.5, rawQuality: 6.4, interval: { low: 3.6, high: 9.4 }, contributions: [{ variable: 'sleepHours', value: 0.3 }], phase: 'LEARNING', confidence: 'MEDIUM' },
        rulesApplied: ['dehydration_warning'],
        warnings: [{ rule: 'dehydration_warning', category: 'CONSERVATIVE', message: 'Drink', reason: 'hydrationStatus <= 4 (3)' }],
        constraints: { sessionTypeCeiling: null, suggestedSessionType: null, avoid: [], include: [], warmupMin: null, maxDurationMin: null, reduceVolume: false, hydrationBreaks: true },
        suggestions: [],
        statisticalContext: { insights: ['x'] },
        personalization: { phase: 'LEARNING', sessionsIncluded: 12, hasBaseline: true, hasPersonalization: true },
        generatedAt: '2026-03-01T10:00:00.123Z',
      };
      const override = {
        ...shown,
        source: 'RULE_OVERRIDE',
        sessionType: 'REST_DAY',
        prediction: null,
        override: { rule: 'severe_injury_rest_required', category: 'SAFETY', sessionType: 'REST_DAY', message: 'Rest' },
      };
      await target.exec(`INSERT INTO users (id) VALUES ('${user}')`);
      const insert = `INSERT INTO climbing_sessions (id, "userId", "sleepHours", "hydrationStatus", "recommendationShown", "updatedAt") VALUES ($1, '${user}', 7.5, 3, $2::jsonb, now())`;
      const ids = ['a0000000-0000-4000-8000-000000000001', 'a0000000-0000-4000-8000-000000000002', 'a0000000-0000-4000-8000-000000000003', 'a0000000-0000-4000-8000-000000000004'];
      await target.query(insert, [ids[0], JSON.stringify(shown)]);
      await target.query(insert, [ids[1], JSON.stringify(override)]);
      await target.query(insert, [ids[2], JSON.stringify({ error: 'engine down' })]);
      await target.query(insert, [ids[3], null]);
      await applyFrom();

      const rows = await target.query(`SELECT s.id AS "sessionId", r.* FROM climbing_sessions s LEFT JOIN recommendations r ON r.id = s."recommendationId" ORDER BY s.id`);
      expect(rows.map((r) => r.source)).toEqual(['MODEL', 'RULE_OVERRIDE', null, null]);
      expect(rows[0]).toMatchObject({
        userId: user,
        sessionType: 'VOLUME',
        expectedQuality: 6.5,
        rawQuality: 6.4,
        intervalLow: 3.6,
        intervalHigh: 9.4,
        confidence: 'MEDIUM',
        phase: 'LEARNING',
        modelSessionsIncluded: 12,
        hasBaseline: true,
        hasPersonalization: true,
        checkIn: { sleepHours: 7.5, hydrationStatus: 3 },
        matchedRules: ['dehydration_warning'],
        overrideRule: null,
        warnings: shown.warnings,
        constraints: shown.constraints,
        contributions: shown.prediction.contributions,
        statisticalContext: { insights: ['x'] },
      });
      // createdAt is the snapshot's generatedAt (UTC, as Prisma stores timestamps)
      expect(await target.query(`SELECT "createdAt" = '2026-03-01 10:00:00.123'::timestamp AS same FROM recommendations WHERE source = 'MODEL'`)).toEqual([{ same: true }]);
      expect(rows[1]).toMatchObject({ expectedQuality: null, intervalLow: null, overrideRule: 'severe_injury_rest_required', overrideCategory: 'SAFETY', overrideMessage: 'Rest' });
      expect((await target.query(`SELECT count(*)::int AS n FROM recommendations`))[0].n).toBe(2);
      const columns = await target.query(`SELECT column_name FROM information_schema.columns WHERE table_name = 'climbing_sessions' AND column_name = 'recommendationShown'`);
      expect(columns).toEqual([]);
    } finally {
      await target.close();
    }
  }, 120_000); // a fresh database and three migration files applied by hand: over a minute on a loaded shared machine

  it('the json-columns migration keeps every stored answer as it was, and an instance still sending jsonb writes into the new columns', async () => {
    const target = await freshTarget(kind);
    try {
      const applyFrom = await applyMigrationsBefore(target, '_recommendations_json_columns');
      const user = '22222222-2222-4222-8222-222222222222';
      await target.exec(`INSERT INTO users (id) VALUES ('${user}')`);
      // Awkward values: keys out of jsonb's order, a small and a large number, unicode, quotes and a backslash, nulls.
      const values = {
        checkIn: { sleepHours: 7.25, energyLevel: 4, plannedLocation: 'Céüse "north" \\ sector', zeta: null },
        constraints: [null, 'VOLUME', ['campus'], [], 15, null, false, true],
        warnings: [{ rule: 'dehydration_warning', message: 'Drink 💧', reason: 'hydrationStatus <= 4 (3)' }],
        contributions: [
          ['sleepHours', 1e-7],
          ['energyLevel', -123456789.125],
        ],
        suggestions: [],
        statisticalContext: { insights: ['x'], populationComparison: [['sleepHours', 7.25, 7, 1, 0.25, 60]] },
      };
      const columns = Object.keys(values);
      const insert = (id: string, cast: string) =>
        target.query(
          `INSERT INTO recommendations (id, "userId", source, "sessionType", confidence, phase, "modelSessionsIncluded", "hasBaseline", "hasPersonalization", ${columns.map((c) => `"${c}"`).join(', ')})
           VALUES ($1::uuid, '${user}', 'MODEL', 'VOLUME', 'MEDIUM', 'LEARNING', 3, true, true, ${columns.map((_, i) => `$${i + 2}::${cast}`).join(', ')})`,
          [id, ...columns.map((c) => JSON.stringify(values[c as keyof typeof values]))],
        );
      const before = 'b0000000-0000-4000-8000-000000000001';
      await insert(before, 'jsonb');
      const read = async (id: string) => (await target.query(`SELECT ${columns.map((c) => `"${c}"`).join(', ')} FROM recommendations WHERE id = $1::uuid`, [id]))[0];
      const asJsonb = await read(before);
      expect(asJsonb).toEqual(values);

      await applyFrom();
      const types = await target.query(`SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'recommendations' AND column_name = ANY($1::text[]) ORDER BY column_name`, [
        columns,
      ]);
      expect(types).toEqual([...columns].sort().map((c) => ({ column_name: c, data_type: 'json' })));
      expect(await read(before)).toEqual(values);
      // The code before this migration sends jsonb: the assignment cast takes it into the json columns.
      const during = 'b0000000-0000-4000-8000-000000000002';
      await insert(during, 'jsonb');
      expect(await read(during)).toEqual(values);
    } finally {
      await target.close();
    }
  }, 120_000);

  it('openDatabase().migrate() applies every migration to an empty database, then is a no-op', async () => {
    const expected = await expectedMigrations();
    expect(expected.length).toBeGreaterThan(0);
    let url: string | null = null;
    if (kind === 'postgres') {
      url = await createTestDatabase();
      dropLater.push(url);
    }
    const db = await openDatabase({ url, pgliteDir: 'memory://', pgliteImage: url ? undefined : await emptyPgliteImage() });
    try {
      expect(db.kind).toBe(kind);
      const first = await db.migrate();
      expect(first).toEqual({ applied: expected.map((m) => m.name), runner: 'schema-engine' });
      const rows = await db.prisma.$queryRawUnsafe<MigrationRow[]>(MIGRATION_ROWS);
      expect(rows.map((r) => ({ name: r.migration_name, checksum: r.checksum }))).toEqual(expected);
      for (const r of rows) {
        expect(r.finished_at).not.toBeNull();
        expect(r.rolled_back_at).toBeNull();
      }
      const tables = await db.prisma.$queryRawUnsafe<{ table_name: string }[]>(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`);
      expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining([...TABLES, '_prisma_migrations']));

      const second = await db.migrate();
      expect(second).toEqual({ applied: [], runner: 'schema-engine' });
      const after = await db.prisma.$queryRawUnsafe<MigrationRow[]>(MIGRATION_ROWS);
      expect(after).toEqual(rows);
      // The plain-SQL runner (MIGRATION_RUNNER=sql) reads the same table: nothing to do either.
      process.env.MIGRATION_RUNNER = 'sql';
      try {
        expect(await db.migrate()).toEqual({ applied: [], runner: 'sql' });
      } finally {
        delete process.env.MIGRATION_RUNNER;
      }
      const afterSql = await db.prisma.$queryRawUnsafe<MigrationRow[]>(MIGRATION_ROWS);
      expect(afterSql).toEqual(rows);
      // The schema is usable: a row goes in and comes out.
      await db.prisma.user.create({ data: { id: '00000000-0000-4000-8000-0000000000aa', role: 'ATHLETE' } });
      expect(await db.prisma.user.count()).toBe(1);
    } finally {
      await db.close();
    }
    if (url) {
      // A new process on the same database finds nothing to do.
      const again = await openDatabase({ url, pgliteDir: 'memory://' });
      try {
        expect(await again.migrate()).toEqual({ applied: [], runner: 'schema-engine' });
      } finally {
        await again.close();
      }
    }
  });

  it('the plain-SQL fallback runner writes the same table, is idempotent, and the two runners agree', async () => {
    const expected = await expectedMigrations();
    const target = await freshTarget(kind);
    try {
      expect(await tablesOf(target.query)).toEqual([]);
      expect(await applyMigrations(target.factory, { runner: 'sql' })).toEqual({ applied: expected.map((m) => m.name), runner: 'sql' });
      const rows = await migrationRows(target.query);
      expect(rows.map((r) => ({ name: r.migration_name, checksum: r.checksum }))).toEqual(expected);
      for (const r of rows) {
        expect(r.finished_at).not.toBeNull();
        expect(r.rolled_back_at).toBeNull();
        expect(r.applied_steps_count).toBe(1);
      }
      expect(await tablesOf(target.query)).toEqual(expect.arrayContaining([...TABLES, '_prisma_migrations']));

      expect(await applyMigrations(target.factory, { runner: 'sql' })).toEqual({ applied: [], runner: 'sql' });
      expect(await migrationRows(target.query)).toEqual(rows);
      // The schema engine takes over a database the SQL runner migrated without reapplying anything.
      expect(await applyMigrations(target.factory, { runner: 'schema-engine' })).toEqual({ applied: [], runner: 'schema-engine' });
      expect(await migrationRows(target.query)).toEqual(rows);
    } finally {
      await target.close();
    }
  });
});

describe('seed data across restarts', () => {
  const PRIORS = '{ populationPriors { variable populationMean source } }';
  const RULES = '{ expertRules(includeInactive: true) { name priority isActive description } }';

  async function restartKeepsAdminEdits(database: { databaseUrl: string | null; pgliteDir?: string }) {
    const admin = await tokenFor('admin');
    const logs: string[][] = [[], []];

    const first = await startTestServer({ ...database, emptyPgliteDir: true, log: (m) => logs[0].push(m) });
    try {
      expect(logs[0].join('\n')).toMatch(/seeded 18 priors, 15 rules/);
      const ready = await fetch(first.url.replace(/\/graphql$/, '/ready'));
      expect(ready.status).toBe(200);
      await gqlOk(
        first.url,
        'mutation { upsertPopulationPrior(input: { variable: "sleepHours", populationMean: 0.5, populationStd: 0.2, individualVariance: 0.1, source: "admin edit" }) { variable } }',
        {},
        admin.token,
      );
      await gqlOk(first.url, 'mutation { setExpertRuleActive(name: "warmup_requirement", active: false) { name } }', {}, admin.token);
      const rule = (await gqlOk<{ expertRules: Rule[] }>(first.url, RULES, {}, admin.token)).expertRules.find((r) => r.name === 'training_load_spike')!;
      const seededRule = await first.db.prisma.expertRule.findUniqueOrThrow({ where: { name: 'training_load_spike' } });
      await gqlOk(
        first.url,
        'mutation($input: ExpertRuleInput!) { upsertExpertRule(input: $input) { name } }',
        { input: { name: rule.name, description: 'Load spike (edited)', conditions: seededRule.conditions, actions: seededRule.actions, category: seededRule.category, priority: 12 } },
        admin.token,
      );
      // A seed rule gone from the table is put back at the next start (the edited ones stay as edited).
      await first.db.prisma.expertRule.delete({ where: { name: 'caffeine_timing_boost' } });
    } finally {
      await first.stop();
    }

    const second = await startTestServer({ ...database, log: (m) => logs[1].push(m) });
    try {
      const boot = logs[1].join('\n');
      expect(boot).toMatch(/migrations up to date/);
      expect(boot).toMatch(/seeded 0 priors, 1 rules/);
      const priors = (await gqlOk<{ populationPriors: { variable: string; populationMean: number; source: string }[] }>(second.url, PRIORS, {}, admin.token)).populationPriors;
      expect(priors).toHaveLength(18);
      expect(priors.find((p) => p.variable === 'sleepHours')).toEqual({ variable: 'sleepHours', populationMean: 0.5, source: 'admin edit' });
      expect(priors.find((p) => p.variable === 'sleepQuality')?.populationMean).toBe(0.18);
      const rules = (await gqlOk<{ expertRules: Rule[] }>(second.url, RULES, {}, admin.token)).expertRules;
      expect(rules).toHaveLength(15);
      expect(rules.find((r) => r.name === 'warmup_requirement')?.isActive).toBe(false);
      expect(rules.find((r) => r.name === 'training_load_spike')).toMatchObject({ priority: 12, description: 'Load spike (edited)', isActive: true });
      expect(rules.at(-1)?.name).toBe('training_load_spike'); // the edited priority orders it last
      // The edit is what the engine uses after the restart: warm-up advice is off.
      const rec = (await gqlOk<{ recommendation: { rulesApplied: string[] } }>(second.url, '{ recommendation(input: { warmupCompleted: false }) { rulesApplied } }', {}, admin.token)).recommendation;
      expect(rec.rulesApplied).not.toContain('warmup_requirement');
    } finally {
      await second.stop();
    }
  }

  it('on a PGlite data directory: inserted once, admin edits survive a restart', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'climbiq-seed-'));
    try {
      await restartKeepsAdminEdits({ databaseUrl: null, pgliteDir: path.join(dir, 'pglite') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  if (usingPostgres) {
    it('on a PostgreSQL database: inserted once, admin edits survive a restart', async () => {
      const url = await createTestDatabase();
      dropLater.push(url);
      await restartKeepsAdminEdits({ databaseUrl: url });
    });
  }
});
