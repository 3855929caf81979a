// src/http/ws-frames.ts on real sockets: graphql-ws over `ws` on loopback, the server's TCP socket watched for the
// writes it makes, a graphql-transport-ws client reading the other end (or not reading: a slow client).
import { type ClientRequestArgs, createServer, type IncomingMessage, type Server } from 'node:http';
import { type AddressInfo, createConnection, type NetConnectOpts, type Socket } from 'node:net';
import { GraphQLInt, GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { coalesceFrames, UNSENT_LIMIT } from '../../src/http/ws-frames.ts';

const PAYLOAD = 'x'.repeat(10_000);
let produced = 0;
const schema = new GraphQLSchema({
  query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLInt, resolve: () => 1 } } }),
  subscription: new GraphQLObjectType({
    name: 'Subscription',
    fields: {
      // `count` events made without awaiting anything between them (as a stream's phases of one turn are).
      events: {
        type: new GraphQLObjectType({ name: 'Event', fields: { n: { type: GraphQLInt }, text: { type: GraphQLString } } }),
        args: { count: { type: GraphQLInt }, large: { type: GraphQLInt } },
        subscribe: async function* (_: unknown, { count, large }: { count: number; large: number }) {
          for (let n = 1; n <= count; n++) {
            produced = n;
            yield { events: { n, text: large ? PAYLOAD : 'small' } };
          }
        },
      },
    },
  }),
});

interface Writes {
  calls: number;
}

let httpServer: Server | null = null;
afterEach(async () => {
  await new Promise<void>((resolve) => (httpServer ? httpServer.close(() => resolve()) : resolve()));
  httpServer = null;
});

/** A graphql-ws server on `ws` with coalesceFrames (or without), counting the write calls of its connections' sockets. */
async function start(coalesce: boolean): Promise<{ url: string; writes: Writes }> {
  const writes: Writes = { calls: 0 };
  httpServer = createServer();
  const wss = new WebSocketServer({ server: httpServer, path: '/graphql' });
  wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
    const raw = request.socket as Socket & { _writeGeneric: (...args: unknown[]) => unknown };
    const write = raw._writeGeneric.bind(raw);
    raw._writeGeneric = (...args: unknown[]) => {
      writes.calls++;
      return write(...args);
    };
    if (coalesce) coalesceFrames(socket, request);
  });
  useServer({ schema }, wss);
  await new Promise<void>((resolve) => httpServer!.listen(0, '127.0.0.1', resolve));
  return { url: `ws://127.0.0.1:${(httpServer.address() as AddressInfo).port}/graphql`, writes };
}

/** A client that subscribes and collects the events' numbers until `complete`; `tcp` is its TCP socket. */
function subscribe(url: string, query: string): Promise<{ client: WebSocket; tcp: Socket; done: Promise<number[]> }> {
  return new Promise((resolveClient, reject) => {
    let tcp: Socket | null = null;
    const client = new WebSocket(url, 'graphql-transport-ws', {
      createConnection: (options: ClientRequestArgs) => {
        tcp = createConnection(options as NetConnectOpts);
        return tcp;
      },
    });
    const numbers: number[] = [];
    const done = new Promise<number[]>((resolve) => {
      client.on('message', (data) => {
        const message = JSON.parse(String(data)) as { type: string; payload?: { data?: { events?: { n: number } } } };
        if (message.type === 'connection_ack') {
          client.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query } }));
          resolveClient({ client, tcp: tcp!, done });
        } else if (message.type === 'next') numbers.push(message.payload?.data?.events?.n ?? -1);
        else if (message.type === 'complete') resolve(numbers);
      });
    });
    client.on('error', reject);
    client.on('open', () => client.send(JSON.stringify({ type: 'connection_init' })));
  });
}

describe('the frames a WebSocket sends in one turn', () => {
  it("leave in one write: an operation's five events and its completion", async () => {
    for (const coalesce of [true, false]) {
      const { url, writes } = await start(coalesce);
      const { client, done } = await subscribe(url, 'subscription { events(count: 5) { n text } }');
      const before = writes.calls;
      expect(await done).toEqual([1, 2, 3, 4, 5]);
      // After the ack: the five `next` messages and `complete`, in one write with the frames coalesced; one each without.
      expect(writes.calls - before).toBe(coalesce ? 1 : 6);
      client.close();
      await new Promise<void>((resolve) => httpServer!.close(() => resolve()));
      httpServer = null;
    }
  });

  it('wait for the writes again when a client does not read: what the server holds for it stays bounded', async () => {
    const { url } = await start(true);
    const count = 3000; // 30 MB of events: more than the kernel's socket buffers on both ends take
    produced = 0;
    const { client, tcp, done } = await subscribe(url, `subscription { events(count: ${count}, large: 1) { n text } }`);
    tcp.pause();
    // Until the server stops making events (none for 200 ms) or has made them all.
    for (let last = -1; produced !== last && produced < count; ) {
      last = produced;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    // The kernel's buffers take some (a socket's send buffer, and the receive buffer of a client that does not read);
    // past them the server holds at most about UNSENT_LIMIT of frames before its sends wait.
    const made = produced;
    expect(made).toBeLessThan(count);
    expect(made * PAYLOAD.length).toBeLessThan(UNSENT_LIMIT + 12 * 1024 * 1024);
    tcp.resume();
    const numbers = await done;
    expect(numbers).toEqual(Array.from({ length: count }, (_, i) => i + 1));
    client.close();
  });
});
