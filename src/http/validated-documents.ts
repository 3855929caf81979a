// Documents already validated, for graphql-ws operations.
//
// Yoga's validation cache answers only after envelop has run every plugin's onValidate hook (graphql-armor's limits
// each add their rule, copying the rule list) and has joined the names of the ~30 rules into the cache's key: about
// 5 KB of garbage and several µs for every subscription of a document it has seen before (BENCHMARKS.md issue 19,
// seventh round). Here the rules are fixed when the server starts (graphql's, graphql-armor's limits, the
// introspection setting): whether a document is valid depends on it and the schema alone, and Yoga's parse cache
// hands back the same DocumentNode for the same text. A document that validated clean is not validated again; one
// with errors is, every time (its errors come from the plugins as before).
import type { DocumentNode, GraphQLError, GraphQLSchema } from 'graphql';

/** `validate` on a document's first use with a schema; no errors afterwards once it has validated clean. */
export function validateOnce(): (schema: GraphQLSchema, document: DocumentNode, validate: () => readonly GraphQLError[]) => readonly GraphQLError[] {
  const valid = new WeakMap<GraphQLSchema, WeakSet<DocumentNode>>();
  return (schema, document, validate) => {
    if (valid.get(schema)?.has(document)) return [];
    const errors = validate();
    if (errors.length === 0) {
      const documents = valid.get(schema) ?? new WeakSet<DocumentNode>();
      documents.add(document);
      valid.set(schema, documents);
    }
    return errors;
  };
}
