// Guards every operation passes on every transport (HTTP, SSE, graphql-ws): query-size limits, introspection,
// NUL characters and "__proto__" keys in input, and subscriptions that outlive their token.
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { BREAK, type GraphQLError, Kind, NoSchemaIntrospectionCustomRule, visit, type ASTNode, type DocumentNode } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import type { Context } from '../context.ts';
import { AppError, badInput, fieldPath, unauthenticated } from '../errors.ts';

/**
 * graphql-armor's limits. Armor throws `Syntax Error: <limit message>`, which Yoga would mask as an unexpected
 * error (HTTP 200, a stack in the log): each refusal is instead a client error with the limit's own message,
 * code QUERY_LIMIT_EXCEEDED and HTTP 400, logged as one line.
 */
export function useQueryLimits(config: Pick<Config, 'production'>, log: (msg: string) => void): Plugin {
  const refuse = (_context: unknown, armorError: GraphQLError) => {
    const message = armorError.message.replace(/^Syntax Error: /, '');
    log(`[API] refused an operation: ${message}`);
    throw new AppError('QUERY_LIMIT_EXCEEDED', message);
  };
  const onReject = [refuse];
  return EnvelopArmorPlugin({
    maxDepth: { n: 12, onReject },
    maxAliases: { n: 30, onReject },
    costLimit: { maxCost: 50_000, onReject },
    maxTokens: { n: 5_000, onReject },
    maxDirectives: { n: 50, onReject },
    // Suggestions name fields and arguments a client did not ask about: hidden where introspection is.
    blockFieldSuggestion: { enabled: config.production, mask: '' },
  });
}

/** Refuses __schema / __type unless INTROSPECTION_ENABLED (graphql's own rule; __typename stays allowed). */
export function useIntrospectionSetting(config: Pick<Config, 'introspectionEnabled'>): Plugin {
  if (config.introspectionEnabled) return {};
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(NoSchemaIntrospectionCustomRule);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// NUL characters: PostgreSQL refuses "\u0000" in text and jsonb, so it never gets as far as a write.
// "__proto__" keys: JSON.parse keeps one as data, but any later copy of the object (`copy[key] = value`, as the
// database client does on its way to jsonb) takes it for the prototype and the key is lost without a word.
// Refused, naming the key, rather than dropped.

type Segment = string | number;

/** Why a piece of input is refused: a NUL character, or a key named "__proto__". */
type Refusal = 'nul' | 'proto';

interface Refused {
  /** The field: argument / input field names and list indexes; for a "__proto__" key, the key itself. */
  path: Segment[];
  why: Refusal;
}

/** The first string or object key in `value` holding a NUL character, or key named "__proto__", or null. */
function refusedIn(value: unknown): Refused | null {
  if (typeof value === 'string') return value.includes('\u0000') ? { path: [], why: 'nul' } : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const inner = refusedIn(value[i]);
      if (inner) return { ...inner, path: [i, ...inner.path] };
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key.includes('\u0000')) return { path: [], why: 'nul' }; // the object holding the key
      if (key === '__proto__') return { path: [key], why: 'proto' };
      const inner = refusedIn(child);
      if (inner) return { ...inner, path: [key, ...inner.path] };
    }
  }
  return null;
}

/**
 * What a document alone says about its input, in document order: a refused literal (the walk stops there), or a
 * variable used at a field path whose value is checked per call. The same document object comes back for the same
 * query text (Yoga's parse cache, graphql-ws subscribing again), so the walk with graphql's `visit` is done once
 * per document, not per operation.
 */
type InputCheck = { literal: Refused } | { variable: string; path: Segment[] };

const inputChecks = new WeakMap<DocumentNode, InputCheck[]>();

function inputChecksOf(document: DocumentNode): InputCheck[] {
  const cached = inputChecks.get(document);
  if (cached) return cached;
  const checks: InputCheck[] = [];
  const segments: Segment[] = [];
  // Which nodes pushed a segment, so leave() pops exactly those.
  const pushed = new Set<ASTNode>();
  visit(document, {
    enter(node, key, _parent, _path, ancestors) {
      const owner = ancestors[ancestors.length - 2];
      let segment: Segment | undefined;
      if (node.kind === Kind.ARGUMENT || node.kind === Kind.OBJECT_FIELD) segment = node.name.value;
      else if (node.kind === Kind.VARIABLE_DEFINITION) segment = node.variable.name.value;
      else if (typeof key === 'number' && owner && 'kind' in owner && owner.kind === Kind.LIST) segment = key;
      if (segment !== undefined) {
        segments.push(segment);
        pushed.add(node);
      }
      if (node.kind === Kind.OBJECT_FIELD && node.name.value === '__proto__') {
        checks.push({ literal: { path: [...segments], why: 'proto' } });
        return BREAK;
      }
      if (node.kind === Kind.STRING && node.value.includes('\u0000')) {
        checks.push({ literal: { path: [...segments], why: 'nul' } });
        return BREAK;
      }
      if (node.kind === Kind.VARIABLE && !(owner && 'kind' in owner && owner.kind === Kind.VARIABLE_DEFINITION)) {
        checks.push({ variable: node.name.value, path: [...segments] });
      }
      return undefined;
    },
    leave(node) {
      if (pushed.delete(node)) segments.pop();
    },
  });
  inputChecks.set(document, checks);
  return checks;
}

/**
 * Where the operation's input holds a NUL character or a "__proto__" key: in a literal of the document, or in the
 * value of a variable where it is used. Returns the field path (argument / input field names and list indexes) and
 * why, or null.
 */
