// PGlite's thread in a CPU profile, by PostgreSQL function (BENCHMARKS.md, issue 19's eleventh round, step 143).
// V8 names PGlite's WebAssembly functions `wasm-function[N]` (pglite.wasm has no name section), but the module exports
// about 2,000 of PostgreSQL's functions by name (for its extensions): N counts the imported functions first, then the
// module's own, so an exported one's name is known. This reads the export section of the installed pglite.wasm and
// prints, for one .cpuprofile (profile-wrk's PGlite thread), each function's self and inclusive share of the busy
// samples, scaled to µs a request by the given busy µs (profile-wrk's "busy samples per request" of that thread).
// Functions that are not exported keep V8's `wasm-function[N]` (their time still counts in their exported callers).
// A body exported under several names (identical code folded by the linker) shows the first one: a name that cannot
// be where the time is (e.g. `add_real_reloption` around the whole executor) is one of those.
//
//   npx tsx scripts/profile-wrk.ts --seconds 5 --rounds 1 --pglite-dir /tmp/pgl --dir /tmp/prof
//   npx tsx scripts/pglite-profile-names.ts /tmp/prof/CPU.<...>.cpuprofile 236.9 [--top 40]
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { positionals, values: args } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '40' } } });
const [profileFile, busyArg] = positionals;
if (!profileFile || !busyArg) throw new Error('usage: pglite-profile-names.ts <file.cpuprofile> <busy µs a request> [--top N]');

/** Function index -> export name, from the module's export section (the import section is read past). */
function exportedNames(wasm: Uint8Array): Map<number, string> {
  let at = 8; // magic and version
  const leb = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = wasm[at++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return result;
    }
  };
  const name = (): string => {
    const length = leb();
    const text = Buffer.from(wasm.subarray(at, at + length)).toString('utf8');
    at += length;
    return text;
  };
  const names = new Map<number, string>();
  while (at < wasm.length) {
    const section = wasm[at++];
    const size = leb();
    const end = at + size;
    if (section === 2) {
      for (let n = leb(); n > 0; n--) {
        name(); // module
        name(); // field
        const kind = wasm[at++];
        if (kind === 0)
          leb(); // a function: its type index
        else if (kind === 1) {
          at++; // element type
          if (leb() & 1) leb(); // limits: flags, min, max if present
          leb();
        } else if (kind === 2) {
          if (leb() & 1) leb(); // memory limits
          leb();
        } else if (kind === 3)
          at += 2; // global: value type, mutability
        else if (kind === 4) {
          at++; // tag attribute
          leb();
        }
      }
    } else if (section === 7) {
      for (let n = leb(); n > 0; n--) {
        const exported = name();
        const kind = wasm[at++];
        const index = leb();
        if (kind === 0 && !names.has(index)) names.set(index, exported);
      }
    }
    at = end;
  }
  // An export's index is in the function index space (imports first), as V8's `wasm-function[N]` is.
  return names;
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string };
  hitCount?: number;
  children?: number[];
}

const require = createRequire(import.meta.url);
const wasmFile = path.join(path.dirname(require.resolve('@electric-sql/pglite')), 'pglite.wasm');
const names = exportedNames(readFileSync(wasmFile));
const profile = JSON.parse(readFileSync(profileFile, 'utf8')) as { nodes: ProfileNode[] };
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parentOf = new Map<number, number>();
for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
const nameOf = (n: ProfileNode): string => {
  const m = /^wasm-function\[(\d+)\]$/.exec(n.callFrame.functionName);
  return (m && names.get(Number(m[1]))) || n.callFrame.functionName || '(anonymous)';
};

const self = new Map<string, number>();
const inclusive = new Map<string, number>();
let busy = 0;
for (const n of profile.nodes) {
  const hits = n.hitCount ?? 0;
  const own = nameOf(n);
  if (!hits || own === '(idle)') continue;
  busy += hits;
  self.set(own, (self.get(own) ?? 0) + hits);
  // Each name once per sample, however often it recurs on the stack.
  const seen = new Set<string>();
  for (let id: number | undefined = n.id; id !== undefined; id = parentOf.get(id)) {
    const frame = nameOf(byId.get(id) as ProfileNode);
    if (seen.has(frame)) continue;
    seen.add(frame);
    inclusive.set(frame, (inclusive.get(frame) ?? 0) + hits);
  }
}
const scale = Number(busyArg) / busy;
const top = Number(args.top);
const print = (title: string, counts: Map<string, number>) => {
  console.log(`${title} (µs a request, of ${busyArg} busy)`);
  for (const [fn, hits] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(`${(hits * scale).toFixed(1).padStart(8)}  ${fn}`);
};
console.log(`[pglite-profile-names] ${names.size} exported functions of ${wasmFile}; ${busy} busy samples`);
print('self', self);
print('inclusive', inclusive);
