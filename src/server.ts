// Wiring only: config -> database -> caches -> schema -> HTTP + WebSocket -> jobs.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, useReadinessCheck, type YogaInitialContext } from 'graphql-yoga';
import { WebSocketServer } from 'ws';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { maskError } from './errors.ts';
import type { Context, Services } from './context.ts';
import type { TrainingService } from './jobs/training.ts';
import type { Database } from './db/client.ts';
import { openServices } from './services.ts';
import { INSIGHTS_PATH, useInsightsPage } from './insights-page.ts';
import { createLoaders, createUserRegistry } from './resolvers/loaders.ts';
import { schema } from './schema/index.ts';

export interface StartOptions {
  config?: Config;
  log?: (msg: string) => void;
  /** Counts SQL statements (tests). */
  onQuery?: (sql: string) => void;
  /** Start the cron schedule (default true; tests that drive training by hand pass false). */
  schedule?: boolean;
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

const DEV_ANALYST_ID = '00000000-0000-4000-8000-000000000001';

const DEFAULT_QUERY = `# ClimbIQ API. Requests need "Authorization: Bearer <token>" (Headers tab below);
# npm run token -- --sub <uuid> --role analyst mints one. Run an operation with the play button.

query Me {
  me { id role currentBaseline { yearsClimbing primaryDiscipline } modelOutput { phase sessionsIncluded } }
}

query RecentSessions {
  sessions(first: 10) { edges { node { id startedAt status sleepHours energyLevel sessionQuality } } pageInfo { hasNextPage endCursor } }
}

query Recommendation {
  recommendation(input: { sleepHours: 7, energyLevel: 4, stressLevel: 2 }) {
    source sessionType prediction { expectedQuality interval { low high } contributions { variable value } }
    warnings { rule message } suggestions { message expectedGain }
  }
}

subscription LiveRecommendation {
  preSessionRecommendation(input: { sleepHours: 7, energyLevel: 4, stressLevel: 2 }) {
    type sequence elapsedMs
    ... on PredictionEvent { prediction { expectedQuality } }
    ... on RecommendationsEvent { sessionType }
    ... on RuleOverrideEvent { rule message }
  }
}
`;

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

export async function startServer(opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? ((msg: string) => console.log(msg));
  const config = opts.config ?? loadConfig();
  const started = Date.now();

  const opened = await openServices(config, { log, onQuery: opts.onQuery });
  const { services } = opened;
  const { db, engine, tokens, training, prisma } = services;
  let ready = false;
  const ensureUser = createUserRegistry(() => services.prisma);
  const devToken =
    opened.generatedSecret && !config.production ? await tokens.sign({ sub: DEV_ANALYST_ID, role: 'analyst' }) : null;

  const yoga = createYoga<{ connectionParams?: Record<string, unknown> }, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    renderGraphiQL,
    graphiql: {
      subscriptionsProtocol: 'WS',
      defaultQuery: DEFAULT_QUERY,
      title: 'ClimbIQ API',
      // Development only: GraphiQL opens with the printed analyst token already in its Headers tab.
      ...(devToken ? { headers: JSON.stringify({ Authorization: `Bearer ${devToken}` }, null, 2) } : {}),
    },
    logging: false,
    maskedErrors: { maskError },
    plugins: [
      EnvelopArmorPlugin({
        maxDepth: { n: 12 },
        maxAliases: { n: 30 },
        costLimit: { maxCost: 50_000 },
        maxTokens: { n: 5_000 },
        blockFieldSuggestion: { enabled: false },
      }),
      useReadinessCheck({
        endpoint: '/ready',
        // Migrations are applied before `ready` is set: ready = migrated, listening and the database answers.
        check: async () => ready && (await db.ping()),
      }),
      ...(config.insightsEnabled ? [useInsightsPage()] : []),
    ],
    context: async (initial: YogaInitialContext & { connectionParams?: Record<string, unknown> }): Promise<Context> => {
      const fromHeader = initial.request?.headers.get('authorization');
      const fromParams = initial.connectionParams?.authorization ?? initial.connectionParams?.Authorization;
      const viewer = await tokens.viewerFromAuthorization(fromHeader ?? (typeof fromParams === 'string' ? fromParams : null));
      if (viewer) await ensureUser(viewer);
      return { viewer, services, loaders: createLoaders(prisma) };
    },
  });

  const httpServer: Server = createServer(yoga);
  const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });
  const wsCleanup = useServer(
    {
      execute: (args) => (args.rootValue as { execute: typeof import('graphql').execute }).execute(args),
      subscribe: (args) => (args.rootValue as { subscribe: typeof import('graphql').subscribe }).subscribe(args),
      onConnect: async (ctx) => {
        // A token that is present but invalid closes the socket at once; no token may still run public fields.
        const raw = ctx.connectionParams?.authorization ?? ctx.connectionParams?.Authorization;
        if (raw === undefined) return true;
        try {
          await tokens.viewerFromAuthorization(typeof raw === 'string' ? raw : null);
          return true;
        } catch {
          return false;
        }
      },
      onSubscribe: async (ctx, _id, params) => {
        const { schema: s, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          connectionParams: withOperationAuthorization(ctx.connectionParams, params.extensions),
        });
        let document;
        try {
          document = parse(params.query);
        } catch (err) {
          return [err as GraphQLError];
        }
        const errors = validate(s, document);
        if (errors.length) return errors;
        try {
          return {
            schema: s,
            operationName: params.operationName,
            document,
            variableValues: params.variables,
            contextValue: await contextFactory(),
            rootValue: { execute, subscribe },
          };
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
  if (opts.schedule !== false) await training.startSchedule();
  void training.catchUp('STARTUP_CATCH_UP');

  log(`[API] ClimbIQ ready in ${((Date.now() - started) / 1000).toFixed(1)} s: GraphiQL at ${url}`);
  if (devToken) {
    log(`[API] Development analyst token (JWT_SECRET unset; secret kept in ${path.join(config.dataDir, 'jwt-secret')}; GraphiQL has it):\n${devToken}`);
  }
  if (config.insightsEnabled) {
    const insightsUrl = url.replace(/\/graphql$/, INSIGHTS_PATH);
    log(devToken ? `[API] Insights page, signed in as that analyst: ${insightsUrl}#token=${devToken}` : `[API] Insights page at ${insightsUrl}`);
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

// `npm start`: run until SIGTERM / SIGINT, then shut down gracefully.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    const server = await startServer();
    const shutdown = (signal: string) => {
      console.log(`[API] ${signal}: shutting down`);
      const force = setTimeout(() => process.exit(1), 10_000);
      force.unref();
      server.stop().then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
  } catch (err) {
    console.error(err instanceof ConfigError ? `Configuration error: ${err.message}` : err);
    process.exit(1);
  }
}
