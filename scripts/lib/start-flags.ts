// Node's flags for the server, in one place: package.json's start script (`exec node <flags> dist/src/main.js`).
// The Dockerfile's CMD repeats them (a test checks the two are equal); benchmarks and tests that start the server as
// production does read them from here.
import { readFileSync } from 'node:fs';

/** The flags of package.json's start script, e.g. ['--enable-source-maps', '--liftoff-only', '--max-semi-space-size=4']. */
export function startFlags(): string[] {
  const pkg = new URL('../../package.json', import.meta.url);
  const start = (JSON.parse(readFileSync(pkg, 'utf8')) as { scripts: { start: string } }).scripts.start;
  const match = /^exec node (.*?) ?dist\/src\/main\.js$/.exec(start);
  if (!match) throw new Error(`package.json's start script is not "exec node <flags> dist/src/main.js": ${start}`);
  return match[1].split(/\s+/).filter(Boolean);
}
