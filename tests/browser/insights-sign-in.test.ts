// The insights page's sign-in in a real browser: no token, the development link printed at startup, a pasted
// token, an athlete's token, a token that expires mid-use; and the production setting that serves the page.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insightsUrl, launchChromium, viewSettled } from '../../scripts/lib/insights-browser.ts';
import { loadConfig } from '../../src/config.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let browser: Browser;
let dataDir: string;
const logs: string[] = [];

beforeAll(async () => {
  // JWT_SECRET unset, as in development: the server generates one into the data dir and prints a sign-in link.
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'climbiq-insights-'));
  [server, browser] = await Promise.all([startTestServer({ env: { JWT_SECRET: '', PGLITE_DIR: path.join(dataDir, 'pglite') }, log: (m) => logs.push(m) }), launchChromium()]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await rm(dataDir, { recursive: true, force: true });
});

/** A fresh tab (its own sessionStorage) that records every GraphQL request it makes. */
async function newTab(): Promise<{ page: Page; graphqlRequests: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  const graphqlRequests: string[] = [];
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/graphql') graphqlRequests.push(r.postData() ?? '');
  });
  return { page, graphqlRequests };
}

const storedToken = (page: Page) => page.evaluate(() => sessionStorage.getItem('climbiq.insights.token'));

/** The server's own tokens (the generated development secret), for any user and role. */
const signToken = (role: string, expiresIn?: string) => server.services.tokens.sign({ sub: crypto.randomUUID(), role }, expiresIn);

describe('insights page sign-in', () => {
  it('without a token shows the sign-in prompt and asks the API for nothing', async () => {
    const { page, graphqlRequests } = await newTab();
    await page.goto(insightsUrl(server.url));
    await page.waitForSelector('#sign-in:not([hidden])');
    expect(await page.isVisible('#sign-in textarea')).toBe(true);
    expect(await page.isHidden('#content')).toBe(true);
    expect(await page.isHidden('#views')).toBe(true);
    expect(await page.$$('figure.panel')).toHaveLength(0);
    expect(graphqlRequests).toEqual([]);
    await page.context().close();
  });

  it('the link printed at startup signs in as the development analyst and leaves the address bar', async () => {
    const line = logs.find((m) => m.includes('/insights#token='));
    expect(line, logs.join('\n')).toBeDefined();
    const link = /(http:\/\/\S+\/insights#token=\S+)/.exec(line!)![1];
    const token = new URL(link).hash.slice('#token='.length);
    const { page } = await newTab();
    await page.goto(link);
    await page.waitForSelector('#content[data-view="overview"]');
    expect(page.url()).toBe(insightsUrl(server.url));
    expect(await page.evaluate(() => location.hash)).toBe('');
    expect(await page.isHidden('#sign-in')).toBe(true);
    expect(await page.isVisible('nav#views a[data-view="overview"][aria-current]')).toBe(true);
    expect(await storedToken(page)).toBe(token);
    // Kept for the browser session: a reload stays signed in.
    await page.reload();
    await page.waitForSelector('#content[data-view="overview"]');
    expect(await page.isHidden('#sign-in')).toBe(true);
    await page.context().close();
  });

  it('a link with a token and a view opens that view, keeping the other parameters', async () => {
    const { page } = await newTab();
    await page.goto(insightsUrl(server.url, { token: await signToken('admin'), view: 'population', period: '30' }));
    await viewSettled(page, 'population');
    expect(await page.evaluate(() => location.hash)).toBe('#view=population&period=30');
    expect(await page.inputValue('#period select')).toBe('30');
    await page.context().close();
  });

  it('a pasted token signs in; sign out returns to the prompt and forgets it', async () => {
    const { page } = await newTab();
    await page.goto(insightsUrl(server.url));
    await page.fill('#sign-in textarea', `Bearer ${await signToken('analyst')}`);
    await page.click('#sign-in button[type=submit]');
    await viewSettled(page, 'overview');
    expect(await page.isHidden('#sign-in')).toBe(true);
    await page.click('#sign-out');
    await page.waitForSelector('#sign-in:not([hidden])');
    expect(await storedToken(page)).toBeNull();
    expect(await page.$$('figure.panel')).toHaveLength(0);
    await page.context().close();
  });

  it("an athlete's token is refused with a reason, and so is a forged one", async () => {
    const { page } = await newTab();
    await page.goto(insightsUrl(server.url, { token: await signToken('athlete') }));
    await page.waitForSelector('#sign-in:not([hidden])');
    expect(await page.textContent('#sign-in-reason')).toContain('needs an analyst or admin token');
    expect(await storedToken(page)).toBeNull();

    const forged = (await tokenFor('analyst')).token; // signed with the tests' secret, not this server's
    await page.fill('#sign-in textarea', forged);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#sign-in-reason:has-text("Invalid token")');
    expect(await page.isVisible('#sign-in textarea')).toBe(true);
    expect(await storedToken(page)).toBeNull();
    await page.context().close();
  });

  it('a token that expires mid-use returns to the sign-in prompt at the next request (401)', async () => {
    // A short lifetime first (the wait for it to pass is most of this test's time); only when the overview took
    // longer than that to settle (a loaded machine) is it tried again with a longer one.
    let page: Page | undefined;
    let expiresAt = 0;
    for (const lifetime of ['4s', '15s']) {
      page = (await newTab()).page;
      const token = await signToken('analyst', lifetime);
      expiresAt = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).exp * 1000;
      await page.goto(insightsUrl(server.url, { token }));
      await viewSettled(page, 'overview');
      if (Date.now() < expiresAt - 500 || lifetime === '15s') break;
      await page.context().close();
    }
    page = page!;
    expect(await page.isHidden('#sign-in')).toBe(true);
    const statuses: number[] = [];
    page.on('response', (r) => {
      if (new URL(r.url()).pathname === '/graphql') statuses.push(r.status());
    });
    await page.waitForTimeout(Math.max(0, expiresAt - Date.now() + 1_100));
    await page.click('nav#views a[data-view="population"]');
    await page.waitForSelector('#sign-in:not([hidden])');
    expect(statuses).toContain(401);
    expect(await page.textContent('#sign-in-reason')).toContain('Token expired');
    expect(await storedToken(page)).toBeNull();
    expect(await page.$$('figure.panel')).toHaveLength(0);
    await page.context().close();
  });
});

