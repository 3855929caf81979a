// A graphql-ws subscription's start through every plugin's onSubscribe hook, without envelop's promise plumbing.
//
// envelop's subscribe (the `subscribe` of yoga.getEnveloped) calls each plugin's onSubscribe hook in order through
// @whatwg-node/promise-helpers' iterateAsync: for every hook of every operation, three fake promises (an object with
// three closures each), four closures of its own and a payload with three more, although every hook here returns at
// once. For a burst of graphql-ws subscribers that is about 6 KB of garbage a subscribe before its first event
// (BENCHMARKS.md issue 19, twelfth round). This runs the same hooks, in the same order, with the same payload (the
// current subscribe function, the arguments, the context, setSubscribeFn, extendContext, setResultAndStopExecution), a
// hook's result kept for after the subscribe as envelop keeps it, the walk stopped where a hook sets the result; a hook
// that returns a promise is awaited before the next one runs. After the subscribe (or the result a hook set) it runs
// the onSubscribeResult hooks and wraps the stream in the onNext / onEnd / onSubscribeError handlers as envelop does,
// with envelop's own iterator helpers. With a plugin that has instrumentation (none here) envelop's subscribe is used.
// The hooks' types are envelop's (Yoga is built on it and re-exports its helpers, not these types): a type import only.
import type { OnSubscribeHook, OnSubscribeHookResult, OnSubscribeResultResult } from '@envelop/core';
import type { ExecutionArgs, ExecutionResult } from 'graphql';
import { errorAsyncIterator, finalAsyncIterator, isAsyncIterable, mapAsyncIterator } from 'graphql-yoga';

/** What this needs of a plugin (envelop's Plugin, with the server's context type). */
interface SubscribingPlugin<C> {
  onSubscribe?: OnSubscribeHook<C>;
  instrumentation?: unknown;
}

type Payload<C> = Parameters<OnSubscribeHook<C>>[0];
type HookResult<C> = OnSubscribeHookResult<C>;
type SubscribeFunction = Payload<unknown>['subscribeFn'];
type SubscribeResult = Parameters<Payload<unknown>['setResultAndStopExecution']>[0];
type ResultHandlers<C> = OnSubscribeResultResult<C>;

const isThenable = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';

/** envelop's subscribe before a plugin sets one (Yoga's useEngine always does). */
const noSubscribe: SubscribeFunction = () => {
  throw new Error('No `subscribe` function found! Register it using "useEngine" plugin.');
};

/** One operation's walk through the hooks: the state envelop keeps in closures, and the payload's three setters. */
class Subscription<C> {
  subscribeFn: SubscribeFunction = noSubscribe;
  result: SubscribeResult | undefined = undefined;
  stopped = false;
  readonly after: HookResult<C>[] = [];
  readonly context: C;
  readonly setSubscribeFn = (fn: SubscribeFunction): void => {
    this.subscribeFn = fn;
  };
  readonly extendContext = (extension: Partial<C>): void => {
    Object.assign(this.context as object, extension);
  };
  readonly setResultAndStopExecution = (result: SubscribeResult): void => {
    this.result = result;
    this.stopped = true;
  };

  constructor(
    private readonly hooks: readonly OnSubscribeHook<C>[],
    readonly args: ExecutionArgs,
  ) {
    this.context = (args.contextValue ?? {}) as C;
  }

  /** The hooks from `from` on; then the subscribe. */
  run(from: number): unknown {
    for (let i = from; i < this.hooks.length; i++) {
      const payload: Payload<C> = {
        subscribeFn: this.subscribeFn,
        setSubscribeFn: this.setSubscribeFn,
        context: this.context,
        extendContext: this.extendContext,
        args: this.args as Payload<C>['args'],
        setResultAndStopExecution: this.setResultAndStopExecution,
      };
      const returned = this.hooks[i]!(payload);
      if (isThenable(returned)) {
        return Promise.resolve(returned).then((settled) => {
          if (settled) this.after.push(settled);
          return this.stopped ? this.subscribe() : this.run(i + 1);
        });
      }
      if (returned) this.after.push(returned);
      if (this.stopped) break;
    }
    return this.subscribe();
  }

