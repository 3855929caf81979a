// Issue 23 §3, the population's data cacheable at the edge, through HTTP: a GET of populationPriors,
// populationModel, populationStatistics or the expert rules (athletes' view), by document or by persisted id, is
// answered `public, max-age` with a strong ETag (304 on If-None-Match) that changes when the data does; anything
// that depends on the viewer, any error, any POST stays `private, no-store`, so no shared cache can hand one
// athlete's answer to another.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientOperationsManifest } from '../../scripts/lib/client-operations.ts';
import { gqlOk } from '../support/client.ts';
import { insertAthletes, RUN_NIGHTLY, sleepStressAthlete } from '../support/learning.ts';
import { startTestServer, tokenFor, type TestServer } from '../support/server.ts';

let server: TestServer;
let persisted: TestServer;
let dir: string;
let populationId: string;
let athlete: { token: string; id: string };
let other: { token: string; id: string };
let analyst: { token: string; id: string };
let admin: { token: string; id: string };

const MAX_AGE = 120;
const PRIORS = '{ populationPriors { variable populationMean populationStd } }';
const RULES = 'query Rules($all: Boolean) { expertRules(includeInactive: $all) { name priority isActive } }';
const MODEL = '{ populationModel { fittedAt usersIncluded sigma } populationStatistics { variable mean n } }';

/** A GET of `query` (or of a persisted id) with the token and any extra headers. */
function get(target: TestServer, params: Record<string, unknown>, token: string | null, headers: Record<string, string> = {}): Promise<Response> {
  const search = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
  return fetch(`${target.url}?${search}`, { headers: { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}), ...headers } });
}

const isPrivate = (res: Response) => {
  expect(res.headers.get('cache-control')).toBe('private, no-store');
  expect(res.headers.get('etag')).toBeNull();
};

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'climbiq-population-cache-'));
  const manifest = await clientOperationsManifest();
  populationId = Object.entries(manifest).find(([, document]) => document.startsWith('query Population '))![0];
  const file = path.join(dir, 'persisted-operations.json');
  await writeFile(file, JSON.stringify(manifest));
  const env = { POPULATION_CACHE_MAX_AGE_SECONDS: String(MAX_AGE) };
  [server, persisted] = await Promise.all([startTestServer({ env }), startTestServer({ env: { ...env, PERSISTED_OPERATIONS: file } })]);
  [athlete, other, analyst, admin] = await Promise.all([tokenFor('athlete'), tokenFor('athlete'), tokenFor('analyst'), tokenFor('admin')]);
});
afterAll(async () => {
  await Promise.all([server?.close(), persisted?.close()]);
  await rm(dir, { recursive: true, force: true });
});

