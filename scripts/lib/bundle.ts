// esbuild's bundle of the server (src/main.ts and the modules it starts by file: the fit worker, the migration child, PGlite's thread)
// and of any other command-line entries, as plain JavaScript for `node`: `npm run build` (scripts/build.ts) writes
// dist/src/, and the test suite's global setup (tests/support/global-setup.ts) one bundle per run that its spawned
// processes run instead of transpiling the source with tsx at every start.
// The output directory must sit two folders below the project (dist/src/, .tmp/<name>/): the modules compute paths
// from import.meta.url (prisma/ for migrations, web/ for the insights page, schema.graphql) as from src/*/, and every
// package stays an import from node_modules.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The process's entry and the modules it starts by file (each found beside the entry's bundle). */
export const SERVER_ENTRY_POINTS = ['src/main.ts', 'src/jobs/fit-worker.ts', 'src/db/migrate-child.ts', 'src/db/pglite-thread.ts'];

/**
 * Bundles `entryPoints` (paths from the project's root) into `outDir` (from the root, two folders deep), each as
 * `<its file name>.js`, after emptying `outDir`. Returns the bundles' total size in bytes; `inputs`, when given,
 * receives every file bundled (from the root).
 */
export async function bundle(entryPoints: readonly string[], outDir: string, inputs?: string[]): Promise<number> {
  if (path.relative(ROOT, path.resolve(ROOT, outDir)).split(path.sep).length !== 2) throw new Error(`bundle: ${outDir} is not two folders below ${ROOT}`);
  rmSync(path.resolve(ROOT, outDir), { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: entryPoints.map((file) => ({ in: file, out: path.basename(file).replace(/\.ts$/, '') })),
    outdir: outDir,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: 'linked',
    logLevel: 'warning',
    metafile: true,
  });
  inputs?.push(...Object.keys(result.metafile.inputs));
  return Object.values(result.metafile.outputs).reduce((sum, o) => sum + o.bytes, 0);
}
