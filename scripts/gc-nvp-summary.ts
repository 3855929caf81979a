// Each V8 isolate's collections per profile-wrk run, from V8's --trace-gc-nvp lines (BENCHMARKS.md, issue 19's tenth
// round, step 90): which isolate of a server (the API's thread, PGlite's, the fit's worker: one `[pid:isolate]` each)
// ran how many scavenges and major GCs per 10,000 requests, their pauses on the isolate's own thread, and the work
// V8 reports done on its helper threads (the nvp fields `background.*`: concurrent marking, parallel scavenging,
// sweeping), µs a request.
//
//   npx tsx scripts/profile-wrk.ts --no-profile --seconds 3 --rounds 2 \
//       "--flags=--enable-source-maps --liftoff-only --max-semi-space-size=8 --min-semi-space-size=4 --no-allocation-site-pretenuring --trace-gc-nvp" > /tmp/run.txt 2>&1
//   npx tsx scripts/gc-nvp-summary.ts /tmp/run.txt 3
//
// The lines between two of profile-wrk's "round N ...: R req/s" lines are that run's (the first block also holds the
// start and the warm-up: skip it); the requests are R x the run's seconds (the second argument). `background.*` are
// the helper tasks' durations as V8 times them (wall time: a task waiting for a core on a loaded machine counts),
// so read them against /proc's V8Worker CPU that profile-wrk prints beside them, as shares rather than CPU.
import { readFileSync } from 'node:fs';

const [file, secondsArg] = process.argv.slice(2);
if (!file) throw new Error('usage: gc-nvp-summary.ts <profile-wrk output with --trace-gc-nvp> [seconds a run, 3]');
const seconds = Number(secondsArg ?? 3);
const run = /^\[profile-wrk\] round (\d+) (.*?): (\d+) req\/s/;
const nvp = /^\[(\d+):0x([0-9a-f]+)(?::\d+)?\]\s+\d+ ms: pause=([\d.]+) mutator=[\d.]+ gc=(\w+)/;
const field = / (background\.[\w.]+)=([\d.]+)/g;

let current = new Map<string, Map<string, number>>();
const add = (m: Map<string, number>, key: string, value: number) => m.set(key, (m.get(key) ?? 0) + value);
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const gc = nvp.exec(line);
  if (gc) {
    const isolate = `${gc[1]}:${gc[2].slice(-6)}`;
    const tally = current.get(isolate) ?? new Map<string, number>();
    current.set(isolate, tally);
    add(tally, `n:${gc[4]}`, 1);
    add(tally, 'pause', Number(gc[3]));
    for (const [, key, value] of line.matchAll(field)) add(tally, key, Number(value));
    continue;
  }
  const done = run.exec(line);
  if (!done) continue;
  const requests = Number(done[3]) * seconds;
  const perRequest = (ms: number) => ((1000 * ms) / requests).toFixed(1);
  console.log(`round ${done[1]} ${done[2]}: ${done[3]} req/s`);
  for (const [isolate, tally] of current) {
    const counts = [...tally].filter(([k]) => k.startsWith('n:')).map(([k, n]) => `${k.slice(2)} ${((1e4 * n) / requests).toFixed(1)}`);
    const helpers = [...tally].filter(([k]) => k.startsWith('background.'));
    const helperMs = helpers.reduce((sum, [, ms]) => sum + ms, 0);
    const largest = helpers
      .filter(([, ms]) => (1000 * ms) / requests >= 0.5)
      .sort((a, b) => b[1] - a[1])
      .map(([k, ms]) => `${k} ${perRequest(ms)}`);
    console.log(
      `  isolate ${isolate}: per 10,000 requests ${counts.join(', ')} (s: scavenge, mc: major); pauses ${perRequest(tally.get('pause') ?? 0)} µs a request; helper threads ${perRequest(helperMs)} µs a request [${largest.join(', ')}]`,
    );
  }
  current = new Map();
}
