// Issue 12 section 2, the development server: GraphiQL holds a short-lived token only when the server listens on
// loopback and the page was asked for by a loopback name; origins listed in CORS_ORIGINS (and only they) are
// answered cross-origin and may open a WebSocket.
import { mkdtemp, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { corsPost as post, corsPreflight as preflight, gqlOk } from '../support/client.ts';
import { startTestServer, type TestServer } from '../support/server.ts';

let dev: TestServer; // development: generated secret, loopback, CORS_ORIGINS set
let exposed: TestServer; // development, but listening on every interface
const devLogs: string[] = [];
const exposedLogs: string[] = [];
let dataDirs: string[] = [];

beforeAll(async () => {
  dataDirs = await Promise.all([mkdtemp(path.join(tmpdir(), 'climbiq-sec-')), mkdtemp(path.join(tmpdir(), 'climbiq-sec-'))]);
  // JWT_SECRET unset: the secret is generated into the data dir, as `npm start` does in development.
  [dev, exposed] = await Promise.all([
    startTestServer({ env: { JWT_SECRET: '', PGLITE_DIR: path.join(dataDirs[0], 'pglite'), CORS_ORIGINS: 'https://app.example.com' }, log: (m) => devLogs.push(m) }),
    startTestServer({ env: { JWT_SECRET: '', PGLITE_DIR: path.join(dataDirs[1], 'pglite'), HOST: '0.0.0.0' }, log: (m) => exposedLogs.push(m) }),
  ]);
});
afterAll(async () => {
  await Promise.all([dev?.close(), exposed?.close()]);
  await Promise.all(dataDirs.map((d) => rm(d, { recursive: true, force: true })));
});

/** GET the GraphiQL page with a given Host header (fetch cannot set Host). */
function graphiqlPage(url: string, host?: string): Promise<string> {
  const target = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: target.port, path: target.pathname, headers: { accept: 'text/html', ...(host ? { host } : {}) } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.end();
  });
}
const tokenIn = (text: string) => /\b(eyJ[\w-]+\.[\w-]+\.[\w-]+)/.exec(text)?.[1] ?? null;
const tokensIn = (text: string) => [...new Set(Array.from(text.matchAll(/\b(eyJ[\w-]+\.[\w-]+\.[\w-]+)/g), (m) => m[1]))];

describe('the development token', () => {
  it("GraphiQL on loopback holds working tokens that live hours, renewed hourly (not per page, so the page can be cached): the athlete tab an athlete's, the analyst tab an analyst's", async () => {
    const page = await graphiqlPage(dev.url);
    expect(await graphiqlPage(dev.url)).toBe(page);
    const found = tokensIn(page);
    expect(found, 'GraphiQL page has two tokens').toHaveLength(2);
    for (const token of found) {
      const { iat, exp } = decodeJwt(token);
      expect(exp! - iat!).toBeGreaterThan(0);
      expect(exp! - iat!).toBeLessThanOrEqual(12 * 3600);
    }
    // The tabs in order: the athlete's operations with the development athlete's token, then the analyst's.
    const tabs = /"defaultTabs":(\[.*?\]),"/.exec(page)?.[1];
    const parsed = JSON.parse(tabs!) as { query: string; headers: string }[];
    expect(parsed.map((t) => t.query.split('\n')[0])).toEqual([expect.stringContaining("the athlete's operations"), expect.stringContaining("the analyst's operations")]);
    const [athleteTab, analystTab] = parsed.map((t) => (JSON.parse(t.headers) as { Authorization: string }).Authorization.replace('Bearer ', ''));
    expect((await gqlOk<{ me: { id: string; role: string } }>(dev.url, '{ me { id role } }', {}, athleteTab)).me).toEqual({ id: '00000000-0000-4000-8000-000000000003', role: 'ATHLETE' });
    expect((await gqlOk<{ me: { role: string } }>(dev.url, '{ me { role } }', {}, analystTab)).me.role).toBe('ANALYST');
    // The athlete tab's own examples run as that athlete: a recommendation for themselves.
    expect(
      (await gqlOk<{ recommendation: { source: string } }>(dev.url, '{ recommendation(input: { sleepHours: 7, energyLevel: 4, stressLevel: 2 }) { source } }', {}, athleteTab)).recommendation.source,
    ).toBeDefined();
    const printed = tokenIn(devLogs.join('\n'));
    expect(printed, devLogs.join('\n')).not.toBeNull();
    const lifetime = decodeJwt(printed!);
    expect(lifetime.exp! - lifetime.iat!).toBeLessThanOrEqual(12 * 3600);
  });

  it('a page asked for under a foreign host name (DNS rebinding) holds no token', async () => {
    const page = await graphiqlPage(dev.url, `rebind.example:${dev.port}`);
    expect(page).toMatch(/graphiql/i);
    expect(tokenIn(page)).toBeNull();
  });

  it('a server listening beyond loopback neither prints nor embeds one', async () => {
    const page = await graphiqlPage(`http://127.0.0.1:${exposed.port}/graphql`);
    expect(page).toMatch(/graphiql/i);
    expect(tokenIn(page)).toBeNull();
    expect(exposedLogs.join('\n')).not.toMatch(/ey[\w-]+\.[\w-]+\.[\w-]+/);
  });
});

describe('CORS_ORIGINS', () => {
  it('an origin in CORS_ORIGINS is answered (without credentials); any other is not', async () => {
    const token = tokenIn(await graphiqlPage(dev.url))!;
    const allowed = await preflight(dev.url, 'https://app.example.com');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
    expect(allowed.headers.get('access-control-allow-credentials')).toBeNull();
    const answered = await post(dev.url, 'https://app.example.com', token);
    expect(answered.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    for (const res of [await preflight(dev.url, 'https://evil.example'), await post(dev.url, 'https://evil.example', token)]) {
      expect(res.headers.get('access-control-allow-origin')).toBeNull();
      expect(res.headers.get('access-control-allow-credentials')).toBeNull();
    }
  });

  it('a WebSocket opened by a page of another origin is refused; same origin and listed origins connect', async () => {
    const opens = (url: string, origin?: string) =>
      new Promise<boolean>((resolve) => {
        const socket = new WebSocket(url, 'graphql-transport-ws', origin ? { origin } : {});
        socket.once('open', () => {
          socket.close();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
    expect(await opens(dev.wsUrl, 'https://evil.example')).toBe(false);
    expect(await opens(dev.wsUrl, `http://127.0.0.1:${dev.port}`)).toBe(true);
    expect(await opens(dev.wsUrl, 'https://app.example.com')).toBe(true);
    expect(await opens(dev.wsUrl)).toBe(true);
  });
});
