// Typed errors with the codes of docs/api.md ("Errors"). Anything else that escapes a resolver is masked by Yoga.
import { GraphQLError, type FieldNode } from 'graphql';
import { BASELINE_NUMERIC_FIELDS, CHECK_IN_VARIABLES, INTENSITIES, SESSION_FIELDS, SESSION_TYPES, TIMES_OF_DAY, type VariableSpec } from './engine/variables.ts';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'BAD_USER_INPUT'
  | 'NOT_FOUND'
  | 'CONFLICT'
  /** A query over a graphql-armor limit (depth, aliases, cost, tokens, directives). */
  | 'QUERY_LIMIT_EXCEEDED'
  /** One graphql-ws connection already has MAX_SUBSCRIPTIONS_PER_CONNECTION operations open. */
  | 'TOO_MANY_SUBSCRIPTIONS'
  /** A per-viewer rate limit refused the call (HTTP 429 with Retry-After). */
  | 'RATE_LIMITED'
  /** PERSISTED_OPERATIONS is set and the request sent a document (or no operation id) instead of a listed id. */
  | 'PERSISTED_QUERY_ONLY'
  /** PERSISTED_OPERATIONS is set and the request's operation id is not in the manifest. */
  | 'PERSISTED_QUERY_NOT_FOUND';

/** The HTTP status of each code (docs/api.md "Errors" lists them; a test holds the two together). */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  BAD_USER_INPUT: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  RATE_LIMITED: 429,
  QUERY_LIMIT_EXCEEDED: 400,
  TOO_MANY_SUBSCRIPTIONS: 429,
  PERSISTED_QUERY_ONLY: 400,
  PERSISTED_QUERY_NOT_FOUND: 400,
};

export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field?: string,
    extra: { extensions?: Record<string, unknown>; headers?: Record<string, string> } = {},
  ) {
    super(message, {
      extensions: { code, ...(field ? { field } : {}), ...extra.extensions, http: { status: HTTP_STATUS[code], ...(extra.headers ? { headers: extra.headers } : {}) } },
    });
  }
}

export const unauthenticated = (message = 'Sign in: send Authorization: Bearer <token>') => new AppError('UNAUTHENTICATED', message);
export const forbidden = (message = 'You are not allowed to do this') => new AppError('FORBIDDEN', message);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const badInput = (field: string, message: string) => new AppError('BAD_USER_INPUT', message, field);
export const conflict = (message: string) => new AppError('CONFLICT', message);
/** Over HTTP: status 429 with Retry-After (Yoga applies extensions.http and leaves it out of the body). */
export const rateLimited = (message: string, retryAfterSeconds: number) =>
  new AppError('RATE_LIMITED', message, undefined, { extensions: { retryAfterSeconds }, headers: { 'Retry-After': String(retryAfterSeconds) } });

/**
 * The name of an input field in errors: argument and input-field names with list indexes
 * ("currentNiggles[1].location"). Arguments are named `input`, `id`, ...: a field inside the input object is
 * named without it.
 */
export function fieldPath(segments: readonly PropertyKey[]): string {
  const named = segments[0] === 'input' && segments.length > 1 ? segments.slice(1) : segments;
  return named.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc ? `${acc}.${String(s)}` : String(s)), '');
}

// ---------------------------------------------------------------------------------------------------------
// Masking (Yoga's maskError): what reaches a client.

/** What a field accepts, for GraphQL's own coercion errors (e.g. 2.5 for an Int): "sleepQuality must be ...". */
function allowedText(field: string): string | null {
  if (/^(currentNiggles|newNiggles)\[\d+\]\.severity$/.test(field)) return `${field} must be a whole number between 1 and 10`;
  const spec = INPUT_SPECS.get(field);
  if (!spec) return null;
  switch (spec.kind) {
    case 'int':
      return `${field} must be a whole number between ${spec.min} and ${spec.max}`;
    case 'float':
      return `${field} must be a number between ${spec.min} and ${spec.max}`;
    case 'boolean':
      return `${field} must be true or false`;
    case 'sessionType':
      return `${field} must be one of ${SESSION_TYPES.join(', ')}`;
    case 'intensity':
      return `${field} must be one of ${INTENSITIES.join(', ')}`;
    case 'timeOfDay':
      return `${field} must be one of ${TIMES_OF_DAY.join(', ')}`;
    case 'niggles':
      return `${field} must be a list of {location, severity 1-10, notes, recurring}`;
  }
}

