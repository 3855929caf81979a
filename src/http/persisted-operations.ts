// Trusted documents: with PERSISTED_OPERATIONS set, the server runs only the operations of a manifest its clients'
// build produced ({"<sha256 of the document>": "<document>"}), named by id in the request, over HTTP, SSE and
// graphql-ws alike. Any other document is refused before it is parsed.
import { readFile } from 'node:fs/promises';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { parse, validate, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ConfigError } from '../config.ts';
import { AppError } from '../errors.ts';

/** Operation id -> document. */
export type PersistedOperations = ReadonlyMap<string, string>;

/** What a request names its operation with: `extensions.persistedQuery` (Apollo's shape, which codegen clients send). */
interface OperationRequest {
  query?: string | null;
  extensions?: Record<string, unknown> | null;
}

/** The id of `extensions: { persistedQuery: { version: 1, sha256Hash } }`, or null. */
export function persistedOperationId(request: OperationRequest): string | null {
  const persisted = request.extensions?.persistedQuery as { version?: unknown; sha256Hash?: unknown } | undefined;
  return persisted?.version === 1 && typeof persisted.sha256Hash === 'string' ? persisted.sha256Hash : null;
}

const documentRefused = () =>
  new AppError(
    'PERSISTED_QUERY_ONLY',
    'This server runs only persisted operations (PERSISTED_OPERATIONS): send extensions.persistedQuery {version: 1, sha256Hash: "<id>"} of an operation in its manifest, without the query text',
  );
const unknownOperation = (id: string | null) => new AppError('PERSISTED_QUERY_NOT_FOUND', `No persisted operation has the id "${id}": the client was built against another manifest`);

/**
 * Reads and checks the manifest at startup: a JSON object of id -> document, each document parsing and valid
 * against the schema, so a manifest from a client built against another schema stops the server, naming the id.
 */
export async function loadPersistedOperations(file: string, schema: GraphQLSchema): Promise<PersistedOperations> {
  let manifest: unknown;
  try {
    manifest = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`PERSISTED_OPERATIONS: cannot read the manifest ${file} (${(err as Error).message})`);
  }
  if (manifest === null || typeof manifest !== 'object' || Array.isArray(manifest)) {
    throw new ConfigError(`PERSISTED_OPERATIONS: ${file} must hold a JSON object of operation id -> document`);
  }
  const operations = new Map<string, string>();
  for (const [id, document] of Object.entries(manifest)) {
    if (typeof document !== 'string') throw new ConfigError(`PERSISTED_OPERATIONS: the operation "${id}" in ${file} is not a document string`);
    let errors: readonly Error[];
    try {
      errors = validate(schema, parse(document));
    } catch (err) {
      errors = [err as Error];
    }
    if (errors.length) {
      throw new ConfigError(`PERSISTED_OPERATIONS: the operation "${id}" in ${file} does not run on this schema: ${errors.map((e) => e.message).join('; ')}`);
    }
    operations.set(id, document);
  }
  return operations;
}

/** HTTP and SSE: Yoga's persisted-operations plugin, with this API's error codes. */
export function usePersistedOperationsOnly(operations: PersistedOperations): Plugin {
  return usePersistedOperations({
    getPersistedOperation: (id) => operations.get(id) ?? null,
    extractPersistedOperationId: persistedOperationId,
    customErrors: {
      persistedQueryOnly: documentRefused,
      keyNotFound: documentRefused,
      notFound: ({ params }) => unknownOperation(persistedOperationId(params)),
    },
  });
}

/**
 * graphql-ws (whose messages bypass Yoga's request pipeline): the listed document for a subscribe message, or the
 * error the HTTP path gives. The protocol requires a `query` string: a persisted operation sends "".
 */
export function persistedDocument(operations: PersistedOperations, request: OperationRequest): string | AppError {
  if (request.query) return documentRefused();
  const id = persistedOperationId(request);
  if (id === null) return documentRefused();
  return operations.get(id) ?? unknownOperation(id);
}
