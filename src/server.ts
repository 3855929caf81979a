// Wiring only: config -> database -> caches -> schema -> HTTP + WebSocket -> jobs.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { GraphQLError, type DocumentNode, type ExecutionArgs } from 'graphql';
import type { OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { wsErrors, wsResult } from './http/graphql-ws-errors.ts';
import { createYoga, type YogaInitialContext } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { isTokenExpired } from './auth.ts';
import { loadConfig, type Config } from './config.ts';
import { AppError, maskError, maskErrorWithoutSuggestions } from './errors.ts';
import type { Context, Services } from './context.ts';
import type { TrainingService } from './jobs/training.ts';
import type { Database } from './db/client.ts';
import { corsFor, isLoopback, useCloseAfterUnreadBody, useJsonRequestsOnly, useRequestBodyLimit, useSecurityHeaders, webSocketOriginAllowed } from './http/hardening.ts';
import { coalesceFrames } from './http/ws-frames.ts';
import { closeWhenTokenExpires, TOKEN_EXPIRED_CLOSE_CODE, TOKEN_EXPIRED_CLOSE_REASON, useInputGuard, useIntrospectionSetting, useQueryLimits, useSubscriptionExpiry } from './http/operation-guards.ts';
import { renderGraphiQLOnFirstUse, useCompressedGraphiQL, useGraphQLPageWithoutGraphiQL, useRootPage } from './http/pages.ts';
import { useHealthChecks } from './http/health.ts';
import { usePopulationCaching } from './http/population-cache.ts';
import { useJitExecution } from './http/jit-execution.ts';
import { validateOnce } from './http/validated-documents.ts';
import { useDirectSubscribe } from './http/ws-subscribe.ts';
import { pendingMigrations, shippedMigrations } from './db/migration-status.ts';
import { loadPersistedOperations, persistedDocument, usePersistedOperationsOnly } from './http/persisted-operations.ts';
import { openServices } from './services.ts';
import { INSIGHTS_PATH, useInsightsPage } from './http/insights-page.ts';
import { createLoaders, createUserRegistry } from './resolvers/loaders.ts';
import { schema } from './schema/index.ts';
import { releaseRequestCaches } from './schema/builder.ts';
import { ANALYST_OPERATIONS, ATHLETE_OPERATIONS } from './http/graphiql-examples.ts';

export interface StartOptions {
  config?: Config;
  log?: (msg: string) => void;
  /** Counts SQL statements (tests). */
  onQuery?: (sql: string) => void;
  /** Start the cron schedule (default true; tests that drive training by hand pass false). */
  schedule?: boolean;
  /** Named by the PGlite directory's lock to other commands (default "npm start"). */
  command?: string;
  /** An in-memory PGlite (PGLITE_DIR=memory://) starts from this data-directory tarball: tests pass one migrated, seeded image. */
  pgliteImage?: Blob;
}

export interface RunningServer {
  url: string;
  wsUrl: string;
  port: number;
  services: Services;
  training: TrainingService;
  db: Database;
  stop(): Promise<void>;
}

const GRAPHQL_ENDPOINT = '/graphql';
const DEV_ANALYST_ID = '00000000-0000-4000-8000-000000000001';
/** The development athlete whose token GraphiQL's athlete tab holds (so its examples run as an athlete). */
const DEV_ATHLETE_ID = '00000000-0000-4000-8000-000000000003';
/** The development token GraphiQL holds (and the one printed at startup) is short-lived. */
const DEV_TOKEN_LIFETIME = '8h';
/**
 * GraphiQL's token is renewed hourly rather than per page (so it has 7 to 8 hours left): the 9 MB page then stays
 * the same meanwhile, and its compressed bytes come from the cache.
 */
const GRAPHIQL_TOKEN_RENEWAL_MS = 3_600_000;

/**
 * The API contract puts the token in connectionParams. GraphiQL's WebSocket client instead sends its Headers tab
 * with each operation (extensions.headers); accept that too, so analysts' subscriptions work in GraphiQL.
 */
function withOperationAuthorization(connectionParams: Record<string, unknown> | undefined, extensions: Record<string, unknown> | null | undefined) {
  if (connectionParams?.authorization ?? connectionParams?.Authorization) return connectionParams;
  const headers = extensions?.headers as Record<string, unknown> | undefined;
  const fromHeaders = headers?.authorization ?? headers?.Authorization;
  return typeof fromHeaders === 'string' ? { ...connectionParams, authorization: fromHeaders } : connectionParams;
}

/**
 * What onSubscribe hands graphql-ws for one operation: the arguments plus that operation's own execute and subscribe
 * from Yoga's envelope, so every plugin (guards, expiry, masking) runs on WebSocket operations as on HTTP
 * (the pattern of Yoga's graphql-ws example).
 */
interface EnvelopedExecutionArgs extends ExecutionArgs {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? ((msg: string) => console.log(msg));
  const config = opts.config ?? loadConfig();
  const started = Date.now();

  // Checked before the database opens: a manifest that does not fit this schema stops the start.
  const persistedOperations = config.persistedOperationsFile ? await loadPersistedOperations(config.persistedOperationsFile, schema) : null;
  const opened = await openServices(config, { log, onQuery: opts.onQuery, holder: { command: opts.command ?? 'npm start', serves: true }, pgliteImage: opts.pgliteImage });
  const { services } = opened;
  const { db, tokens, training, prisma } = services;
  let ready = false;
  const migrations = await shippedMigrations();
  const ensureUser = createUserRegistry(() => services.prisma, opened.sharedCache);
  // The lag-tolerant loaders' client: a read replica that is up and current, else the primary.
  const lagTolerantReads = services.replicas ? () => services.replicas?.pick() ?? prisma : undefined;
  // Only a development server reachable from this machine alone hands out tokens (GraphiQL, the startup log).
  const devTokens = opened.generatedSecret && !config.production && isLoopback(config.host);
  const devToken = () => tokens.sign({ sub: DEV_ANALYST_ID, role: 'analyst' }, DEV_TOKEN_LIFETIME);
  let graphiqlTokens: { analyst: Promise<string>; athlete: Promise<string>; renewAt: number } | null = null;
  const currentGraphiqlTokens = async () => {
    if (!graphiqlTokens || Date.now() >= graphiqlTokens.renewAt) {
      graphiqlTokens = { analyst: devToken(), athlete: tokens.sign({ sub: DEV_ATHLETE_ID, role: 'athlete' }, DEV_TOKEN_LIFETIME), renewAt: Date.now() + GRAPHIQL_TOKEN_RENEWAL_MS };
    }
    return { analyst: await graphiqlTokens.analyst, athlete: await graphiqlTokens.athlete };
  };

  // graphql-ws operations' subscribe: every plugin's onSubscribe hook as envelop runs them, without its per-hook
  // promise plumbing (src/http/ws-subscribe.ts).
  const wsSubscribe = useDirectSubscribe<Context>();
  // Yoga's masking, and the same for the subscriptions useJitExecution starts (it masks their errors itself).
  const maskedErrors = { maskError: config.production ? maskErrorWithoutSuggestions : maskError, errorMessage: 'Unexpected error.' };
  const yoga = createYoga<{ connectionParams?: Record<string, unknown> }, Context>({
    schema,
    graphqlEndpoint: GRAPHQL_ENDPOINT,
    landingPage: false,
    renderGraphiQL: renderGraphiQLOnFirstUse,
    graphiql: config.graphiqlEnabled
      ? async (request) => {
          // Development only: GraphiQL opens with tokens in its Headers tabs (the athlete tab the development
          // athlete's, the analyst tab the development analyst's), when the page was asked for by a loopback name
          // (a foreign host name pointed at 127.0.0.1, DNS rebinding, gets none).
          const devHeaders = devTokens && isLoopback(new URL(request.url).hostname) ? await currentGraphiqlTokens() : null;
          const bearer = (token: string | undefined) => (token ? JSON.stringify({ Authorization: `Bearer ${token}` }, null, 2) : undefined);
          const athleteHeaders = bearer(devHeaders?.athlete);
          return {
            subscriptionsProtocol: 'WS' as const,
            defaultQuery: ATHLETE_OPERATIONS,
            defaultTabs: [
              { query: ATHLETE_OPERATIONS, headers: athleteHeaders },
              { query: ANALYST_OPERATIONS, headers: bearer(devHeaders?.analyst) },
            ],
            title: 'ClimbIQ API',
            ...(athleteHeaders ? { headers: athleteHeaders } : {}),
          };
        }
      : false,
    cors: corsFor(config),
    // Counted by useRequestBodyLimit below instead (only a body without Content-Length needs counting).
    maxRequestBodySize: false,
    multipart: false,
    logging: false,
    maskedErrors,
    // Yoga's own health check answers an empty 200 to any URL ending in its endpoint; useHealthChecks answers
    // /health and /ready instead (JSON saying what was checked). No request URL ends in NUL (it is always escaped).
    healthCheckEndpoint: '\u0000',
    plugins: [
      useHealthChecks({
        started: () => ready,
        database: { kind: db.kind === 'pglite' ? 'embedded PGlite' : 'PostgreSQL', ping: () => db.ping(), thread: db.thread },
        pendingMigrations: () => pendingMigrations(prisma, migrations),
        redis: opened.pingRedis ? { ping: opened.pingRedis } : null,
        replicas: services.replicas ? () => services.replicas?.status() ?? [] : null,
      }),
      useRootPage(config, GRAPHQL_ENDPOINT),
      usePopulationCaching({ maxAgeSeconds: config.populationCacheMaxAgeSeconds }),
      useSecurityHeaders(),
      useCloseAfterUnreadBody(),
      ...(config.graphiqlEnabled ? [useCompressedGraphiQL(GRAPHQL_ENDPOINT)] : [useGraphQLPageWithoutGraphiQL(GRAPHQL_ENDPOINT)]),
      ...(persistedOperations ? [usePersistedOperationsOnly(persistedOperations)] : []),
      useJsonRequestsOnly(),
      useQueryLimits(config, log),
      useIntrospectionSetting(config),
      useInputGuard(),
      useSubscriptionExpiry(),
      ...(config.insightsEnabled ? [useInsightsPage({ persistedOperations: persistedOperations !== null })] : []),
      useRequestBodyLimit(config.maxRequestBodyBytes),
      wsSubscribe.plugin,
      // Last: the plugins after it get no onSubscribe call for the subscriptions it starts (src/http/jit-execution.ts).
      useJitExecution({
        maskedErrors,
        onCompileError: (errors) => log(`[API] an operation runs on the default executor (not compiled): ${errors.map((e) => e.message).join('; ')}`),
        // An operation's context (and what it holds) goes when its result is made or its stream ends, not at the next
        // major collection.
        onOperationEnd: (context) => releaseRequestCaches(context as object),
      }),
    ],
    context: async (initial: YogaInitialContext & { connectionParams?: Record<string, unknown> }): Promise<Context> => {
      const fromHeader = initial.request?.headers.get('authorization');
      const fromParams = initial.connectionParams?.authorization ?? initial.connectionParams?.Authorization;
      const authenticated = await tokens.authenticate(fromHeader ?? (typeof fromParams === 'string' ? fromParams : null));
      if (authenticated) await ensureUser(authenticated.viewer);
      return { viewer: authenticated?.viewer ?? null, viewerExpiresAt: authenticated?.expiresAt ?? null, services, loaders: createLoaders(prisma, lagTolerantReads) };
    },
  });

  const httpServer: Server = createServer(yoga);
  const wsServer = new WebSocketServer({
    server: httpServer,
    path: yoga.graphqlEndpoint,
    verifyClient: ({ origin, req }: { origin?: string; req: IncomingMessage }) => webSocketOriginAllowed(config, origin, req.headers.host),
  });
  wsServer.on('connection', coalesceFrames);
  /** Per socket authenticated by its connectionParams: cancels the close at that token's expiry. */
  const connectionExpiry = new WeakMap<object, () => void>();
  const validated = validateOnce();
  const wsCleanup = useServer(
    {
      execute: (args) => (args as EnvelopedExecutionArgs).execute(args),
      subscribe: (args) => wsSubscribe.subscribe(args, (args as EnvelopedExecutionArgs).subscribe) as OperationResult,
      onConnect: async (ctx) => {
        // A token that is present but invalid closes the socket at once (4403), an expired one with the code that
        // tells the client to reconnect with a fresh token; no token may still run public fields. The connection
        // closes with that code when its token expires.
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        if (raw === undefined) return true;
        try {
          const authenticated = await tokens.authenticate(typeof raw === 'string' ? raw : null);
          if (authenticated) connectionExpiry.set(ctx.extra.socket, closeWhenTokenExpires(ctx.extra.socket, authenticated.expiresAt));
          return true;
        } catch (err) {
          if (isTokenExpired(err)) ctx.extra.socket.close(TOKEN_EXPIRED_CLOSE_CODE, TOKEN_EXPIRED_CLOSE_REASON);
          return false;
        }
      },
      onClose: (ctx) => {
        connectionExpiry.get(ctx.extra.socket)?.();
      },
      // No HTTP over a WebSocket: errors go without extensions.http (src/http/graphql-ws-errors.ts).
      onNext: (_ctx, _id, _params, _args, result) => wsResult(result),
      onError: (_ctx, _id, _params, errors) => wsErrors(errors),
      onSubscribe: async (ctx, _id, params) => {
        // ctx.subscriptions already holds this operation.
        if (Object.keys(ctx.subscriptions).length > config.maxSubscriptionsPerConnection) {
          return [
            new AppError(
              'TOO_MANY_SUBSCRIPTIONS',
              `This connection already has ${config.maxSubscriptionsPerConnection} operations open (MAX_SUBSCRIPTIONS_PER_CONNECTION): complete one first, or open another connection`,
            ),
          ];
        }
        const query = persistedOperations ? persistedDocument(persistedOperations, params) : params.query;
        if (query instanceof GraphQLError) return [query];
        const {
          schema: s,
          execute,
          subscribe,
          contextFactory,
          parse,
          validate,
        } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: { ...params, query },
          connectionParams: withOperationAuthorization(ctx.connectionParams, params.extensions),
        });
        let document: DocumentNode;
        let errors: readonly GraphQLError[];
        // Parse errors and query-limit refusals are thrown; validation errors are returned.
        try {
          document = parse(query);
          errors = validated(s, document, () => validate(s, document));
        } catch (err) {
          return [err as GraphQLError];
        }
        if (errors.length) return errors;
        try {
          const contextValue = await contextFactory();
          // Authenticated by the connection's token: its expiry closes the connection (see onConnect).
          if (connectionExpiry.has(ctx.extra.socket)) (contextValue as Context).expiryClosesConnection = true;
          const args: EnvelopedExecutionArgs = {
            schema: s,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue,
            execute,
            subscribe,
          };
          return args;
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError('Could not start the operation', { extensions: { code: 'INTERNAL_SERVER_ERROR' } })];
        }
      },
    },
    wsServer,
  );

  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(config.port, config.host, () => resolve());
  });
  ready = true;
  const port = (httpServer.address() as AddressInfo).port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `http://${host}:${port}/graphql`;
  // Other commands on this PGlite directory name this server, and work through it, from here on.
  db.directoryLock?.announce({ port, url });
  if (opts.schedule !== false) await training.startSchedule();
  void training.catchUp('STARTUP_CATCH_UP');

  log(`[API] ClimbIQ ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${config.graphiqlEnabled ? 'GraphiQL' : 'GraphQL'} at ${url}`);
  const printedToken = devTokens ? await devToken() : null;
  if (printedToken) {
    log(
      `[API] Development analyst token, valid ${DEV_TOKEN_LIFETIME} (JWT_SECRET unset; secret kept in ${path.join(config.dataDir, 'jwt-secret')}; GraphiQL opened at this address holds one too):\n${printedToken}`,
    );
  }
  if (config.insightsEnabled) {
    const insightsUrl = url.replace(/\/graphql$/, INSIGHTS_PATH);
    log(printedToken ? `[API] Insights page, signed in as that analyst: ${insightsUrl}#token=${printedToken}` : `[API] Insights page at ${insightsUrl}`);
  }

  let stopping: Promise<void> | null = null;
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    port,
    services,
    training,
    db,
    stop() {
      stopping ??= (async () => {
        ready = false;
        await training.stop();
        await wsCleanup.dispose();
        wsServer.close();
        await new Promise<void>((resolve) => {
          httpServer.close(() => resolve());
          httpServer.closeAllConnections();
        });
        await opened.close();
      })();
      return stopping;
    },
  };
}
