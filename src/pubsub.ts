// One pub/sub for subscriptions and cache invalidation: in-process, or shared by every instance through Redis.
import { createRedisEventTarget } from '@graphql-yoga/redis-event-target';
// graphql-yoga's own createPubSub (it re-exports this package), imported alone: `npm run train`, which publishes
// model updates, does not load the server's framework for it.
import { createPubSub } from '@graphql-yoga/subscription';
import { getEventListeners, setMaxListeners } from 'node:events';
import { Redis } from 'ioredis';
import { closeRedis } from './redis.ts';

export type CacheScope =
  | { kind: 'rules' }
  | { kind: 'priors' }
  | { kind: 'population' }
  | { kind: 'model'; userId: string }
  | { kind: 'baseline'; userId: string }
  /** An athlete's completed sessions changed: the statistics' history. */
  | { kind: 'history'; userId: string };

export interface ModelUpdatedEvent {
  userId: string;
}

/** An invalidation as published: its scope, and the instance that published it (which has already dropped it). */
export type CacheInvalidation = CacheScope & { origin?: string };

/** An athlete's check-in as its DONE left (teamCheckIns): published for every stored recommendation. */
export interface CheckInEvent {
  athleteId: string;
  recommendationId: string;
  sessionType: string;
  expectedQuality: number | null;
  overrideRule: string | null;
  /** ISO 8601: JSON through Redis. */
  at: string;
}

/** A coach link started or ended: open teamCheckIns streams update their roster. */
export interface CoachLinkChangedEvent {
  coachId: string;
  athleteId: string;
  active: boolean;
}

export type Topics = {
  cacheInvalidated: [CacheInvalidation];
  /**
   * One topic per athlete (yoga's `modelUpdated:<userId>`): a nightly run publishes one event per athlete, and each
   * open `modelUpdated` stream receives only its own athlete's (not every athlete's, filtered: with 1,000 streams
   * open, 10,000 athletes' events made 10 million deliveries and about 1 GB resident, BENCHMARKS.md "Memory").
   */
  modelUpdated: [userId: string, event: ModelUpdatedEvent];
  checkIn: [CheckInEvent];
  coachLinkChanged: [CoachLinkChangedEvent];
};

/** A topic whose events are published without an id, or an id-routed topic's `<topic>:<id>`. */
type HeardTopic = Exclude<keyof Topics, 'modelUpdated'> | `modelUpdated:${string}`;

/**
 * `stream`, made to end as soon as its reader returns (a client unsubscribing or leaving): an async generator's own
 * return() waits until the generator reaches a `yield`, and one that waits on a quiet topic never does, so its
 * listeners stayed until the topic's next event (for `modelUpdated`, the next nightly run). Ending the pub/sub
 * iterators it waits on first ends that wait (their pending next() resolves done), and the generator's `finally` runs.
 */
export function endsWithReader<T>(stream: AsyncGenerator<T>, sources: readonly AsyncIterator<unknown>[]): AsyncGenerator<T> {
  const own = stream.return.bind(stream);
  stream.return = async (value) => {
    await Promise.allSettled(sources.map((source) => source.return?.()));
    return own(value);
  };
  return stream;
}

/**
 * The pub/sub of this process: yoga's, with `heard(topic)`, false when no one can receive the topic's event (in
 * process, no subscriber yet), so that a publisher of every check-in skips making an event nobody reads (an in-process
 * publish makes and dispatches an Event, about 3-5 µs, even to no listener). Always true with Redis.
 */
export function createAppPubSub(redisUrl: string | null, log: (msg: string) => void = () => {}) {
  if (!redisUrl) {
    // One listener per open subscription: thousands are normal here, not a leak.
    const eventTarget = new EventTarget();
    setMaxListeners(0, eventTarget);
    const pubsub = createPubSub<Topics>({ eventTarget });
    return { pubsub: Object.assign(pubsub, { heard: (topic: HeardTopic) => getEventListeners(eventTarget, topic).length > 0 }), ping: null, close: async () => {} };
  }
  // No per-command retry limit: yoga's Redis event target neither awaits nor catches its SUBSCRIBE and PUBLISH calls,
  // and a command rejected after N reconnection attempts (Redis unreachable at start, or a long outage) was an
  // unhandled rejection that ended the process. Commands wait for the reconnection instead.
  const publishClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: null });
  const subscribeClient = new Redis(redisUrl, { lazyConnect: false, maxRetriesPerRequest: null });
  // ioredis reconnects by itself; an outage is logged once when it starts and once when Redis answers again (without
  // an 'error' listener ioredis prints every failed reconnection as an unhandled error event).
  const watched = (role: 'publish' | 'subscribe', client: Redis): Redis => {
    let failing = false;
    let commandFailed = false;
    client.on('error', (err: Error) => {
      if (failing) return;
      failing = true;
      log(`[PUBSUB] Redis ${role} connection failed (${err.message}); events to and from other instances wait until it is back`);
    });
    client.on('ready', () => {
      commandFailed = false;
      if (!failing) return;
      failing = false;
      log(`[PUBSUB] Redis ${role} connection answering again`);
    });
    // The first failed command until the connection is ready again is logged (a long outage's queued publishes fail together).
    return withHandledCommands(client, (command, err) => {
      if (commandFailed) return;
      commandFailed = true;
      log(`[PUBSUB] Redis ${role} connection: ${command.toUpperCase()} failed (${err.message}); the event or subscription did not reach other instances`);
    });
  };
  const eventTarget = createRedisEventTarget({ publishClient: watched('publish', publishClient), subscribeClient: watched('subscribe', subscribeClient) });
  const pubsub = createPubSub<Topics>({ eventTarget });
  return {
    // Another instance may be listening: every event goes out.
    pubsub: Object.assign(pubsub, { heard: (_topic: HeardTopic) => true }),
    /** Redis answers (the readiness check). */
    ping: () => publishClient.ping().then((reply) => reply === 'PONG'),
    close: async () => {
      // Let unsubscriptions issued by closing iterators go out first, then close politely (QUIT waits for replies).
      await new Promise((resolve) => setTimeout(resolve, 10));
      // A client without a connection (Redis down) is dropped at once: QUIT would wait for the reconnection.
      await Promise.all([publishClient, subscribeClient].map(closeRedis));
    },
  };
}

export type AppPubSub = ReturnType<typeof createAppPubSub>['pubsub'];

/**
 * `client` as yoga's Redis event target uses it, each PUBLISH, SUBSCRIBE and UNSUBSCRIBE's failure handled: the event
 * target neither awaits nor catches them, and ioredis rejects the commands still queued when the connection is closed
 * ("Connection is closed.": the server stopping while Redis is down, or connected but not answering, or a command sent
 * after that), which was an unhandled rejection. The command's own promise is returned, still rejecting for a caller
 * that awaits it.
 */
function withHandledCommands(client: Redis, onFailure: (command: string, err: Error) => void): Redis {
  const commands = new Set<PropertyKey>(['publish', 'subscribe', 'unsubscribe']);
  return new Proxy(client, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (!commands.has(property) || typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const sent = value.apply(target, args) as Promise<unknown>;
        sent.catch((err: unknown) => onFailure(String(property), err instanceof Error ? err : new Error(String(err))));
        return sent;
      };
    },
  });
}