describe('insights page setting', () => {
  it('is not served in production unless INSIGHTS_ENABLED=true', async () => {
    const env = { NODE_ENV: 'production', JWT_SECRET: 'production-secret-production-secret-0123456' };
    const off = await startTestServer({ env });
    try {
      expect((await fetch(insightsUrl(off.url))).status).toBe(404);
      expect((await fetch(`${insightsUrl(off.url)}/main.js`)).status).toBe(404);
    } finally {
      await off.close();
    }
    const on = await startTestServer({ env: { ...env, INSIGHTS_ENABLED: 'true' } });
    try {
      const page = await fetch(insightsUrl(on.url));
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toContain('text/html');
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      expect(await page.text()).toContain('<script type="module" src="/insights/main.js">');
      const library = await fetch(`${insightsUrl(on.url)}/vendor/plot.js`);
      expect(library.status).toBe(200);
      expect(library.headers.get('content-type')).toContain('text/javascript');
      const etag = library.headers.get('etag')!;
      expect((await fetch(`${insightsUrl(on.url)}/vendor/plot.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
      expect((await fetch(`${insightsUrl(on.url)}/../package.json`)).status).toBe(404);
      expect((await fetch(`${insightsUrl(on.url)}/%2e%2e%2fpackage.json`)).status).toBe(404);
    } finally {
      await on.close();
    }
  }, 180_000); // two servers, one after the other, and the chart library bundled once

  it('INSIGHTS_ENABLED takes only true or false', () => {
    expect(() => loadConfig({ INSIGHTS_ENABLED: 'yes' })).toThrow('INSIGHTS_ENABLED must be true or false (got "yes")');
    expect(loadConfig({ INSIGHTS_ENABLED: 'false' }).insightsEnabled).toBe(false);
    expect(loadConfig({}).insightsEnabled).toBe(true);
  });
});
