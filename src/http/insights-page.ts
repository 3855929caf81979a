// The insights page (web/insights/): its static files and the charting library, served beside the API by a Yoga
// plugin. The page itself talks only to the public GraphQL endpoint, like any other client.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'graphql-yoga';
import { CompressedBodies, negotiateEncoding, type Bytes } from './pages.ts';

export const INSIGHTS_PATH = '/insights';
const WEB_DIR = fileURLToPath(new URL('../../web/insights/', import.meta.url));
const CHART_LIBRARY_FILE = 'vendor/plot.js';
const PERSISTED_OPERATIONS_OFF = '<meta name="climbiq-persisted-operations" content="off">';
const PERSISTED_OPERATIONS_ON = '<meta name="climbiq-persisted-operations" content="on">';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

// Scripts only from this origin and no inline script: a token in sessionStorage is only as safe as the page's
// script sources. Plot writes a <style> element into each chart, hence 'unsafe-inline' for styles only.
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; " + "frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
};

interface Asset {
  body: Bytes;
  /** Sent compressed when the client accepts it (the chart library; the page's own files are small). */
  compress: boolean;
  etag: string;
}

function asset(body: Bytes, compress: boolean): Asset {
  return { body, compress, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
}

/**
 * Observable Plot (and the parts of d3 it uses) as one ES module, bundled from the installed package on first
 * request: no build step at install, no CDN, and the browser makes one request instead of hundreds.
 */
let chartLibrary: Promise<Asset> | null = null;
function bundledChartLibrary(): Promise<Asset> {
  // esbuild is imported with the first request too: a server whose page nobody opens never loads it.
  chartLibrary ??= import('esbuild')
    .then(({ build }) =>
      build({
        stdin: { contents: "export * from '@observablehq/plot';", resolveDir: WEB_DIR, loader: 'js' },
        bundle: true,
        format: 'esm',
        minify: true,
        target: 'es2020',
        write: false,
        logLevel: 'silent',
      }),
    )
    .then(
      (result) => asset(new Uint8Array(result.outputFiles[0].contents), true),
      (err: unknown) => {
        chartLibrary = null; // a later request tries again
        throw err;
      },
    );
  return chartLibrary;
}

/**
 * Serves GET /insights (index.html) and /insights/<file> from web/insights/; anything else goes on to Yoga. With
 * `persistedOperations` the page is told (a meta tag in index.html) to send its operations' ids, not their text.
 */
export function useInsightsPage({ persistedOperations }: { persistedOperations: boolean }): Plugin {
  // Only the files present at startup are served: a request path never reaches the file system as a path.
  const files = new Set(readdirSync(WEB_DIR).filter((name) => CONTENT_TYPES[path.extname(name)]));
  const compressed = new CompressedBodies(2);
  return {
    async onRequest({ url, request, endResponse, fetchAPI }) {
      if (url.pathname !== INSIGHTS_PATH && !url.pathname.startsWith(`${INSIGHTS_PATH}/`)) return;
      const name = url.pathname.slice(INSIGHTS_PATH.length + 1) || 'index.html';
      const respond = (status: number, body: Bytes | string | null, headers: Record<string, string> = {}) =>
        endResponse(new fetchAPI.Response(body, { status, headers: { ...SECURITY_HEADERS, ...headers } }));
      if (request.method !== 'GET' && request.method !== 'HEAD') return respond(405, 'Method not allowed', { allow: 'GET, HEAD' });

      let file: Asset;
      if (name === CHART_LIBRARY_FILE) {
        file = await bundledChartLibrary();
      } else if (name === 'index.html' && persistedOperations) {
        const page = (await readFile(path.join(WEB_DIR, name), 'utf8')).replace(PERSISTED_OPERATIONS_OFF, PERSISTED_OPERATIONS_ON);
        file = asset(new TextEncoder().encode(page) as Bytes, false);
      } else if (files.has(name)) {
        file = asset(await readFile(path.join(WEB_DIR, name)), false);
      } else {
        return respond(404, 'Not found', { 'content-type': 'text/plain; charset=utf-8' });
      }
      // Revalidated on every load (the files change with the server), answered 304 when unchanged.
      const headers: Record<string, string> = {
        'content-type': CONTENT_TYPES[path.extname(name)],
        'cache-control': 'no-cache',
        etag: file.etag,
        vary: 'accept-encoding',
      };
      if (request.headers.get('if-none-match') === file.etag) return respond(304, null, headers);
      const encoding = file.compress ? negotiateEncoding(request.headers.get('accept-encoding')) : null;
      if (encoding) headers['content-encoding'] = encoding;
      if (request.method === 'HEAD') return respond(200, null, headers);
      respond(200, encoding ? await compressed.get(file.etag, file.body, encoding) : file.body, headers);
    },
  };
}
