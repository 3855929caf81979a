// The operations of the repository's own clients, as a manifest of trusted documents (PERSISTED_OPERATIONS): the
// insights page's (web/insights/operations.js, sent verbatim by the page) and GraphiQL's example collection (one
// document per operation, so each can be sent by id).
import { createHash } from 'node:crypto';
import { Kind, parse, print, validate } from 'graphql';
import { ANALYST_OPERATIONS, ATHLETE_OPERATIONS } from '../../src/http/graphiql-examples.ts';
import { schema } from '../../src/schema/index.ts';

const INSIGHTS_OPERATIONS = new URL('../../web/insights/operations.js', import.meta.url);

/** The id a client sends: the SHA-256 of the document's exact text, in hex (what the insights page computes). */
export const operationId = (document: string) => createHash('sha256').update(document).digest('hex');

/** Each operation of a multi-operation document (a GraphiQL tab) on its own, printed. */
function eachOperation(tab: string): string[] {
  return parse(tab)
    .definitions.filter((definition) => definition.kind === Kind.OPERATION_DEFINITION)
    .map((operation) => print({ kind: Kind.DOCUMENT, definitions: [operation] }));
}

/** id -> document, sorted by id; every document is checked against the schema (a stale one is an error naming it). */
export async function clientOperationsManifest(): Promise<Record<string, string>> {
  const { OPERATIONS } = (await import(INSIGHTS_OPERATIONS.href)) as { OPERATIONS: string[] };
  const documents = [...OPERATIONS, ...eachOperation(ATHLETE_OPERATIONS), ...eachOperation(ANALYST_OPERATIONS)];
  for (const document of documents) {
    const errors = validate(schema, parse(document));
    if (errors.length) throw new Error(`${document.split('\n')[0]}: ${errors.map((e) => e.message).join('; ')}`);
  }
  return Object.fromEntries(documents.map((document) => [operationId(document), document] as const).sort(([a], [b]) => a.localeCompare(b)));
}
