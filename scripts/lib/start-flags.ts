// Node's flags and glibc's arena limit for the server, in one place: package.json's start script
// (`exec env MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX:-N} node <flags> dist/src/main.js`). The Dockerfile's CMD repeats the
// flags and its ENV the arena limit (a test checks both); benchmarks and tests that start the server as production
// does read them from here.
import { readFileSync } from 'node:fs';

function startScript(): RegExpExecArray {
  const pkg = new URL('../../package.json', import.meta.url);
  const start = (JSON.parse(readFileSync(pkg, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const match = /^exec env MALLOC_ARENA_MAX=\$\{MALLOC_ARENA_MAX:-(\d+)\} node (.*?) ?dist\/src\/main\.js$/.exec(start);
  if (!match) throw new Error(`package.json's start script is not "exec env MALLOC_ARENA_MAX=\${MALLOC_ARENA_MAX:-N} node <flags> dist/src/main.js": ${start}`);
  return match;
}

/** The flags of package.json's start script, e.g. ['--enable-source-maps', '--liftoff-only', '--max-semi-space-size=8', '--min-semi-space-size=4', '--no-allocation-site-pretenuring']. */
export function startFlags(): string[] {
  return startScript()[2].split(/\s+/).filter(Boolean);
}

/** The environment npm start adds: glibc's MALLOC_ARENA_MAX, the caller's own value when it has one (as the script's `${…:-N}`). */
export function startEnv(): { MALLOC_ARENA_MAX: string } {
  return { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX || startScript()[1] };
}
