// Reads the traces scripts/lib/burst-trace.ts writes (profile-burst --timeline): per burst, the order of work on a
// server's thread: per event-loop iteration how many subscribe messages were read, first events and later events
// sent, and what ran between the last subscribe message's arrival and the last first event.
import { readFileSync } from 'node:fs';
import { percentile } from './benchmarking.ts';

type Kind = 'read' | 'first' | 'later' | 'complete';
interface Trace {
  origin: number;
  monotonic: number;
  records: [Kind, number, number, number, number, number][];
  gcs: [number, number, number][];
}

export interface Window {
  /** epoch ms */
  from: number;
  to: number;
}

export function readTrace(file: string): Trace {
  return JSON.parse(readFileSync(file, 'utf8')) as Trace;
}

const ms = (us: number) => (us / 1000).toFixed(1);

/**
 * The span of a burst in which its subscribe messages were read and their first events sent (from the first
 * message read to the last first event), on the CPU profiles' clock (monotonic µs).
 */
export function readingSpan(trace: Trace, window: Window): { from: number; to: number } | null {
  const from = (window.from - trace.origin) * 1000;
  const to = (window.to - trace.origin) * 1000;
  const recs = trace.records.filter((r) => r[1] >= from && r[1] <= to);
  const firstRead = recs.find((r) => r[0] === 'read');
  const lastFirst = recs.findLast((r) => r[0] === 'first');
  if (!firstRead || !lastFirst) return null;
  return { from: firstRead[1] + trace.monotonic, to: lastFirst[1] + trace.monotonic };
}

/** One burst's timeline (the records inside `window`), printed under `label`. */
export function printBurst(label: string, trace: Trace, window: Window, rows = 40): void {
  const from = (window.from - trace.origin) * 1000;
  const to = (window.to - trace.origin) * 1000;
  const recs = trace.records.filter((r) => r[1] >= from && r[1] <= to);
  const reads = recs.filter((r) => r[0] === 'read');
  const firsts = recs.filter((r) => r[0] === 'first');
  if (reads.length === 0 || firsts.length === 0) {
    console.log(`[timeline] ${label}: no subscribe message in the window`);
    return;
  }
  const t0 = reads[0][1];
  const lastRead = reads[reads.length - 1];
  const lastFirst = firsts[firsts.length - 1];
  const readAt = new Map<number, [number, number]>(reads.map((r) => [r[3], [r[1], r[2]]]));
  const toFirst: number[] = [];
  let sameIteration = 0;
  for (const f of firsts) {
    const r = readAt.get(f[3]);
    if (!r) continue;
    toFirst.push(f[1] - r[0]);
    if (f[2] === r[1]) sameIteration++;
  }
  toFirst.sort((a, b) => a - b);
  const laterBeforeLastFirst = recs.filter((r) => r[0] === 'later' && r[1] < lastFirst[1]).length;
  const laterAfterLastRead = recs.filter((r) => r[0] === 'later' && r[1] > lastRead[1] && r[1] < lastFirst[1]).length;
  const gcIn = (a: number, b: number) => trace.gcs.filter((g) => g[0] >= a && g[0] < b);
  const gcSum = (gs: [number, number, number][]) => `${gs.length} (${ms(gs.reduce((s, g) => s + g[1], 0))} ms)`;
  const iterations = new Set(recs.map((r) => r[2]));
  console.log(
    `[timeline] ${label}: ${reads.length} subscribe messages read over ${ms(lastRead[1] - t0)} ms in ${new Set(reads.map((r) => r[2])).size} iterations; ` +
      `last first event at ${ms(lastFirst[1] - t0)} ms (${ms(lastFirst[1] - lastRead[1])} ms after the last read); last event at ${ms(recs[recs.length - 1][1] - t0)} ms; ${iterations.size} iterations with activity`,
  );
  const firstRead = reads[0];
  console.log(
    `[timeline]   the thread's CPU from the first read to the last first event: user ${ms(lastFirst[4] - firstRead[4])} ms, system ${ms(lastFirst[5] - firstRead[5])} ms ` +
      `(${((lastFirst[4] - firstRead[4] + lastFirst[5] - firstRead[5]) / reads.length).toFixed(1)} µs per stream; wall ${ms(lastFirst[1] - firstRead[1])} ms); ` +
      `whole burst user ${ms(recs[recs.length - 1][4] - firstRead[4])} ms, system ${ms(recs[recs.length - 1][5] - firstRead[5])} ms`,
  );
  console.log(
    `[timeline]   read -> own first event: p50 ${ms(percentile(toFirst, 50))} ms, p99 ${ms(percentile(toFirst, 99))} ms, in the same iteration ${sameIteration} of ${firsts.length}; ` +
      `later events sent before the last first event ${laterBeforeLastFirst} (after the last read ${laterAfterLastRead}); ` +
      `GCs reading ${gcSum(gcIn(t0, lastRead[1]))}, last read -> last first ${gcSum(gcIn(lastRead[1], lastFirst[1]))}, after ${gcSum(gcIn(lastFirst[1], to))}`,
  );
  // The longest pause of the reading span: between two records, with the thread's CPU in it (little CPU: the thread
  // was not running; much: work that sent nothing) and the collections that started in it.
  const span = recs.filter((r) => r[1] >= firstRead[1] && r[1] <= lastFirst[1]);
  let gap = 0;
  for (let i = 1; i < span.length; i++) if (gap === 0 || span[i][1] - span[i - 1][1] > span[gap][1] - span[gap - 1][1]) gap = i;
  if (gap > 0) {
    const [a, b] = [span[gap - 1], span[gap]];
    const gcs = gcIn(a[1], b[1]);
    console.log(
      `[timeline]   longest pause of the reading span: ${ms(b[1] - a[1])} ms at ${ms(a[1] - t0)} ms (iterations ${a[2] - firstRead[2]} -> ${b[2] - firstRead[2]}), the thread's CPU in it ${ms(b[4] - a[4] + b[5] - a[5])} ms, ` +
        `GCs starting in it ${gcSum(gcs)}${gcs.length ? ` (V8 kinds ${gcs.map((g) => g[2]).join(',')}, longest ${ms(Math.max(...gcs.map((g) => g[1])))} ms)` : ''}`,
    );
  }
  // Per iteration: reads, firsts, laters, the iteration's first and last record (ms from the first read).
  const per = new Map<number, { r: number; f: number; l: number; a: number; b: number }>();
  for (const r of recs) {
    let p = per.get(r[2]);
    if (!p) {
      p = { r: 0, f: 0, l: 0, a: r[1], b: r[1] };
      per.set(r[2], p);
    }
    if (r[0] === 'read') p.r++;
    else if (r[0] === 'first') p.f++;
    else if (r[0] === 'later') p.l++;
    p.b = r[1];
  }
  const list = [...per.entries()].sort((x, y) => x[0] - y[0]);
  console.log('[timeline]   iteration  from ms   to ms   reads  firsts  laters  GCs in it');
  const show = list.length <= rows ? list : [...list.slice(0, rows - 10), ...list.slice(-10)];
  for (const [it, p] of show) {
    console.log(
      `[timeline]   ${String(it - list[0][0]).padStart(9)} ${ms(p.a - t0).padStart(8)} ${ms(p.b - t0).padStart(7)} ${String(p.r).padStart(7)} ${String(p.f).padStart(7)} ${String(p.l).padStart(7)}  ${gcSum(gcIn(p.a, p.b))}`,
    );
    if (show !== list && it === show[rows - 11]?.[0]) console.log(`[timeline]   ... ${list.length - rows} iterations ...`);
  }
}
