// A statement as PostgreSQL's extended-protocol messages, every parameter in binary (issue 19, tenth round, step 100):
// the recommendation writer's statement, to either database.
// - To PGlite's thread: written on the API's thread (Bind, Execute, Sync: the parameters copied in once) into a
//   message buffer shared with the thread and reused (step 212; step 100 made a new buffer of the exact size a
//   statement and transferred it), and run there by PGlite's execProtocolRaw as it is; the statement itself is parsed
//   once per session (Parse of a named statement). PGlite's query() instead clones the parameters to the thread (each
//   view's whole backing buffer), then runs Parse, Describe, Bind, Describe, Execute and Sync as six exchanges, its
//   protocol writer growing by copies for each message and its Bind copying every parameter again: some 3 MB of
//   short-lived ArrayBuffers a 200-row statement in the thread, which set off its isolate's major collections
//   (BENCHMARKS.md step 90).
// - To a PostgreSQL server: the same messages (Parse first on a connection that has not parsed the statement) in one
//   buffer, written to a pooled connection's socket by node-postgres as a query of its own (sql.ts, step 309), where
//   its own query copied the parameters three times into its growing writers and asked for a Describe too.
// Nothing imported at run time.
//
// The messages (PostgreSQL's protocol-message-formats): a type byte, an int32 length counting itself, the body.

const encoder = new TextEncoder();

function cstringLength(text: string): number {
  return encoder.encode(text).length + 1;
}

/** The bytes of writeParse's message for `name` and `text`. */
export function parseLength(name: string, text: string): number {
  return 1 + 4 + cstringLength(name) + cstringLength(text) + 2;
}

/**
 * Parse of `text` as the named statement `name` (its parameters' types from the text's casts), written into `out`
 * from `at` (parseLength's bytes): the position after it.
 */
export function writeParse(out: Uint8Array, at: number, name: string, text: string): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[at++] = 0x50; // 'P'
  view.setInt32(at, parseLength(name, text) - 1);
  at += 4;
  at += encoder.encodeInto(name, out.subarray(at)).written;
  out[at++] = 0;
  at += encoder.encodeInto(text, out.subarray(at)).written;
  out[at++] = 0;
  view.setInt16(at, 0); // no parameter types given
  return at + 2;
}

/** Parse of `text` as the named statement `name`, then Sync: an exchange of its own. */
export function parseMessage(name: string, text: string): Uint8Array {
  const out = new Uint8Array(parseLength(name, text) + 5);
  const at = writeParse(out, 0, name, text);
  out[at] = 0x53; // 'S'
  new DataView(out.buffer).setInt32(at + 1, 4);
  return out;
}

/**
 * The size of a message buffer that is kept and reused for `length` bytes of messages: room for a quarter more (a
 * statement of a few more rows), in 64 kB steps.
 */
export function messageBufferBytes(length: number): number {
  return Math.ceil((length * 1.25) / 65_536) * 65_536;
}

/** The bytes of writeBindExecuteSync's messages for `name` and `params`: the Bind message's, then Execute's 10 and Sync's 5. */
export function bindExecuteSyncLength(name: string, params: readonly (Uint8Array | null)[]): number {
  return 1 + bindLength(name, params) + 10 + 5;
}

/** The Bind message's length field: itself, the unnamed portal, the statement's name, one format code (binary), the parameters' count and values, no result format codes. */
function bindLength(name: string, params: readonly (Uint8Array | null)[]): number {
  let valuesLength = 0;
  for (const p of params) valuesLength += 4 + (p ? p.byteLength : 0);
  return 4 + 1 + cstringLength(name) + 2 + 2 + 2 + valuesLength + 2;
}

/**
 * Bind of the named statement `name` with every parameter in binary format (null: SQL NULL), results in text, then
 * Execute and Sync, written into `out` from `at` (0 by default; `out` holds bindExecuteSyncLength's bytes after it,
 * or more); returns the position after them.
 */
export function writeBindExecuteSync(out: Uint8Array, name: string, params: readonly (Uint8Array | null)[], at = 0): number {
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out[at++] = 0x42; // 'B'
  view.setInt32(at, bindLength(name, params));
  at += 4;
  out[at++] = 0; // the unnamed portal
  at += encoder.encodeInto(name, out.subarray(at)).written + 1;
  out[at - 1] = 0;
  view.setInt16(at, 1);
  view.setInt16(at + 2, 1); // every parameter binary
  view.setInt16(at + 4, params.length);
  at += 6;
  for (const p of params) {
    if (p === null) {
      view.setInt32(at, -1);
      at += 4;
      continue;
    }
    view.setInt32(at, p.byteLength);
    out.set(p, at + 4);
    at += 4 + p.byteLength;
  }
  view.setInt16(at, 0); // every result column in text
  at += 2;
  out[at++] = 0x45; // 'E'
  view.setInt32(at, 9);
  at += 4;
  out[at++] = 0; // the unnamed portal
  view.setInt32(at, 0); // all rows
  at += 4;
  out[at++] = 0x53; // 'S'
  view.setInt32(at, 4);
  return at + 4;
}

/** An ErrorResponse's fields by their code letter (S severity, C SQLSTATE, M message, D detail, n constraint, t table, ...). */
export type ErrorFields = Record<string, string>;

/** What a reply to one exchange (up to its Sync's ReadyForQuery) said: the rows its commands reported, or its first error. */
export interface ExchangeReply {
  /** The rows of the last INSERT / UPDATE / DELETE / MERGE / COPY command tag (0 for other commands). */
  affectedRows: number;
  error: ErrorFields | null;
}

const decoder = new TextDecoder();

/** The rows a CommandComplete's tag reports: INSERT / UPDATE / DELETE / MERGE / COPY's count, 0 for other commands. */
export function affectedRowsOf(tag: string): number {
  const [command] = tag.split(' ', 1);
  if (command === 'INSERT' || command === 'UPDATE' || command === 'DELETE' || command === 'MERGE' || command === 'COPY') return Number(tag.slice(tag.lastIndexOf(' ') + 1)) || 0;
  return 0;
}

/** Reads a backend reply: CommandComplete's tag and ErrorResponse's fields; every other message is skipped. */
export function readReply(bytes: Uint8Array): ExchangeReply {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let affectedRows = 0;
  let error: ErrorFields | null = null;
  let at = 0;
  while (at + 5 <= bytes.length) {
    const type = bytes[at];
    const length = view.getInt32(at + 1);
    const body = at + 5;
    const end = at + 1 + length;
    if (type === 0x43 /* 'C' */) {
      affectedRows = affectedRowsOf(decoder.decode(bytes.subarray(body, end - 1)));
    } else if (type === 0x45 /* 'E' */ && !error) {
      error = {};
      let f = body;
      while (f < end && bytes[f] !== 0) {
        const code = String.fromCharCode(bytes[f]);
        const stop = bytes.indexOf(0, f + 1);
        error[code] = decoder.decode(bytes.subarray(f + 1, stop));
        f = stop + 1;
      }
    }
    at = end;
  }
  return { affectedRows, error };
}
