// Operations executed by code compiled once per document (graphql-jit) instead of graphql-js's interpreter.
//
// graphql-js walks the selection set of every result it completes: for a stream's STATS event (a few dozen
// nested objects) that walk, its type checks and the variables' coercion cost more CPU than computing the
// statistics. graphql-jit compiles an operation into one JavaScript function; Yoga's parse cache hands back
// the same DocumentNode for the same text, so each operation text is compiled once (cached by DocumentNode in a
// WeakMap: it goes when Yoga's cache drops the document) and every later request or event runs the compiled
// function. The schema, its resolvers (Pothos's auth scopes and validation) and the errors a client sees stay
// the same, on every transport (HTTP, SSE, graphql-ws):
// - variables that do not coerce are answered by the executor in place before (graphql-js's messages and paths,
//   which the error masking reads the refused field from), and so is a document graphql-jit cannot compile;
// - an error in a compiled result (graphql-jit's own error object: locations, no AST nodes) is made again the
//   way graphql-js makes it (`locatedError` with the field's nodes and path), so its masking, code and
//   `locations` read exactly as before;
// - a subscription's source stream is created as graphql-js's createSourceEventStream creates it (graphql-jit's own
//   would hand the subscribe resolver the operation's variables instead of the field's arguments), with what depends
//   on the document alone (its operation, fragments and root field) found once per document, and its variables
//   coerced by graphql-jit's compiled coercion (below); each event's result is compiled code;
// - a subscription's events skip graphql-jit's leaf serializers when every leaf the operation selects would come
//   out as it went in: the built-in scalars and enums whose values are their names (a custom scalar is serialized
//   either way). An event is the engine's own typed values, not a row read back from SQL, and graphql-jit builds
//   each checked leaf's error locations and path eagerly: two arrays per leaf, about 80 per stream of five events,
//   20 µs of a stream's CPU and its largest allocation (BENCHMARKS.md issue 19, seventh round). The difference is
//   for a value of the wrong type only: it would go out as it is (a NaN Float as null) where the checked leaf
//   answers an error.
import { createRequire } from 'node:module';
import {
  BREAK,
  createSourceEventStream,
  defaultFieldResolver,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type FieldNode,
  type FragmentDefinitionNode,
  getArgumentValues,
  GraphQLError,
  type GraphQLField,
  type GraphQLInputObjectType,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLResolveInfo,
  type GraphQLSchema,
  getLocation,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  Kind,
  locatedError,
  type OperationDefinitionNode,
  type SourceLocation,
  TypeInfo,
  typeFromAST,
  visit,
  visitWithTypeInfo,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import { isPromise, type Plugin } from 'graphql-yoga';

// graphql-jit's compiled variable coercion (what its compiled queries run). Its ES module build of this file does not
// load (dist/variables.mjs imports a CommonJS module as a default export), so it is required, as graphql-jit's own
// index.mjs requires its CommonJS files.
const { compileVariableParsing } = createRequire(import.meta.url)('graphql-jit/dist/variables') as typeof import('graphql-jit/dist/variables');

/** Yoga's `maskedErrors` (the same function and message the server gives Yoga). */
export interface MaskedErrors {
  maskError: (error: unknown, message: string) => Error;
  errorMessage: string;
}

export interface JitExecutionOptions {
  /** Called with the errors of a document graphql-jit cannot compile (that operation then runs on the default executor). Default: nothing. */
  onCompileError?: (errors: readonly { message: string }[]) => void;
  /**
   * The masking a compiled subscription's errors get here, in place of Yoga's (see onSubscribe below): the errors of
   * each event, of a stream that could not start, and one a stream fails with.
   */
  maskedErrors: MaskedErrors;
  /**
   * Called once with an operation's context when the operation is over: a query's or mutation's result made (or its
   * execution failed), a compiled subscription's stream ended (its source done, closed by the client, or failed).
   * What is cached per operation on the context can be let go then (src/server.ts). Default: nothing.
   */
  onOperationEnd?: (context: unknown) => void;
}

type Compiled = CompiledQuery | null;
/** The executor envelop hands an onExecute hook (graphql-js's execute, as wrapped by the plugins before). */
type ExecuteFn = Parameters<NonNullable<Plugin['onExecute']>>[0]['executeFn'];

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> => value != null && typeof value === 'object' && Symbol.asyncIterator in value;

/**
 * Whether every leaf the document selects leaves graphql-jit's hands as its serializer would give it, for values of
 * the field's type: built-in scalars, and enums whose values are their names (custom scalars are serialized anyway).
 */
function leavesPassThrough(schema: GraphQLSchema, document: DocumentNode): boolean {
  const typeInfo = new TypeInfo(schema);
  let passes = true;
  visit(
    document,
    visitWithTypeInfo(typeInfo, {
      [Kind.FIELD]: () => {
        const type = getNamedType(typeInfo.getType());
        if (isEnumType(type) && type.getValues().some((v) => v.value !== v.name)) {
          passes = false;
          return BREAK;
        }
        return undefined;
      },
    }),
  );
  return passes;
}

/** A variable that did not coerce: graphql-jit answers with errors and no `data` at all. */
const refusedVariables = (result: ExecutionResult): boolean => !('data' in result) && (result.errors?.length ?? 0) > 0;

/** The document's field nodes at these locations (where graphql-jit's error says it happened). */
function fieldNodesAt(document: DocumentNode, locations: readonly SourceLocation[]): FieldNode[] {
  const source = document.loc?.source;
  if (!source || locations.length === 0) return [];
  const wanted = new Set(locations.map((l) => `${l.line}:${l.column}`));
  const nodes: FieldNode[] = [];
  visit(document, {
    [Kind.FIELD]: (node: FieldNode) => {
      if (!node.loc) return;
      const at = getLocation(source, node.loc.start);
      if (wanted.has(`${at.line}:${at.column}`)) nodes.push(node);
    },
  });
  return nodes;
}

/** graphql-jit's error as graphql-js would have made it: a located error of the thrown error, with its nodes. */
function asGraphqlJsError(document: DocumentNode, error: GraphQLError): GraphQLError {
  if (error.nodes) return error;
  const nodes = fieldNodesAt(document, error.locations ?? []);
  const path = error.path ?? undefined;
  return error.originalError ? locatedError(error.originalError, nodes, path) : new GraphQLError(error.message, { nodes, path, extensions: error.extensions });
}

function withGraphqlJsErrors(document: DocumentNode, result: ExecutionResult): ExecutionResult {
  if (!result.errors?.length) return result;
  return { ...result, errors: result.errors.map((e) => asGraphqlJsError(document, e)) };
}

/** An abort is passed on as it is, never masked (as Yoga's own hook before its masking does; Yoga's isAbortError, which its package does not export). */
const isAbortError = (error: unknown): boolean =>
  typeof error === 'object' && error?.constructor?.name === 'DOMException' && ((error as DOMException).name === 'AbortError' || (error as DOMException).name === 'TimeoutError');

/** Yoga's masking for the compiled subscriptions: one per plugin, shared by their streams. */
class Masking {
  constructor(private readonly options: MaskedErrors) {}
  errors(errors: readonly GraphQLError[]): GraphQLError[] {
    return errors.map((e) => this.options.maskError(e, this.options.errorMessage) as GraphQLError);
  }
  /** An event's errors as graphql-js would have made them, masked. */
  event(document: DocumentNode, result: ExecutionResult): ExecutionResult {
    return result.errors?.length ? { ...result, errors: this.errors(result.errors.map((e) => asGraphqlJsError(document, e))) } : result;
  }
  /** The error a stream fails with. */
  failure(error: unknown): unknown {
    return isAbortError(error) ? error : this.options.maskError(error, this.options.errorMessage);
  }
}

/**
 * A compiled subscription's events as one iterator: each source value's compiled result with its errors masked, and
 * an error the stream fails with (the source's, or the mapping's) masked. This is graphql-js's own mapAsyncIterator
 * (its subscribe's: native promises) with the masking envelop would otherwise add as two more iterator layers per
 * stream, as an object without closures of its own (it lives as long as the stream: a waiting stream is copied by
 * every scavenge and then promoted with it). One promise per event (next's own: a result computed synchronously is
 * not awaited). return() closes the source at once, as before (a long-lived stream ends when its client leaves).
 */
class CompiledEvents implements AsyncIterableIterator<ExecutionResult> {
  private readonly iterator: AsyncIterator<unknown>;
  constructor(
    source: AsyncIterable<unknown>,
    private readonly query: CompiledQuery,
    private readonly args: ExecutionArgs,
    private readonly masking: Masking,
    private onEnd: ((context: unknown) => void) | undefined,
  ) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  async next(): Promise<IteratorResult<ExecutionResult>> {
    let step: IteratorResult<unknown>;
    try {
      step = await this.iterator.next();
    } catch (error) {
      this.ended();
      throw this.masking.failure(error);
    }
    if (step.done) {
      this.ended();
      return step;
    }
    // The event mapped in this function (not by awaiting mapped()): no second promise per event.
    try {
      const event = this.event(step.value);
      return { value: event instanceof Promise ? await event : event, done: false };
    } catch (error) {
      await this.closeIgnoringErrors();
      this.ended();
      throw this.masking.failure(error);
    }
  }

  async return(): Promise<IteratorResult<ExecutionResult>> {
    try {
      if (!this.iterator.return) return { value: undefined, done: true };
      const step = await this.iterator.return();
      return step.done ? step : await this.mapped(step.value);
    } finally {
      this.ended();
    }
  }

  async throw(error: unknown): Promise<IteratorResult<ExecutionResult>> {
    try {
      if (this.iterator.throw) {
        const step = await this.iterator.throw(error);
        return step.done ? step : await this.mapped(step.value);
      }
      await this.closeIgnoringErrors();
      throw error;
    } finally {
      this.ended();
    }
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** A value the source gave back on return() or throw(), as next() maps an event. */
  private async mapped(payload: unknown): Promise<IteratorResult<ExecutionResult>> {
    try {
      return { value: await this.event(payload), done: false };
    } catch (error) {
      await this.closeIgnoringErrors();
      throw this.masking.failure(error);
    }
  }

  /** A source value's compiled result, its errors masked: synchronous when graphql-jit's result is. */
  private event(payload: unknown): ExecutionResult | Promise<ExecutionResult> {
    const { args } = this;
    const result = this.query.query(payload, args.contextValue, args.variableValues);
    return result instanceof Promise ? result.then((r) => this.masking.event(args.document, r)) : this.masking.event(args.document, result);
  }

  /** The stream is over: the context's per-operation caches may go (JitExecutionOptions.onOperationEnd), once. */
  private ended(): void {
    const onEnd = this.onEnd;
    this.onEnd = undefined; // a client's return() after the source's end, or after a failed event, ends it again
    onEnd?.(this.args.contextValue);
  }

  private async closeIgnoringErrors(): Promise<void> {
    try {
      await this.iterator.return?.();
    } catch {
      // Keep the first error when closing the source also fails.
    }
  }
}

/** Per input object type, its fields whose type holds an input object: the only ones arrayForInputObject looks into. */
const objectFieldsByType = new WeakMap<GraphQLInputObjectType, readonly (readonly [string, GraphQLInputType])[]>();
function objectFields(type: GraphQLInputObjectType): readonly (readonly [string, GraphQLInputType])[] {
  let fields = objectFieldsByType.get(type);
  if (!fields) {
    fields = Object.values(type.getFields())
      .filter((field) => isInputObjectType(getNamedType(field.type)))
      .map((field) => [field.name, field.type] as const);
    objectFieldsByType.set(type, fields);
  }
  return fields;
}

/**
 * Whether `value` gives an array where `type` (or an input object within it) wants an input object. graphql-js refuses
 * that ("to be an object"); graphql-jit's coercion takes an empty array for an object of optional fields. Looks only
 * into the fields that hold input objects (a check-in's `currentNiggles`), not every key given: about 90 ns a 28-field
 * check-in against 1.2 µs for walking its keys (BENCHMARKS.md, issue 19 twelfth round, subpath's section).
 */
function arrayForInputObject(type: GraphQLInputType, value: unknown): boolean {
  if (isNonNullType(type)) return arrayForInputObject(type.ofType, value);
  if (value === null || typeof value !== 'object') return false;
  if (isListType(type)) return Array.isArray(value) ? value.some((item) => arrayForInputObject(type.ofType, item)) : arrayForInputObject(type.ofType, value);
  if (!isInputObjectType(type)) return false;
  if (Array.isArray(value)) return true;
  for (const [name, fieldType] of objectFields(type)) if (arrayForInputObject(fieldType, (value as Record<string, unknown>)[name])) return true;
  return false;
}

/** Whether any of the variables gives an array where its type wants an input object (arrayForInputObject). */
function arraysForInputObjects(types: ReadonlyMap<string, GraphQLInputType>, variables: Readonly<Record<string, unknown>>): boolean {
  for (const [name, type] of types) if (arrayForInputObject(type, variables[name])) return true;
  return false;
}

/** Each variable's type in the operation (for arrayForInputObject), or null when one names no type of the schema. */
function variableTypesOf(schema: GraphQLSchema, operation: OperationDefinitionNode): Map<string, GraphQLInputType> | null {
  const types = new Map<string, GraphQLInputType>();
  for (const definition of operation.variableDefinitions ?? []) {
    const type = typeFromAST(schema, definition.type);
    if (!type) return null;
    types.set(definition.variable.name.value, type as GraphQLInputType);
  }
  return types;
}

/** The operation `operationName` names in the document (the only one when no name is given), as graphql-js picks it. */
function operationOf(document: DocumentNode, operationName: string | null | undefined): OperationDefinitionNode | undefined {
  let operation: OperationDefinitionNode | undefined;
  for (const definition of document.definitions) {
    if (definition.kind !== Kind.OPERATION_DEFINITION) continue;
    if (operationName == null) {
      if (operation) return undefined;
      operation = definition;
    } else if (definition.name?.value === operationName) operation = definition;
  }
  return operation;
}

/**
 * What starting a subscription needs from its document alone, found once per document and operation name (graphql-js's
 * buildExecutionContext and executeSubscription find it again for every operation): the operation, its fragments, its
 * one root field, and its variables' compiled coercion.
 */
interface SubscriptionStart {
  operation: OperationDefinitionNode;
  fragments: Record<string, FragmentDefinitionNode>;
  rootType: GraphQLObjectType;
  responseName: string;
  fieldNodes: readonly FieldNode[];
  fieldDef: GraphQLField<unknown, unknown>;
  /** Each variable's type, for arrayForInputObject. */
  variableTypes: ReadonlyMap<string, GraphQLInputType>;
  coerce: ReturnType<typeof compileVariableParsing>;
}

/**
 * The start of a subscription document, or null where graphql-js's createSourceEventStream is left to do it (and to
 * answer what is wrong): no such operation, more than one root selection, a directive on it (whether it is selected
 * depends on the variables), an introspection or unknown root field.
 */
function subscriptionStart(schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): SubscriptionStart | null {
  const operation = operationOf(document, operationName);
  const fragments: Record<string, FragmentDefinitionNode> = Object.create(null);
  for (const definition of document.definitions) if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments[definition.name.value] = definition;
  const rootType = schema.getSubscriptionType();
  if (operation?.operation !== 'subscription' || !rootType) return null;
  const selections = operation.selectionSet.selections;
  const field = selections[0];
  if (selections.length !== 1 || field?.kind !== Kind.FIELD || field.directives?.length || field.name.value.startsWith('__')) return null;
  const fieldDef = rootType.getFields()[field.name.value];
  if (!fieldDef) return null;
  const variableTypes = variableTypesOf(schema, operation);
  if (!variableTypes) return null;
  return {
    operation,
    fragments,
    rootType,
    responseName: field.alias?.value ?? field.name.value,
    fieldNodes: [field],
    fieldDef,
    variableTypes,
    coerce: compileVariableParsing(schema, operation.variableDefinitions ?? []),
  };
}

/**
 * graphql-js's createSourceEventStream with the start found once per document: the variables coerced by the compiled
 * coercion, the root field's arguments by graphql-js's getArgumentValues, its subscribe resolver called with the same
 * arguments, info and error locating. Variables the compiled coercion refuses (or an array given for an input
 * object) go to graphql-js's createSourceEventStream itself, whose errors (messages, paths) the client gets as before.
 */
async function sourceEventStream(args: ExecutionArgs, start: SubscriptionStart): Promise<AsyncIterable<unknown> | ExecutionResult> {
  const raw = args.variableValues ?? {};
  const coerced = start.coerce(raw);
  if (!('coerced' in coerced) || !coerced.coerced || arraysForInputObjects(start.variableTypes, raw)) return createSourceEventStream(args) as Promise<AsyncIterable<unknown> | ExecutionResult>;
  const variableValues = coerced.coerced;
  const { fieldDef, fieldNodes, rootType, responseName } = start;
  const path = { prev: undefined, key: responseName, typename: rootType.name };
  const info: GraphQLResolveInfo = {
    fieldName: fieldDef.name,
    fieldNodes,
    returnType: fieldDef.type,
    parentType: rootType,
    path,
    schema: args.schema,
    fragments: start.fragments,
    rootValue: args.rootValue,
    operation: start.operation,
    variableValues,
  };
  let eventStream: unknown;
  try {
    const fieldArgs = getArgumentValues(fieldDef, fieldNodes[0]!, variableValues);
    const resolve = fieldDef.subscribe ?? args.subscribeFieldResolver ?? defaultFieldResolver;
    eventStream = await resolve(args.rootValue, fieldArgs, args.contextValue, info);
    if (eventStream instanceof Error) throw eventStream;
  } catch (error) {
    const located = locatedError(error, fieldNodes, [responseName]);
    return { errors: [located] };
  }
  if (!isAsyncIterable(eventStream)) throw new Error(`Subscription field must return Async Iterable. Received: ${String(eventStream)}.`);
  return eventStream;
}

/**
 * A value made once per document and operation name, kept while the document is (Yoga's parse cache hands back the same
 * DocumentNode for the same text; a WeakMap lets it go with the document). `make` answers null rather than undefined.
 */
function perOperation<T>(make: (args: ExecutionArgs) => T): (args: ExecutionArgs) => T {
  const made = new WeakMap<DocumentNode, Map<string, T>>();
  return (args) => {
    let byName = made.get(args.document);
    if (!byName) {
      byName = new Map();
      made.set(args.document, byName);
    }
    const name = args.operationName ?? '';
    let value = byName.get(name);
    if (value === undefined) {
      value = make(args);
      byName.set(name, value);
    }
    return value;
  };
}

export function useJitExecution(options: JitExecutionOptions): Plugin {
  const masking = new Masking(options.maskedErrors);

  /** An operation compiled (a subscription's events without their leaves' serializers where they pass through), or null when it does not compile. */
  const compile = (args: ExecutionArgs, events: boolean): Compiled => {
    const disableLeafSerialization = events && leavesPassThrough(args.schema, args.document);
    const result = compileQuery(args.schema, args.document, args.operationName ?? undefined, { disableLeafSerialization });
    if (isCompiledQuery(result)) return result;
    options.onCompileError?.(result.errors ?? []);
    return null;
  };
  const compiledQuery = perOperation((args) => compile(args, false));
  const compiledEvents = perOperation((args) => compile(args, true));
  /** A subscription's start, or null (graphql-js's createSourceEventStream starts it). */
  const startFor = perOperation((args) => subscriptionStart(args.schema, args.document, args.operationName));
  /** The operation's variables' types, or null (no such operation: graphql-js answers that). */
  const variableTypesFor = perOperation((args) => {
    const operation = operationOf(args.document, args.operationName);
    return operation ? variableTypesOf(args.schema, operation) : null;
  });
  /** Whether the variables give an array where the operation wants an input object (arraysForInputObjects). */
  const arrayForInputObjectIn = (args: ExecutionArgs): boolean => {
    const variables = args.variableValues;
    const types = variables ? variableTypesFor(args) : null;
    return !!variables && types !== null && arraysForInputObjects(types, variables);
  };

  /** An operation's result: compiled, or graphql-js's executor's (`executeFn`). */
  const execute = (executeFn: ExecuteFn, args: ExecutionArgs): ReturnType<ExecuteFn> => {
    const query = compiledQuery(args);
    // An array given for an input object: graphql-js refuses it ("to be an object"), graphql-jit would answer it.
    if (!query || arrayForInputObjectIn(args)) return executeFn(args);
    const answer = (result: ExecutionResult) => (refusedVariables(result) ? executeFn(args) : withGraphqlJsErrors(args.document, result));
    const result = query.query(args.rootValue, args.contextValue, args.variableValues);
    return result instanceof Promise ? result.then(answer) : answer(result);
  };

  return {
    onExecute({ executeFn, setExecuteFn }) {
      setExecuteFn(((args: ExecutionArgs) => {
        const result = execute(executeFn, args);
        const onEnd = options.onOperationEnd;
        if (!onEnd) return result;
        if (!isPromise(result)) {
          onEnd(args.contextValue);
          return result;
        }
        return Promise.resolve(result).finally(() => onEnd(args.contextValue));
      }) as typeof executeFn);
    },
    // A compiled subscription is started here and its result handed to envelop with setResultAndStopExecution: the
    // onSubscribe hooks of the plugins after this one are not called for it. Those are Yoga's own, registered after
    // every user plugin: the one that passes an abort on unmasked, and its error masking, whose onSubscribeResult
    // wraps every stream in envelop's per-event onNext mapping and error iterator (@whatwg-node/promise-helpers'
    // fake promises: about 20 KB per stream of five events, the stream's largest allocation, though an event
    // almost never carries an error; BENCHMARKS.md issue 19, ninth round). The masking is done here instead, with
    // the same function and message: each event's errors, those of a stream that could not start, and an error the
    // stream fails with (an abort passed on as it is). This plugin is therefore the last one with an onSubscribe hook
    // (src/server.ts). A document that does not compile runs on the default subscribe under Yoga's masking, as before.
    onSubscribe({ args, setResultAndStopExecution }) {
      const query = compiledEvents(args);
      if (!query) return;
      const start = startFor(args);
      const subscribed = (async () => {
        let source: AsyncIterable<unknown> | ExecutionResult;
        try {
          source = await (start ? sourceEventStream(args, start) : createSourceEventStream(args));
        } catch (error) {
          options.onOperationEnd?.(args.contextValue);
          throw error;
        }
        // graphql-js's own errors (a refused variable, the subscribe resolver's): masked as they are. No stream: ended.
        if (!isAsyncIterable(source)) {
          options.onOperationEnd?.(args.contextValue);
          return source.errors ? { ...source, errors: masking.errors(source.errors) } : source;
        }
        return new CompiledEvents(source, query, args, masking, options.onOperationEnd);
      })();
      // envelop awaits a promise given here as it awaits the subscribe function's (handleMaybePromise); its type
      // names the settled value only.
      setResultAndStopExecution(subscribed as unknown as Parameters<typeof setResultAndStopExecution>[0]);
    },
  };
}
