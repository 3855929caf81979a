// npm run db:migrate: apply pending migrations to DATABASE_URL (or the PGlite in PGLITE_DIR) and exit.
import { ConfigError, loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';

try {
  const config = loadConfig();
  const db = await openDatabase({ url: config.databaseUrl, pgliteDir: config.pgliteDir, log: (m) => console.log(m) });
  try {
    const { applied, runner } = await db.migrate();
    console.log(applied.length ? `Applied ${applied.join(', ')} (${runner})` : `Migrations up to date (${runner})`);
  } finally {
    await db.close();
  }
} catch (err) {
  console.error(err instanceof ConfigError ? `Configuration error: ${err.message}` : err);
  process.exit(1);
}
