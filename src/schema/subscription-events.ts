// Subscription fields whose events are already their results.
//
// Pothos wraps a field's resolve with its argument mappers, and a subscription field's resolve runs once per event:
// the validation plugin then validated the field's input again for every event of every stream (the check-in's
// 28 variables, about 16 µs and 10 KB of garbage per stream of five events, BENCHMARKS.md issue 19, sixth round).
// The arguments were validated when the client subscribed and cannot change afterwards, and with scope-auth's
// authorizeOnSubscribe the resolve checks no scope; for a field marked here the event is handed on as it is.
import type { GraphQLSchema } from 'graphql';

/** `extensions: { [EVENT_IS_RESULT]: true }` on a subscription field whose resolve is `(event) => event`. */
export const EVENT_IS_RESULT = 'climbiqEventIsResult';

/** Gives the marked subscription fields an identity resolve, without the per-event argument mapping. */
export function passEventsThrough(schema: GraphQLSchema): GraphQLSchema {
  for (const field of Object.values(schema.getSubscriptionType()?.getFields() ?? {})) {
    if (field.extensions[EVENT_IS_RESULT] === true) field.resolve = (event: unknown) => event;
  }
  return schema;
}
