// The Pothos builder: plugins configured in one place; one file per domain type registers its own parts.
import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import ValidationPlugin from '@pothos/plugin-validation';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Context } from '../context.ts';
import { AppError, forbidden, unauthenticated } from '../errors.ts';
import { getDatamodel, type default as PrismaTypes } from '../generated/pothos-types.ts';

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
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin, ValidationPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (ctx) => ({
      authenticated: ctx.viewer !== null,
      reader: ctx.viewer?.role === 'ANALYST' || ctx.viewer?.role === 'ADMIN',
      admin: ctx.viewer?.role === 'ADMIN',
    }),
    unauthorizedError: (_parent, ctx) => (ctx.viewer ? forbidden() : unauthenticated()),
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
  },
  validation: {
    validationError: (result) => {
      const issue = result.issues[0];
      const segments = (issue?.path ?? []).map((p) => (typeof p === 'object' && p !== null ? p.key : p));
      // Arguments are named `input`, `id`, ...: report the field inside the input object.
      if (segments[0] === 'input' && segments.length > 1) segments.shift();
      const field = segments.reduce<string>(
        (acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc ? `${acc}.${String(s)}` : String(s)),
        '',
      );
      const message = !issue ? 'Invalid input' : field && !issue.message.startsWith(field) ? `${field}: ${issue.message}` : issue.message;
      return new AppError('BAD_USER_INPUT', message, field || undefined);
    },
  },
});

builder.addScalarType('DateTime', DateTimeResolver);
builder.addScalarType('JSON', JSONResolver);

// Every connection reports how many rows match its filters, not just the page.
builder.globalConnectionField('totalCount', (t) =>
  t.int({
    description: 'Rows matching the filters (all pages)',
    resolve: (connection) => (typeof connection.totalCount === 'function' ? connection.totalCount() : connection.totalCount),
  }),
);

builder.queryType({});
builder.mutationType({});
builder.subscriptionType({});
