// Every chart of the insights page, drawn in a real browser from data written through the API: three athletes
// (one per model phase) log sessions through the API, an admin runs the nightly fit twice; each view's SVG marks
// are then counted against the data the test wrote and against the API's own answer for the same period.
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { axisLabels, insightsUrl, launchChromium, panelStates, plotWarnings, viewSettled, type InsightsView } from '../../scripts/lib/insights-browser.ts';
import type { Connection } from '../support/client.ts';
import { COMPLETE_SESSION, gqlOk, mapLimit, START_SESSION } from '../support/foundation.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

const DAY = 86_400_000;
/** Sessions per athlete: COLD_START (< 10), LEARNING (10-29), PERSONALIZED (>= 30). */
const SESSIONS = [4, 12, 30];
const TOTAL = SESSIONS.reduce((a, b) => a + b, 0);
const NIGHTLY_RUNS = 2;
const RECOMMENDATION = 'query($input: PreSessionInput!) { recommendation(input: $input) { id source } }';
/** Sessions whose check-in trips sleep_deprivation_limit_intensity (sleepHours < 5): every fourth. */
const LITTLE_SLEEP = SESSIONS.reduce((a, n) => a + Math.ceil(n / 4), 0);

let server: TestServer;
let browser: Browser;
let page: Page;
let analyst: string;
/** What was written, per session: its athlete, start and the source of the recommendation it was started with. */
const written: { athlete: string; startedAt: string; source: 'MODEL' | 'RULE_OVERRIDE' }[] = [];
const athletes: string[] = [];

/** Session k of athlete i: a check-in that sometimes trips a rule (little sleep, soreness), and its rating. */
function sessionOf(i: number, k: number, n: number) {
  return {
    startedAt: new Date(Date.now() - (n - k) * 2 * DAY).toISOString(),
    checkIn: {
      sleepHours: k % 4 === 0 ? 4.5 : 7 + (k % 3) * 0.5,
      sleepQuality: 4 + (k % 5),
      energyLevel: 3 + ((k + i) % 6),
      stressLevel: 1 + ((k * 3 + i) % 8),
      sorenessLevel: k % 5 === 0 ? 8 : 2 + (k % 3),
    },
    sessionQuality: 1 + ((k * 7 + i * 3) % 10),
  };
}

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
  analyst = (await tokenFor('analyst')).token;
  const admin = (await tokenFor('admin')).token;
  await mapLimit(SESSIONS, SESSIONS.length, async (n, i) => {
    const { token, id } = await tokenFor('athlete');
    athletes[i] = id;
    for (let k = 0; k < n; k++) {
      const s = sessionOf(i, k, n);
      // The path an athlete's app takes: a recommendation (stored), then the session started with it.
      const { recommendation } = await gqlOk<{ recommendation: { id: string; source: 'MODEL' | 'RULE_OVERRIDE' } }>(server.url, RECOMMENDATION, { input: s.checkIn }, token);
      const started = await gqlOk<{ startSession: { id: string } }>(server.url, START_SESSION, { input: { ...s.checkIn, startedAt: s.startedAt, recommendationId: recommendation.id } }, token);
      await gqlOk(server.url, COMPLETE_SESSION, { id: started.startSession.id, input: { sessionQuality: s.sessionQuality } }, token);
      written.push({ athlete: id, startedAt: s.startedAt, source: recommendation.source });
    }
  });
  await server.training.idle();
  for (let r = 0; r < NIGHTLY_RUNS; r++) await gqlOk(server.url, 'mutation { runNightlyTraining(wait: true) { status } }', {}, admin);
  page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
  page.on('console', (m) => {
    if (m.type() === 'warning') consoleWarnings.push(m.text());
  });
}, 300_000); // 46 sessions through the API, each with its quick model update, and two nightly fits

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

/** Plot's warnings in the browser console (Plot logs each with console.warn), since the page was opened. */
const consoleWarnings: string[] = [];

/**
 * Opens a view for the last 90 days (every seeded session) and waits for all its panels; a chart Plot warned
 * about (its ⚠ in the SVG, its console.warn) or a time axis labelled with a raw ISO timestamp fails the test.
 */
async function open(view: InsightsView, extra: Record<string, string> = {}) {
  consoleWarnings.length = 0;
  await page.goto(insightsUrl(server.url, { token: analyst, view, period: '90', ...extra }));
  await viewSettled(page, view);
  expect(await plotWarnings(page)).toEqual([]);
  expect(consoleWarnings).toEqual([]);
  expect((await axisLabels(page)).filter((label) => /\d{4}-\d{2}-\d{2}T/.test(label))).toEqual([]);
}

