// Reading V8's .cpuprofile files (node --cpu-prof) over time windows: CPU µs per unit of work (a request, a stream)
// per function, self and inclusive. Shared by scripts/profile-wrk.ts and scripts/profile-burst.ts.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
/** A span of monotonic µs (the clock of the profiles' timestamps: monotonicMicros). */
export interface TimeWindow {
  from: number;
  to: number;
}

/** Monotonic µs, the clock V8's profiles are stamped with. */
export const monotonicMicros = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Per function (name, file:line:column): CPU µs per unit over the windows, self and inclusive (a function counted
 * once per sample however often it recurs on the stack); `busy` is every non-idle sample's time per unit.
 */
export function cpuPerUnit(profile: CpuProfile, windows: readonly TimeWindow[], units: number) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const name = (n: ProfileNode) => {
    const url = n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|scripts)\//, '$1/');
    return `${n.callFrame.functionName || '(anonymous)'} ${url}${url ? `:${n.callFrame.lineNumber + 1}:${n.callFrame.columnNumber + 1}` : ''}`;
  };
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    at += profile.timeDeltas[i]!;
    if (!windows.some((w) => at >= w.from && at <= w.to)) continue;
    const node = byId.get(profile.samples[i]!);
    if (!node || node.callFrame.functionName === '(idle)') continue;
    const micros = profile.timeDeltas[i + 1] ?? 0;
    busy += micros;
    self.set(name(node), (self.get(name(node)) ?? 0) + micros);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const key = name(byId.get(id)!);
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + micros);
    }
  }
  const per = Math.max(1, units);
  const scale = (m: Map<string, number>) => new Map([...m].map(([k, v]) => [k, v / per]));
  return { busy: busy / per, self: scale(self), inclusive: scale(inclusive) };
}

/** The directory's profiles, one per thread (CPU.<date>.<time>.<pid>.<thread>.<n>.cpuprofile), the API's thread (0) first. */
export function readProfiles(dir: string): { file: string; thread: number; profile: CpuProfile }[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => ({ file: path.join(dir, f), thread: Number(/\.(\d+)\.\d+\.cpuprofile$/.exec(f)?.[1] ?? -1) }))
    .sort((a, b) => a.thread - b.thread);
  if (files.length === 0) throw new Error(`no .cpuprofile in ${dir}`);
  return files.map((x) => ({ ...x, profile: JSON.parse(readFileSync(x.file, 'utf8')) as CpuProfile }));
}
