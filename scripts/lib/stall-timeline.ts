// What the slowest streams of a steady run waited for (issue 19 §3): the server's API thread's long event-loop
// iterations (a 1 ms timer's lateness), its GC pauses and a CPU profile of the window, all on the machine's monotonic
// clock (CLOCK_MONOTONIC in ms, as process.hrtime and V8's profiler read it), matched against each stream's subscribe
// time and DONE from the client's process on the same clock. bench-floor's `--timeline`; the server half runs in
// scripts/bench.ts's child.
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { constants, PerformanceObserver, performance } from 'node:perf_hooks';
import v8 from 'node:v8';

/** The machine's monotonic clock in ms (the same in every process: CLOCK_MONOTONIC). */
export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

/** An interval of the API thread the 1 ms timer could not run in: [startMs, endMs] on the monotonic clock. */
export interface Stall {
  startMs: number;
  endMs: number;
  /** The profile's samples inside it, ms by what ran (category), largest first. */
  ran: [string, number][];
  /** The API thread's own CPU time in it (ms; process.threadCpuUsage): well under its length, the thread was not running: waiting for a core (other processes or threads had them) or blocked (e.g. a GC pause waiting for V8's helper threads). */
  cpuMs: number;
  /**
   * The API thread's time in it waiting for a core, runnable (ms; Linux's /proc/thread-self/schedstat run_delay): what
   * the kernel gave other threads. The rest of the stall, neither running nor waiting, the thread was blocked (e.g. a
   * GC pause waiting for V8's helper threads).
   */
  waitingMs: number;
  /** GC pauses inside it: minor / major ms. */
  gcMinorMs: number;
  gcMajorMs: number;
}

export interface GcPause {
  startMs: number;
  ms: number;
  major: boolean;
  /** V8's new space (the young generation: both semi-spaces) after it, kB, read when the observer ran (just after). */
  newSpaceKb: number;
  /** V8's old space in use after it, kB (read as newSpaceKb): its growth from one scavenge to the next is what they promoted and V8 allocated there directly, less what concurrent sweeping freed meanwhile. */
  oldSpaceKb: number;
}

export interface Timeline {
  stalls: Stall[];
  gc: GcPause[];
  /** The window's samples, ms by category (what the thread did in all, for comparison with the stalls'). */
  all: [string, number][];
  /** The window's start (monotonic ms) and length. */
  startMs: number;
  windowMs: number;
  /** V8's new space at the window's start, kB, and its old space in use. */
  newSpaceKbAtStart: number;
  oldSpaceKbAtStart: number;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

/**
 * What a sample's stack ran, as one label: V8's own nodes ((garbage collector), (program), (idle)), else the innermost
 * frame of the application's src/ with its function, else the innermost frame's package (node_modules) or node: module.
 */
function categorizer(nodes: ProfileNode[]): (id: number) => string {
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const n of nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const memo = new Map<number, string>();
  const where = (url: string): string | null => {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
    if (pkg) return pkg[1];
    if (url.startsWith('node:')) return url;
    return null;
  };
  return (id) => {
    const known = memo.get(id);
    if (known) return known;
    const top = byId.get(id);
    let label: string;
    const fn = top?.callFrame.functionName ?? '';
    if (fn.startsWith('(') && fn.endsWith(')')) label = fn;
    else {
      let src: string | null = null;
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const f = byId.get(at)?.callFrame;
        const m = f && /\/(src\/[^?]+)$/.exec(f.url);
        if (m) {
          src = `${m[1]} ${f.functionName || '(anonymous)'}`;
          break;
        }
      }
      const lib = top ? where(top.callFrame.url) : null;
      const libFn = lib && `${lib} ${fn || '(anonymous)'}`;
      label = src ? (libFn ? `${src} > ${libFn}` : src) : (lib ?? `${fn || '(anonymous)'} ${top?.callFrame.url.split('/').pop() ?? ''}`.trim());
    }
    memo.set(id, label);
    return label;
  };
}

const sorted = (m: Map<string, number>): [string, number][] => [...m].sort((a, b) => b[1] - a[1]);

/**
 * Starts watching this thread: stalls over `stallMs`, GC pauses, and V8's sampling profiler (every `sampleUs`; 0: no
 * profile, nothing said of what ran). The returned stop ends it and returns the timeline; with `profileFile`, it also
 * writes the profile there (a .cpuprofile: Chrome DevTools' Performance panel opens it).
 */
