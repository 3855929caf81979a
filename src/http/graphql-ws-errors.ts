// graphql-ws carries no HTTP status: the `extensions.http` (status, headers such as Retry-After) that Yoga turns
// into the HTTP response is left out of the errors sent over a WebSocket, which keep their code (and, for
// RATE_LIMITED, extensions.retryAfterSeconds). docs/api.md "Errors".
import { GraphQLError, type ExecutionResult, type FormattedExecutionResult, type GraphQLFormattedError } from 'graphql';

function withoutHttp<T extends { extensions?: Record<string, unknown> | undefined }>(error: T): T {
  if (!error.extensions || !('http' in error.extensions)) return error;
  const { http: _http, ...extensions } = error.extensions;
  return { ...error, extensions };
}

/** The errors refused before an operation runs (parse, validation, limits, auth) without extensions.http. */
export function wsErrors(errors: readonly GraphQLError[]): GraphQLError[] {
  return errors.map((e) => {
    if (!e.extensions || !('http' in e.extensions)) return e;
    const { http: _http, ...extensions } = e.extensions;
    return new GraphQLError(e.message, { nodes: e.nodes, source: e.source, positions: e.positions, path: e.path, originalError: e.originalError, extensions });
  });
}

/** One result of an operation (an event of a stream) as sent over graphql-ws: its errors without extensions.http. */
export function wsResult(result: ExecutionResult | FormattedExecutionResult): FormattedExecutionResult | ExecutionResult {
  if (!result.errors?.length) return result;
  const errors: GraphQLFormattedError[] = result.errors.map((e) => withoutHttp(e instanceof GraphQLError ? e.toJSON() : e));
  return { ...result, errors };
}
