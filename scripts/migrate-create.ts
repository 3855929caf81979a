// npm run db:migrate:create -- <name>
// Authors a new migration from prisma/schema.prisma against an in-memory PGlite (a second PGlite is the shadow).
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import type { SqlMigrationAwareDriverAdapterFactory } from '@prisma/driver-adapter-utils';
import { MIGRATIONS_DIR, NO_FILTER, loadMigrationList, openSchemaEngine, readSchema, SCHEMA_PATH } from '../src/db/schema-engine.ts';

const name = process.argv[2];
if (!name || !/^[a-z0-9_]+$/i.test(name)) {
  console.error('usage: npm run db:migrate:create -- <name>   (letters, digits and _ only)');
  process.exit(2);
}

const main = new PGlite();
const shadows: PGlite[] = [];
// Every time the engine asks for a shadow database it expects an empty one: a new in-memory PGlite each time.
const base = new PrismaPGlite(main);
const factory: SqlMigrationAwareDriverAdapterFactory = {
  provider: base.provider,
  adapterName: base.adapterName,
  connect: () => base.connect(),
  connectToShadowDb: () => {
    const shadow = new PGlite();
    shadows.push(shadow);
    return new PrismaPGlite(shadow).connect();
  },
};

try {
  const engine = await openSchemaEngine(factory, (m) => process.env.DEBUG && console.error(m));
  const migrationsList = await loadMigrationList();
  await engine.applyMigrations({ migrationsList, filters: NO_FILTER });
  const diag = await engine.devDiagnostic({ migrationsList, filters: NO_FILTER });
  if (diag.action.tag !== 'createMigration') throw new Error(`migration history needs attention: ${JSON.stringify(diag.action)}`);
  const out = await engine.createMigration({
    draft: false,
    migrationName: name,
    migrationsList,
    schema: { files: [{ path: SCHEMA_PATH, content: await readSchema() }] },
    filters: NO_FILTER,
  });
  engine.free();
  if (!out.migrationScript) {
    console.log('No changes: prisma/schema.prisma matches the migrations.');
  } else {
    const dir = path.join(MIGRATIONS_DIR, out.generatedMigrationName);
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, `migration.${out.extension}`), out.migrationScript);
    await writeFile(path.join(MIGRATIONS_DIR, 'migration_lock.toml'), '# Do not edit by hand\nprovider = "postgresql"\n');
    console.log(`Created ${path.relative(process.cwd(), dir)}/migration.${out.extension}`);
  }
} finally {
  await main.close();
  for (const shadow of shadows) await shadow.close();
}
