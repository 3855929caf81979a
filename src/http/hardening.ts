// The HTTP face: which origins may call cross-origin, which request bodies are read, the headers every response
// carries, and when the development GraphiQL page may hold a token.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';

/**
 * Yoga's `cors` option: only the origins listed in CORS_ORIGINS get CORS headers, and never with credentials
 * (clients authenticate with a bearer token, not cookies). Any other origin gets none, so a browser keeps the
 * response from the calling page. Yoga's default would reflect any Origin with credentials.
 */
export function corsFor(config: Pick<Config, 'corsOrigins'>) {
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (!origin || !config.corsOrigins.includes(origin)) return false as const;
    return {
      origin: [origin],
      credentials: false,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'accept'],
      maxAge: 600,
    };
  };
}

/** A WebSocket upgrade (browsers do not apply CORS to it) from a page of another origin is refused the same way. */
export function webSocketOriginAllowed(config: Pick<Config, 'corsOrigins'>, origin: string | undefined, host: string | undefined): boolean {
  if (!origin) return true; // not a browser
  if (config.corsOrigins.includes(origin)) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Media types Yoga's JSON request parser reads. */
const JSON_TYPES = ['application/json', 'application/graphql+json'];

/**
 * JSON POSTs and GET queries only. A form (urlencoded or multipart) or text/plain POST is what a foreign page can
 * send without a CORS preflight; those, and application/graphql, are refused with 415 before anything is parsed.
 */
export function useJsonRequestsOnly(): Plugin {
  return {
    onRequestParse({ request, endResponse, fetchAPI }) {
      if (request.method !== 'POST') return;
      const type = request.headers.get('content-type')?.split(';')[0].trim().toLowerCase() ?? '';
      if (JSON_TYPES.includes(type)) return;
      const message = `POST bodies must be application/json (got ${type ? `"${type}"` : 'no Content-Type'}); queries may also use GET`;
      endResponse(
        new fetchAPI.Response(JSON.stringify({ errors: [{ message, extensions: { code: 'UNSUPPORTED_MEDIA_TYPE' } }] }), {
          status: 415,
          headers: { 'content-type': 'application/json; charset=utf-8' },
        }),
      );
    },
  };
}

/** Only one non-negative integer is a valid Content-Length (not a list, as in request-smuggling attempts). */
const CONTENT_LENGTH = /^\d+$/;

const bodyTooLarge = () => new GraphQLError('Request body too large', { extensions: { code: 'REQUEST_ENTITY_TOO_LARGE', http: { status: 413 } } });

/**
 * MAX_REQUEST_BODY_BYTES, in place of Yoga's `maxRequestBodySize` (which the server turns off): a body that declares
 * a larger Content-Length is refused with 413 before it is read, an invalid Content-Length with 400, and a chunked
 * body (no Content-Length) is counted while it is read and refused with 413 once it passes the limit, as Yoga does.
 * A body with a valid Content-Length within the limit is read as it is: Node's HTTP parser delivers exactly that many
 * bytes (and refuses a request that also says Transfer-Encoding), so counting it again is not needed. Yoga counts
 * every body through a TransformStream piped into the request, whose pipeline, request copy and abort signal
 * (a DOMException with its stack) were about half the server's CPU for a `{ __typename }` POST (BENCHMARKS.md,
 * issue 19, fourth round).
 * Must come after the request parsers (Yoga's and any plugin's): it wraps the one selected.
 */
export function useRequestBodyLimit(limit: number): Plugin {
  return {
    onRequestParse({ request, requestParser, setRequestParser, fetchAPI }) {
      const declared = request.headers.get('content-length');
      if (declared !== null) {
        if (!CONTENT_LENGTH.test(declared)) {
          throw new GraphQLError('Content-Length header is invalid.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
        }
        if (Number(declared) > limit) throw bodyTooLarge();
        return;
      }
      if (!requestParser || !request.body) return;
      const parse = requestParser;
      setRequestParser((req) => {
        const body = req.body;
        if (!body) return parse(req);
        // A native body stream pipes into the native TransformStream, a ponyfilled one into the ponyfill (graphql-yoga#4583).
        const Transform = body instanceof ReadableStream ? globalThis.TransformStream : fetchAPI.TransformStream;
        let read = 0;
        const counted = body.pipeThrough(
          new Transform<Uint8Array, Uint8Array>({
            transform(chunk, controller) {
              read += chunk.byteLength;
              if (read > limit) controller.error(bodyTooLarge());
              else controller.enqueue(chunk);
            },
          }),
        );
        return parse(new fetchAPI.Request(req.url, { method: req.method, headers: req.headers, signal: req.signal, body: counted, duplex: 'half' } as RequestInit));
      });
    },
  };
}

/**
 * A response sent before its request's body was read in full (413 over MAX_REQUEST_BODY_BYTES, 415, any other early
 * refusal) says `Connection: close`, and Node closes the connection after it. Kept alive, the connection would hold
 * the unread rest of the body ahead of the client's next request; a pooling client (Node's agent, undici, browsers)
 * would send its next request there and see it reset. A request whose body was read keeps its connection.
 */
export function useCloseAfterUnreadBody(): Plugin {
  return {
    onResponse({ response, serverContext }) {
      const context = serverContext as { req?: IncomingMessage; res?: ServerResponse } | undefined;
      const req = context?.req;
      if (req && !req.complete) {
        response.headers.set('Connection', 'close');
        // A chunked body refused while it streamed in has had its request destroyed (req.socket null); the answer's
        // socket is the same connection.
        const socket = req.socket ?? context.res?.socket;
        if (socket) lingerBeforeClose(socket);
      }
    },
  };
}

/** How long a refused request's connection stays open, unread, after its answer (lingerBeforeClose). */
const LINGER_MS = 1000;

/**
 * Node closes a `Connection: close` socket as soon as the answer is written. With the refused body's bytes still
 * arriving, that close resets the connection, and a client still writing its body may see the reset (EPIPE,
 * ECONNRESET) before it reads the 413 (RFC 9112 §9.6). Instead: the answer is sent and the socket half-closed at
 * once, nothing more is read (the client's writes stall, so it sends little more), and the socket is destroyed when
 * the client closes it or after LINGER_MS.
 */
function lingerBeforeClose(socket: Socket): void {
  socket.destroySoon = function lingeringClose(this: Socket) {
    this.pause();
    this.end();
    const timer = setTimeout(() => this.destroy(), LINGER_MS);
    timer.unref();
    this.once('close', () => clearTimeout(timer));
  };
}

/**
 * On every response: no MIME sniffing, no caching of (per-viewer) answers (`private, no-store`), and no framing of
 * any page. A page or answer that sets its own policy or caching (the insights page: a stricter CSP that also
 * forbids framing, ETags on its static files; the population data's GET answers, population-cache.ts) keeps them.
 */
export function useSecurityHeaders(): Plugin {
  return {
    onResponse({ response }) {
      response.headers.set('X-Content-Type-Options', 'nosniff');
      response.headers.set('X-Frame-Options', 'DENY');
      if (!response.headers.has('Cache-Control')) response.headers.set('Cache-Control', 'private, no-store');
      if (!response.headers.has('Content-Security-Policy')) response.headers.set('Content-Security-Policy', "frame-ancestors 'none'");
    },
  };
}

/** 127.0.0.0/8, ::1 or localhost (a host name, or the hostname of a URL, IPv6 with or without brackets). */
export function isLoopback(host: string): boolean {
  const name = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return name === 'localhost' || name === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
