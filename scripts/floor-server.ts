// The floor for the stream benchmarks (scripts/bench-floor.ts): a bare graphql-yoga + graphql-ws server with a
// trivial 5-event subscription, wired as Yoga's graphql-ws example wires it (Yoga's envelop behind graphql-ws's
// useServer on the same HTTP server). No database, no auth, no engine: what any Yoga + graphql-ws server pays per
// subscriber on this machine, so ClimbIQ's figures can be read as a ratio to it.
//
//   npx tsx scripts/floor-server.ts [--port 0]     # prints {"url": ..., "wsUrl": ...} as one JSON line when listening
//
// Loopback only. `countdown` yields five events, each on its own turn of the event loop (as a real stream's phases
// are), and `{ __typename }` answers over HTTP.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import type { ExecutionArgs } from 'graphql';
import type { OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';

const { values: args } = parseArgs({ options: { port: { type: 'string', default: '0' } } });

const schema = createSchema({
  typeDefs: /* GraphQL */ `
    type Query { hello: String! }
    type Event { type: String!, sequence: Int! }
    type Subscription { countdown: Event! }
  `,
  resolvers: {
    Query: { hello: () => 'world' },
    Subscription: {
      countdown: {
        subscribe: async function* () {
          const types = ['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE'];
          for (const [i, type] of types.entries()) {
            if (i > 0) await new Promise<void>((resolve) => setImmediate(resolve));
            yield { countdown: { type, sequence: i + 1 } };
          }
        },
      },
    },
  },
});

const yoga = createYoga({ schema, graphqlEndpoint: '/graphql', logging: false, graphiql: false });
const httpServer = createServer(yoga);
const wsServer = new WebSocketServer({ server: httpServer, path: '/graphql' });

type EnvelopedArgs = ExecutionArgs & { rootValue: { execute: (a: ExecutionArgs) => OperationResult; subscribe: (a: ExecutionArgs) => OperationResult } };
useServer(
  {
    execute: (a) => (a as EnvelopedArgs).rootValue.execute(a),
    subscribe: (a) => (a as EnvelopedArgs).rootValue.subscribe(a),
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params });
      const document = parse(params.query);
      const errors = validate(schema, document);
      if (errors.length > 0) return errors;
      return { schema, operationName: params.operationName, document, variableValues: params.variables, contextValue: await contextFactory(), rootValue: { execute, subscribe } };
    },
  },
  wsServer,
);

httpServer.listen(Number(args.port), '127.0.0.1', () => {
  const { port } = httpServer.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}/graphql`;
  const ready = { url, wsUrl: url.replace(/^http/, 'ws') };
  if (process.send) process.send(ready);
  else console.log(JSON.stringify(ready));
});

const stop = () => {
  wsServer.close();
  httpServer.close(() => process.exit(0));
  httpServer.closeAllConnections();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.on('disconnect', stop);
// bench-floor asks for this process's CPU time (µs) around each measurement: the floor's cost per stream.
process.on('message', (m: { id?: number; cmd?: string }) => {
  if (m.cmd === 'cpu') process.send?.({ id: m.id, ok: true, ...process.cpuUsage() });
});
