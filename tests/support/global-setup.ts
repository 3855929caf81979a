// Vitest globalSetup: one migrated, seeded database made once per run and copied for every test server, instead
// of a fresh database migrated per file. PGlite: a data-directory tarball (dumpDataDir) that each in-memory test
// database starts from (an empty PGlite spends most of its start in initdb). PostgreSQL (TEST_DATABASE_URL): a
// template database each test database is created from (CREATE DATABASE ... TEMPLATE).
// startTestServer and createMigratedTestDatabase (tests/support/server.ts) pick both up through inject(): a new
// test file needs nothing.
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { TestProject } from 'vitest/node';
import { openDatabase } from '../../src/db/client.ts';
import { applyMigrations } from '../../src/db/migrate.ts';
import { LIFTOFF_ONLY } from '../../src/db/migrate-child.ts';
import { ensureInitdbImage, initdbImage } from '../../src/db/pglite-image.ts';
import { seedReferenceData } from '../../src/db/seed.ts';
import { PrismaClient } from '../../src/generated/prisma/client.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Path of the migrated, seeded PGlite data-directory tarball (uncompressed). */
    pgliteImage: string;
    /** Name of the migrated, seeded template database on TEST_DATABASE_URL's server ('' without one). */
    postgresTemplate: string;
  }
}

/** The tarball of an in-memory PGlite after the migrations and the seed, as startServer would leave it. */
async function makePgliteImage(file: string): Promise<void> {
  // Unpacked from the initdb image `npm run build` keeps (made here when missing), not initdb again.
  ensureInitdbImage(LIFTOFF_ONLY);
  const client = new PGlite({ loadDataDir: await initdbImage() });
  try {
    const adapter = new PrismaPGlite(client);
    await applyMigrations(adapter);
    const prisma = new PrismaClient({ adapter });
    try {
      await seedReferenceData(prisma);
    } finally {
      await prisma.$disconnect();
    }
    // Uncompressed: every test server loads it, and gunzip would cost each of them more than the disk read.
    const image = await client.dumpDataDir('none');
    await writeFile(file, Buffer.from(await image.arrayBuffer()));
  } finally {
    await client.close();
  }
}

async function adminQuery(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/** A migrated, seeded database on the PostgreSQL test server, closed again so that it can serve as a template. */
async function makePostgresTemplate(name: string): Promise<void> {
  await adminQuery(`CREATE DATABASE ${name}`);
  const url = new URL(process.env.TEST_DATABASE_URL!);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), pgliteDir: 'memory://' });
  try {
    await db.migrate();
    await seedReferenceData(db.prisma);
  } finally {
    await db.close();
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'climbiq-test-image-'));
  const image = path.join(dir, 'pglite-image.tar');
  const template = process.env.TEST_DATABASE_URL ? `climbiq_template_${randomUUID().replace(/-/g, '').slice(0, 16)}` : '';
  try {
    // PGlite's image is made on either database: some files always run on PGlite.
    await Promise.all([makePgliteImage(image), template ? makePostgresTemplate(template) : null]);
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    if (template) await adminQuery(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    throw err;
  }
  project.provide('pgliteImage', image);
  project.provide('postgresTemplate', template);
  return async () => {
    await rm(dir, { recursive: true, force: true });
    if (template) await adminQuery(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  };
}