describe('population data over GET', () => {
  it('is public with max-age, a strong ETag and Vary: Authorization; the same ETag for every athlete; If-None-Match gives 304', async () => {
    const first = await get(server, { query: PRIORS }, athlete.token);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe(`public, max-age=${MAX_AGE}`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^"[\w-]{43}"$/); // strong: no W/
    expect(first.headers.get('vary')).toMatch(/Authorization/);
    expect(first.headers.get('x-content-type-options')).toBe('nosniff'); // the other headers of every answer stay
    const body = (await first.json()) as { data: { populationPriors: unknown[] } };
    expect(body.data.populationPriors.length).toBeGreaterThan(5);

    const second = await get(server, { query: PRIORS }, other.token);
    expect(second.headers.get('etag')).toBe(etag);

    const revalidated = await get(server, { query: PRIORS }, other.token, { 'if-none-match': etag });
    expect(revalidated.status).toBe(304);
    expect(await revalidated.text()).toBe('');
    expect(revalidated.headers.get('etag')).toBe(etag);
    expect(revalidated.headers.get('cache-control')).toBe(`public, max-age=${MAX_AGE}`);
    // Another tag: the full answer.
    expect((await get(server, { query: PRIORS }, other.token, { 'if-none-match': '"stale"' })).status).toBe(200);
  });

  it('a persisted operation id is cacheable too (the insights page Population view)', async () => {
    const first = await get(persisted, { extensions: { persistedQuery: { version: 1, sha256Hash: populationId } } }, analyst.token);
    expect(first.status).toBe(200);
    expect(first.headers.get('cache-control')).toBe(`public, max-age=${MAX_AGE}`);
    const etag = first.headers.get('etag')!;
    const again = await get(persisted, { extensions: { persistedQuery: { version: 1, sha256Hash: populationId } } }, analyst.token, { 'if-none-match': etag });
    expect(again.status).toBe(304);
  });

  it('never outlives the token that fetched it: max-age is at most the seconds the token has left', async () => {
    const { tokens } = await import('../support/server.ts');
    const shortLived = await tokens.sign({ sub: athlete.id, role: 'athlete' }, '30s');
    const res = await get(server, { query: PRIORS }, shortLived);
    const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(20);
    expect(maxAge).toBeLessThanOrEqual(30);
  });

  it('the ETag changes when an admin edits a rule or a prior', async () => {
    const rules = await get(server, { query: RULES }, athlete.token);
    const rulesTag = rules.headers.get('etag')!;
    const priors = await get(server, { query: PRIORS }, athlete.token);
    const priorsTag = priors.headers.get('etag')!;

    await gqlOk(server.url, 'mutation($name: String!) { setExpertRuleActive(name: $name, active: false) { name } }', { name: 'consecutive_days_warning' }, admin.token);
    const changed = await get(server, { query: RULES }, athlete.token, { 'if-none-match': rulesTag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('etag')).not.toBe(rulesTag);
    const names = ((await changed.json()) as { data: { expertRules: { name: string }[] } }).data.expertRules.map((r) => r.name);
    expect(names).not.toContain('consecutive_days_warning');
    await gqlOk(server.url, 'mutation($name: String!) { setExpertRuleActive(name: $name, active: true) { name } }', { name: 'consecutive_days_warning' }, admin.token);

    await gqlOk(
      server.url,
      'mutation($input: PopulationPriorInput!) { upsertPopulationPrior(input: $input) { variable } }',
      { input: { variable: 'caffeineMg', populationMean: 0.0021, populationStd: 0.004 } },
      admin.token,
    );
    const edited = await get(server, { query: PRIORS }, athlete.token, { 'if-none-match': priorsTag });
    expect(edited.status).toBe(200);
    expect(edited.headers.get('etag')).not.toBe(priorsTag);
  });

  it('the ETag changes with a nightly fit', async () => {
    const before = await get(server, { query: MODEL }, athlete.token);
    expect(before.headers.get('cache-control')).toBe(`public, max-age=${MAX_AGE}`);
    const tag = before.headers.get('etag')!;
    await insertAthletes(
      server.db.prisma,
      [1, 2, 3, 4].map((seed) => sleepStressAthlete(12, seed)),
    );
    const run = await gqlOk<{ runNightlyTraining: { status: string } }>(server.url, RUN_NIGHTLY, { wait: true }, admin.token);
    expect(run.runNightlyTraining.status).toBe('SUCCEEDED');
    const after = await get(server, { query: MODEL }, athlete.token, { 'if-none-match': tag });
    expect(after.status).toBe(200);
    expect(after.headers.get('etag')).not.toBe(tag);
    expect(((await after.json()) as { data: { populationModel: { usersIncluded: number } } }).data.populationModel.usersIncluded).toBe(4);
  });
});

describe('answers that depend on the viewer stay private, no-store', () => {
  it("an athlete's own data, and population data mixed with it: two athletes' answers differ and neither is cacheable", async () => {
    const mixed = `{ populationPriors { variable } me { id } }`;
    const mine = await get(server, { query: mixed }, athlete.token);
    const theirs = await get(server, { query: mixed }, other.token);
    expect(mine.status).toBe(200);
    isPrivate(mine);
    isPrivate(theirs);
    expect(((await mine.json()) as { data: { me: { id: string } } }).data.me.id).toBe(athlete.id);
    expect(((await theirs.json()) as { data: { me: { id: string } } }).data.me.id).toBe(other.id);
    // A personal field inside a fragment on the root is seen too.
    isPrivate(await get(server, { query: '{ ...F } fragment F on Query { populationModel { sigma } modelOutput { phase } }' }, athlete.token));
    isPrivate(await get(server, { query: '{ me { id } }' }, athlete.token));
  });

  it("the rules as an analyst sees them with includeInactive (literal or variable) are not the athletes' view", async () => {
    isPrivate(await get(server, { query: RULES, variables: { all: true } }, analyst.token));
    isPrivate(await get(server, { query: '{ expertRules(includeInactive: true) { name } }' }, analyst.token));
    const athletesView = await get(server, { query: RULES, variables: { all: false } }, analyst.token);
    expect(athletesView.headers.get('cache-control')).toBe(`public, max-age=${MAX_AGE}`);
  });

  it('an error (no token, a bad token), a POST, and the check-in stay private', async () => {
    const anonymous = await get(server, { query: PRIORS }, null);
    expect(((await anonymous.json()) as { errors: { extensions: { code: string } }[] }).errors[0].extensions.code).toBe('UNAUTHENTICATED');
    isPrivate(anonymous);
    isPrivate(await get(server, { query: PRIORS }, 'not-a-token'));
    isPrivate(await get(server, { query: '{ populationPriors { nope } }' }, athlete.token));
    const post = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${athlete.token}` },
      body: JSON.stringify({ query: PRIORS }),
    });
    expect(post.status).toBe(200);
    isPrivate(post);
    isPrivate(await get(server, { query: 'query($i: PreSessionInput!) { recommendation(input: $i) { sessionType } }', variables: { i: { sleepHours: 7 } } }, athlete.token));
  });
});
