// HTTP caching of the population's data (docs/api.md "HTTP caching"): a GET query that selects only fields whose
// answer is the same for every signed-in viewer is answered with `Cache-Control: public, max-age=<N>`, a strong
// ETag (a hash of the exact bytes) and `Vary: Accept, Authorization`; `If-None-Match` with that ETag gets 304.
// Anything else (another field beside them, a POST, an error, a subscription) keeps `private, no-store`.
import { createHash } from 'node:crypto';
import { type DocumentNode, type FragmentDefinitionNode, Kind, type OperationDefinitionNode, type SelectionSetNode, type ValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.ts';

/**
 * Root query fields whose answer does not depend on who asks (given that they may ask at all: any signed-in
 * viewer). `expertRules` only as athletes see it: with `includeInactive: true` an analyst's answer differs.
 */
export const POPULATION_FIELDS: ReadonlySet<string> = new Set(['populationPriors', 'populationModel', 'populationStatistics', 'expertRules', '__typename']);

export interface PopulationCacheOptions {
  /** max-age of a cacheable answer, in seconds (POPULATION_CACHE_MAX_AGE_SECONDS); 0 turns caching off. */
  maxAgeSeconds: number;
}

/** Yoga's context: the request, and when the viewer's token expires (a cached answer never outlives it). */
type ViewerContext = Partial<Pick<Context, 'viewerExpiresAt'>> & { request?: Request };

/** The operation that runs: the named one, or the only one. */
function operationOf(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | null {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  if (operationName) return operations.find((o) => o.name?.value === operationName) ?? null;
  return operations.length === 1 ? operations[0] : null;
}

function isTrue(value: ValueNode, variables: Record<string, unknown> | null | undefined): boolean {
  if (value.kind === Kind.BOOLEAN) return value.value;
  if (value.kind === Kind.VARIABLE) return variables?.[value.name.value] === true;
  return false;
}

/** Every root field (through fragments) is a population field, and expertRules does not ask for inactive rules. */
function onlyPopulationFields(
  selectionSet: SelectionSetNode,
  fragments: ReadonlyMap<string, FragmentDefinitionNode>,
  variables: Record<string, unknown> | null | undefined,
  seen = new Set<string>(),
): boolean {
  return selectionSet.selections.every((selection) => {
    if (selection.kind === Kind.FIELD) {
      if (!POPULATION_FIELDS.has(selection.name.value)) return false;
      return !(selection.arguments ?? []).some((arg) => arg.name.value === 'includeInactive' && isTrue(arg.value, variables));
    }
    if (selection.kind === Kind.INLINE_FRAGMENT) return onlyPopulationFields(selection.selectionSet, fragments, variables, seen);
    const name = selection.name.value;
    const fragment = fragments.get(name);
    if (!fragment || seen.has(name)) return !!fragment;
    seen.add(name);
    return onlyPopulationFields(fragment.selectionSet, fragments, variables, seen);
  });
}

/** Whether this execution's answer is the same for every signed-in viewer. */
export function isPopulationQuery(document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined): boolean {
  const operation = operationOf(document, operationName);
  if (operation?.operation !== 'query') return false;
  const fragments = new Map(document.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((f) => [f.name.value, f]));
  return onlyPopulationFields(operation.selectionSet, fragments, variables);
}

/** The entity tags of an If-None-Match header (weak ones compared by their opaque value, as RFC 9110 says). */
function matches(ifNoneMatch: string | null, etag: string): boolean {
  if (!ifNoneMatch) return false;
  return ifNoneMatch.split(',').some((tag) => {
    const t = tag.trim();
    return t === '*' || t.replace(/^W\//, '') === etag;
  });
}

export function usePopulationCaching(options: PopulationCacheOptions): Plugin {
  /** Executions (by context) of a population query over GET, with the longest max-age their viewer's token allows. */
  const candidates = new WeakMap<object, number>();
  /** The requests (as onResponse sees them) of those whose result had no error. */
  const cacheable = new WeakMap<Request, number>();
  return {
    onExecute({ args }) {
      if (options.maxAgeSeconds <= 0) return;
      const context = args.contextValue as ViewerContext;
      const request = context.request;
      if (request?.method !== 'GET') return;
      if (!isPopulationQuery(args.document, args.operationName, args.variableValues)) return;
      const tokenLeft = context.viewerExpiresAt ? Math.floor((context.viewerExpiresAt - Date.now()) / 1000) : options.maxAgeSeconds;
      const maxAge = Math.min(options.maxAgeSeconds, tokenLeft);
      if (maxAge > 0) candidates.set(context, maxAge);
    },
    onExecutionResult({ request, result, context }) {
      const maxAge = candidates.get(context);
      if (maxAge === undefined || !result || Symbol.asyncIterator in result) return;
      if (!result.errors?.length) cacheable.set(request, maxAge);
    },
    async onResponse({ request, response, setResponse, fetchAPI }) {
      const maxAge = cacheable.get(request);
      if (maxAge === undefined || response.status !== 200) return;
      const body = await response.arrayBuffer(); // the answer is replaced below, with these bytes
      // Strong: one tag per exact bytes and media type (application/json and application/graphql-response+json differ).
      const hash = createHash('sha256')
        .update(response.headers.get('content-type') ?? '')
        .update('\n')
        .update(new Uint8Array(body))
        .digest('base64url');
      const etag = `"${hash}"`;
      const headers = new fetchAPI.Headers(response.headers);
      headers.set('Cache-Control', `public, max-age=${maxAge}`);
      headers.set('ETag', etag);
      // Kept apart per token (and per media type): a cache never hands one viewer's copy to another token.
      headers.append('Vary', 'Accept, Authorization');
      if (matches(request.headers.get('if-none-match'), etag)) {
        headers.delete('content-type');
        headers.delete('content-length');
        setResponse(new fetchAPI.Response(null, { status: 304, headers }));
        return;
      }
      setResponse(new fetchAPI.Response(body, { status: 200, headers }));
    },
  };
}
