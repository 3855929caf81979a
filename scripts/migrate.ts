// npm run db:migrate: apply pending migrations to DATABASE_URL (or the PGlite in PGLITE_DIR) and exit.
import { loadConfig } from '../src/config.ts';
import { openDatabase } from '../src/db/client.ts';
import { DirectoryLockedError } from '../src/db/pglite-lock.ts';
import { startupFailure } from '../src/services.ts';

try {
  const config = loadConfig();
  const db = await openDatabase({
    url: config.databaseUrl,
    pgliteDir: config.pgliteDir,
    log: (m) => console.log(m),
    holder: { command: 'npm run db:migrate', serves: false },
  });
  try {
    const { applied, runner } = await db.migrate();
    console.log(applied.length ? `Applied ${applied.join(', ')} (${runner})` : `Migrations up to date (${runner})`);
  } finally {
    await db.close();
  }
} catch (err) {
  console.error(startupFailure(err));
  if (err instanceof DirectoryLockedError && err.owner.serves) {
    console.error('A server applies every pending migration when it starts: restart it to apply new ones.');
  }
  process.exit(1);
}