export async function startTimeline(stallMs = 5, sampleUs = 1000, profileFile?: string): Promise<() => Promise<Timeline>> {
  const session = sampleUs > 0 ? new Session() : null;
  if (session) {
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: sampleUs });
    await session.post('Profiler.start');
  }
  // performance.now() to the monotonic clock.
  const offset = monotonicMs() - performance.now();
  const gc: GcPause[] = [];
  const spaces = () => {
    const all = v8.getHeapSpaceStatistics();
    return {
      newSpaceKb: (all.find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 1024,
      oldSpaceKb: (all.find((s) => s.space_name === 'old_space')?.space_used_size ?? 0) / 1024,
    };
  };
  const atStart = spaces();
  const observer = new PerformanceObserver((list) => {
    const now = spaces();
    for (const e of list.getEntries()) {
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
      gc.push({ startMs: e.startTime + offset, ms: e.duration, major: kind === constants.NODE_PERFORMANCE_GC_MAJOR || kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL, ...now });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const raw: [number, number, number, number][] = [];
  // The thread's time waiting for a core so far, ms (Linux only; 0 elsewhere).
  let schedstatReadable = true;
  const waitedMs = (): number => {
    if (!schedstatReadable) return 0;
    try {
      return Number(readFileSync('/proc/thread-self/schedstat', 'latin1').split(' ')[1]) / 1e6;
    } catch {
      schedstatReadable = false;
      return 0;
    }
  };
  const threadCpuMs = () => {
    // Node >= 23.9 (the project's 24); @types/node does not declare it yet.
    const u = (process as NodeJS.Process & { threadCpuUsage(): NodeJS.CpuUsage }).threadCpuUsage();
    return (u.user + u.system) / 1000;
  };
  let last = monotonicMs();
  let lastCpu = threadCpuMs();
  let lastWaited = waitedMs();
  const started = last;
  const timer = setInterval(() => {
    const now = monotonicMs();
    const cpu = threadCpuMs();
    const waited = waitedMs();
    if (now - last > stallMs) raw.push([last, now, cpu - lastCpu, waited - lastWaited]);
    last = now;
    lastCpu = cpu;
    lastWaited = waited;
  }, 1);
  return async () => {
    clearInterval(timer);
    observer.disconnect();
    const empty: Profile = { nodes: [], startTime: 0, endTime: 0, samples: [], timeDeltas: [] };
    const { profile } = session ? ((await session.post('Profiler.stop')) as unknown as { profile: Profile }) : { profile: empty };
    session?.disconnect();
    if (session && profileFile) writeFileSync(profileFile, JSON.stringify(profile));
    const label = categorizer(profile.nodes);
    // The samples' times: the profile's µs on the same monotonic clock.
    const times: number[] = [];
    let t = profile.startTime;
    for (const d of profile.timeDeltas) {
      t += d;
      times.push(t / 1000);
    }
    const all = new Map<string, number>();
    const sampleMs = (i: number) => (i + 1 < times.length ? Math.min(times[i + 1] - times[i], 50) : sampleUs / 1000);
    for (let i = 0; i < profile.samples.length; i++) {
      const k = label(profile.samples[i]);
      all.set(k, (all.get(k) ?? 0) + sampleMs(i));
    }
    const stalls: Stall[] = raw.map(([startMs, endMs, cpuMs, waitingMs]) => {
      const ran = new Map<string, number>();
      // The samples in the stall: a binary search for the first.
      let lo = 0;
      let hi = times.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (times[mid] < startMs) lo = mid + 1;
        else hi = mid;
      }
      for (let i = lo; i < times.length && times[i] <= endMs; i++) {
        const k = label(profile.samples[i]);
        ran.set(k, (ran.get(k) ?? 0) + sampleMs(i));
      }
      const overlap = (g: GcPause) => Math.max(0, Math.min(endMs, g.startMs + g.ms) - Math.max(startMs, g.startMs));
      let gcMinorMs = 0;
      let gcMajorMs = 0;
      for (const g of gc) {
        const o = overlap(g);
        if (g.major) gcMajorMs += o;
        else gcMinorMs += o;
      }
      return { startMs, endMs, cpuMs, waitingMs, ran: sorted(ran).slice(0, 8), gcMinorMs, gcMajorMs };
    });
    return { stalls, gc, all: sorted(all).slice(0, 25), startMs: started, windowMs: monotonicMs() - started, newSpaceKbAtStart: atStart.newSpaceKb, oldSpaceKbAtStart: atStart.oldSpaceKb };
  };
}

/** A stream of the steady run: when it was subscribed (monotonic ms) and how long until DONE. */
export interface TimedStream {
  startAt: number;
  lastMs: number;
}

const f1 = (x: number) => x.toFixed(1);
const f2 = (x: number) => x.toFixed(2);
/** The window's head: issue 19 §3's slowest streams fell in the steady window's first 400 ms (BENCHMARKS, eleventh round). */
const HEAD_MS = 400;

/**
 * The slowest 1 % of the streams against the stalls of their own interval (subscribe to DONE), beside the median
 * streams': how much of each stream's time the API thread was stalled, and by what.
 */
export function tailReport(streams: TimedStream[], timeline: Timeline, prefix: string): string[] {
  const bySpeed = [...streams].sort((a, b) => a.lastMs - b.lastMs);
  const n = bySpeed.length;
  const tail = bySpeed.slice(Math.floor(n * 0.99));
  const middle = bySpeed.slice(Math.floor(n * 0.45), Math.floor(n * 0.55));
  const stalledIn = (s: TimedStream) => {
    const end = s.startAt + s.lastMs;
    let ms = 0;
    let cpu = 0;
    let waiting = 0;
    let count = 0;
    for (const st of timeline.stalls) {
      const o = Math.min(end, st.endMs) - Math.max(s.startAt, st.startMs);
      if (o > 0) {
        ms += o;
        cpu += (st.cpuMs * o) / (st.endMs - st.startMs);
        waiting += (st.waitingMs * o) / (st.endMs - st.startMs);
        count++;
      }
    }
    return { ms, cpu, waiting, count };
  };
  const summary = (group: TimedStream[], name: string) => {
    const st = group.map(stalledIn);
    const withStall = st.filter((x) => x.count > 0).length;
    const stalledMs = st.reduce((a, x) => a + x.ms, 0) / Math.max(1, group.length);
    const runningMs = st.reduce((a, x) => a + x.cpu, 0) / Math.max(1, group.length);
    const waitingMs = st.reduce((a, x) => a + x.waiting, 0) / Math.max(1, group.length);
    const meanMs = group.reduce((a, x) => a + x.lastMs, 0) / Math.max(1, group.length);
    return `${prefix} ${name} (${group.length} streams, DONE ${f1(group[0]?.lastMs ?? 0)}-${f1(group.at(-1)?.lastMs ?? 0)} ms, mean ${f1(meanMs)}): ${withStall} overlap a stall over 5 ms; the API thread stalled ${f1(stalledMs)} ms of each one's time on average (${f1((100 * stalledMs) / Math.max(1e-9, meanMs))} %), running ${f1(runningMs)} ms of it, waiting for a core ${f1(waitingMs)} ms, blocked ${f1(stalledMs - runningMs - waitingMs)} ms`;
  };
  const out = [summary(tail, 'slowest 1 %'), summary(middle, 'median 10 %')];
  const totalStall = timeline.stalls.reduce((a, s) => a + (s.endMs - s.startMs), 0);
  const stallCpu = timeline.stalls.reduce((a, s) => a + s.cpuMs, 0);
  const stallWaiting = timeline.stalls.reduce((a, s) => a + s.waitingMs, 0);
  const blockedInGc = timeline.stalls.filter((s) => s.gcMinorMs + s.gcMajorMs > 0).reduce((a, s) => a + Math.max(0, s.endMs - s.startMs - s.cpuMs - s.waitingMs), 0);
  out.push(
    `${prefix} stalls over 5 ms: ${timeline.stalls.length}, ${f1(totalStall)} ms of the ${f1(timeline.windowMs)} ms window, the API thread running ${f1(stallCpu)} ms of it, waiting for a core ${f1(stallWaiting)} ms, blocked ${f1(totalStall - stallCpu - stallWaiting)} ms (${f1(blockedInGc)} ms of it in stalls with a GC pause); GC pauses ${timeline.gc.filter((g) => !g.major).length} minor / ${timeline.gc.filter((g) => g.major).length} major`,
  );
  // When in the window the slowest streams arrived, and the young generation at the start against the rest.
  const t0 = timeline.startMs;
  const at = tail.map((s) => s.startAt - t0).sort((a, b) => a - b);
  const head = (ms: number) => ms < HEAD_MS;
  out.push(
    `${prefix} the slowest 1 % subscribed at +${f1(at[0] ?? 0)} to +${f1(at.at(-1) ?? 0)} ms of the window (median +${f1(at[Math.floor(at.length / 2)] ?? 0)}), ${at.filter(head).length} of ${at.length} in its first ${HEAD_MS} ms`,
  );
  const scavenges = timeline.gc.filter((g) => !g.major);
  const kb = (gs: GcPause[]) => (gs.length ? `${f1(Math.min(...gs.map((g) => g.newSpaceKb)) / 1024)}-${f1(Math.max(...gs.map((g) => g.newSpaceKb)) / 1024)} MB` : '-');
  const first = scavenges.filter((g) => head(g.startMs - t0));
  const rest = scavenges.filter((g) => !head(g.startMs - t0));
  const restPerHead = (rest.length * HEAD_MS) / Math.max(1, timeline.windowMs - HEAD_MS);
  // The old space's growth over scavenges (a major GC's fall not counted): what reached it, MB per 100 ms.
  let grewHead = 0;
  let grewRest = 0;
  let previous = timeline.oldSpaceKbAtStart;
  for (const g of timeline.gc) {
    if (!g.major) {
      const grew = Math.max(0, g.oldSpaceKb - previous);
      if (head(g.startMs - t0)) grewHead += grew;
      else grewRest += grew;
    }
    previous = g.oldSpaceKb;
  }
  const restMs = Math.max(1, timeline.windowMs - HEAD_MS);
  // The scavenges before the new space was back at its largest size of the window (after an idle period V8 has shrunk it).
  const largest = Math.max(0, ...scavenges.map((g) => g.newSpaceKb));
  const regrowing = scavenges.slice(
    0,
    scavenges.findIndex((g) => g.newSpaceKb >= largest),
  );
  out.push(
    `${prefix} young generation: new space ${f1(timeline.newSpaceKbAtStart / 1024)} MB at the window's start; scavenges in its first ${HEAD_MS} ms ${first.length} (${f1(first.reduce((a, g) => a + g.ms, 0))} ms of pauses; new space after them ${kb(first)}), in the rest ${f1(restPerHead)} a ${HEAD_MS} ms (new space ${kb(rest)}); ${regrowing.length} scavenges (${f1(regrowing.reduce((a, g) => a + g.ms, 0))} ms) before it was back at ${f1(largest / 1024)} MB, at +${f1((scavenges[regrowing.length]?.startMs ?? t0) - t0)} ms; the old space grew over scavenges ${f2((100 * grewHead) / 1024 / HEAD_MS)} MB a 100 ms in the first ${HEAD_MS} ms, ${f2((100 * grewRest) / 1024 / restMs)} in the rest; major GCs ${
      timeline.gc
        .filter((g) => g.major)
        .map((g) => `+${f1(g.startMs - t0)} (${f1(g.ms)} ms)`)
        .join(', ') || 'none'
    }`,
  );
  // The stalls the slowest streams met, longest first, with what ran in them.
  const met = new Set<Stall>();
  for (const s of tail) for (const st of timeline.stalls) if (Math.min(s.startAt + s.lastMs, st.endMs) > Math.max(s.startAt, st.startMs)) met.add(st);
  for (const st of [...met].sort((a, b) => b.endMs - b.startMs - (a.endMs - a.startMs)).slice(0, 12)) {
    const streamsIn = tail.filter((s) => Math.min(s.startAt + s.lastMs, st.endMs) > Math.max(s.startAt, st.startMs)).length;
    out.push(
      `${prefix}   stall at +${f1(st.startMs - t0)} ms of the window, ${f1(st.endMs - st.startMs)} ms, the API thread running ${f1(st.cpuMs)} / waiting for a core ${f1(st.waitingMs)} / blocked ${f1(Math.max(0, st.endMs - st.startMs - st.cpuMs - st.waitingMs))} ms (${streamsIn} of the slowest streams in it): GC minor ${f1(st.gcMinorMs)} / major ${f1(st.gcMajorMs)} ms; ran ${st.ran.map(([k, ms]) => `${k} ${f1(ms)}`).join('; ')}`,
    );
  }
  // What the stalls ran in all, against the window's.
  const inStalls = new Map<string, number>();
  for (const st of timeline.stalls) for (const [k, ms] of st.ran) inStalls.set(k, (inStalls.get(k) ?? 0) + ms);
  out.push(
    `${prefix} in all stalls (top 8 a stall): ${sorted(inStalls)
      .slice(0, 15)
      .map(([k, ms]) => `${k} ${f1(ms)}`)
      .join('; ')}`,
  );
  out.push(
    `${prefix} the whole window: ${timeline.all
      .slice(0, 15)
      .map(([k, ms]) => `${k} ${f1(ms)}`)
      .join('; ')}`,
  );
  return out;
}
