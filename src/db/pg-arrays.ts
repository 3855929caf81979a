// One-dimensional PostgreSQL arrays in their binary wire format (what array_recv reads), for a statement that takes
// one array parameter per column (`INSERT ... SELECT * FROM unnest($1::uuid[], $2::json[], ...)`): the recommendation
// writer's rows. Binary, so nothing is quoted or escaped on this thread and nothing is unquoted by the database: a
// uuid is its 16 bytes, a double its 8, a timestamp its microseconds, a text its UTF-8, a json its
// JSON text (the only part the database reads as text: it checks it as JSON and keeps it as written). node-postgres sends a Buffer parameter in binary format as it is;
// PGlite does with the serializers of src/db/jsonb-param.ts. Nothing imported at run time.
//
// The format (PostgreSQL's src/backend/utils/adt/arrayfuncs.c, array_recv): int32 dimensions (1, or 0 for an empty
// array), int32 has-nulls flag, uint32 element type OID, then per dimension int32 length and int32 lower bound (1),
// then per element int32 byte length (-1 for NULL) and the element's binary form.

/** Built-in type OIDs (pg_type.h; fixed in every PostgreSQL): an element's and its array's. */
export const PG_OID = {
  bool: 16,
  int4: 23,
  text: 25,
  float8: 701,
  timestamp: 1114,
  uuid: 2950,
  json: 114,
} as const;
export const PG_ARRAY_OID = {
  bool: 1000,
  int4: 1007,
  text: 1009,
  float8: 1022,
  timestamp: 1115,
  uuid: 2951,
  json: 199,
} as const;
export type PgElementType = keyof typeof PG_OID;

/** Header bytes of a one-dimensional array: dimensions, flags, element OID, length, lower bound. */
const HEADER = 20;
/** Microseconds between 1970-01-01 and PostgreSQL's epoch, 2000-01-01 (UTC). */
const PG_EPOCH_MS = 946_684_800_000;
const TWO_32 = 4_294_967_296;

/** Hex digit values by character code (-1: not a hex digit). */
const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX[65 + i] = 10 + i;
  HEX[97 + i] = 10 + i;
}

/** Where each byte's two hex digits start in a uuid's canonical text (8-4-4-4-12 digits, dashes between). */
const CANONICAL_UUID_DIGITS = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/**
 * An array of one element type, written element by element into a buffer outside V8's heap (grown by doubling), read
 * as its binary form once complete (`bytes`). `clear` empties it for another statement, keeping its buffer. Numbers
 * are written through a DataView of the buffer (one store each once optimised; Buffer's write methods check their
 * arguments in JavaScript first).
 */
export class PgArrayWriter {
  private buffer: Buffer;
  private view: DataView;
  private length = HEADER;
  private count = 0;
  private nulls = false;

  constructor(
    readonly type: PgElementType,
    capacity = 1024,
  ) {
    this.buffer = Buffer.allocUnsafeSlow(Math.max(capacity, 64));
    this.view = new DataView(this.buffer.buffer, this.buffer.byteOffset, this.buffer.length);
  }

  /** Elements written so far. */
  get size(): number {
    return this.count;
  }

  private room(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafeSlow(Math.max(2 * this.buffer.length, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
    this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
  }

  /** A fixed-size element: its length, then `write` fills its bytes at the offset returned. */
  private fixed(bytes: number): number {
    this.room(4 + bytes);
    this.view.setInt32(this.length, bytes);
    const at = this.length + 4;
    this.length = at + bytes;
    this.count++;
    return at;
  }

  null(): void {
    this.room(4);
    this.view.setInt32(this.length, -1);
    this.length += 4;
    this.count++;
    this.nulls = true;
  }

  bool(value: boolean | null): void {
    if (value === null) {
      this.null();
      return;
    }
    const at = this.fixed(1); // first: it may grow the buffer
    this.buffer[at] = value ? 1 : 0;
  }

  int4(value: number | null): void {
    if (value === null) {
      this.null();
      return;
    }
    if ((value | 0) !== value) throw new RangeError(`int4 out of range: ${value}`);
    const at = this.fixed(4);
    this.view.setInt32(at, value);
  }

  float8(value: number | null): void {
    if (value === null) {
      this.null();
      return;
    }
    const at = this.fixed(8);
    this.view.setFloat64(at, value);
  }

  /** A timestamp without time zone holding UTC (Prisma's convention): microseconds since 2000-01-01, as int64. */
  timestamp(value: Date | null): void {
    if (value === null) {
      this.null();
      return;
    }
    const micros = (value.getTime() - PG_EPOCH_MS) * 1000;
    if (!Number.isSafeInteger(micros)) throw new RangeError(`timestamp out of range: ${value.toISOString()}`);
    const at = this.fixed(8);
    const high = Math.floor(micros / TWO_32);
    this.view.setInt32(at, high);
    this.view.setUint32(at + 4, micros - high * TWO_32);
  }

  /** A uuid from its text (hex digits, dashes anywhere between them, as uuid_in reads it): its 16 bytes. */
  uuid(value: string | null): void {
    if (value === null) {
      this.null();
      return;
    }
    const at = this.fixed(16);
    if (value.length === 36 && this.canonicalUuid(value, at)) return;
    let k = 0;
    let high = -1;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c === 45 /* - */ && high < 0 && k > 0 && k < 16) continue;
      const digit = c < 128 ? HEX[c] : -1;
      if (digit < 0 || k === 16) throw new TypeError(`invalid uuid: ${JSON.stringify(value)}`);
      if (high < 0) high = digit;
      else {
        this.buffer[at + k++] = (high << 4) | digit;
        high = -1;
      }
    }
    if (k !== 16 || high >= 0) throw new TypeError(`invalid uuid: ${JSON.stringify(value)}`);
  }

