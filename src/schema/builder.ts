// The Pothos builder: plugins configured in one place; one file per domain type registers its own parts.
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin, { AuthScopeFailureType, type AuthFailure, RequestCache } from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Context } from '../context.ts';
import { AppError, fieldPath, forbidden, unauthenticated } from '../errors.ts';
import { isAdmin, readsEveryone } from '../resolvers/access.ts';
import { getDatamodel, type default as PrismaTypes } from '../generated/pothos-types.ts';
import RateLimitPlugin from './rate-limit-plugin.ts';

/** Who holds each field gate (src/resolvers/access.ts decides the rows). */
const SCOPE_HOLDERS: Record<string, string> = { reader: 'analysts and admins', admin: 'admins', authenticated: 'signed-in users' };

/** The gate a refusal failed on (the first, when several were tried). */
function failedScope(failure: AuthFailure): string | null {
  if (failure.kind === AuthScopeFailureType.AuthScope || failure.kind === AuthScopeFailureType.GrantedScope) return failure.scope;
  if (failure.kind === AuthScopeFailureType.AnyAuthScopes || failure.kind === AuthScopeFailureType.AllAuthScopes) {
    for (const f of failure.failures) {
      const scope = failedScope(f);
      if (scope) return scope;
    }
  }
  return null;
}

function forbiddenMessage(field: string, scope: string | null, role: string): string {
  const holders = scope ? SCOPE_HOLDERS[scope] : undefined;
  return holders
    ? `${field} is for ${holders} only (you are signed in as ${role === 'ADMIN' || role === 'ATHLETE' || role === 'ANALYST' ? `an ${role.toLowerCase()}` : `a ${role.toLowerCase()}`})`
    : 'You are not allowed to do this';
}

/**
 * Lets go of what scope-auth cached for an operation's context (its RequestCache), for when the operation is over.
 * scope-auth keeps that cache in a WeakMap keyed by the context, and the cache holds the context: a WeakMap value that
 * reaches its own key keeps the key alive through every scavenge (the map is in the old generation), so without this
 * the operation's context and all it holds (its loaders, the HTTP request or the subscribe message's parameters) are
 * promoted and stay until a major collection (BENCHMARKS.md, issue 19 tenth round step 110, thirteenth round, and
 * step 304 for queries and mutations: about 8 kB a `recommendation` request promoted without it).
 */
export function releaseRequestCaches(context: object): void {
  RequestCache.clearForContext(context);
}

export const builder = new SchemaBuilder<{
  Context: Context;
  PrismaTypes: PrismaTypes;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
    ID: { Input: string; Output: string };
  };
  AuthScopes: {
    authenticated: boolean;
    /** Reads everything: analysts and admins. */
    reader: boolean;
    admin: boolean;
  };
  DefaultFieldNullability: false;
  /** Every connection carries its total (relatedConnection: a number; prismaConnection: a lazy count). */
  Connection: { totalCount: number | (() => number | Promise<number>) };
}>({
  // Last, so it wraps innermost: a call refused by authScopes is not counted against the viewer's budget.
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ValidationPlugin, RateLimitPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    // The field gates; whose rows a request touches is decided by src/resolvers/access.ts (authorizeOwner).
    authScopes: (ctx) => ({
      authenticated: ctx.viewer !== null,
      reader: readsEveryone(ctx.viewer),
      admin: isAdmin(ctx.viewer),
    }),
    // A subscription is checked once, when subscribed to, not on each event it sends.
    authorizeOnSubscribe: true,
    // FORBIDDEN says which roles may, and what the viewer is: "insights is for analysts and admins (you are an athlete)".
    unauthorizedError: (_parent, ctx, info, result) => (ctx.viewer ? forbidden(forbiddenMessage(info.fieldName, failedScope(result.failure), ctx.viewer.role)) : unauthenticated()),
  },
  prisma: {
    client: (ctx) => ctx.services.prisma,
    dmmf: getDatamodel(),
    exposeDescriptions: true,
    filterConnectionTotalCount: true,
    maxConnectionSize: 100,
    defaultConnectionSize: 20,
    onUnusedQuery: process.env.NODE_ENV === 'production' ? null : 'warn',
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    nodeQueryOptions: false,
    nodesQueryOptions: false,
    // The parts every connection shares (Relay cursor connections), described once.
    pageInfoTypeOptions: { description: 'Where a page sits in the whole list: pass endCursor as `after` (or startCursor as `before`) for the next page' },
    hasNextPageFieldOptions: { description: 'More rows follow this page (in the direction of `first`/`after`)' },
    hasPreviousPageFieldOptions: { description: 'Rows precede this page (in the direction of `last`/`before`)' },
    startCursorFieldOptions: { description: "The first edge's cursor; null on an empty page" },
    endCursorFieldOptions: { description: "The last edge's cursor; null on an empty page" },
    edgesFieldOptions: { description: 'The rows of this page, each with its cursor' },
    pageInfoFieldOptions: { description: 'Cursors and whether more pages exist' },
    cursorFieldOptions: { description: 'Opaque position of this row: pass it as `after` or `before`' },
    nodeFieldOptions: { description: 'The row' },
    firstArgOptions: { description: 'Page size from the start or from `after` (default 20, at most 100)' },
    lastArgOptions: { description: 'Page size from the end or from `before` (at most 100)' },
    afterArgOptions: { description: 'A cursor: the rows after it' },
    beforeArgOptions: { description: 'A cursor: the rows before it' },
  },
  validation: {
    validationError: (result) => {
      const issue = result.issues[0];
      const field = fieldPath((issue?.path ?? []).map((p) => (typeof p === 'object' && p !== null ? p.key : p)));
      const message = !issue ? 'Invalid input' : field && !issue.message.startsWith(field) ? `${field}: ${issue.message}` : issue.message;
      return new AppError('BAD_USER_INPUT', message, field || undefined);
    },
  },
});

builder.addScalarType('DateTime', DateTimeResolver, {
  description: 'An instant as an ISO 8601 / RFC 3339 string with a time zone, e.g. 2026-03-02T17:00:00.000Z; answered in UTC',
});
builder.addScalarType('JSON', JSONResolver, { description: 'Any JSON value (object, array, string, number, boolean or null)' });

// Every connection reports how many rows match its filters, not just the page.
builder.globalConnectionField('totalCount', (t) =>
  t.int({
    description: 'Rows matching the filters (all pages)',
    resolve: (connection) => (typeof connection.totalCount === 'function' ? connection.totalCount() : connection.totalCount),
  }),
);

builder.queryType({ description: 'Reads. Every field needs a token (Authorization: Bearer <token>) unless it says otherwise.' });
builder.mutationType({ description: 'Writes: athletes change their own data, analysts nothing, admins also rules, priors and jobs.' });
builder.subscriptionType({ description: 'Live streams over graphql-ws (same path) or Server-Sent Events; checked when subscribed to.' });
