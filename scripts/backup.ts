// npm run backup -- <file>: a backup of DATABASE_URL (pg_dump, custom format) or of the PGlite directory in
// PGLITE_DIR (a gzipped tarball; stop the server first). npm run restore -- <file> restores it (scripts/restore.ts).
import { loadConfig } from '../src/config.ts';
import { backupDatabase } from '../src/db/backup.ts';
import { startupFailure } from '../src/services.ts';

const file = process.argv[2];
if (!file || file.startsWith('-')) {
  console.error('Usage: npm run backup -- <file>   (e.g. backups/climbiq-2026-12-06.tar.gz for PGlite, .dump for PostgreSQL)');
  process.exit(2);
}
try {
  const config = loadConfig();
  const started = Date.now();
  const { kind, bytes } = await backupDatabase(config, file);
  console.log(`Backed up the ${kind === 'pglite' ? `embedded database ${config.pgliteDir}` : 'PostgreSQL database'} to ${file} (${(bytes / 1e6).toFixed(1)} MB) in ${Date.now() - started} ms`);
} catch (err) {
  console.error(err instanceof Error && err.name === 'BackupError' ? err.message : startupFailure(err));
  process.exit(1);
}
