// The insights page in a real browser (Debian's chromium driven by playwright-core), shared by the browser tests,
// the screenshots for the README and the page-load benchmark, so all three see the page the same way.
import { chromium, type Browser, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const INSIGHTS_VIEWS = ['overview', 'quality', 'population', 'rules', 'athlete'] as const;
export type InsightsView = (typeof INSIGHTS_VIEWS)[number];

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
  });
}

/** "http://host:port/graphql" -> the page's address, with hash parameters (view, period, token, ...). */
export function insightsUrl(graphqlUrl: string, hash: Record<string, string> = {}): string {
  const params = new URLSearchParams(hash).toString();
  return `${graphqlUrl.replace(/\/graphql$/, '/insights')}${params ? `#${params}` : ''}`;
}

/** Waits until every panel of the view on screen has settled (drawn, empty or failed). */
export async function viewSettled(page: Page, view: InsightsView, timeout = 60_000): Promise<void> {
  await page.waitForSelector(`#content[data-view="${view}"][data-state="done"]`, { timeout });
}

/** Each panel's id and state ("ready", "empty", "error") on the view on screen. */
export function panelStates(page: Page): Promise<Record<string, string>> {
  return page.$$eval('#content figure.panel', (figures) => Object.fromEntries(figures.map((f) => [(f as HTMLElement).dataset.chart ?? '', (f as HTMLElement).dataset.state ?? ''])));
}

/**
 * The warnings Observable Plot drew on the view on screen: Plot 0.6 appends to a chart's SVG a "⚠️" text whose
 * <title> reads "N warning(s). Please check the console." (src/plot.js), and logs each warning with console.warn.
 * Each entry: the chart's panel id and that title.
 */
export function plotWarnings(page: Page): Promise<string[]> {
  return page.$$eval('#content figure.panel svg text', (texts) =>
    texts
      .filter((t) => t.textContent?.startsWith('\u26a0') || /warnings?\. Please check the console/.test(t.querySelector('title')?.textContent ?? ''))
      .map((t) => `${(t.closest('figure') as HTMLElement | null)?.dataset.chart ?? '?'}: ${t.querySelector('title')?.textContent ?? t.textContent}`),
  );
}

/** The tick labels of every chart's axes on the view on screen. */
export function axisLabels(page: Page): Promise<string[]> {
  return page.$$eval('#content figure.panel svg g[aria-label$="tick label"] text', (texts) => texts.map((t) => t.textContent ?? ''));
}
