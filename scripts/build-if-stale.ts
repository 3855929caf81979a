// `npm start`'s prestart and `npm run train`'s pretrain: `npm run build` only when dist/ is not the build of the current sources
// (scripts/lib/build-stamp.ts). The build costs about a second (npm, tsx, esbuild) of commands that should take a
// few (BENCHMARKS.md "`npm run train` end to end"); the check takes milliseconds under plain `node`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { staleReason } from './lib/build-stamp.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const reason = staleReason(root);
if (reason !== null) {
  console.log(`[build] rebuilding dist/: ${reason}`);
  const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  process.exitCode = build.status ?? 1;
}
