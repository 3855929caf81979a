// The frames a WebSocket sends in one turn of JavaScript leave in one write.
//
// A stream's later phases (PREDICTION, RECOMMENDATIONS, STATS, DONE) are produced in one turn, and `ws` hands each
// frame to the kernel at once: one writev system call per frame, 15 % of the server's busy time in a burst of
// 1,000 streams (BENCHMARKS.md, issue 19). Corking the connection's socket at its first frame of a turn and
// uncorking it once the turn's promise jobs have run (process.nextTick, as node:http does for its responses) sends
// them in one writev, no later than before: nothing waits for another event-loop iteration.
import type { IncomingMessage } from 'node:http';
import type { WebSocket } from 'ws';

/** For WebSocketServer's 'connection' event: this connection's frames of one turn go out in one write. */
export function coalesceFrames(socket: WebSocket, request: IncomingMessage): void {
  const raw = request.socket;
  let corked = false;
  const uncork = () => {
    corked = false;
    raw.uncork();
  };
  const send = socket.send.bind(socket);
  socket.send = ((...args: Parameters<WebSocket['send']>) => {
    if (!corked && !raw.destroyed) {
      corked = true;
      raw.cork();
      process.nextTick(uncork);
    }
    send(...args);
  }) as WebSocket['send'];
}
