// The pages the server answers beside the API: GET / and the GraphiQL page, which goes out compressed (gzip or
// brotli, as the client accepts). Compressed bytes are cached by content: compressing the 9 MB GraphiQL page costs
// about half a second (gzip) to a second (brotli) of CPU, too much to spend on every load. (@whatwg-node/server's
// useContentEncoding does not fit: it compresses every response anew as it streams, SSE included, and would also
// inflate compressed request bodies past MAX_REQUEST_BODY_BYTES.)
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import Negotiator from 'negotiator';
import type { GraphiQLOptions, Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';

export type ContentEncoding = 'br' | 'gzip';
export type Bytes = Uint8Array<ArrayBuffer>;

/** In order of preference when a client accepts several equally (browsers send "gzip, deflate, br, zstd"). */
const ENCODINGS = ['br', 'gzip', 'identity'] as const;

/** The encoding to answer with for this Accept-Encoding header (q-values honoured), or null for none. */
export function negotiateEncoding(acceptEncoding: string | null): ContentEncoding | null {
  const chosen = new Negotiator({ headers: { 'accept-encoding': acceptEncoding ?? undefined } }).encoding(ENCODINGS, { preferred: ENCODINGS });
  return chosen === 'br' || chosen === 'gzip' ? chosen : null;
}

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

function compress(body: Bytes, encoding: ContentEncoding): Promise<Bytes> {
  // Brotli's default quality (11) takes ~30 s on the GraphiQL page; 5 takes ~1 s and is still a fifth smaller than gzip.
  const compressed = encoding === 'br' ? brotliAsync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 5, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.byteLength } }) : gzipAsync(body);
  return compressed.then((buffer) => new Uint8Array(buffer));
}

/**
 * Compressed copies of the most recently served bodies, by a key naming their content: each body is compressed
 * once per encoding, in zlib's thread pool (off the event loop); requests arriving meanwhile share that work.
 */
export class CompressedBodies {
  private readonly bodies = new Map<string, Map<ContentEncoding, Promise<Bytes>>>();

  constructor(private readonly maxBodies: number) {}

  get(key: string, body: Bytes, encoding: ContentEncoding): Promise<Bytes> {
    const encodings = this.bodies.get(key) ?? new Map<ContentEncoding, Promise<Bytes>>();
    this.bodies.delete(key); // re-inserted last: the least recently used body is the first key
    this.bodies.set(key, encodings);
    if (this.bodies.size > this.maxBodies) this.bodies.delete(this.bodies.keys().next().value!);
    let compressed = encodings.get(encoding);
    if (!compressed) {
      compressed = compress(body, encoding);
      compressed.catch(() => encodings.delete(encoding)); // a later request tries again
      encodings.set(encoding, compressed);
    }
    return compressed;
  }
}

/**
 * Yoga's `renderGraphiQL`, with @graphql-yoga/render-graphiql imported on the first GraphiQL page asked for: that
 * module holds the whole 9 MB page as JavaScript strings (about 70 MB of resident memory once parsed under tsx, 30
 * MB under plain node), which a server that nobody opens GraphiQL on (production, a container) never needs.
 */
export async function renderGraphiQLOnFirstUse(options: GraphiQLOptions): Promise<string> {
  const { renderGraphiQL } = await import('@graphql-yoga/render-graphiql');
  return renderGraphiQL(options);
}

/**
 * GraphiQL's page (rendered by Yoga) goes out compressed when the client accepts it. The page differs only by the
 * development token it holds (renewed hourly), so a few cached bodies serve every load.
 */
export function useCompressedGraphiQL(graphqlEndpoint: string): Plugin {
  const cache = new CompressedBodies(4);
  return {
    async onResponse({ request, response, setResponse, fetchAPI }) {
      if (request.method !== 'GET' || response.status !== 200 || new URL(request.url).pathname !== graphqlEndpoint) return;
      if (!response.headers.get('content-type')?.startsWith('text/html') || response.headers.has('content-encoding')) return;
      response.headers.append('vary', 'accept-encoding');
      const encoding = negotiateEncoding(request.headers.get('accept-encoding'));
      if (!encoding) return;
      const page = new Uint8Array(await response.arrayBuffer());
      const key = createHash('sha256').update(page).digest('base64url');
      const headers = new fetchAPI.Headers(response.headers);
      headers.set('content-encoding', encoding);
      headers.delete('content-length');
      setResponse(new fetchAPI.Response(await cache.get(key, page, encoding), { status: 200, headers }));
    },
  };
}

/**
 * GET / is where people type the address: with GraphiQL on it redirects there; without it (production), one plain
 * line saying where the API is rather than a bare 404.
 */
export function useRootPage(config: Pick<Config, 'graphiqlEnabled'>, graphqlEndpoint: string): Plugin {
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== '/' || (request.method !== 'GET' && request.method !== 'HEAD')) return;
      endResponse(
        config.graphiqlEnabled
          ? new fetchAPI.Response(null, { status: 302, headers: { location: graphqlEndpoint } })
          : new fetchAPI.Response(`ClimbIQ GraphQL API: POST ${graphqlEndpoint} (application/json)\n`, {
              status: 200,
              headers: { 'content-type': 'text/plain; charset=utf-8' },
            }),
      );
    },
  };
}

/**
 * Where GraphiQL is off (production by default), a browser opening the endpoint would get Yoga's bare 406 (it
 * answers GET only as JSON or an event stream): it gets a short page saying what the endpoint is and how to use it.
 */
export function useGraphQLPageWithoutGraphiQL(graphqlEndpoint: string): Plugin {
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ClimbIQ GraphQL API</title></head>
<body>
<h1>ClimbIQ GraphQL API</h1>
<p>This is the GraphQL endpoint. Send operations with <code>POST ${graphqlEndpoint}</code> and <code>Content-Type: application/json</code>
(a <code>GET</code> with <code>?query=</code> for queries), subscriptions over graphql-ws on this same path or as Server-Sent Events,
with an <code>Authorization: Bearer &lt;token&gt;</code> header.</p>
<p>GraphiQL, the in-browser editor, is off on this server (<code>GRAPHIQL_ENABLED</code>).</p>
</body></html>
`;
  return {
    onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== graphqlEndpoint || (request.method !== 'GET' && request.method !== 'HEAD') || url.searchParams.has('query')) return;
      const accepted = new Negotiator({ headers: { accept: request.headers.get('accept') ?? undefined } }).mediaType([
        'application/json',
        'application/graphql-response+json',
        'text/event-stream',
        'text/html',
      ]);
      if (accepted !== 'text/html') return;
      endResponse(new fetchAPI.Response(page, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } }));
    },
  };
}
