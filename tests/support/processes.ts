// The project's modules as processes of their own (the server, `npm run train`, ...), the way the tests spawn them:
// from the run's esbuild bundle (tests/support/global-setup.ts bundles them once, as `npm start` runs
// dist/src/main.js), so a start costs no transpilation; a module the bundle lacks (or a run without that setup)
// runs from source through tsx, as before. `spawn(process.execPath, nodeArgs('src/main.ts'))` is `npm start`.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inject } from 'vitest';

let manifest: Record<string, string> | undefined;

/** The bundle of `entry` (a path from the project's root), or undefined. */
function bundled(entry: string): string | undefined {
  const dir = inject('testBundle');
  if (!dir) return undefined;
  manifest ??= JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Record<string, string>;
  return manifest[entry];
}

/**
 * V8's flag for WebAssembly that `npm start` runs the server with (package.json's start script): PGlite's 9 MB module
 * compiled by the baseline compiler alone, without the optimizing compiler's background recompilation, which costs a
 * process about 1.5 s of CPU (3.3 -> 1.8 s to listening). Only this flag: a test that wants the others (the memory
 * test's heap settings) passes them itself.
 */
export const WASM_TIER_FLAGS = ['--liftoff-only'] as const;

/** `node`'s arguments that run `entry` ('src/main.ts', 'scripts/train.ts', ...) with `args`. */
export function nodeArgs(entry: string, args: readonly string[] = []): string[] {
  const file = bundled(entry);
  return file ? [...WASM_TIER_FLAGS, file, ...args] : [...WASM_TIER_FLAGS, '--import', 'tsx', entry, ...args];
}

/**
 * For code run with `node --input-type=module -e` (cwd: the project's root) that imports one of the project's
 * modules: the arguments `node` needs before `-e`, and the specifier to import `entry` by.
 */
export function moduleImport(entry: string): { nodeArgs: string[]; specifier: string } {
  const file = bundled(entry);
  return file ? { nodeArgs: [], specifier: pathToFileURL(file).href } : { nodeArgs: ['--import', 'tsx'], specifier: `./${entry}` };
}
