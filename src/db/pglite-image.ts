// A fresh PGlite directory without initdb. PGlite's initdb runs a second PostgreSQL instance beside the first and
// copies its whole 128 MB WebAssembly heap once more: about 550 MB resident at its peak, more than a 512 MB container
// holds beside the server (BENCHMARKS.md "Memory"). `npm run build` therefore runs initdb once (a child process,
// V8 flags as the server's) and keeps the result, a 4-5 MB gzipped data directory, at dist/; a fresh directory is
// then made by unpacking it (PGlite's loadDataDir, about 270 MB at its peak). Without the build (`npm run dev`, the
// tests from source), or after PGlite was upgraded without a rebuild, initdb runs as before.
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pgliteOptions } from './client.ts';

/** The project's root: src/db/ from source, dist/src/ from the build (the bundle sits at the same depth). */
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The installed PGlite's version (an image is only used by the version that made it). */
export function pgliteVersion(): string {
  const manifest = new URL('../package.json', import.meta.resolve('@electric-sql/pglite'));
  return (JSON.parse(readFileSync(manifest, 'utf8')) as { version: string }).version;
}

/** Where the build writes the image for this PGlite version. */
export function initdbImagePath(): string {
  return path.join(ROOT, 'dist', `pglite-${pgliteVersion()}-initdb.tar.gz`);
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
