// What `npm run build` records beside dist/ so that `npm start`'s prestart and `npm run train`'s pretrain (scripts/build-if-stale.ts) can tell
// in a few milliseconds whether dist/ is still the build of the sources: the files esbuild bundled, the initdb
// image the build made, and when the build started. Node's own modules only, and only erasable TypeScript: the
// check runs under plain `node` (its type stripping), without tsx or esbuild.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** The stamp, inside dist/ (swapped in with the bundles). */
export const STAMP_FILE = 'build-inputs.json';

export interface BuildStamp {
  /** Date.now() when the build started: a source saved after it is newer than the build. */
  startedAt: number;
  /** Files from the project's root: every input esbuild bundled, and the build's outputs that must be there. */
  inputs: string[];
  outputs: string[];
}

export function writeStamp(distDir: string, stamp: BuildStamp): void {
  writeFileSync(path.join(distDir, STAMP_FILE), JSON.stringify(stamp));
}

/**
 * Whether the build in `root`/dist is current: its stamp is there, every output exists, and no input (nor
 * package.json, nor the installed packages' lockfile) was modified after the build started. Why not, otherwise.
 */
export function staleReason(root: string): string | null {
  const file = path.join(root, 'dist', STAMP_FILE);
  if (!existsSync(file)) return 'no build yet';
  let stamp: BuildStamp;
  try {
    stamp = JSON.parse(readFileSync(file, 'utf8')) as BuildStamp;
  } catch {
    return `${file} is unreadable`;
  }
  for (const output of stamp.outputs) if (!existsSync(path.join(root, output))) return `${output} is missing`;
  for (const input of [...stamp.inputs, 'package.json', 'node_modules/.package-lock.json']) {
    const full = path.join(root, input);
    if (!existsSync(full)) return `${input} is gone`;
    if (statSync(full).mtimeMs > stamp.startedAt) return `${input} changed`;
  }
  return null;
}
