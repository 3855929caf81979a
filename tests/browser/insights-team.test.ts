// The insights page's Team view for a signed-in coach, in a real browser: the roster with each athlete's latest
// check-in (a rule override highlighted), updated live from teamCheckIns; a coach sees the Team view only.
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { insightsUrl, launchChromium } from '../../scripts/lib/insights-browser.ts';
import { gqlOk } from '../support/client.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let browser: Browser;

beforeAll(async () => {
  [server, browser] = await Promise.all([startTestServer(), launchChromium()]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
});

const CHECK_IN = `query($input: PreSessionInput!) { recommendation(input: $input) { id sessionType } }`;

describe('insights page: Team view', () => {
  it("a coach sees their roster with today's readiness, updated live, and no other view", async () => {
    const { url } = server;
    const coach = await tokenFor('coach');
    const [calm, injured, stranger] = [await tokenFor('athlete'), await tokenFor('athlete'), await tokenFor('athlete')];
    for (const athlete of [calm, injured]) {
      const { createCoachInvitation } = await gqlOk<{ createCoachInvitation: { code: string } }>(url, 'mutation { createCoachInvitation { code } }', {}, athlete.token);
      await gqlOk(url, 'mutation($c: String!) { acceptCoachInvitation(code: $c) { id } }', { c: createCoachInvitation.code }, coach.token);
    }
    const first = (await gqlOk<{ recommendation: { id: string; sessionType: string } }>(url, CHECK_IN, { input: { sleepHours: 7, energyLevel: 4 } }, calm.token)).recommendation;
    await server.services.recommendations.written(first.id);
    await gqlOk(url, CHECK_IN, { input: { sleepHours: 7 } }, stranger.token);

    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    // Opened on the analysts' default view: a coach is taken to the Team view.
    await page.goto(insightsUrl(url, { token: coach.token }));
    await page.waitForSelector('#content[data-view="team"][data-state="done"]', { timeout: 60_000 });
    const rows = await page.$$eval('table.team tbody tr', (trs) => trs.map((tr) => (tr as HTMLElement).dataset.athlete));
    expect(rows.sort()).toEqual([calm.id, injured.id].sort());
    expect(await page.textContent(`tr[data-athlete="${calm.id}"] td:nth-child(3)`)).toBe(first.sessionType);
    expect(await page.textContent(`tr[data-athlete="${injured.id}"] td:nth-child(3)`)).toBe('–');
    expect(await page.isVisible('nav a[data-view="overview"]')).toBe(false);
    expect(await page.isVisible('nav a[data-view="team"]')).toBe(true);

    // A check-in overridden by a rule arrives live, highlighted, without reloading.
    let live: { id: string; sessionType: string } | null = null;
    for (let i = 0; i < 40; i++) {
      live = (await gqlOk<{ recommendation: { id: string; sessionType: string } }>(url, CHECK_IN, { input: { sleepHours: 7, pulleyInjuryGrade: 3 } }, injured.token)).recommendation;
      try {
        await page.waitForSelector(`tr[data-athlete="${injured.id}"][data-live="${live?.id}"]`, { timeout: 1500 });
        break;
      } catch {
        // The stream may not be open yet: check in again.
      }
    }
    const row = `tr[data-athlete="${injured.id}"][data-live="${live?.id}"]`;
    expect(await page.textContent(`${row} td:nth-child(3)`)).toBe(live?.sessionType);
    expect(await page.textContent(`${row} td:nth-child(5)`)).toBe('pulley_injury_grade2_plus');
    expect(await page.$eval(row, (tr) => tr.classList.contains('override'))).toBe(true);
    await context.close();
  });
});
