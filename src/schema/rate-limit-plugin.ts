// The `rateLimit` field option: `t.field({ rateLimit: 'insights', ... })` counts each call of the field against the
// viewer's budget for that operation (RATE_LIMIT_<NAME>, src/config.ts) before it resolves.
import SchemaBuilder, { BasePlugin, type FieldNullability, type InputFieldMap, type PothosOutputFieldConfig, type SchemaTypes, type TypeParam } from '@pothos/core';
import type { GraphQLFieldResolver } from 'graphql';
import type { RateLimitedOperation } from '../config.ts';
import type { Context } from '../context.ts';
import { AppError } from '../errors.ts';

/**
 * A subscription can answer a refusal with one event of its own stream (e.g. its ERROR event) instead of a
 * GraphQL error, so that clients read it where they read every other outcome.
 */
export type RateLimitOption<Event> = RateLimitedOperation | { operation: RateLimitedOperation; refusalEvent: (error: AppError) => Event };

declare global {
  export namespace PothosSchemaTypes {
    export interface Plugins<Types extends SchemaTypes> {
      rateLimit: PothosRateLimitPlugin<Types>;
    }
    export interface FieldOptions<
      Types extends SchemaTypes = SchemaTypes,
      ParentShape = unknown,
      Type extends TypeParam<Types> = TypeParam<Types>,
      Nullable extends FieldNullability<Type> = FieldNullability<Type>,
      Args extends InputFieldMap = InputFieldMap,
      ResolveShape = unknown,
      ResolveReturnShape = unknown,
    > {
      rateLimit?: RateLimitOption<NoInfer<ResolveShape>>;
    }
  }
}

type Resolver = GraphQLFieldResolver<unknown, object, object>;

/**
 * Counts the call: the count's promise, or undefined when there is nothing to count (an anonymous call, which the
 * field's authScopes refuse first, or an operation without a limit), so the wrapper then calls the resolver at once.
 */
function consume(context: object, operation: RateLimitedOperation): Promise<void> | undefined {
  const { viewer, services } = context as Context;
  if (!viewer || !services.rateLimits.limits(operation)) return undefined;
  return services.rateLimits.consume(viewer, operation);
}

export class PothosRateLimitPlugin<Types extends SchemaTypes> extends BasePlugin<Types> {
  private option(fieldConfig: PothosOutputFieldConfig<Types>): RateLimitOption<unknown> | undefined {
    return (fieldConfig.pothosOptions as { rateLimit?: RateLimitOption<unknown> }).rateLimit;
  }

  override wrapResolve(resolver: Resolver, fieldConfig: PothosOutputFieldConfig<Types>): Resolver {
    const option = this.option(fieldConfig);
    // A subscription's resolve maps each event; its subscribe is what a client calls.
    if (!option || fieldConfig.kind === 'Subscription') return resolver;
    const operation = typeof option === 'string' ? option : option.operation;
    // No async function of its own: the count's promise, then the resolver (a promise and a microtask less per call).
    return (parent, args, context, info) => {
      const counting = consume(context, operation);
      return counting ? counting.then(() => resolver(parent, args, context, info)) : resolver(parent, args, context, info);
    };
  }

  override wrapSubscribe(subscribe: Resolver | undefined, fieldConfig: PothosOutputFieldConfig<Types>): Resolver | undefined {
    const option = this.option(fieldConfig);
    if (!option || !subscribe) return subscribe;
    const operation = typeof option === 'string' ? option : option.operation;
    const refusalEvent = typeof option === 'string' ? null : option.refusalEvent;
    return async (parent, args, context, info) => {
      try {
        await consume(context, operation);
      } catch (error) {
        if (!refusalEvent || !(error instanceof AppError) || error.code !== 'RATE_LIMITED') throw error;
        const event = refusalEvent(error);
        return (async function* refused() {
          yield event;
        })();
      }
      return subscribe(parent, args, context, info);
    };
  }
}

const pluginName = 'rateLimit';
SchemaBuilder.registerPlugin(pluginName, PothosRateLimitPlugin);
export default pluginName;
