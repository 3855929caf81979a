// npm run restore -- <file>: restores a backup from `npm run backup` into an empty database: the new PGlite
// directory PGLITE_DIR, or the empty PostgreSQL database DATABASE_URL. Start the server on it afterwards.
import { loadConfig } from '../src/config.ts';
import { restoreDatabase } from '../src/db/backup.ts';
import { startupFailure } from '../src/services.ts';

const file = process.argv[2];
if (!file || file.startsWith('-')) {
  console.error('Usage: npm run restore -- <file>   (into an empty PGLITE_DIR, or an empty database named by DATABASE_URL)');
  process.exit(2);
}
try {
  const config = loadConfig();
  const started = Date.now();
  const { kind } = await restoreDatabase(config, file);
  console.log(`Restored ${file} into the ${kind === 'pglite' ? `embedded database ${config.pgliteDir}` : 'PostgreSQL database'} in ${Date.now() - started} ms`);
} catch (err) {
  console.error(err instanceof Error && err.name === 'BackupError' ? err.message : startupFailure(err));
  process.exit(1);
}
