// The frames a WebSocket sends in one turn of JavaScript leave in one write.
//
// A stream's later phases (PREDICTION, RECOMMENDATIONS, STATS, DONE) are produced in one turn, and `ws` hands each
// frame to the kernel at once: one writev system call per frame, 15 % of the server's busy time in a burst of
// 1,000 streams (BENCHMARKS.md, issue 19). Corking the connection's socket at its first frame of a turn and
// uncorking it once the turn's promise jobs have run (process.nextTick, as node:http does for its responses) sends
// them in one writev, no later than before: nothing waits for another event-loop iteration.
//
// graphql-ws's `ws` adapter sends an operation's next message only once the previous one's write callback has run,
// and that callback comes after the write itself: corking alone still left one writev per event (6 a stream,
// counted, BENCHMARKS.md step 281). So a send whose socket holds little unsent data calls its callback as soon as the
// frame is queued, in the same turn (a promise job), and the operation's next message joins it in the corked socket.
// When a connection's unsent data passes UNSENT_LIMIT (a client not reading), sends wait for their writes again, as
// graphql-ws intends: what a slow client can make the server hold stays bounded. A write that fails still fails the
// connection: `ws` closes the socket, and graphql-ws ends the connection's operations on that close.
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';

/** Unsent bytes on one connection above which a send's callback waits for its write (a stream's frames are a few KB). */
export const UNSENT_LIMIT = 256 * 1024;

type SendCallback = (err?: Error) => void;
const ignoreWriteResult: SendCallback = () => {};

/** For WebSocketServer's 'connection' event: this connection's frames of one turn go out in one write. */
export function coalesceFrames(socket: WebSocket, request: IncomingMessage): void {
  const raw = request.socket;
  let corked = false;
  const uncork = () => {
    corked = false;
    raw.uncork();
  };
  const send = socket.send.bind(socket) as (data: Parameters<WebSocket['send']>[0], options: object | undefined, cb?: SendCallback) => void;
  socket.send = ((data: Parameters<WebSocket['send']>[0], options?: object | SendCallback, cb?: SendCallback) => {
    const callback: SendCallback | undefined = typeof options === 'function' ? (options as SendCallback) : cb;
    // ws copies the options it is given (undefined: its defaults), so nothing is allocated here per frame.
    const opts = typeof options === 'object' ? options : undefined;
    if (!corked && !raw.destroyed) {
      corked = true;
      raw.cork();
      process.nextTick(uncork);
    }
    if (callback && socket.readyState === socket.OPEN && raw.writableLength < UNSENT_LIMIT) {
      send(data, opts, ignoreWriteResult);
      queueMicrotask(callback);
    } else send(data, opts, callback);
  }) as WebSocket['send'];
}
