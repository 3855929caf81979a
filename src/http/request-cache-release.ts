// Pothos' scope-auth plugin keeps each request's RequestCache (the viewer's scopes, the fields' grants) in a WeakMap
// keyed by the request's context, and the RequestCache holds that context. V8's scavenger keeps a WeakMap entry's
// value alive while the table lives (in the old generation), and this value reaches its own key, so the context, and
// with it Yoga's request and node's IncomingMessage and ServerResponse, outlived every scavenge until the next major
// GC: 7.6-8.1 kB promoted to the old generation per `recommendation` (any field with authScopes), where
// `{ __typename }` promoted 0.1 (16 MB semi-spaces; BENCHMARKS.md, issue 19, tenth round: what a `recommendation`
// keeps past a scavenge). The entry is dropped once the request's result is made, with scope-auth's own
// RequestCache.clearForContext: the next scavenge then frees the request's objects.
import { RequestCache } from '@pothos/plugin-scope-auth';
import type { Plugin } from 'graphql-yoga';

/**
 * An HTTP request's scope-auth cache dropped once its result is made (Yoga's onExecutionResult: after the operation's
 * last resolver, before the response is written). A stream's and a graphql-ws operation's stay until a major GC, as
 * before.
 */
export function useRequestCacheRelease(): Plugin {
  return {
    onExecutionResult({ context, result }) {
      // A stream's (SSE) events still resolve fields: its cache stays, as a graphql-ws operation's.
      if (result && Symbol.asyncIterator in result) return;
      RequestCache.clearForContext(context as object);
    },
  };
}