  /** A uuid's canonical text (dashes after digits 8, 12, 16 and 20) as its bytes at `at`; false when it is not one. */
  private canonicalUuid(value: string, at: number): boolean {
    if (value.charCodeAt(8) !== 45 || value.charCodeAt(13) !== 45 || value.charCodeAt(18) !== 45 || value.charCodeAt(23) !== 45) return false;
    let invalid = 0;
    for (let k = 0; k < 16; k++) {
      const i = CANONICAL_UUID_DIGITS[k];
      const h = value.charCodeAt(i);
      const l = value.charCodeAt(i + 1);
      const high = h < 128 ? HEX[h] : -1;
      const low = l < 128 ? HEX[l] : -1;
      invalid |= high | low; // negative once any character is not a hex digit
      this.buffer[at + k] = (high << 4) | low;
    }
    return invalid >= 0;
  }

  /** A text (UTF-8, as it is: the binary form is not escaped). */
  text(value: string | null): void {
    if (value === null) {
      this.null();
      return;
    }
    this.variable(value);
  }

  /** A json from its JSON text: the text as it is (only checked by the database's json_recv, kept as written). */
  json(json: string | null): void {
    this.text(json);
  }

  private variable(value: string): void {
    this.room(4 + 3 * value.length); // UTF-8's most bytes per UTF-16 unit
    const at = this.length + 4;
    const written = this.buffer.write(value, at);
    this.view.setInt32(this.length, written);
    this.length = at + written;
    this.count++;
  }

  /** Whether a NULL element has been written (with byteLength and the elements' count: where the array stands). */
  get hasNulls(): boolean {
    return this.nulls;
  }

  /** Empty again (no element), its buffer kept: for the next statement once this one's bytes have been sent. */
  clear(): void {
    this.reset(HEADER, 0, false);
  }

  /** The buffer's size (what the writer holds outside V8's heap). */
  get capacity(): number {
    return this.buffer.length;
  }

  /** Back to where the array stood (byteLength, size, hasNulls then): the elements written since are dropped. */
  reset(byteLength: number, size: number, hasNulls: boolean): void {
    this.length = byteLength;
    this.count = size;
    this.nulls = hasNulls;
  }

  /** The array's binary form (a view of the writer's buffer: valid until the writer is written to again). */
  bytes(): Buffer {
    const b = this.buffer;
    if (this.count === 0) {
      // Zero dimensions: no length, no lower bound.
      b.writeInt32BE(0, 0);
      b.writeInt32BE(0, 4);
      b.writeUInt32BE(PG_OID[this.type], 8);
      return b.subarray(0, 12);
    }
    b.writeInt32BE(1, 0);
    b.writeInt32BE(this.nulls ? 1 : 0, 4);
    b.writeUInt32BE(PG_OID[this.type], 8);
    b.writeInt32BE(this.count, 12);
    b.writeInt32BE(1, 16);
    return b.subarray(0, this.length);
  }

  /** The bytes written so far (the header included). */
  get byteLength(): number {
    return this.length;
  }
}

/**
 * An array's text form (array_in's input) for a column that holds an array per row, sent as one text element of a
 * text[] parameter and cast by the statement: each element double-quoted, its `"` and `\` escaped; null elements as NULL.
 */
export function arrayLiteral(values: readonly (string | number | null)[]): string {
  let out = '{';
  for (let i = 0; i < values.length; i++) {
    if (i > 0) out += ',';
    const v = values[i];
    if (v === null) out += 'NULL';
    else if (typeof v === 'number') out += String(v);
    else out += `"${v.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${out}}`;
}
