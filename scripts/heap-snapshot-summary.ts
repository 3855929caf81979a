// What a V8 heap snapshot holds: its live objects by constructor (count, shallow size) and the largest retainers
// (each object's retained size from the dominator tree, as DevTools' "Retained Size" computes it, with weak edges
// skipped), each with a path from the roots that holds it. A snapshot is taken after a full collection, so this is
// what every major collection of that heap has to mark.
//
//   npx tsx scripts/heap-snapshot-summary.ts <file.heapsnapshot> [--top 30] [--min-kb 256] [--holders <class>]
//
// --holders <class>: what holds that class's objects: their immediate dominators by class, with the objects' count and
// retained size (e.g. `--holders Date`).
//
// bench-floor's `--snapshot <file>` writes one of ClimbIQ's server after its steady run.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '30' }, 'min-kb': { type: 'string', default: '256' }, holders: { type: 'string' } },
});
const file = positionals[0];
if (!file) throw new Error('usage: heap-snapshot-summary.ts <file.heapsnapshot> [--top 30] [--min-kb 256]');
const top = Number(args.top);

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}
const snap = JSON.parse(readFileSync(file, 'utf8')) as Snapshot;
const { meta } = snap.snapshot;
const NF = meta.node_fields.length;
const EF = meta.edge_fields.length;
const nType = meta.node_fields.indexOf('type');
const nName = meta.node_fields.indexOf('name');
const nSize = meta.node_fields.indexOf('self_size');
const nEdges = meta.node_fields.indexOf('edge_count');
const eType = meta.edge_fields.indexOf('type');
const eName = meta.edge_fields.indexOf('name_or_index');
const eTo = meta.edge_fields.indexOf('to_node');
const nodeTypes = meta.node_types[0];
const edgeTypes = meta.edge_types[0];
const WEAK = edgeTypes.indexOf('weak');
const SHORTCUT = edgeTypes.indexOf('shortcut');
const ELEMENT = edgeTypes.indexOf('element');
const HIDDEN = edgeTypes.indexOf('hidden');
const { nodes, edges, strings } = snap;
const n = nodes.length / NF;

const firstEdge = new Int32Array(n + 1);
for (let i = 0; i < n; i++) firstEdge[i + 1] = firstEdge[i]! + nodes[i * NF + nEdges]! * EF;
const selfSize = (i: number) => nodes[i * NF + nSize]!;
const typeOf = (i: number) => nodeTypes[nodes[i * NF + nType]!]!;
/** An object's class as DevTools groups it: the constructor's name for objects, the type for the rest. */
const classOf = (i: number) => {
  const t = typeOf(i);
  const name = strings[nodes[i * NF + nName]!]!;
  return t === 'object' || t === 'native' ? name : `(${t})${t === 'closure' ? ` ${name}` : ''}`;
};
const strong = (e: number) => {
  const t = edges[e + eType]!;
  return t !== WEAK && t !== SHORTCUT;
};

// Depth-first order from the root (node 0) over strong edges, iterative.
const order = new Int32Array(n).fill(-1); // postorder number
const post: number[] = [];
const parentInDfs = new Int32Array(n).fill(-1);
{
  const stack: number[] = [0];
  const cursor = new Int32Array(n);
  const seen = new Uint8Array(n);
  seen[0] = 1;
  for (let i = 0; i < n; i++) cursor[i] = firstEdge[i]!;
  while (stack.length) {
    const v = stack[stack.length - 1]!;
    let pushed = false;
    while (cursor[v]! < firstEdge[v + 1]!) {
      const e = cursor[v]!;
      cursor[v] = e + EF;
      if (!strong(e)) continue;
      const w = edges[e + eTo]! / NF;
      if (seen[w]) continue;
      seen[w] = 1;
      parentInDfs[w] = v;
      stack.push(w);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      order[v] = post.length;
      post.push(v);
    }
  }
}

// Predecessors over strong edges (of reachable nodes), as CSR.
const predCount = new Int32Array(n + 1);
for (let v = 0; v < n; v++) {
  if (order[v] < 0) continue;
  for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += EF) if (strong(e)) predCount[edges[e + eTo]! / NF + 1]++;
}
for (let i = 0; i < n; i++) predCount[i + 1] += predCount[i]!;
const preds = new Int32Array(predCount[n]!);
{
  const fill = predCount.slice(0, n);
  for (let v = 0; v < n; v++) {
    if (order[v] < 0) continue;
    for (let e = firstEdge[v]!; e < firstEdge[v + 1]!; e += EF) if (strong(e)) preds[fill[edges[e + eTo]! / NF]!++] = v;
  }
}

