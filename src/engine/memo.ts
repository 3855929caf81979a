// What is computed once per object (a history version, a model, a population's statistics) and kept on that object.
//
// A WeakMap keyed by the object would free the result with it too, but every entry of a WeakMap is an ephemeron for
// V8's collector: a major collection cannot mark an entry's value until it has marked the key, and what the
// concurrent marker could not settle is marked in the collection's final pause, on the API's thread. With a memo per
// cached athlete (a few KB each: summaries, features, comparisons), that was 3-8 ms of every major pause at 1,000
// check-ins/s over 1,000 athletes, and none once the results hang from the objects themselves (BENCHMARKS.md,
// step 280). A slot is a non-enumerable symbol-keyed property: JSON, Object.keys, spreads and structured clones do
// not see it, and it goes with its object.

/** A memo's slot on the objects it is kept on; `name` is for debuggers. */
export type MemoSlot<V> = symbol & { readonly __memo?: V };

export function memoSlot<V>(name: string): MemoSlot<V> {
  return Symbol(name) as MemoSlot<V>;
}

/** The value kept in `slot` on `key`, or undefined. */
export function memoOf<V>(key: object, slot: MemoSlot<V>): V | undefined {
  return (key as { [s: symbol]: V | undefined })[slot];
}

/** Keeps `value` in `slot` on `key` (replacing what was there) and returns it. */
export function keepMemo<V>(key: object, slot: MemoSlot<V>, value: V): V {
  if (Object.hasOwn(key, slot)) (key as { [s: symbol]: V })[slot] = value;
  else Object.defineProperty(key, slot, { value, writable: true, enumerable: false, configurable: true });
  return value;
}

/** The value kept in `slot` on `key`, made by `make` the first time. */
export function memoised<K extends object, V>(key: K, slot: MemoSlot<V>, make: (key: K) => V): V {
  const kept = memoOf(key, slot);
  return kept !== undefined ? kept : keepMemo(key, slot, make(key));
}
