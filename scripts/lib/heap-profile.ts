// Reading V8's sampling heap profile (HeapProfiler.stopSampling's `head`) per stream: by the allocating function, by
// the innermost src/ function on its stack, and by both (profile-burst's --heap, bench-floor's --survivors).

export interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/** Sampled bytes per stream: by allocating function, by the innermost src/ function on its stack, and by both. */
export function printHeap(head: HeapNode, streams: number, top: number, title = "sampled allocations, ClimbIQ's API thread", tag = '[profile-burst]'): void {
  const self = new Map<string, number>();
  const bySrc = new Map<string, number>();
  const pairs = new Map<string, number>();
  let total = 0;
  const name = (n: HeapNode) =>
    `${n.callFrame.functionName || '(anonymous)'} ${n.callFrame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(src|scripts)\//, '$1/')}${n.callFrame.url ? `:${n.callFrame.lineNumber + 1}` : ''}`;
  const walk = (n: HeapNode, src: string | null) => {
    const here = n.callFrame.url.includes('/src/') ? name(n) : src;
    if (n.selfSize > 0) {
      total += n.selfSize;
      self.set(name(n), (self.get(name(n)) ?? 0) + n.selfSize);
      bySrc.set(here ?? '(no src/ frame)', (bySrc.get(here ?? '(no src/ frame)') ?? 0) + n.selfSize);
      const pair = `${here ?? '(no src/ frame)'}  <-  ${name(n)}`;
      pairs.set(pair, (pairs.get(pair) ?? 0) + n.selfSize);
    }
    for (const c of n.children) walk(c, here);
  };
  walk(head, null);
  const kb = (b: number) => (b / 1024 / streams).toFixed(2).padStart(8);
  console.log(`\n${tag} ${title}: ${kb(total).trim()} KB per stream`);
  for (const [heading, m] of [
    ['by allocating function', self],
    ['by the innermost src/ function on the stack', bySrc],
    ['by that src/ function and the allocating one', pairs],
  ] as const) {
    console.log(`\nKB / stream ${heading}:`);
    for (const [k, v] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${kb(v)}  ${k}`);
  }
}