// Immediate dominators (Cooper, Harvey and Kennedy's iterative algorithm, on postorder numbers).
const idom = new Int32Array(n).fill(-1);
idom[0] = 0;
const intersect = (a: number, b: number) => {
  while (a !== b) {
    while (order[a]! < order[b]!) a = idom[a]!;
    while (order[b]! < order[a]!) b = idom[b]!;
  }
  return a;
};
for (let changed = true; changed; ) {
  changed = false;
  for (let k = post.length - 2; k >= 0; k--) {
    const v = post[k]!;
    let dom = -1;
    for (let p = predCount[v]!; p < predCount[v + 1]!; p++) {
      const u = preds[p]!;
      if (idom[u] === -1) continue;
      dom = dom === -1 ? u : intersect(u, dom);
    }
    if (dom !== -1 && idom[v] !== dom) {
      idom[v] = dom;
      changed = true;
    }
  }
}

// Retained sizes: each node's own plus its dominated subtree's, children before parents (postorder).
const retained = new Float64Array(n);
for (const v of post) retained[v] += selfSize(v);
for (const v of post) if (v !== 0) retained[idom[v]!] += retained[v]!;

const kb = (b: number) => (b / 1024).toFixed(0).padStart(8);
const live = post.reduce((a, v) => a + selfSize(v), 0);
console.log(`${file}: ${n.toLocaleString('en')} nodes, ${post.length.toLocaleString('en')} reachable, ${(live / 1048576).toFixed(1)} MB shallow in all`);

// By class: count and shallow size.
const byClass = new Map<string, { count: number; size: number }>();
for (const v of post) {
  const c = classOf(v);
  const entry = byClass.get(c) ?? { count: 0, size: 0 };
  entry.count++;
  entry.size += selfSize(v);
  byClass.set(c, entry);
}
console.log('\nKB shallow, objects: by class');
for (const [c, { count, size }] of [...byClass].sort((a, b) => b[1].size - a[1].size).slice(0, top)) console.log(`${kb(size)} ${String(count).padStart(9)}  ${c.slice(0, 100)}`);

/** The edge from `from` to `to` (its name), for a retainer path. */
function edgeName(from: number, to: number): string {
  for (let e = firstEdge[from]!; e < firstEdge[from + 1]!; e += EF) {
    if (edges[e + eTo]! / NF !== to) continue;
    const t = edges[e + eType]!;
    return t === ELEMENT || t === HIDDEN ? `[${edges[e + eName]}]` : String(strings[edges[e + eName]!]);
  }
  return '?';
}
/** A path from the root down to `v` (the depth-first tree's), innermost last, shortened to its last 6 steps. */
function pathTo(v: number): string {
  const steps: string[] = [];
  for (let w = v; w > 0 && parentInDfs[w]! >= 0; w = parentInDfs[w]!) steps.push(`${classOf(parentInDfs[w]!).slice(0, 40)}.${edgeName(parentInDfs[w]!, w).slice(0, 30)}`);
  steps.reverse();
  return (steps.length > 6 ? ['…', ...steps.slice(-6)] : steps).join(' -> ');
}

// The largest retainers: nodes whose retained size is at least --min-kb and at least 4x their largest dominated
// child's (a node that only passes one big child on is skipped for that child).
const minBytes = Number(args['min-kb']) * 1024;
const largestChild = new Float64Array(n);
for (const v of post) if (v !== 0) largestChild[idom[v]!] = Math.max(largestChild[idom[v]!]!, retained[v]!);
const retainers = post.filter((v) => v !== 0 && retained[v]! >= minBytes && retained[v]! >= 1.25 * largestChild[v]! && typeOf(v) !== 'synthetic');
console.log(`\nKB retained, KB shallow: the largest retainers (retained >= ${args['min-kb']} KB, not mostly one child's), and a path that holds each`);
for (const v of retainers.sort((a, b) => retained[b]! - retained[a]!).slice(0, top)) {
  console.log(`${kb(retained[v]!)} ${kb(selfSize(v))}  ${classOf(v).slice(0, 60)}  <-  ${pathTo(v)}`);
}

if (args.holders) {
  // The dominator of each object of the class, climbed past objects of the same class (a list of Dates is held by
  // what holds the list).
  const byHolder = new Map<string, { count: number; retained: number }>();
  for (const v of post) {
    if (classOf(v) !== args.holders) continue;
    let d = idom[v]!;
    while (d !== 0 && classOf(d) === args.holders) d = idom[d]!;
    let holder = classOf(d);
    for (let up = idom[d]!, k = 0; k < 2 && up !== 0; up = idom[up]!, k++) holder = `${classOf(up).slice(0, 40)} > ${holder}`;
    const entry = byHolder.get(holder) ?? { count: 0, retained: 0 };
    entry.count++;
    entry.retained += retained[v]!;
    byHolder.set(holder, entry);
  }
  console.log(`\nKB retained, objects: what holds the ${args.holders} objects (their dominators, two levels up)`);
  for (const [h, { count, retained: r }] of [...byHolder].sort((a, b) => b[1].retained - a[1].retained).slice(0, top)) console.log(`${kb(r)} ${String(count).padStart(9)}  ${h}`);
}
