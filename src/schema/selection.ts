import { type FieldNode, Kind, type GraphQLResolveInfo, type SelectionSetNode } from 'graphql';

/**
 * Answers per field's nodes and set of names: graphql-jit hands every execution of a compiled operation the same
 * `fieldNodes` array, so a request asks the selection once per operation text, not once per request (graphql-js
 * makes new arrays per execution: those answers go with their arrays).
 */
const answers = new WeakMap<readonly FieldNode[], Map<ReadonlySet<string>, boolean>>();

/** Whether the operation selects any of `names` directly on this field's result (through fragments too). */
export function selectsAny(info: GraphQLResolveInfo, names: ReadonlySet<string>): boolean {
  let byNames = answers.get(info.fieldNodes);
  if (!byNames) {
    byNames = new Map();
    answers.set(info.fieldNodes, byNames);
  }
  let answer = byNames.get(names);
  if (answer === undefined) {
    const visit = (set: SelectionSetNode | undefined): boolean =>
      (set?.selections ?? []).some((s) => {
        if (s.kind === Kind.FIELD) return names.has(s.name.value);
        if (s.kind === Kind.INLINE_FRAGMENT) return visit(s.selectionSet);
        return visit(info.fragments[s.name.value]?.selectionSet);
      });
    answer = info.fieldNodes.some((node) => visit(node.selectionSet));
    byNames.set(names, answer);
  }
  return answer;
}