const INPUT_SPECS: ReadonlyMap<string, VariableSpec> = new Map([...BASELINE_NUMERIC_FIELDS, ...SESSION_FIELDS, ...CHECK_IN_VARIABLES].map((spec) => [spec.name, spec as VariableSpec]));

/**
 * Input errors GraphQL and Pothos raise themselves (a variable that does not coerce: 2.5 for an Int, an unknown
 * enum value; a negative `first`; a malformed cursor) -> BAD_USER_INPUT naming the field, instead of a masked
 * INTERNAL_SERVER_ERROR.
 */
function inputError(error: unknown): AppError | null {
  if (!(error instanceof GraphQLError)) return null;
  // Variable coercion: a request error (no path): `Variable "$input" got invalid value 2.5 at "input.sleepQuality"; ...`
  const coercion = error.path === undefined ? /^Variable "\$(\w+)"(?: got invalid value .*? at "\1((?:\.\w+|\[\d+\])+)")?/s.exec(error.message) : null;
  if (coercion) {
    const detail = error.originalError instanceof GraphQLError ? error.originalError.message : error.message;
    // A required input field left out is reported on its object: name the field itself.
    const missing = /Field "(\w+)" of required type "[^"]+" was not provided/.exec(detail)?.[1];
    const field = [coercion[2]?.replace(/^\./, ''), missing].filter(Boolean).join('.') || coercion[1];
    if (missing) return new AppError('BAD_USER_INPUT', `${field} is required (${detail})`, field);
    const allowed = allowedText(field);
    return new AppError('BAD_USER_INPUT', allowed ? `${allowed} (${detail})` : `${field}: ${detail}`, field);
  }
  // Connection arguments (first/last/after/before) rejected by Pothos.
  const original = error.originalError;
  if (original instanceof GraphQLError && original.name === 'PothosValidationError') {
    const named = /Argument "(\w+)"/.exec(original.message)?.[1];
    const given = (error.nodes?.[0] as FieldNode | undefined)?.arguments?.map((a) => a.name.value) ?? [];
    const cursorArg = /cursor/i.test(original.message) ? ['after', 'before'].find((a) => given.includes(a)) : undefined;
    return new AppError('BAD_USER_INPUT', original.message, named ?? cursorArg);
  }
  return null;
}

/** Errors with a code (ours, or GraphQL's parse/validation errors) pass with their path; input errors become BAD_USER_INPUT; the rest is masked. */
export function maskError(error: unknown, message: string): Error {
  // First: on the subscription path (graphql-ws, SSE) the executor has already tagged a variable that does not
  // coerce as BAD_USER_INPUT, with GraphQL's raw message and no field; name the field as the query path does.
  const input = inputError(error);
  if (input) return input;
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof GraphQLError && typeof original.extensions.code === 'string') {
    // The located error carries the original's extensions plus the path and locations of the failing field.
    return error instanceof GraphQLError && error.extensions.code === original.extensions.code ? error : original;
  }
  if (error instanceof GraphQLError && typeof error.extensions.code === 'string' && !error.originalError) return error;
  console.error('[API] unexpected error', original ?? error);
  // Where it happened stays (the field's path and the query's locations, as Yoga's own masking keeps them): a client
  // can tell which field is null because of it. What happened does not.
  const located = error instanceof GraphQLError ? { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path } : {};
  return new GraphQLError(message, { ...located, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

/** GraphQL's "Did you mean ...?" hints, which name schema members a client did not ask about. */
const SUGGESTION = /\s*Did you mean [^?]*\?/g;

/** Production's maskError: the same, with suggestions left out (armor drops them from validation errors). */
export function maskErrorWithoutSuggestions(error: unknown, message: string): Error {
  const masked = maskError(error, message);
  masked.message = masked.message.replace(SUGGESTION, '');
  return masked;
}
