// Vitest globalSetup: one migrated, seeded database made once per run and copied for every test server, instead
// of a fresh database migrated per file. PGlite: a data-directory tarball (dumpDataDir) that each in-memory test
// database starts from (an empty PGlite spends most of its start in initdb). PostgreSQL (TEST_DATABASE_URL): a
// template database each test database is created from (CREATE DATABASE ... TEMPLATE).
// startTestServer and createMigratedTestDatabase (tests/support/server.ts) pick both up through inject(): a new
// test file needs nothing. The same image unpacked once into a PGlite data directory serves the tests whose servers
// (or spawned processes) run on a directory: each copies it (migratedPgliteDir) instead of an initdb and the
// migrations in a child process. And the processes the tests spawn (the server, the CLIs) run one esbuild bundle
// made here (tests/support/processes.ts), as `npm start` runs dist/src/main.js, instead of each transpiling the
// source with tsx at its start.
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { TestProject } from 'vitest/node';
import { bundle, ROOT, SERVER_ENTRY_POINTS } from '../../scripts/lib/bundle.ts';
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
    /** Path of an empty PGlite's data-directory tarball (just after initdb), for the tests that migrate from empty. */
    emptyPgliteImage: string;
    /** Name of the migrated, seeded template database on TEST_DATABASE_URL's server ('' without one). */
    postgresTemplate: string;
    /** A PGlite data directory holding the same migrated, seeded database, to be copied (never opened in place). */
    pgliteDirectory: string;
    /** Directory of the run's esbuild bundle of the entries in TEST_BUNDLE_ENTRIES (tests/support/processes.ts). */
    testBundle: string;
  }
}

/**
 * The tarball of an in-memory PGlite after the migrations and the seed, as startServer would leave it; and of the
 * same PGlite before them (`emptyFile`), just after its initdb.
 */
async function makePgliteImage(file: string, emptyFile: string): Promise<void> {
  // Unpacked from the initdb image `npm run build` keeps (made here when missing), not initdb again.
  ensureInitdbImage(LIFTOFF_ONLY);
  const client = new PGlite({ loadDataDir: await initdbImage() });
  try {
    await client.waitReady; // dumpDataDir before then never settles
    await writeFile(emptyFile, Buffer.from(await (await client.dumpDataDir('none')).arrayBuffer()));
    const adapter = new PrismaPGlite(client);
    await applyMigrations(adapter);
    const prisma = new PrismaClient({ adapter });
    try {
      await seedReferenceData(prisma);
    } finally {
      await prisma.$disconnect();
    }
    // Smaller and ready to open: every test server unpacks this image and starts PostgreSQL on it. initdb's
    // template databases (template0, template1: 15 of the 40 MB) serve only CREATE DATABASE, which nothing runs on
    // PGlite; they are dropped as a user would drop them, so the catalog and the files agree. A checkpoint then
    // leaves nothing for each start to replay (without it every start redoes the migrations' and seed's WAL). A start
    // on it takes about half the CPU (README "The test suite").
    for (const template of ['template1', 'template0']) {
      await client.exec(`ALTER DATABASE ${template} IS_TEMPLATE false`);
      await client.exec(`DROP DATABASE ${template}`);
    }
    await client.exec('CHECKPOINT');
    // Uncompressed: every test server loads it, and gunzip would cost each of them more than the disk read.
    const image = await client.dumpDataDir('none');
    await writeFile(file, Buffer.from(await image.arrayBuffer()));
  } finally {
    await client.close();
  }
}

/** The image unpacked into a data directory, as a server on PGLITE_DIR would have left it after its first start. */
async function makePgliteDirectory(image: string, dir: string): Promise<void> {
  const client = new PGlite(dir, { loadDataDir: new Blob([await readFile(image)]) });
  await client.close();
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

/**
 * The modules the tests run as processes of their own: the server (with the modules it starts by file) and the CLIs.
 * One bundle of each per run; a module missing here still runs, from source through tsx (tests/support/processes.ts).
 */
const TEST_BUNDLE_ENTRIES = [
  ...SERVER_ENTRY_POINTS,
  'scripts/seed-demo.ts',
  'scripts/train.ts',
  'scripts/migrate.ts',
  'scripts/backup.ts',
  'scripts/restore.ts',
  'scripts/token.ts',
  'src/db/pglite-lock.ts',
];

/** Bundles TEST_BUNDLE_ENTRIES into `dir` (two folders below the project) with a manifest: entry -> bundle file. */
async function makeTestBundle(dir: string): Promise<void> {
  await bundle(TEST_BUNDLE_ENTRIES, path.relative(ROOT, dir));
  const manifest = Object.fromEntries(TEST_BUNDLE_ENTRIES.map((entry) => [entry, path.join(dir, `${path.basename(entry, '.ts')}.js`)]));
  await writeFile(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await mkdtemp(path.join(tmpdir(), 'climbiq-test-image-'));
  const image = path.join(dir, 'pglite-image.tar');
  const emptyImage = path.join(dir, 'pglite-empty.tar');
  const directory = path.join(dir, 'pglite');
  // Inside the project (.tmp/ is ignored by git): the bundled modules find prisma/, web/ and node_modules from there.
  const bundleDir = path.join(ROOT, '.tmp', `test-bundle-${randomUUID().slice(0, 8)}`);
  const template = process.env.TEST_DATABASE_URL ? `climbiq_template_${randomUUID().replace(/-/g, '').slice(0, 16)}` : '';
  const cleanUp = async () => {
    await Promise.all([rm(dir, { recursive: true, force: true }), rm(bundleDir, { recursive: true, force: true })]);
    if (template) await adminQuery(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
  };
  try {
    // PGlite's image is made on either database: some files always run on PGlite.
    await Promise.all([makePgliteImage(image, emptyImage).then(() => makePgliteDirectory(image, directory)), template ? makePostgresTemplate(template) : null, makeTestBundle(bundleDir)]);
  } catch (err) {
    await cleanUp();
    throw err;
  }
  project.provide('pgliteImage', image);
  project.provide('emptyPgliteImage', emptyImage);
  project.provide('postgresTemplate', template);
  project.provide('pgliteDirectory', directory);
  project.provide('testBundle', bundleDir);
  return cleanUp;
}
