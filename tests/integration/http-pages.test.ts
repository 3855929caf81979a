// Issue 11, the pages beside the API through real HTTP: GET / leads to GraphiQL in development and answers one plain
// line without it; the GraphiQL page goes out gzip or brotli as the client accepts, and decompresses to the page.
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/server.ts';

let dev: TestServer;
let production: TestServer;

beforeAll(async () => {
  [dev, production] = await Promise.all([startTestServer(), startTestServer({ env: { NODE_ENV: 'production', INSIGHTS_ENABLED: 'true' } })]);
});
afterAll(async () => {
  await Promise.all([dev?.close(), production?.close()]);
});

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A GET whose body arrives as sent (fetch would decompress it). */
function get(server: TestServer, path: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: server.port, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('GET /', () => {
  it('redirects to GraphiQL in development', async () => {
    const res = await get(dev, '/', { accept: 'text/html' });
    expect(res.status).toBe(302);
    expect(res.headers.location).toBe('/graphql');
    const followed = await get(dev, res.headers.location!, { accept: 'text/html' });
    expect(followed.status).toBe(200);
    expect(followed.body.toString()).toContain('<title>ClimbIQ API</title>');
  });

  it('answers one plain line naming the endpoint where GraphiQL is off', async () => {
    const res = await get(production, '/');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.body.toString()).toBe('ClimbIQ GraphQL API: POST /graphql (application/json)\n');
  });
});

describe('the GraphiQL page', () => {
  const page = { accept: 'text/html' };

  it('comes back gzip with Accept-Encoding: gzip, and decompresses to the page', async () => {
    const plain = await get(dev, '/graphql', page);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    expect(plain.body.toString()).toContain('<title>ClimbIQ API</title>');

    const gzipped = await get(dev, '/graphql', { ...page, 'accept-encoding': 'gzip' });
    expect(gzipped.status).toBe(200);
    expect(gzipped.headers['content-encoding']).toBe('gzip');
    expect(gzipped.headers.vary).toMatch(/accept-encoding/i);
    expect(gzipped.headers['x-frame-options']).toBe('DENY');
    expect(gunzipSync(gzipped.body).equals(plain.body)).toBe(true);
    expect(gzipped.body.length).toBeLessThan(plain.body.length / 3);

    // Served again from the cache: the same bytes.
    const again = await get(dev, '/graphql', { ...page, 'accept-encoding': 'gzip' });
    expect(again.body.equals(gzipped.body)).toBe(true);
  });

  it('comes back brotli when the client accepts it as a browser does, and honours q-values', async () => {
    const plain = await get(dev, '/graphql', page);
    const brotli = await get(dev, '/graphql', { ...page, 'accept-encoding': 'gzip, deflate, br, zstd' });
    expect(brotli.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(brotli.body).equals(plain.body)).toBe(true);

    const noBrotli = await get(dev, '/graphql', { ...page, 'accept-encoding': 'br;q=0, gzip' });
    expect(noBrotli.headers['content-encoding']).toBe('gzip');
    const identity = await get(dev, '/graphql', { ...page, 'accept-encoding': 'identity' });
    expect(identity.headers['content-encoding']).toBeUndefined();
    expect(identity.body.equals(plain.body)).toBe(true);
  });

  it('GraphQL answers on the same path are not compressed', async () => {
    const res = await get(dev, `/graphql?query=${encodeURIComponent('{ __typename }')}`, { accept: 'application/json', 'accept-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(JSON.parse(res.body.toString())).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('the insights page', () => {
  it('sends its chart library brotli or gzip, as accepted', async () => {
    const plain = await get(production, '/insights/vendor/plot.js');
    expect(plain.status).toBe(200);
    for (const [accept, encoding, decompress] of [
      ['gzip', 'gzip', gunzipSync],
      ['gzip, br', 'br', brotliDecompressSync],
    ] as const) {
      const res = await get(production, '/insights/vendor/plot.js', { 'accept-encoding': accept });
      expect(res.headers['content-encoding']).toBe(encoding);
      expect(decompress(res.body).equals(plain.body)).toBe(true);
    }
  });
});