  private subscribe(): unknown {
    const started = this.result || this.subscribeFn(this.args);
    return isThenable(started) ? Promise.resolve(started).then((result) => this.withHandlers(result as SubscribeResult)) : this.withHandlers(started as SubscribeResult);
  }

  /** envelop's handling of the subscribe's result: onSubscribeResult, then onNext, onEnd and onSubscribeError. */
  private withHandlers(subscribed: SubscribeResult): unknown {
    if (this.after.length === 0) return subscribed;
    let result = subscribed;
    const { args } = this;
    const onNext: NonNullable<ResultHandlers<C>['onNext']>[] = [];
    const onEnd: NonNullable<ResultHandlers<C>['onEnd']>[] = [];
    const onError: NonNullable<HookResult<C>['onSubscribeError']>[] = [];
    for (const { onSubscribeResult, onSubscribeError } of this.after) {
      if (onSubscribeError) onError.push(onSubscribeError);
      const handlers = onSubscribeResult?.({ args: args as Payload<C>['args'], result, setResult: (next) => (result = next) });
      if (handlers?.onNext) onNext.push(handlers.onNext);
      if (handlers?.onEnd) onEnd.push(handlers.onEnd);
    }
    // Each handler list as envelop applies it (@envelop/core's orchestrator.js, its subscribe).
    if (onNext.length && isAsyncIterable(result)) {
      result = mapAsyncIterator(result, (event: ExecutionResult) => {
        let value = event;
        const setResult = (next: ExecutionResult) => (value = next);
        // Synchronous while the handlers are (as envelop's iterateAsync is): no promise per event for them.
        const from = (k: number): ExecutionResult | Promise<ExecutionResult> => {
          for (let i = k; i < onNext.length; i++) {
            const returned = onNext[i]!({ args: args as Payload<C>['args'], result: value, setResult });
            if (isThenable(returned)) return Promise.resolve(returned).then(() => from(i + 1));
          }
          return value;
        };
        return from(0);
      }) as SubscribeResult;
    }
    if (onEnd.length && isAsyncIterable(result)) {
      result = finalAsyncIterator(result, () => {
        for (const handler of onEnd) handler();
      }) as SubscribeResult;
    }
    if (onError.length && isAsyncIterable(result)) {
      result = errorAsyncIterator(result, (err) => {
        let error = err;
        for (const handler of onError) handler({ error, setError: (next) => (error = next) });
        throw error;
      }) as SubscribeResult;
    }
    return result;
  }
}

/**
 * The subscribe graphql-ws calls for an operation: every plugin's onSubscribe hook (envelop's list, in its order), then
 * the subscribe function they leave or the result one of them set. `plugin` goes in Yoga's plugin list: envelop hands
 * it the list of every plugin (its onPluginInit; the server adapter Yoga returns does not expose getEnveloped's own).
 * When a plugin has instrumentation, `subscribe` calls `enveloped` (the operation's subscribe from getEnveloped),
 * which runs it.
 */
export function useDirectSubscribe<C>(): {
  plugin: { onPluginInit(payload: { plugins: readonly SubscribingPlugin<C>[] }): void };
  subscribe: (args: ExecutionArgs, enveloped: (args: ExecutionArgs) => unknown) => unknown;
} {
  let plugins: readonly SubscribingPlugin<C>[] | null = null;
  /** The hooks, found at the first subscribe (every plugin is initialized by then); null with instrumentation. */
  let hooks: OnSubscribeHook<C>[] | null | undefined;
  return {
    plugin: {
      onPluginInit(payload) {
        plugins = payload.plugins; // envelop's own array: a plugin another adds at its init is spliced into it
      },
    },
    subscribe(args, enveloped) {
      if (hooks === undefined) {
        if (!plugins) throw new Error("useDirectSubscribe: its plugin is not in the server's plugin list");
        hooks = plugins.some((plugin) => plugin.instrumentation) ? null : plugins.flatMap((plugin) => (plugin.onSubscribe ? [plugin.onSubscribe] : []));
      }
      return hooks ? new Subscription<C>(hooks, args).run(0) : enveloped(args);
    },
  };
}
