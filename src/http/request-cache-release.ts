// Pothos keeps its per-request caches (scope-auth's RequestCache: the viewer's scopes, the fields' grants) in
// WeakMaps keyed by the request's context, and each cached value holds the context itself. V8's scavenger keeps a
// WeakMap entry's value alive while the table lives (in the old generation) and the value reaches its own key, so
// the context, and with it Yoga's request and node's IncomingMessage and ServerResponse, outlived every scavenge
// until the next major GC: 7.5 kB promoted to the old generation per `recommendation` (any field with authScopes),
// where `{ __typename }` promoted 0.1 (BENCHMARKS.md, issue 19, tenth round: what a `recommendation` keeps past a
// scavenge). Here Pothos keys those caches on a small object of the context's own (`[contextCacheSymbol]: {}`, set by
// the context factory in src/server.ts, as Pothos' initContextCache), and
// the context lets go of it once the request's result is made: the entries' keys are then unreachable and the
// next scavenge drops them with the request's objects.
import { contextCacheSymbol } from '@pothos/core';
import type { Plugin } from 'graphql-yoga';

type CacheKeyed = { [contextCacheSymbol]?: object | undefined };

/**
 * An HTTP request's context drops its cache key once its result is made (Yoga's onExecutionResult: after the
 * operation's last resolver, before the response is written). A graphql-ws operation's context keeps it, as before.
 */
export function useRequestCacheRelease(): Plugin {
  return {
    onExecutionResult({ context }) {
      const keyed = context as CacheKeyed;
      // Assigned, not deleted: the context keeps its shape (a late read keys on the context itself, as Pothos does
      // without the key).
      if (keyed[contextCacheSymbol]) keyed[contextCacheSymbol] = undefined;
    },
  };
}
