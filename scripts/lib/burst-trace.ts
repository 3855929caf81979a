// A preload (`node --import`) for profile-burst's `--timeline`: records, in a server process (ClimbIQ's or the
// floor's), when each graphql-ws subscribe message is read and when each stream's events are handed to `ws`, with the
// event-loop iteration each happened in, and V8's collections; written as JSON to $BURST_TRACE when the process exits.
// Nothing in the application is changed: `ws`'s WebSocket prototype is wrapped (emit of 'message', send), which every
// connection of the process uses. The iterations are counted by an immediate that runs once per iteration while
// messages come and go (stopped after 20 ms without one, so an idle server is not kept spinning).
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { PerformanceObserver, performance } from 'node:perf_hooks';

const out = process.env.BURST_TRACE;
if (!out) throw new Error('burst-trace: set BURST_TRACE to the file to write');

/** One record: kind, µs since the process's time origin, iteration, the connection's number, this thread's user and system CPU µs. */
type Kind = 'read' | 'first' | 'later' | 'complete';
const records: [Kind, number, number, number, number, number][] = [];
const record = (kind: Kind, n: number): void => {
  const cpu = (process as NodeJS.Process & { threadCpuUsage(): NodeJS.CpuUsage }).threadCpuUsage();
  records.push([kind, performance.now() * 1000, iteration, n, cpu.user, cpu.system]);
};
const gcs: [number, number, number][] = []; // start µs, duration µs, V8's kind
/** process.hrtime's µs (the CPU profiles' clock) at this process's performance time 0. */
const monotonic = Number(process.hrtime.bigint() / 1000n) - performance.now() * 1000;
let iteration = 0;
let ticking = false;
let lastActivity = 0;

const tick = (): void => {
  iteration++;
  if (performance.now() - lastActivity > 20) ticking = false;
  else setImmediate(tick);
};
const activity = (): void => {
  lastActivity = performance.now();
  if (!ticking) {
    ticking = true;
    setImmediate(tick);
  }
};

const require = createRequire(import.meta.url);
const ws = require('ws') as typeof import('ws');
const proto = ws.WebSocket.prototype as unknown as {
  emit: (event: string | symbol, ...args: unknown[]) => boolean;
  send: (data: unknown, ...rest: unknown[]) => void;
};
const connection = new WeakMap<object, { n: number; events: number }>();
let connections = 0;
const stateOf = (socket: object) => {
  let s = connection.get(socket);
  if (!s) {
    s = { n: connections++, events: 0 };
    connection.set(socket, s);
  }
  return s;
};
const head = (data: unknown): string => (typeof data === 'string' ? data.slice(0, 80) : Buffer.isBuffer(data) ? data.toString('utf8', 0, 80) : '');

const emit = proto.emit;
proto.emit = function (this: object, event: string | symbol, ...args: unknown[]) {
  if (event === 'message' && head(args[0]).includes('"type":"subscribe"')) {
    const s = stateOf(this);
    s.events = 0;
    record('read', s.n);
    activity();
  }
  return emit.call(this, event, ...args);
};
const send = proto.send;
proto.send = function (this: object, data: unknown, ...rest: unknown[]) {
  const h = head(data);
  const s = stateOf(this);
  if (h.includes('"type":"next"')) {
    s.events++;
    record(s.events === 1 ? 'first' : 'later', s.n);
    activity();
  } else if (h.includes('"type":"complete"')) record('complete', s.n);
  return send.call(this, data, ...rest);
};

new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push([e.startTime * 1000, e.duration * 1000, (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0]);
}).observe({ entryTypes: ['gc'] });

process.on('exit', () => writeFileSync(out, JSON.stringify({ origin: performance.timeOrigin, monotonic, records, gcs })));
