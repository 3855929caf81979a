// A fresh PGlite directory without initdb. PGlite's initdb runs a second PostgreSQL instance beside the first and
// copies its whole 128 MB WebAssembly heap once more: about 550 MB resident at its peak, more than a 512 MB container
// holds beside the server (BENCHMARKS.md "Memory"). `npm run build` therefore runs initdb once per PGlite version (a
// child process with the migration child's V8 flags) and keeps the result, a 4-5 MB gzipped data directory, in
// node_modules/.cache/climbiq/ (beside the installed PGlite: `npm ci` starts it over; a build never deletes it while a
// server may read it); a fresh directory is then made by unpacking it (PGlite's loadDataDir, about 270 MB at its
// peak). Without it (no build since `npm ci`), initdb runs as before.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pgliteOptions } from './client.ts';

const require = createRequire(import.meta.url);

/** The project's root: src/db/ from source, dist/src/ from the build (the bundle sits at the same depth). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The installed PGlite's version (an image is only used by the version that made it). */
export function pgliteVersion(): string {
  const manifest = path.join(path.dirname(require.resolve('@electric-sql/pglite')), '..', 'package.json');
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** Where the build keeps the image for this PGlite version. */
export function initdbImagePath(): string {
  return path.join(ROOT, 'node_modules', '.cache', 'climbiq', `pglite-${pgliteVersion()}-initdb.tar.gz`);
}

/**
 * Makes the image unless it is there (`npm run build`; the tests' global setup): initdb in a child process, with
 * `nodeFlags` (the migration child's: V8's baseline WebAssembly compiler only). Returns how long it took, 0 if it was there.
 */
export function ensureInitdbImage(nodeFlags: readonly string[]): number {
  const file = initdbImagePath();
  if (existsSync(file)) return 0;
  const t0 = Date.now();
  const load = `import(${JSON.stringify(pathToFileURL(require.resolve('tsx/esm/api')).href)}).then(({ tsImport }) => tsImport(${JSON.stringify(fileURLToPath(import.meta.url))}, ${JSON.stringify(import.meta.url)})).then((m) => m.writeInitdbImage(${JSON.stringify(file)}))`;
  execFileSync(process.execPath, [...nodeFlags, '--input-type=module', '--eval', load], { cwd: ROOT, stdio: 'inherit' });
  return Date.now() - t0;
}

/** The build's initdb image for the installed PGlite, or undefined (no build, or another version's). */
export async function initdbImage(): Promise<Blob | undefined> {
  const file = initdbImagePath();
  if (!existsSync(file)) return undefined;
  return new Blob([await readFile(file)], { type: 'application/x-gzip' });
}

/** Runs PGlite's initdb in memory (with the server's start parameters) and writes the data directory to `file`. */
export async function writeInitdbImage(file: string): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = new PGlite('memory://', await pgliteOptions());
  try {
    await db.waitReady;
    const tarball = await db.dumpDataDir('gzip');
    await mkdir(path.dirname(file), { recursive: true });
    // Written aside, then renamed: a build running beside this one never reads half a file.
    const partial = `${file}.${process.pid}.tmp`;
    await writeFile(partial, new Uint8Array(await tarball.arrayBuffer()));
    await rename(partial, file);
  } finally {
    await db.close();
  }
}

let fsBundle: Promise<Blob> | undefined;

/**
 * PGlite's share/ files (its `pglite.data` bundle, about 6 MB), read once per process and kept: for a process that
 * opens many in-memory databases from an image (the tests start dozens per worker), instead of reading the file and
 * copying it out again at every start. Not used by a server's single start (it would only hold the memory).
 */
export function pgliteFsBundle(): Promise<Blob> {
  fsBundle ??= readFile(path.join(path.dirname(require.resolve('@electric-sql/pglite')), 'pglite.data')).then((bytes) => new Blob([bytes]));
  return fsBundle;
}

let sharedFsBundle: Promise<SharedArrayBuffer> | undefined;

/** The same bundle in memory every PGlite thread of the process reads without a copy being sent (pglite-thread.ts). */
export function pgliteFsBundleShared(): Promise<SharedArrayBuffer> {
  sharedFsBundle ??= pgliteFsBundle().then(async (blob) => {
    const shared = new SharedArrayBuffer(blob.size);
    new Uint8Array(shared).set(new Uint8Array(await blob.arrayBuffer()));
    return shared;
  });
  return sharedFsBundle;
}

let wasmModule: Promise<WebAssembly.Module> | undefined;

/**
 * PGlite's PostgreSQL module (`pglite.wasm`, 9 MB) compiled once per process and kept, beside the share bundle: every
 * PGlite thread of the process instantiates it (a compiled module crosses to a worker thread without a copy) instead
 * of reading and compiling it again in each new thread, about 0.4 s of CPU per in-memory database opened from an
 * image (the tests open dozens per worker). Not used by a server's single start (its thread compiles the module once).
 */
export function pgliteWasmModuleShared(): Promise<WebAssembly.Module> {
  wasmModule ??= readFile(path.join(path.dirname(require.resolve('@electric-sql/pglite')), 'pglite.wasm')).then((bytes) => WebAssembly.compile(bytes));
  return wasmModule;
}