/**
 * The marks Plot drew for one mark type (its aria-label: bar, rect, dot, line, rule, text, area, link) in a panel:
 * the shapes under that mark's group, however Plot nests them (facets add a group per facet).
 */
const marks = (chart: string, mark: string) => page.locator(`figure[data-chart="${chart}"] svg g[aria-label="${mark}"] :not(g)`);
const markTexts = (chart: string) => marks(chart, 'text').allTextContents();

/** The API's own answer for the period the page shows. */
async function api<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const from = await page.evaluate(() => document.querySelector<HTMLInputElement>('#period input[name=from]')!.value);
  return gqlOk<T>(server.url, query, { from: `${from}T00:00:00.000Z`, ...variables }, analyst);
}

describe('insights charts with seeded data', () => {
  it('overview: athletes per phase, sessions per week with mean quality, the quality histogram, nightly runs and their stages', async () => {
    await open('overview');
    expect(await panelStates(page)).toEqual({
      'athletes-by-phase': 'ready',
      'sessions-over-time': 'ready',
      'quality-histogram': 'ready',
      'training-runs': 'ready',
      'training-stages': 'ready',
    });

    // One athlete in each phase: three bars labelled 1, 1, 1.
    await expect.poll(() => marks('athletes-by-phase', 'bar').count()).toBe(3);
    expect(await markTexts('athletes-by-phase')).toEqual(['1', '1', '1']);

    const { insights } = await api<{
      insights: { sessionsOverTime: { start: string; count: number; meanQuality: number | null }[]; qualityHistogram: { quality: number; count: number }[] };
    }>(`query($from: DateTime) { insights(from: $from) {
      sessionsOverTime(bucket: WEEK) { start count meanQuality } qualityHistogram { quality count } } }`);
    const weeks = insights.sessionsOverTime;
    expect(weeks.reduce((a, w) => a + w.count, 0)).toBe(TOTAL);
    expect(await marks('sessions-over-time', 'rect').count()).toBe(weeks.length);
    expect(await marks('sessions-over-time', 'dot').count()).toBe(weeks.filter((w) => w.meanQuality !== null).length);
    expect(await marks('sessions-over-time', 'line').count()).toBe(1);

    const ratings = new Map<number, number>();
    SESSIONS.forEach((n, i) => {
      for (let k = 0; k < n; k++) ratings.set(sessionOf(i, k, n).sessionQuality, (ratings.get(sessionOf(i, k, n).sessionQuality) ?? 0) + 1);
    });
    const histogram = insights.qualityHistogram;
    expect(Object.fromEntries(histogram.filter((h) => h.count > 0).map((h) => [h.quality, h.count]))).toEqual(Object.fromEntries(ratings));
    expect(await marks('quality-histogram', 'bar').count()).toBe(histogram.length);

    // Two nightly runs: two dots; their stages stacked, one bar per stage of each run.
    expect(await marks('training-runs', 'dot').count()).toBe(NIGHTLY_RUNS);
    const { trainingRuns } = await api<{ trainingRuns: Connection<{ stageTimings: { stages: { stage: string }[] } }> }>(
      'query($from: DateTime) { trainingRuns(kind: NIGHTLY, from: $from) { edges { node { stageTimings { stages { stage } } } } } }',
    );
    // The fit is drawn inside trainedModel (the fit and the model writes), not stacked beside it.
    const stages = trainingRuns.edges.flatMap((e) => e.node.stageTimings.stages.filter((s) => s.stage !== 'fit'));
    expect(stages.map((s) => s.stage)).toContain('trainingData');
    expect(await marks('training-stages', 'bar').count()).toBe(stages.length);
  });

  it('population model: a forest plot of every effect per SD with its interval and spread; the population statistics', async () => {
    await open('population');
    expect(await panelStates(page)).toEqual({ effects: 'ready', 'population-statistics': 'ready' });
    const { insights, populationStatistics } = await api<{ insights: { effects: { variable: string }[] }; populationStatistics: { variable: string }[] }>(
      'query($from: DateTime) { insights(from: $from) { effects { variable } } populationStatistics { variable } }',
    );
    expect(insights.effects.length).toBeGreaterThan(2);
    expect(await marks('effects', 'dot').count()).toBe(insights.effects.length);
    expect(await marks('effects', 'rule').count()).toBe(insights.effects.length + 1); // + the zero line
    expect(await marks('effects', 'bar').count()).toBe(insights.effects.length);
    const labels = await page.locator('figure[data-chart="effects"] svg g[aria-label="y-axis tick label"] text').allTextContents();
    expect(labels.sort()).toEqual(insights.effects.map((e) => e.variable).sort());
    expect(await page.locator('figure[data-chart="population-statistics"] tbody tr').count()).toBe(populationStatistics.length);
    expect(await page.textContent('figure[data-chart="population-statistics"] p')).toContain(`${SESSIONS.length} athletes, ${TOTAL} sessions`);
  });

  it('rules: how often each matched, and the quality that followed against the sessions where it did not', async () => {
    await open('rules');
    expect(await panelStates(page)).toEqual({ 'rule-matches': 'ready', 'rule-quality': 'ready' });
    const { insights } = await api<{ insights: { rules: { name: string; matched: number; meanQuality: number; meanQualityOthers: number | null }[] } }>(
      'query($from: DateTime) { insights(from: $from) { rules { name matched meanQuality meanQualityOthers } } }',
    );
    const rules = insights.rules.filter((r) => r.matched > 0);
    expect(rules.find((r) => r.name === 'sleep_deprivation_limit_intensity')?.matched).toBe(LITTLE_SLEEP);
    expect(await marks('rule-matches', 'bar').count()).toBe(rules.length);
    const ruleLabels = await page.locator('figure[data-chart="rule-matches"] svg g[aria-label="y-axis tick label"] text').allTextContents();
    expect(ruleLabels).toEqual([...rules].sort((a, b) => b.matched - a.matched).map((r) => r.name));
    const compared = rules.filter((r) => r.meanQualityOthers !== null);
    expect(await marks('rule-quality', 'dot').count()).toBe(rules.length + compared.length);
    expect(await marks('rule-quality', 'link').count()).toBe(compared.length);
  });

  it('model quality: scores, calibration per phase, RMSE and coverage per week, the nightly held-out error', async () => {
    await open('quality');
    expect(await panelStates(page)).toEqual({ 'quality-summary': 'ready', calibration: 'ready', 'quality-over-time': 'ready', 'held-out-error': 'ready' });
    const { modelQuality, ...perPhase } = await api<
      { modelQuality: { n: number; byPhase: { phase: string; n: number }[] } } & Record<string, { calibration: { n: number }[] }>
    >(`query($from: DateTime) { modelQuality(from: $from) { n byPhase { phase n } }
      ${['COLD_START', 'LEARNING', 'PERSONALIZED'].map((p) => `${p}: modelQuality(from: $from, phase: ${p}) { calibration { n } }`).join(' ')} }`);
    // Every session started with a MODEL recommendation (not an override) is scored.
    const scored = written.filter((w) => w.source === 'MODEL');
    expect(modelQuality.n).toBe(scored.length);
    const phases = modelQuality.byPhase.filter((p) => p.n > 0);
    const cells = await page.locator('figure[data-chart="quality-summary"] tbody tr td:nth-child(2)').allTextContents();
    expect(cells).toEqual([String(scored.length), ...phases.map((p) => String(p.n))]);

    const bins = Object.values(perPhase).flatMap((p) => p.calibration.filter((b) => b.n > 0));
    expect(bins.length).toBeGreaterThan(0);
    expect(await marks('calibration', 'dot').count()).toBe(bins.length);
    expect((await markTexts('calibration')).sort()).toEqual(bins.map((b) => `n=${b.n}`).sort());

    // One point per Monday-to-Sunday week (UTC) with a scored session, in each of the two plots.
    const weeks = new Set(
      scored.map((w) => {
        const t = new Date(w.startedAt);
        return Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() - ((t.getUTCDay() + 6) % 7));
      }),
    );
    expect(await marks('quality-over-time', 'dot').count()).toBe(2 * weeks.size);

    // Each nightly run measured its held-out error: an RMSE and an MAE point per run.
    expect(await marks('held-out-error', 'dot').count()).toBe(2 * NIGHTLY_RUNS);
  });

  it('one athlete: predicted vs actual with intervals, coefficient history, phase changes', async () => {
    const personalized = athletes[SESSIONS.length - 1];
    await open('athlete', { athlete: personalized });
    expect(await page.inputValue('.athlete-picker input')).toBe(personalized);
    expect(await panelStates(page)).toEqual({ 'athlete-predictions': 'ready', 'athlete-coefficients': 'ready', 'athlete-phases': 'ready' });
    const mine = written.filter((w) => w.athlete === personalized);
    expect(await marks('athlete-predictions', 'dot').count()).toBe(mine.length);
    expect(await marks('athlete-predictions', 'area').count()).toBe(1);
    expect(await marks('athlete-predictions', 'line').count()).toBe(1);

    const { modelOutput } = await gqlOk<{ modelOutput: { history: { phase: string; coefficients: { variable: string }[] }[] } }>(
      server.url,
      'query($id: ID) { modelOutput(userId: $id) { history { phase coefficients { variable } } } }',
      { id: personalized },
      analyst,
    );
    expect(modelOutput.history).toHaveLength(NIGHTLY_RUNS);
    const points = modelOutput.history.reduce((a, h) => a + h.coefficients.filter((c) => c.variable !== 'intercept').length, 0);
    expect(await marks('athlete-coefficients', 'dot').count()).toBe(points);
    // Two snapshots in the same phase: two points, one ring where the phase (first) appears.
    expect(await page.locator('figure[data-chart="athlete-phases"] svg g[aria-label="dot"]').nth(0).locator(':not(g)').count()).toBe(NIGHTLY_RUNS);
    expect(await page.locator('figure[data-chart="athlete-phases"] svg g[aria-label="dot"]').nth(1).locator(':not(g)').count()).toBe(1);
  });

  it('the athlete picker refuses what is not an id, and opens the athlete chosen', async () => {
    await open('athlete');
    expect(await page.$$('figure.panel')).toHaveLength(0);
    await page.fill('.athlete-picker input', 'not-an-id');
    await page.click('.athlete-picker button');
    expect(await page.textContent('.athlete-picker .error')).toContain('An athlete id is a uuid');
    await page.fill('.athlete-picker input', athletes[0]);
    await page.click('.athlete-picker button');
    await page.waitForSelector(`#content[data-view="athlete"][data-state="done"] figure[data-chart="athlete-predictions"]`);
    expect(await page.evaluate(() => new URLSearchParams(location.hash.slice(1)).get('athlete'))).toBe(athletes[0]);
    expect(await marks('athlete-predictions', 'dot').count()).toBe(SESSIONS[0]);
  });

  it("the athlete picker lists the period's athletes worst predicted first, as modelQuality.byAthlete orders them, and opens the one chosen", async () => {
    await open('athlete');
    const { modelQuality } = await api<{ modelQuality: { byAthlete: Connection<{ userId: string; rmse: number }> } }>(
      'query($from: DateTime) { modelQuality(from: $from) { byAthlete { totalCount edges { node { userId rmse } } } } }',
    );
    const ranked = modelQuality.byAthlete.edges.map((e) => e.node);
    expect(ranked.length).toBe(SESSIONS.length);
    await page.waitForSelector(`.athlete-picker select option[value="${ranked[0].userId}"]`, { state: 'attached' });
    const options = await page.$$eval('.athlete-picker select option', (os) => os.map((o) => [(o as HTMLOptionElement).value, o.textContent ?? '']));
    expect(options[0]).toEqual(['', `${SESSIONS.length} athletes with scored predictions in this period`]);
    expect(options.slice(1).map(([value]) => value)).toEqual(ranked.map((r) => r.userId));
    expect(options[1][1]).toContain(`RMSE ${ranked[0].rmse.toFixed(2)}`);
    await page.selectOption('.athlete-picker select', ranked[1].userId);
    await page.waitForSelector(`#content[data-view="athlete"][data-state="done"] figure[data-chart="athlete-predictions"]`);
    expect(await page.inputValue('.athlete-picker input')).toBe(ranked[1].userId);
    expect(await panelStates(page)).toEqual({ 'athlete-predictions': 'ready', 'athlete-coefficients': 'ready', 'athlete-phases': 'ready' });
  });

  it('a period without sessions shows the empty state, not an empty chart', async () => {
    await open('overview', { period: 'custom', from: '2001-01-01', to: '2001-01-31' });
    const states = await panelStates(page);
    expect(states['sessions-over-time']).toBe('empty');
    expect(states['quality-histogram']).toBe('empty');
    expect(states['training-runs']).toBe('empty');
    expect(await page.locator('figure[data-chart="quality-histogram"] svg').count()).toBe(0);
    expect(await page.textContent('figure[data-chart="quality-histogram"] .empty')).toBe('No data in this period.');
  });
});
