// The insights page against a server with PERSISTED_OPERATIONS (the manifest `npm run persisted-operations`
// writes), in a real browser: every view loads without a failed panel, and every request names its operation by
// the SHA-256 the page computed, never by its text.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INSIGHTS_VIEWS, insightsUrl, launchChromium, panelStates, viewSettled } from '../../scripts/lib/insights-browser.ts';
import { clientOperationsManifest } from '../../scripts/lib/client-operations.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let browser: Browser;
let dir: string;
let manifest: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'climbiq-insights-persisted-'));
  manifest = await clientOperationsManifest();
  const file = path.join(dir, 'persisted-operations.json');
  await writeFile(file, JSON.stringify(manifest));
  [server, browser] = await Promise.all([startTestServer({ env: { PERSISTED_OPERATIONS: file, INSIGHTS_ENABLED: 'true' } }), launchChromium()]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('insights page with PERSISTED_OPERATIONS', () => {
  it('every view loads, each request sending a listed id and no document', async () => {
    const { token } = await tokenFor('analyst');
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
    const page = await context.newPage();
    const bodies: string[] = [];
    page.on('request', (r) => {
      if (new URL(r.url()).pathname === '/graphql') bodies.push(r.postData() ?? '');
    });
    for (const view of INSIGHTS_VIEWS.filter((v) => v !== 'athlete')) {
      await page.goto(insightsUrl(server.url, { view, token }));
      await viewSettled(page, view);
      const states = await panelStates(page);
      expect(Object.keys(states).length, view).toBeGreaterThan(0);
      expect(
        Object.entries(states).filter(([, state]) => state === 'error'),
        view,
      ).toEqual([]);
    }
    expect(bodies.length).toBeGreaterThan(5);
    for (const body of bodies) {
      const sent = JSON.parse(body) as { query?: string; extensions?: { persistedQuery?: { sha256Hash?: string } } };
      expect(sent.query).toBeUndefined();
      expect(Object.keys(manifest)).toContain(sent.extensions?.persistedQuery?.sha256Hash);
    }
    await context.close();
  });
});
