// How a module of ours that runs in a worker thread or a child process (the PGlite thread, the nightly fit's worker,
// the migration child) is loaded there. From the build (dist/src/main.js, scripts/build.ts) it is its own
// plain-JavaScript bundle beside the caller's; from source, the same `.ts` file through tsx. The tests run from
// source but bundle these modules once per run (tests/support/global-setup.ts): they name that bundle's directory
// here, so that each of their dozens of servers does not start tsx and transpile in every new thread.

let bundleDir: string | undefined;

/** The directory of a bundle holding `<name>.js` for each worker module; undefined: from source or beside the build. */
export function useWorkerModulesFrom(dir: string | undefined): void {
  bundleDir = dir;
}

/**
 * JavaScript that imports the worker module `name` ('pglite-thread', 'fit-worker', 'migrate-child') whose source
 * file is `self` (its import.meta.url), to an expression's value: a promise of the module's namespace.
 */
export function importWorkerModule(self: string, name: string): string {
  if (bundleDir) return `import(${JSON.stringify(new URL(`${name}.js`, `file://${bundleDir}/`).href)})`;
  if (self.endsWith('.ts')) {
    return `import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(({ tsImport }) => tsImport(${JSON.stringify(self)}, ${JSON.stringify(self)}))`;
  }
  return `import(${JSON.stringify(new URL(`./${name}.js`, self).href)})`;
}

/**
 * A worker bootstrap's first statement: no source maps in that thread (Node's --enable-source-maps, which `npm start`
 * and `npm run train` pass, reaches workers too). The nightly fit's worker: its bundle's map, parsed as the bundle
 * loads, held about 9 MB for the whole fit (BENCHMARKS.md "Memory"). PGlite's thread: the maps of PGlite's own
 * modules, parsed as they load, delayed PGlite's start (`npm run train`: BENCHMARKS.md). A failure there then reports
 * lines of the plain JavaScript (dist/src/*.js, the packages' dist/) instead of the sources'. Per thread: the main
 * thread keeps its source maps. (module.setSourceMapsSupport: Node 22.14 and later.)
 */
export const NO_SOURCE_MAPS = `{
  const { setSourceMapsSupport } = require('node:module');
  if (setSourceMapsSupport) setSourceMapsSupport(false);
  else process.setSourceMapsEnabled(false);
}`;
