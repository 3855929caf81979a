// The floor of the memory benchmark (scripts/bench-memory.ts): a bare graphql-yoga + graphql-ws server on the same
// Node and loader as ClimbIQ, with a trivial schema (one query field, one subscription that never ends). Run as
// `node --import tsx scripts/lib/bare-server.ts <port>` (bench-memory bundles it as the server is bundled); it
// prints "ready in" and its URL as the server does.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ExecutionArgs } from 'graphql';
import type { OperationResult } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createSchema, createYoga } from 'graphql-yoga';
import { WebSocketServer } from 'ws';

const started = Date.now();
const yoga = createYoga({
  schema: createSchema({
    typeDefs: 'type Query { hello: String! } type Subscription { waiting: String! }',
    resolvers: {
      Query: { hello: () => 'world' },
      Subscription: {
        waiting: {
          // Held open until the client leaves, as a `modelUpdated` subscription waits for the next model.
          subscribe: async function* () {
            yield { waiting: 'subscribed' };
            await new Promise(() => {});
          },
        },
      },
    },
  }),
  graphiql: false,
  logging: false,
});
const httpServer = createServer(yoga);
const wsServer = new WebSocketServer({ server: httpServer, path: yoga.graphqlEndpoint });
// Yoga's graphql-ws example: each operation runs through Yoga's envelope (its execute and subscribe).
interface EnvelopedArgs extends ExecutionArgs {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}
useServer(
  {
    execute: (args) => (args as EnvelopedArgs).execute(args),
    subscribe: (args) => (args as EnvelopedArgs).subscribe(args),
    onSubscribe: async (ctx, _id, params) => {
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({ ...ctx, req: ctx.extra.request, socket: ctx.extra.socket, params });
      const document = parse(params.query);
      const errors = validate(schema, document);
      if (errors.length) return errors;
      const args: EnvelopedArgs = { schema, operationName: params.operationName, document, variableValues: params.variables, contextValue: await contextFactory(), execute, subscribe };
      return args;
    },
  },
  wsServer,
);
httpServer.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const { port } = httpServer.address() as AddressInfo;
  console.log(`bare server ready in ${((Date.now() - started) / 1000).toFixed(1)} s: http://127.0.0.1:${port}/graphql`);
});
