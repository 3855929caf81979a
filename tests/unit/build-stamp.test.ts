// `npm run train`'s pretrain (scripts/build-if-stale.ts) rebuilds dist/ only when the build is not current: the
// decision on a project laid out in a temporary directory, as `npm run build` stamps it.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { staleReason, writeStamp } from '../../scripts/lib/build-stamp.ts';

let root: string;
const file = (name: string, text = '') => {
  mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
  writeFileSync(path.join(root, name), text);
};
/** Sets a file's modification time to `at` (ms since the epoch). */
const touch = (name: string, at: number) => utimesSync(path.join(root, name), at / 1000, at / 1000);

beforeEach(() => {
  root = mkdtempSync(path.join(tmpdir(), 'climbiq-build-stamp-'));
  const before = Date.now() - 60_000;
  for (const name of ['src/main.ts', 'src/engine/fit.ts', 'package.json', 'node_modules/.package-lock.json', 'dist/src/train.js']) {
    file(name);
    touch(name, before);
  }
  writeStamp(path.join(root, 'dist'), { startedAt: Date.now() - 30_000, inputs: ['src/main.ts', 'src/engine/fit.ts'], outputs: ['dist/src/train.js'] });
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('the pretrain check of npm run train', () => {
  it('finds a build current when nothing it was made of changed since it started', () => {
    expect(staleReason(root)).toBeNull();
  });

  it('rebuilds when a bundled source, package.json or the installed packages changed after the build started, or a source is gone', () => {
    touch('src/engine/fit.ts', Date.now());
    expect(staleReason(root)).toBe('src/engine/fit.ts changed');
    touch('src/engine/fit.ts', Date.now() - 60_000);
    touch('node_modules/.package-lock.json', Date.now());
    expect(staleReason(root)).toBe('node_modules/.package-lock.json changed');
    touch('node_modules/.package-lock.json', Date.now() - 60_000);
    rmSync(path.join(root, 'src/main.ts'));
    expect(staleReason(root)).toBe('src/main.ts is gone');
  });

  it('rebuilds when there is no build, or an output of it is missing', () => {
    rmSync(path.join(root, 'dist/src/train.js'));
    expect(staleReason(root)).toBe('dist/src/train.js is missing');
    rmSync(path.join(root, 'dist'), { recursive: true });
    expect(staleReason(root)).toBe('no build yet');
  });
});
