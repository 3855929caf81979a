// The order in which vitest hands the files to its workers (vitest.config.ts, `sequence.sequencer`). Each worker
// takes the next file of the queue when it finishes one, so the run ends when the last long file ends: the long
// files must start first, or one of them starts late and the run ends with the other workers idle. Vitest orders by
// each file's duration in its cache (node_modules/.vite/vitest), but a fresh clone has no cache and then it orders
// by file size, which starts the longest files (process starts, waits for tokens to expire, the 2,500-athlete fit)
// anywhere in the queue. So the files measured to take longest come first, in this order, on every run; the rest
// follow in vitest's own order. A file missing here only starts later: add a new long file where its duration puts it.
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The longest files, longest first (vitest's per-file durations, 2026-12-06: README "The test suite"). */
export const LONGEST_FILES = [
  'tests/integration/recommendation-failure.test.ts',
  'tests/integration/pglite-lock-zombie.test.ts',
  'tests/integration/learning-resilience.test.ts',
  'tests/integration/pglite-lock.test.ts',
  'tests/integration/migrations.test.ts',
  'tests/integration/learning-nightly.test.ts',
  'tests/integration/memory.test.ts',
  'tests/integration/process-signals.test.ts',
  'tests/browser/insights-sign-in.test.ts',
  'tests/integration/backup-restore.test.ts',
  'tests/integration/recommendation-drain.test.ts',
  'tests/integration/pglite-lock-takeover.test.ts',
  'tests/integration/hardening-tokens.test.ts',
  'tests/integration/api-validation.test.ts',
  'tests/integration/hardening-requests.test.ts',
  'tests/browser/insights-rate-limit.test.ts',
  'tests/integration/learning-nightly-slot.test.ts',
  'tests/integration/recommendation-store.test.ts',
  'tests/integration/auth-expiry-reconnect.test.ts',
  'tests/integration/recommendation-stream.test.ts',
];

export class LongestFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (spec: TestSpecification): number => {
      const relative = spec.moduleId.slice(spec.project.config.root.length).replace(/^\/+/, '');
      const index = LONGEST_FILES.indexOf(relative);
      return index === -1 ? LONGEST_FILES.length : index;
    };
    const rest = await super.sort(files);
    // Array.prototype.sort is stable: the files not listed keep vitest's order among themselves.
    return rest.sort((a, b) => rank(a) - rank(b));
  }
}
