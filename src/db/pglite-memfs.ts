// An in-memory PGlite database's files grown in place (issue 19, thirteenth round, BENCHMARKS.md step 211).
// In memory (`memory://`) PGlite keeps PostgreSQL's files in Emscripten's MEMFS, one Uint8Array a file. MEMFS grows a
// file past 1 MB by allocating a new array 1.125 times as large and copying the file into it, so a table or an index
// that grows by 8 kB pages is copied whole every eighth of its size: about 9 bytes allocated, zeroed and copied for
// each byte it grows (the writer's 15,700 rows in 4 s: 342 MB of new arrays in 13 growths of the database's relation
// files), which PGlite's thread spends its time on and which, as ArrayBuffers, set off its isolate's major collections.
// Here a file that grows past 1 MB is moved once into a resizable ArrayBuffer that reserves address space to grow in
// (V8 commits pages as it grows, without a copy), so each later growth is a resize. PostgreSQL's files are at most
// 1 GB (a relation's segment; a WAL segment is made at its full 16 MB by its first write, so it never comes here).
// A directory on disk (NODEFS) does not use MEMFS for its files: nothing changes there.

/** The parts of Emscripten's MEMFS this touches (PGlite's Module.MEMFS). */
interface MemfsNode {
  contents: Uint8Array;
  usedBytes: number;
}
interface Memfs {
  expandFileStorage(node: MemfsNode, capacity: number): void;
}

/** Below this capacity MEMFS doubles a file (and copies little): left to it. MEMFS's own threshold. */
const IN_PLACE_FROM = 1 << 20;
/** The least address space reserved for a file moved to a resizable buffer, and the most (PostgreSQL's 1 GB segment, and a page). */
const RESERVE_MIN = 64 << 20;
const RESERVE_MAX = 2 ** 30 + (1 << 16);

/** ES2024's resizable ArrayBuffer (Node 20+; the project's TypeScript lib is ES2023). */
type ResizableArrayBuffer = ArrayBuffer & { readonly maxByteLength: number; resize(byteLength: number): void };
const ResizableArrayBuffer = ArrayBuffer as unknown as new (byteLength: number, options: { maxByteLength: number }) => ResizableArrayBuffer;

/** Whether `contents` is a view this module made: the whole of a resizable buffer, tracking its length. */
const tracking = new WeakSet<Uint8Array>();

/** Installs the in-place growth on `mod` (an open PGlite's Module) if it has MEMFS; idempotent. */
export function growMemfsFilesInPlace(mod: unknown): void {
  const memfs = (mod as { MEMFS?: Memfs & { climbiqInPlace?: true } } | undefined)?.MEMFS;
  // A PGlite whose MEMFS no longer has this function (an upgrade) keeps MEMFS's own growth.
  if (!memfs || memfs.climbiqInPlace || typeof memfs.expandFileStorage !== 'function') return;
  const expand = memfs.expandFileStorage.bind(memfs);
  memfs.expandFileStorage = (node, needed) => {
    const contents = node.contents;
    const capacity = contents.length;
    if (capacity >= needed) return;
    // MEMFS's growth: at least 1.125x past 1 MB (fewer resizes: the pages beyond the file are committed, not touched).
    const wanted = Math.max(needed, Math.floor(capacity * 1.125));
    if (capacity < IN_PLACE_FROM) {
      expand(node, needed);
      return;
    }
    const buffer = contents.buffer as ResizableArrayBuffer;
    if (tracking.has(contents) && wanted <= buffer.maxByteLength) {
      buffer.resize(wanted);
      return;
    }
    if (wanted > RESERVE_MAX) {
      expand(node, needed);
      return;
    }
    let grown: Uint8Array;
    try {
      // 16x what it needs now, so a file that keeps growing is moved at most twice (at 1 MB, then at 64 MB).
      const reserve = Math.min(RESERVE_MAX, Math.max(RESERVE_MIN, wanted * 16));
      grown = new Uint8Array(new ResizableArrayBuffer(wanted, { maxByteLength: reserve }));
    } catch {
      // No address space left to reserve (V8 bounds a process's reservations): MEMFS's copy, as before.
      expand(node, needed);
      return;
    }
    grown.set(contents.subarray(0, node.usedBytes));
    tracking.add(grown);
    node.contents = grown;
  };
  memfs.climbiqInPlace = true;
}