export function findRefusedInput(document: DocumentNode, variables: Record<string, unknown> | null | undefined): Refused | null {
  for (const check of inputChecksOf(document)) {
    if ('literal' in check) return check.literal;
    const inner = refusedIn(variables?.[check.variable]);
    if (inner) return { ...inner, path: [...check.path, ...inner.path] };
  }
  return null;
}

/**
 * A NUL character or a "__proto__" key anywhere in an operation's input: BAD_USER_INPUT naming the field (the
 * key), before anything runs.
 */
export function useInputGuard(): Plugin {
  const check = (document: DocumentNode, variables: Record<string, unknown> | null | undefined) => {
    const refused = findRefusedInput(document, variables);
    if (!refused) return null;
    const field = fieldPath(refused.path);
    const message =
      refused.why === 'nul'
        ? `${field} must not contain the NUL character (\\u0000)`
        : `${field}: a key named "__proto__" is not accepted in JSON input (JavaScript would take it for the object's prototype, not data); rename the key`;
    return { errors: [badInput(field, message)] };
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const refused = check(args.document, args.variableValues);
      if (refused) setResultAndStopExecution(refused);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refused = check(args.document, args.variableValues);
      if (refused) setResultAndStopExecution(refused);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Subscriptions end when the token that opened them expires: a graphql-ws connection authenticated by its
// connectionParams is closed with TOKEN_EXPIRED_CLOSE_CODE (the client reconnects and asks for a fresh token);
// any other stream (SSE, a graphql-ws operation carrying its own token) gets one UNAUTHENTICATED error and ends.

/**
 * The close code of a graphql-ws connection whose token expired (at connect, or while open). graphql-ws 6's
 * client treats 4400, 4401, 4406, 4409, 4429, 4500, 4004, 4005 as fatal and retries any other 4xxx close (by
 * default 5 attempts, counted afresh after each acknowledged connection), calling an async connectionParams
 * again each time: a client that fetches a token there reconnects and re-subscribes on its own.
 * 4440, after HTTP 440 "Login Time-out".
 */
export const TOKEN_EXPIRED_CLOSE_CODE = 4440;
export const TOKEN_EXPIRED_CLOSE_REASON = 'Token expired: reconnect with a fresh token';

/** Closes `socket` with TOKEN_EXPIRED_CLOSE_CODE when `expiresAt` (ms since epoch) is reached; returns the cancel. */
export function closeWhenTokenExpires(socket: { close(code: number, reason: string): void }, expiresAt: number): () => void {
  const expiry = untilTime(expiresAt);
  let cancelled = false;
  void expiry.reached.then(() => {
    if (!cancelled) socket.close(TOKEN_EXPIRED_CLOSE_CODE, TOKEN_EXPIRED_CLOSE_REASON);
  });
  return () => {
    cancelled = true;
    expiry.cancel();
  };
}

/** setTimeout holds at most 2^31-1 ms (~24.8 days); a 30-day token needs its wait in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

function untilTime(at: number): { reached: Promise<void>; cancel(): void } {
  let timer: NodeJS.Timeout | undefined;
  const reached = new Promise<void>((resolve) => {
    const wait = () => {
      const left = at - Date.now();
      if (left <= 0) return resolve();
      timer = setTimeout(wait, Math.min(left, MAX_TIMER_MS));
    };
    wait();
  });
  return { reached, cancel: () => clearTimeout(timer) };
}

/**
 * The stream's events until `expiresAt`; then one UNAUTHENTICATED error and the end of the stream. An iterator
 * object rather than an async generator: a generator parked on the source's next() would only act on the
 * client's return() (unsubscribe) once another event or the expiry arrived.
 */
function untilExpiry<T>(source: AsyncIterable<T>, expiresAt: number): AsyncIterableIterator<T | { errors: GraphQLError[] }> {
  const iterator = source[Symbol.asyncIterator]();
  const expiry = untilTime(expiresAt);
  const expired = expiry.reached.then(() => 'expired' as const);
  let stop = () => {};
  const stopped = new Promise<'stopped'>((resolve) => (stop = () => resolve('stopped')));
  let ended = false;
  const end = (returnSource: boolean) => {
    if (ended) return;
    ended = true;
    expiry.cancel();
    stop();
    if (returnSource) void Promise.resolve(iterator.return?.()).catch(() => undefined);
  };
  const done = { done: true, value: undefined } as const;
  return {
    [Symbol.asyncIterator]() {
      return this;
    },
    async next() {
      if (ended) return done;
      let next: IteratorResult<T> | 'expired' | 'stopped';
      try {
        next = await Promise.race([iterator.next(), expired, stopped]);
      } catch (error) {
        end(false); // the source failed: it is over
        throw error;
      }
      if (next === 'stopped') return done;
      if (next === 'expired') {
        end(true);
        return { done: false, value: { errors: [unauthenticated('Token expired: the subscription has ended; subscribe again with a new token')] } };
      }
      if (next.done) end(false);
      return next;
    },
    async return() {
      end(true);
      return done;
    },
    async throw(error: unknown) {
      end(true);
      throw error;
    },
  };
}

export function useSubscriptionExpiry(): Plugin<Context> {
  return {
    onSubscribe({ args }) {
      const context = args.contextValue as Partial<Context>;
      const expiresAt = context.viewerExpiresAt;
      if (typeof expiresAt !== 'number' || context.expiryClosesConnection) return undefined;
      return {
        onSubscribeResult({ result, setResult }) {
          if (isAsyncIterable(result)) setResult(untilExpiry(result, expiresAt) as typeof result);
        },
      };
    },
  };
}
