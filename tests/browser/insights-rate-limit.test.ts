// The insights page against its own rate limit (issue 25, points 1 and 3) in a real browser: each view and period
// asks for modelQuality once (cached, whichever panels need it and however often the view is opened again), a 429
// is waited out with a countdown and retried, never left as an error; and with a single nightly run (what a fresh
// install or the first night shows) every chart is drawn without a Plot warning or a raw ISO timestamp on an axis.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axisLabels, insightsUrl, launchChromium, panelStates, plotWarnings, viewSettled, type InsightsView } from '../../scripts/lib/insights-browser.ts';
import { COMPLETE_SESSION, gql, gqlOk, START_SESSION } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

const DAY = 86_400_000;
/** A small budget, so that the test can exhaust it and see it come back. */
const BUDGET = { calls: 3, seconds: 6 };
const RECOMMENDATION = 'query($input: PreSessionInput!) { recommendation(input: $input) { id } }';

let server: TestServer;
let browser: Browser;
let athlete: string;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer({ env: { RATE_LIMIT_MODEL_QUALITY: `${BUDGET.calls}/${BUDGET.seconds}` } }), launchChromium()]);
  const { token, id } = await tokenFor('athlete');
  athlete = id;
  for (let k = 0; k < 6; k++) {
    const checkIn = { sleepHours: 6 + (k % 3), energyLevel: 3 + k, stressLevel: 2 + (k % 4) };
    const { recommendation } = await gqlOk<{ recommendation: { id: string } }>(server.url, RECOMMENDATION, { input: checkIn }, token);
    const startedAt = new Date(Date.now() - (6 - k) * 3 * DAY).toISOString();
    const started = await gqlOk<{ startSession: { id: string } }>(server.url, START_SESSION, { input: { ...checkIn, startedAt, recommendationId: recommendation.id } }, token);
    await gqlOk(server.url, COMPLETE_SESSION, { id: started.startSession.id, input: { sessionQuality: 2 + k } }, token);
  }
  await server.training.idle();
  // One nightly run: one point in each history, one bar of stages.
  await gqlOk(server.url, 'mutation { runNightlyTraining(wait: true) { status } }', {}, (await tokenFor('admin')).token);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** A fresh tab that counts the modelQuality fields its requests ask for (each counts against the budget). */
async function newTab(): Promise<{ page: Page; modelQualityCalls: () => number; warnings: string[] }> {
  const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  let calls = 0;
  page.on('request', (r) => {
    if (new URL(r.url()).pathname === '/graphql') calls += (r.postData() ?? '').match(/modelQuality\(/g)?.length ?? 0;
  });
  const warnings: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'warning') warnings.push(m.text());
  });
  return { page, modelQualityCalls: () => calls, warnings };
}

async function go(page: Page, view: InsightsView, hash: Record<string, string>) {
  await page.evaluate(
    (h) => {
      location.hash = new URLSearchParams(h).toString();
    },
    { view, ...hash },
  );
  await viewSettled(page, view);
}

describe('the insights page and its rate limit', () => {
  it('asks for modelQuality once per view and period, and not again when a view is opened again', async () => {
    const { token } = await tokenFor('analyst');
    const { page, modelQualityCalls } = await newTab();
    await page.goto(insightsUrl(server.url, { token, view: 'quality', period: '90' }));
    await viewSettled(page, 'quality');
    expect(await panelStates(page)).toEqual({ 'quality-summary': 'ready', calibration: 'ready', 'quality-over-time': 'ready', 'held-out-error': 'ready' });
    expect(modelQualityCalls()).toBe(1);
    // Another period: one more; then back to both periods seen: none.
    await go(page, 'quality', { period: '365' });
    expect(modelQualityCalls()).toBe(2);
    await go(page, 'overview', { period: '365' });
    await go(page, 'quality', { period: '90' });
    await go(page, 'quality', { period: '365' });
    expect(modelQualityCalls()).toBe(2);
    expect(await panelStates(page)).toEqual({ 'quality-summary': 'ready', calibration: 'ready', 'quality-over-time': 'ready', 'held-out-error': 'ready' });
  });

  it('over the budget, each panel counts down the Retry-After seconds and then shows its chart, not an error', async () => {
    const { token } = await tokenFor('analyst');
    // The same analyst spends the whole budget elsewhere (GraphiQL, a script): the next call is refused with 429.
    for (let i = 0; i < BUDGET.calls; i++) await gqlOk(server.url, '{ modelQuality { n } }', {}, token);
    const refused = await gql(server.url, '{ modelQuality { n } }', {}, token);
    expect(refused.errors?.[0].extensions?.code).toBe('RATE_LIMITED');

    const { page, modelQualityCalls } = await newTab();
    await page.goto(insightsUrl(server.url, { token, view: 'quality', period: 'all' }));
    await page.waitForSelector('figure[data-chart="calibration"][data-state="waiting"]');
    const countdown = await page.textContent('figure[data-chart="calibration"] .waiting');
    expect(countdown).toMatch(/rate limit\): trying again in \d+ s/);
    expect(await page.$$('#content figure.panel[data-state="error"]')).toHaveLength(0);
    await viewSettled(page, 'quality', (BUDGET.seconds + 10) * 1000);
    expect(await panelStates(page)).toEqual({ 'quality-summary': 'ready', calibration: 'ready', 'quality-over-time': 'ready', 'held-out-error': 'ready' });
    // The refused request and the one that was answered: the panels waited together, not one retry each.
    expect(modelQualityCalls()).toBe(2);
  }, 60_000);

  it('with a single nightly run every chart is drawn: no Plot warning, no raw timestamp on an axis, stage bars of readable height', async () => {
    const { token } = await tokenFor('analyst');
    const { page, warnings } = await newTab();
    for (const view of ['overview', 'quality', 'population', 'rules', 'athlete'] as const) {
      await page.goto(insightsUrl(server.url, { token, view, period: '90', ...(view === 'athlete' ? { athlete } : {}) }));
      await viewSettled(page, view, 60_000);
      const states = Object.values(await panelStates(page));
      expect(
        states.every((state) => state === 'ready' || (view === 'rules' && state === 'empty')), // no rule matched these check-ins
        `${view}: ${JSON.stringify(await panelStates(page))}`,
      ).toBe(true);
      expect(await plotWarnings(page)).toEqual([]);
      expect((await axisLabels(page)).filter((label) => /\d{4}-\d{2}-\d{2}T/.test(label))).toEqual([]);
      if (view === 'overview') {
        const heights = await page.$$eval('figure[data-chart="training-stages"] svg g[aria-label="bar"] rect', (rects) => rects.map((r) => Number(r.getAttribute('height'))));
        expect(heights.length).toBeGreaterThan(0);
        for (const h of heights) expect(h).toBeGreaterThanOrEqual(14);
        // The run's label is whole: its date, time and status.
        const labels = await page.$$eval('figure[data-chart="training-stages"] svg g[aria-label="y-axis tick label"] text', (ts) => ts.map((t) => t.textContent));
        expect(labels).toHaveLength(1);
        expect(labels[0]).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC, succeeded$/);
        const overflow = await page.$eval('figure[data-chart="training-stages"] svg', (svg) => {
          const left = svg.getBoundingClientRect().left;
          return Array.from(svg.querySelectorAll('g[aria-label="y-axis tick label"] text'), (t) => t.getBoundingClientRect().left - left).filter((x) => x < 0);
        });
        expect(overflow).toEqual([]);
      }
    }
    expect(warnings).toEqual([]);
  }, 120_000);
});
