// A large jsonb parameter sent as bytes in jsonb's binary wire format instead of as text: the nightly fit's chunks
// of models (some 570 KB of JSON per 100 athletes). As text, PGlite's protocol writer measured the UTF-8 length of
// every such string with a JavaScript loop, twice, and the string was copied on each hop between threads (the fit's
// worker, the API's thread, PGlite's); as bytes it is encoded once where it is made (natively), transferred, and
// written into the Bind message as it is. PostgreSQL reads it with jsonb_recv: the same parser as the text's, the
// same stored values. node-postgres sends a Uint8Array parameter in binary format by itself; PGlite's serializers
// are told to (pgliteSerializers). Imported by the fit's worker, PGlite's thread and the recommendation writer (its
// statements' rows in the same format): nothing imported at run time.
import type { SerializerOptions, types as PgliteTypes } from '@electric-sql/pglite';

/** jsonb's binary format version (the first byte jsonb_recv reads). */
export const JSONB_BINARY_VERSION = 1;

/** JSON text as a jsonb parameter in binary format: the version byte, then the text in UTF-8. */
export function jsonbBytes(json: string): Uint8Array {
  const text = new TextEncoder().encode(json);
  const bytes = new Uint8Array(text.length + 1);
  bytes[0] = JSONB_BINARY_VERSION;
  bytes.set(text, 1);
  return bytes;
}

/**
 * PGlite's serializers for its `serializers` option: a jsonb parameter given as bytes (jsonbBytes) is passed as it
 * is (PGlite's Bind writer sends an ArrayBuffer view in binary format), any other value as PGlite's own jsonb
 * serializer writes it.
 */
export function pgliteSerializers(types: typeof PgliteTypes): SerializerOptions {
  const jsonb = types.serializers[types.JSONB];
  // PGlite's Serializer type says string; its Bind writer takes a view too (BufferParameter), which this returns.
  return { [types.JSONB]: (value: unknown) => (value instanceof Uint8Array ? (value as unknown as string) : jsonb(value)) };
}

/** The array types whose parameters may come as bytes in binary form (src/db/pg-arrays.ts's PG_ARRAY_OID, and jsonb[] for scripts/bench-row-db.ts's table before step 270). */
const BINARY_ARRAY_OIDS = [199, 1000, 1007, 1009, 1022, 1115, 2951, 3807];

/**
 * On an open PGlite: an array parameter given as bytes (src/db/pg-arrays.ts: the recommendation writer's column
 * arrays) is passed as it is, in binary format; any other value as PGlite's own array serializer writes it. After
 * waitReady: PGlite makes its array serializers then (from pg_type), over any given as the `serializers` option.
 */
export function passBinaryArrays(client: { serializers: Record<number | string, PgliteTypes.Serializer> }): void {
  for (const oid of BINARY_ARRAY_OIDS) {
    const own = client.serializers[oid];
    client.serializers[oid] = (value: unknown) => (value instanceof Uint8Array ? (value as unknown as string) : own ? own(value) : String(value));
  }
}
