// npm run screenshots: the README's pictures of the insights page, one PNG per view in docs/, taken in the same
// browser the tests and the benchmark use (scripts/lib/insights-browser.ts) on the demo data (npm run seed:demo
// into a temporary embedded database: its eight weekly nightly runs give the histories their length), and the
// Team view as the demo coach sees it.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config.ts';
import { startServer } from '../src/server.ts';
import { INSIGHTS_VIEWS, insightsUrl, launchChromium, viewSettled } from './lib/insights-browser.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const docs = path.join(root, 'docs');
const dataDir = await mkdtemp(path.join(os.tmpdir(), 'climbiq-screenshots-'));
const env = { ...process.env, DATABASE_URL: '', PGLITE_DIR: path.join(dataDir, 'pglite'), JWT_SECRET: 'screenshots-secret-screenshots-secret-01' };

try {
  console.log('Seeding the demo athletes (npm run seed:demo)...');
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/seed-demo.ts'), '--quiet'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`seed:demo exited with ${code}`))));
  });

  const server = await startServer({ config: loadConfig({ ...env, PORT: '0', INSIGHTS_ENABLED: 'true' }), schedule: false, log: () => {} });
  const browser = await launchChromium();
  try {
    const athlete = await server.services.db.prisma.modelOutput.findFirst({ orderBy: { sessionsIncluded: 'desc' }, select: { userId: true } });
    const token = await server.services.tokens.sign({ sub: randomUUID(), role: 'analyst' });
    await mkdir(docs, { recursive: true });
    const context = await browser.newContext({ viewport: { width: 1100, height: 900 }, deviceScaleFactor: 1 });
    const page = await context.newPage();
    for (const view of INSIGHTS_VIEWS) {
      await page.goto(insightsUrl(server.url, { token, view, period: '365', ...(view === 'athlete' && athlete ? { athlete: athlete.userId } : {}) }));
      await viewSettled(page, view);
      const file = path.join(docs, `insights-${view}.png`);
      await page.screenshot({ path: file, fullPage: true });
      console.log(`  ${path.relative(root, file)}`);
    }
    // The coach's Team view, signed in as the demo coach seed:demo links to some of the demo athletes.
    const link = await server.services.db.prisma.coachLink.findFirst({ where: { endedAt: null }, select: { coachId: true } });
    if (link) {
      const coachToken = await server.services.tokens.sign({ sub: link.coachId, role: 'coach' });
      await page.goto(insightsUrl(server.url, { token: coachToken }));
      await page.waitForSelector('#content[data-view="team"][data-state="done"]', { timeout: 60_000 });
      const file = path.join(docs, 'insights-team.png');
      await page.screenshot({ path: file, fullPage: true });
      console.log(`  ${path.relative(root, file)}`);
    }
  } finally {
    await browser.close();
    await server.stop();
  }
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
process.exit(0);
