// `npm run build` (and the prestart of `npm start`, the pretrain of `npm run train`): the server and the training
// command as plain JavaScript for `node`, no transpiler at run time.
// esbuild bundles src/ (the Prisma client generated into src/generated included); every package stays an import
// from node_modules. The bundle sits at dist/src/, the same depth as the modules in src/*/, so the paths they
// compute from import.meta.url (prisma/ for migrations, web/ for the insights page, schema.graphql) resolve to the
// project's own files from the bundle as from the source. Each worker thread's module is an entry of its own
// (scripts/lib/bundle.ts, which the test suite's bundle shares).
import { existsSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { LIFTOFF_ONLY } from '../src/db/migrate-child.ts';
import { ensureInitdbImage, initdbImagePath } from '../src/db/pglite-image.ts';
import { bundle, ROOT, SERVER_ENTRY_POINTS } from './lib/bundle.ts';
import { writeStamp } from './lib/build-stamp.ts';

// All at dist/src/ (main.js, fit-worker.js, migrate-child.js): a module bundled one folder deeper would compute
// its paths one folder off.
export const OUT_DIR = 'dist/src';

// Built beside dist/ and swapped in by two renames: a server already running from dist/ (which loads its fit
// worker's module at the nightly run) never finds a half-written or missing bundle while `npm run train` or a
// second `npm start` rebuilds.
const STAGING = 'dist.next';
const RETIRED = 'dist.old';

const started = Date.now();
// `npm run train` (its pretrain builds) runs dist/src/train.js: transpiling ~200 modules with tsx at its start, in
// its process and again in the fit's worker, cost more CPU than the whole fit (bench-train, BENCHMARKS.md).
const ENTRY_POINTS = [...SERVER_ENTRY_POINTS, 'scripts/train.ts'];
const inputs: string[] = [];
const bytes = await bundle(ENTRY_POINTS, `${STAGING}/src`, inputs);
// For `npm run train`'s pretrain (scripts/build-if-stale.ts): what this build is made of, and what it made.
const outputs = ENTRY_POINTS.map((entry) => `dist/src/${path.basename(entry, '.ts')}.js`);
writeStamp(`${ROOT}/${STAGING}`, { startedAt: started, inputs, outputs: [...outputs, path.relative(ROOT, initdbImagePath())] });
rmSync(`${ROOT}/${RETIRED}`, { recursive: true, force: true });
if (existsSync(`${ROOT}/dist`)) renameSync(`${ROOT}/dist`, `${ROOT}/${RETIRED}`);
renameSync(`${ROOT}/${STAGING}`, `${ROOT}/dist`);
rmSync(`${ROOT}/${RETIRED}`, { recursive: true, force: true });
console.log(`[build] ${ENTRY_POINTS.join(', ')} -> ${OUT_DIR}/ (${(bytes / 1e6).toFixed(1)} MB with source maps) in ${Date.now() - started} ms`);

// PGlite's initdb, once per PGlite version: a fresh PGlite directory is unpacked from it instead of running initdb
// in the 512 MB the server has (src/db/pglite-image.ts).
const imageMs = ensureInitdbImage(LIFTOFF_ONLY);
if (imageMs) console.log(`[build] PGlite's initdb image -> ${path.relative(ROOT, initdbImagePath())} in ${imageMs} ms`);
