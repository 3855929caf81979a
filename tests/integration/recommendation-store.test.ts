// Issue 8 section 1 through the real server: every recommendation (stream or query, MODEL or RULE_OVERRIDE)
// is stored as a typed record, DONE names it, a session started with it links to it (idempotently, only the
// athlete's own), and a start sent right after DONE waits for the batch that stores it.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { collect, gql, gqlOk, wsClient, type Collected, type Counted } from '../support/client.ts';
import { completeSession } from '../support/learning.ts';
import { roundRating } from '../../src/engine/rounding.ts';
import { newRecommendationId, RecommendationWriter } from '../../src/resolvers/recommendation-store.ts';
import { coldStartPrediction, eventOf, MULTIPLIER_CHECK_IN, OPERATOR, recommendation, streamWs } from '../support/recommendation.ts';
import { createMigratedTestDatabase, dropTestDatabase, startTestServer, tokenFor, usingPostgres, type TestServer } from '../support/server.ts';

let server: TestServer;
const statements: string[] = [];
beforeAll(async () => {
  server = await startTestServer({ onQuery: (sql) => statements.push(sql) });
});
afterAll(async () => {
  await server?.close();
});

const PULLEY = { ...OPERATOR, pulleyInjuryGrade: 2 };
const RECOMMENDATION = `
  id createdAt source sessionType
  checkIn { sleepHours energyLevel stressLevel pulleyInjuryGrade sorenessLevel currentNiggles { location severity } }
  prediction { expectedQuality rawQuality interval { low high } phase confidence }
  override { rule category sessionType message }
  rulesApplied predictionMultiplier warnings { rule category }
  personalization { phase sessionsIncluded hasBaseline hasPersonalization }
  modelFittedAt modelSessionsIncluded
  statisticalContext { personalHistory { n } insights }
  user { id }`;
const START = `mutation($input: StartSessionInput!) {
  startSession(input: $input) { id status sleepHours energyLevel stressLevel location recommendation { ${RECOMMENDATION} } }
}`;

/** What RECOMMENDATION selects of a stored recommendation. */
interface Stored {
  id: string;
  createdAt: string;
  source: string;
  sessionType: string;
  checkIn: {
    sleepHours: number | null;
    energyLevel: number | null;
    stressLevel: number | null;
    pulleyInjuryGrade: number | null;
    sorenessLevel: number | null;
    currentNiggles: { location: string; severity: number }[] | null;
  };
  prediction: { expectedQuality: number; rawQuality: number; interval: { low: number; high: number }; phase: string; confidence: string } | null;
  override: { rule: string; category: string; sessionType: string; message: string } | null;
  rulesApplied: string[];
  predictionMultiplier: number;
  warnings: { rule: string; category: string }[];
  personalization: { phase: string; sessionsIncluded: number; hasBaseline: boolean; hasPersonalization: boolean };
  modelFittedAt: string | null;
  modelSessionsIncluded: number;
  statisticalContext: { personalHistory: { n: number }; insights: string[] };
  user: { id: string };
}
/** What START selects. */
type Started = {
  startSession: { id: string; status: string; sleepHours: number | null; energyLevel: number | null; stressLevel: number | null; location: string | null; recommendation: Stored | null };
};
/** What LIST (below) selects. */
type Listed = { sessions: Counted<{ id: string; recommendation: { source: string; rulesApplied: string[] } | null }> };

const start = (token: string, input: Record<string, unknown>) => gql<Started>(server.url, START, { input }, token);
const startOk = async (token: string, input: Record<string, unknown>) => (await gqlOk<Started>(server.url, START, { input }, token)).startSession;
const storedCount = (userId: string) => server.services.prisma.recommendation.count({ where: { userId } });
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A new athlete's `recommendation` answer as stored (the server's writer drained): a row to enqueue copies of. */
async function storedAnswer() {
  const { token } = await tokenFor('athlete');
  const { recommendation } = await gqlOk<{ recommendation: { id: string } }>(server.url, `query($input: PreSessionInput!) { recommendation(input: $input) { id } }`, { input: OPERATOR }, token);
  await server.services.recommendations.close();
  return server.services.prisma.recommendation.findUniqueOrThrow({ where: { id: recommendation.id } });
}

describe('stored recommendations', () => {
  it('a MODEL stream: DONE names the stored record, whose typed fields are what the stream said', async () => {
    const { token, id } = await tokenFor('athlete');
    const out = await streamWs(server.wsUrl, token, OPERATOR);
    expect(out.errors).toEqual([]);
    const done = eventOf(out.events, 'DONE');
    const prediction = eventOf(out.events, 'PREDICTION').prediction!;
    expect(done.recommendationId).toMatch(UUID);
    expect(done).toMatchObject({ source: 'MODEL', sessionType: 'VOLUME' });
    expect(done.expectedQuality).toBeCloseTo(roundRating(coldStartPrediction(OPERATOR).expected), 10);

    // Starting with it takes the check-in from the recommendation and links the record.
    const session = await startOk(token, { recommendationId: done.recommendationId, location: 'Gym' });
    expect(session).toMatchObject({ status: 'ACTIVE', sleepHours: 7, energyLevel: 4, stressLevel: 2, location: 'Gym' });
    const rec = session.recommendation!;
    expect(rec).toMatchObject({
      id: done.recommendationId,
      source: 'MODEL',
      sessionType: 'VOLUME',
      checkIn: { sleepHours: 7, energyLevel: 4, stressLevel: 2, pulleyInjuryGrade: null, sorenessLevel: null, currentNiggles: null },
      override: null,
      rulesApplied: [],
      predictionMultiplier: 1,
      personalization: { phase: 'COLD_START', sessionsIncluded: 0, hasBaseline: false, hasPersonalization: false },
      modelFittedAt: null, // the priors: no nightly fit yet
      modelSessionsIncluded: 0,
      statisticalContext: { personalHistory: { n: 0 } },
      user: { id },
    });
    expect(rec.prediction).toEqual({ expectedQuality: prediction.expectedQuality, rawQuality: prediction.rawQuality, interval: prediction.interval, phase: 'COLD_START', confidence: 'LOW' });
    expect(rec.statisticalContext.insights).toEqual(eventOf(out.events, 'STATS').context!.insights);
    expect(Date.now() - Date.parse(rec.createdAt)).toBeLessThan(10 * 60_000);
    expect(await storedCount(id)).toBe(1);
  });

  it('a RULE_OVERRIDE stream: DONE has no expected quality; the record keeps the rule and its effect', async () => {
    const { token, id } = await tokenFor('athlete');
    const out = await streamWs(server.wsUrl, token, PULLEY);
    const done = eventOf(out.events, 'DONE');
    expect(done).toMatchObject({ source: 'RULE_OVERRIDE', sessionType: 'REST_DAY', expectedQuality: null });
    const session = await startOk(token, { recommendationId: done.recommendationId });
    expect(session.recommendation).toMatchObject({
      id: done.recommendationId,
      source: 'RULE_OVERRIDE',
      sessionType: 'REST_DAY',
      prediction: null,
      override: { rule: 'pulley_injury_grade2_plus', category: 'SAFETY', sessionType: 'REST_DAY' },
      rulesApplied: ['pulley_injury_grade2_plus'],
      warnings: [{ rule: 'pulley_injury_grade2_plus', category: 'SAFETY' }],
      statisticalContext: null,
      checkIn: { pulleyInjuryGrade: 2 },
    });
    // The matched rule is queryable in SQL (what the insights and filters group on).
    const rows = await server.services.prisma.recommendation.findMany({ where: { userId: id, matchedRules: { has: 'pulley_injury_grade2_plus' } } });
    expect(rows.map((r) => r.id)).toEqual([done.recommendationId]);
  });

  it("an analyst filters sessions by their recommendation's source and by a rule it matched; an unknown rule is refused", async () => {
    const { token, id } = await tokenFor('athlete');
    const analyst = await tokenFor('analyst');
    const model = await startOk(token, { recommendationId: eventOf((await streamWs(server.wsUrl, token, OPERATOR)).events, 'DONE').recommendationId });
    const overridden = await startOk(token, { recommendationId: eventOf((await streamWs(server.wsUrl, token, PULLEY)).events, 'DONE').recommendationId });
    await startOk(token, { sleepHours: 7 }); // recommended on at the start: linked too
    const LIST = `query($userId: ID, $source: RecommendationSource, $rule: String) {
      sessions(userId: $userId, source: $source, rule: $rule) { totalCount edges { node { id recommendation { source rulesApplied } } } }
    }`;
    const list = async (vars: Record<string, unknown>) => (await gqlOk<Listed>(server.url, LIST, { userId: id, ...vars }, analyst.token)).sessions;
    const ids = (page: Listed['sessions']) => page.edges.map((e) => e.node.id).sort();

    const all = await list({});
    expect(all.totalCount).toBe(3);
    const bySource = (source: string) =>
      all.edges
        .filter((e) => e.node.recommendation?.source === source)
        .map((e) => e.node.id)
        .sort();
    expect(bySource('RULE_OVERRIDE')).toEqual([overridden.id]);
    for (const source of ['MODEL', 'RULE_OVERRIDE']) {
      const page = await list({ source });
      expect(ids(page)).toEqual(bySource(source));
      expect(page.totalCount).toBe(bySource(source).length);
    }
    expect(bySource('MODEL')).toContain(model.id);

    // By rule: exactly the sessions whose recommendation lists it, counted the same way.
    const rule = overridden.recommendation!.rulesApplied[0];
    const expected = all.edges
      .filter((e) => e.node.recommendation?.rulesApplied.includes(rule))
      .map((e) => e.node.id)
      .sort();
    const byRule = await list({ rule });
    expect(ids(byRule)).toEqual(expected);
    expect(byRule.totalCount).toBe(expected.length);
    expect(expected).toContain(overridden.id);
    expect(ids(await list({ rule, source: 'MODEL' }))).toEqual([]);

    const unknown = await gql(server.url, LIST, { userId: id, rule: 'no_such_rule' }, analyst.token);
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'rule' });
    expect(unknown.errors?.[0].message).toContain('no_such_rule');
    // An athlete's own list takes the same filters.
    expect(ids((await gqlOk<Listed>(server.url, LIST, { source: 'RULE_OVERRIDE' }, token)).sessions)).toEqual([overridden.id]);
  });

  it('the recommendation query is stored too, with its id and createdAt, and rule multipliers recorded', async () => {
    const { token, id } = await tokenFor('athlete');
    const input = MULTIPLIER_CHECK_IN;
    const rec = await recommendation(server.url, token, input);
    expect(rec.id).toMatch(UUID);
    expect(rec.rulesApplied.length).toBeGreaterThan(0);
    const session = await startOk(token, { recommendationId: rec.id });
    expect(session.recommendation).toMatchObject({ id: rec.id, createdAt: rec.createdAt, sessionType: rec.sessionType, rulesApplied: rec.rulesApplied });
    expect(session.recommendation?.prediction?.expectedQuality).toBe(rec.prediction!.expectedQuality);
    const row = await server.services.prisma.recommendation.findUniqueOrThrow({ where: { id: rec.id } });
    // expected = the expected rating given the bounds x the product of the matched rules' multipliers (clamped to the scale)
    expect(row.predictionMultiplier).not.toBe(1);
    const model = coldStartPrediction(input);
    expect(row.rawQuality).toBeCloseTo(model.raw, 10);
    expect(row.expectedQuality).toBeCloseTo(Math.min(10, Math.max(1, model.expected * row.predictionMultiplier)), 6);
    expect(await storedCount(id)).toBe(1);
    // The answer leaves stored: its relations resolve at once.
    const linked = await gqlOk<{ recommendation: { id: string; user: { id: string }; session: { id: string } | null } }>(
      server.url,
      `query($input: PreSessionInput!) { recommendation(input: $input) { id user { id } session { id } } }`,
      { input: OPERATOR },
      token,
    );
    expect(linked.recommendation).toMatchObject({ user: { id }, session: null });
    expect(await storedCount(id)).toBe(2);
  });

  it('streams finishing together are written in one batch: every DONE id stored, fewer INSERTs than streams', async () => {
    const { token } = await tokenFor('athlete');
    await streamWs(server.wsUrl, token, OPERATOR); // warm the athlete's caches
    // Twelve check-ins on one open connection arrive together, so their streams finish in the same turns.
    const client = wsClient(server.wsUrl, token);
    try {
      await collect(client, '{ __typename }'); // connected before the burst
      await server.services.recommendations.close(); // nothing pending from the warm-up
      const before = statements.length;
      const query = `subscription($input: PreSessionInput!) { preSessionRecommendation(input: $input) { type ... on DoneEvent { recommendationId } } }`;
      const outs = await Promise.all(
        Array.from({ length: 12 }, (_, i) => collect<{ preSessionRecommendation: { type: string; recommendationId?: string } }>(client, query, { input: { ...OPERATOR, sleepHours: 6 + i / 10 } })),
      );
      const ids = outs.map((o) => o.events.at(-1)?.preSessionRecommendation.recommendationId as string);
      expect(new Set(ids).size).toBe(12);
      await server.services.recommendations.close();
      const stored = await server.services.prisma.recommendation.findMany({ where: { id: { in: ids } }, select: { id: true, checkIn: true } });
      const sleepOf = new Map(stored.map((r) => [r.id, (r.checkIn as { sleepHours: number }).sleepHours]));
      expect(ids.map((id) => sleepOf.get(id))).toEqual(Array.from({ length: 12 }, (_, i) => 6 + i / 10));
      // The writer's statements: the INSERT itself (PostgreSQL), or the call of its session function (PGlite).
      const inserts = statements.slice(before).filter((sql) => !/^CREATE/i.test(sql) && /INSERT INTO ("public"\.)?"recommendations"|climbiq_store_recommendations\(/i.test(sql));
      expect(inserts.length).toBeGreaterThan(0);
      expect(inserts.length).toBeLessThan(12);
    } finally {
      await client.dispose();
    }
  });

  it("a MODEL answer's contributions, suggestions and constraints are stored without their field names and read back as answered; a row written before (objects) reads the same", async () => {
    const { token } = await tokenFor('athlete');
    const input = { ...MULTIPLIER_CHECK_IN, warmupMin: 0, caffeineMg: 0 };
    const ADVICE = `prediction { contributions { variable value } }
      constraints { sessionTypeCeiling suggestedSessionType avoid include warmupMin maxDurationMin reduceVolume hydrationBreaks }
      suggestions { variable from to expectedGain message }`;
    const answered = (
      await gqlOk<{ recommendation: { id: string; prediction: { contributions: unknown[] } } & Record<string, unknown> }>(
        server.url,
        `query($input: PreSessionInput!) { recommendation(input: $input) { id ${ADVICE} } }`,
        { input },
        token,
      )
    ).recommendation;
    expect(answered.prediction.contributions).toHaveLength(9);
    expect(answered.suggestions).not.toEqual([]);
    expect(answered.constraints).not.toBeNull();
    const { id, ...advice } = answered;
    const readBack = async () =>
      (
        await gqlOk<{ startSession: { recommendation: Record<string, unknown> } }>(
          server.url,
          `mutation($input: StartSessionInput!) { startSession(input: $input) { recommendation { ${ADVICE} } } }`,
          { input: { recommendationId: id } },
          token,
        )
      ).startSession.recommendation;
    expect(await readBack()).toEqual(advice);

    // As stored: positional arrays, in the fields' order ([variable, value]; [variable, from, to, expectedGain, message]).
    const [stored] = await server.services.prisma.$queryRawUnsafe<{ contributions: unknown[][]; suggestions: unknown[][]; constraints: unknown[] }[]>(
      `SELECT contributions, suggestions, constraints FROM recommendations WHERE id = $1::uuid`,
      id,
    );
    expect(stored.contributions).toEqual((answered.prediction.contributions as { variable: string; value: number }[]).map((c) => [c.variable, c.value]));
    expect(stored.suggestions).toEqual((advice.suggestions as Record<string, unknown>[]).map((x) => [x.variable, x.from, x.to, x.expectedGain, x.message]));
    expect(Array.isArray(stored.constraints)).toBe(true);

    // A row written before: the API's objects, as the writer stored them until then.
    const objects = (column: string, fields: string[]) =>
      `(SELECT jsonb_agg(jsonb_build_object(${fields.map((f, i) => `'${f}', e->${i}`).join(', ')}) ORDER BY i) FROM jsonb_array_elements(r."${column}"::jsonb) WITH ORDINALITY AS x(e, i))`;
    const constraintFields = ['sessionTypeCeiling', 'suggestedSessionType', 'avoid', 'include', 'warmupMin', 'maxDurationMin', 'reduceVolume', 'hydrationBreaks'];
    await server.services.prisma.$executeRawUnsafe(
      `UPDATE recommendations r SET contributions = ${objects('contributions', ['variable', 'value'])},
         suggestions = ${objects('suggestions', ['variable', 'from', 'to', 'expectedGain', 'message'])},
         constraints = jsonb_build_object(${constraintFields.map((f, i) => `'${f}', r.constraints::jsonb->${i}`).join(', ')})
       WHERE id = $1::uuid`,
      id,
    );
    const [before] = await server.services.prisma.$queryRawUnsafe<{ kinds: string[] }[]>(
      `SELECT ARRAY[json_typeof(contributions->0), json_typeof(suggestions->0), json_typeof(constraints)] AS kinds FROM recommendations WHERE id = $1::uuid`,
      id,
    );
    expect(before.kinds).toEqual(['object', 'object', 'object']);
    expect(await readBack()).toEqual(advice);
  });

  it('a stored answer whose history summary was deleted by hand answers its statisticalContext with a masked error and its other fields as stored (docs/operations.md: no foreign key keeps the summary)', async () => {
    const { token } = await tokenFor('athlete');
    const { recommendation: answered } = await gqlOk<{ recommendation: { id: string; sessionType: string; statisticalContext: { personalHistory: { n: number } } | null } }>(
      server.url,
      `query($input: PreSessionInput!) { recommendation(input: $input) { id sessionType statisticalContext { personalHistory { n } } } }`,
      { input: OPERATOR },
      token,
    );
    expect(answered.statisticalContext).not.toBeNull();
    await server.services.recommendations.flush();
    const { prisma } = server.services;
    const { personalHistoryId } = await prisma.recommendation.findUniqueOrThrow({ where: { id: answered.id } });
    expect(personalHistoryId).toMatch(UUID);
    // The summary is shared by every answer of the same history (new athletes': the same one): put back afterwards.
    const summary = await prisma.historySummary.findUniqueOrThrow({ where: { id: personalHistoryId as string } });
    await prisma.historySummary.delete({ where: { id: summary.id } });
    try {
      const read = await gql<{ startSession: { recommendation: { id: string; sessionType: string; statisticalContext: unknown } } }>(
        server.url,
        `mutation($input: StartSessionInput!) { startSession(input: $input) { recommendation { id sessionType statisticalContext { personalHistory { n } } } } }`,
        { input: { recommendationId: answered.id } },
        token,
      );
      expect(read.data?.startSession.recommendation).toEqual({ id: answered.id, sessionType: answered.sessionType, statisticalContext: null });
      expect(read.errors).toHaveLength(1);
      expect(read.errors?.[0].path).toEqual(['startSession', 'recommendation', 'statisticalContext']);
      expect(read.errors?.[0].message).toBe('Unexpected error.');
    } finally {
      await prisma.historySummary.create({ data: { id: summary.id, summary: summary.summary as object, createdAt: summary.createdAt } });
    }
  });
});

describe("the writer's batches (each row's JSON made in the event-loop turn it was answered in, written into a statement's buffer)", () => {
  it('sixty answers queued in one turn are stored in one statement, each row whole', async () => {
    const original = await storedAnswer();
    const writer = server.services.recommendations;
    const ids = Array.from({ length: 60 }, () => newRecommendationId());
    const statementsBefore = writer.totals.inserts;
    for (const [i, id] of ids.entries()) writer.enqueue({ ...original, id, checkIn: { ...OPERATOR, sleepHours: 5 + i / 20 } });
    await writer.close();
    expect(writer.totals.inserts - statementsBefore).toBe(1);
    const stored = await server.services.prisma.recommendation.findMany({ where: { id: { in: ids } } });
    const byId = new Map(stored.map((r) => [r.id, r]));
    for (const [i, id] of ids.entries()) {
      const { id: _id, checkIn, ...rest } = byId.get(id)!;
      const { id: _original, checkIn: _originalCheckIn, ...expected } = original;
      expect(checkIn).toEqual({ ...OPERATOR, sleepHours: 5 + i / 20 });
      expect(rest).toEqual(expected);
    }
  });

  it('a batch of more than 200 rows goes out as several statements; text beyond ASCII reads back as it was', async () => {
    const original = await storedAnswer();
    const writer = server.services.recommendations;
    const message = 'Über 35 °C — trink ≥ 0,5 l/h 🧗 "quoted" \\ back\nslash';
    const ids = Array.from({ length: 230 }, () => newRecommendationId());
    const statementsBefore = writer.totals.inserts;
    for (const [i, id] of ids.entries()) writer.enqueue({ ...original, id, overrideMessage: i % 2 ? message : null, matchedRules: [`régle-${i}`] });
    await writer.close();
    expect(writer.totals.inserts - statementsBefore).toBe(2); // 200 rows a statement at most
    const stored = await server.services.prisma.recommendation.findMany({ where: { id: { in: ids } }, select: { id: true, overrideMessage: true, matchedRules: true } });
    const byId = new Map(stored.map((r) => [r.id, r]));
    expect(ids.map((id) => byId.get(id))).toEqual(ids.map((id, i) => ({ id, overrideMessage: i % 2 ? message : null, matchedRules: [`régle-${i}`] })));
  });

  it("a statement's column buffers, used again for the statements after it, carry only their own rows", async () => {
    const original = await storedAnswer();
    const { db } = server.services;
    const writer = new RecommendationWriter(db.sql, { sessionFunction: db.kind === 'pglite', coalesceMs: 0 });
    const long = 'x'.repeat(3000);
    // Statement after statement, each written before the next is queued: larger rows with NULLs first, then smaller
    // ones without, then an empty distribution, so anything one left in a reused buffer would show in the next.
    const batches = [
      Array.from({ length: 12 }, (_, i) => ({ ...original, id: newRecommendationId(), overrideMessage: i % 2 ? long : null, matchedRules: [`rule-${i}`, long], expectedQuality: null })),
      Array.from({ length: 3 }, (_, i) => ({ ...original, id: newRecommendationId(), overrideMessage: `short ${i}`, matchedRules: [] })),
      [{ ...original, id: newRecommendationId(), distribution: [], contributions: null }],
      Array.from({ length: 5 }, () => ({ ...original, id: newRecommendationId() })),
    ];
    for (const rows of batches) {
      for (const row of rows) writer.enqueue(row);
      await writer.written(rows[rows.length - 1].id);
    }
    expect(writer.totals.inserts).toBe(batches.length);
    const rows = batches.flat();
    const stored = await server.services.prisma.recommendation.findMany({ where: { userId: original.userId, id: { not: original.id } }, orderBy: { id: 'asc' } });
    expect(stored).toEqual([...rows].sort((a, b) => a.id.localeCompare(b.id)));
    await writer.close();
  });

  it("the column arrays carry every value as it was: array elements that need quoting, control characters, NULLs, a double's extremes", async () => {
    const original = await storedAnswer();
    const writer = server.services.recommendations;
    const awkward = 'tab\there, "quote" \\ back\\slash {brace} NULL\nnew line\r\n ünïcödé 🧗';
    const rules = ['say "hi"', 'back\\slash', 'a,b{c}', 'NULL', '', ' padded ', awkward];
    const context = original.statisticalContext as { insights: string[] };
    const variants: Partial<typeof original>[] = [
      {
        matchedRules: rules,
        overrideRule: awkward,
        overrideMessage: awkward,
        overrideCategory: 'SAFETY',
        distribution: [5e-324, 0.1 + 0.2, 1e21, -1.5e-7, 1],
        statisticalContext: { ...context, insights: [awkward, ''] } as typeof original.statisticalContext,
        warnings: [{ rule: awkward, category: 'SAFETY', message: awkward }] as unknown as typeof original.warnings,
      },
      // Every nullable column NULL, empty arrays.
      {
        matchedRules: [],
        distribution: [],
        expectedQuality: null,
        rawQuality: null,
        intervalLow: null,
        intervalHigh: null,
        confidence: null,
        modelFittedAt: null,
        overrideRule: null,
        overrideCategory: null,
        overrideMessage: null,
        constraints: null,
        contributions: null,
      },
    ];
    const rows = variants.map((v) => ({ ...original, ...v, id: newRecommendationId() }));
    for (const row of rows) writer.enqueue(row);
    await writer.close();
    const stored = await server.services.prisma.recommendation.findMany({ where: { id: { in: rows.map((r) => r.id) } } });
    const byId = new Map(stored.map((r) => [r.id, r]));
    for (const row of rows) expect(byId.get(row.id)).toEqual(row);
  });

  it('a failed write: the log says so, a reader waiting for one of its rows gets the error, and the next batch is stored', async () => {
    const original = await storedAnswer();
    const { db } = server.services;
    const logged: string[] = [];
    const writer = new RecommendationWriter(db.sql, { sessionFunction: db.kind === 'pglite', log: (msg) => logged.push(msg) });
    // The first row's user does not exist: the check of its athlete (a trigger, no longer a foreign key) fails the whole statement.
    const lost = [newRecommendationId(), newRecommendationId()];
    writer.enqueue({ ...original, id: lost[0], userId: '00000000-0000-4000-8000-00000000dead' });
    writer.enqueue({ ...original, id: lost[1] });
    await expect(writer.written(lost[1])).rejects.toThrow(/foreign key/);
    expect(logged).toEqual([expect.stringMatching(/^\[ENGINE\] 2 recommendation\(s\) could not be stored: .*foreign key/)]);
    // A row whose JSON cannot be made (a BigInt) is not stored, the same way; the rows beside it, before and after it
    // in its statement, are, whole (none of its columns is left behind in the statement's column arrays).
    const [previous, unwritable, next] = [newRecommendationId(), newRecommendationId(), newRecommendationId()];
    writer.enqueue({ ...original, id: previous });
    writer.enqueue({ ...original, id: unwritable, checkIn: { sleepHours: 10n } as unknown as typeof original.checkIn });
    writer.enqueue({ ...original, id: next });
    await expect(writer.written(unwritable)).rejects.toThrow(/BigInt/);
    await writer.written(next);
    expect(logged[1]).toMatch(/^\[ENGINE\] 1 recommendation\(s\) could not be stored: .*BigInt/);
    expect(await server.services.prisma.recommendation.count({ where: { id: { in: [...lost, unwritable] } } })).toBe(0);
    const beside = await server.services.prisma.recommendation.findMany({ where: { id: { in: [previous, next] } }, orderBy: { id: 'asc' } });
    expect(beside).toEqual([previous, next].map((id) => ({ ...original, id })));
    await writer.close();
  });

  it("a stored answer's athlete is kept as a foreign key kept it (now a trigger per statement): a row of a missing athlete is refused, an athlete's new id moves their answers, deleting an athlete deletes theirs", async () => {
    const [mine, theirs] = [await storedAnswer(), await storedAnswer()];
    const { db, prisma } = server.services;
    const writer = new RecommendationWriter(db.sql, { sessionFunction: db.kind === 'pglite', log: () => {} });
    // One statement of two athletes' rows and a third whose athlete does not exist: none is stored.
    const missing = '00000000-0000-4000-8000-00000000beef';
    const ids = [newRecommendationId(), newRecommendationId(), newRecommendationId()];
    writer.enqueue({ ...mine, id: ids[0] });
    writer.enqueue({ ...theirs, id: ids[1] });
    writer.enqueue({ ...mine, id: ids[2], userId: missing });
    await expect(writer.written(ids[0])).rejects.toThrow(/foreign key check "recommendations_user_check"/);
    expect(await prisma.recommendation.count({ where: { id: { in: ids } } })).toBe(0);
    // Nor can a stored answer be moved to a missing athlete.
    await expect(prisma.recommendation.update({ where: { id: mine.id }, data: { userId: missing } })).rejects.toThrow(/foreign key check/);
    // An athlete's id changed in the database takes their answers along (the foreign key's ON UPDATE CASCADE).
    const renamed = randomUUID();
    await prisma.$executeRaw`UPDATE "users" SET "id" = ${renamed}::uuid WHERE "id" = ${theirs.userId}::uuid`;
    expect(await prisma.recommendation.findUniqueOrThrow({ where: { id: theirs.id } })).toEqual({ ...theirs, userId: renamed });
    // Deleting an athlete deletes their answers (ON DELETE CASCADE), and only theirs.
    await prisma.user.delete({ where: { id: mine.userId } });
    expect(await prisma.recommendation.count({ where: { userId: mine.userId } })).toBe(0);
    expect(await prisma.recommendation.count({ where: { userId: renamed } })).toBe(1);
    await writer.close();
  });

  // PostgreSQL only (two connections): the trigger locks the athletes' rows as the foreign key's check did.
  it.runIf(usingPostgres)('an athlete deleted while their answer is being stored: the delete waits and takes it along, or the store fails', async () => {
    const [first, second] = [await storedAnswer(), await storedAnswer()];
    const writing = new pg.Client({ connectionString: server.databaseUrl! });
    const deleting = new pg.Client({ connectionString: server.databaseUrl! });
    await writing.connect();
    await deleting.connect();
    // A copy of a stored answer under a new id, as one statement.
    const copy = (from: { id: string }) =>
      writing.query(`INSERT INTO "recommendations" SELECT (json_populate_record(r, json_build_object('id', $1::uuid))).* FROM "recommendations" r WHERE "id" = $2`, [newRecommendationId(), from.id]);
    try {
      // The store first (not committed yet), then the athlete's delete: it waits for the store, then deletes its row too.
      await writing.query('BEGIN');
      await copy(first);
      let deleted = false;
      const deletion = deleting.query('DELETE FROM "users" WHERE "id" = $1', [first.userId]).then(() => (deleted = true));
      await new Promise((r) => setTimeout(r, 300));
      expect(deleted).toBe(false);
      await writing.query('COMMIT');
      await deletion;
      expect(await storedCount(first.userId)).toBe(0);
      // The delete first (not committed yet), then a store for that athlete: it waits, then fails.
      await deleting.query('BEGIN');
      await deleting.query('DELETE FROM "users" WHERE "id" = $1', [second.userId]);
      const storing = copy(second).then(
        () => 'stored',
        (err: Error & { code?: string }) => err.code,
      );
      await new Promise((r) => setTimeout(r, 300));
      await deleting.query('COMMIT');
      expect(await storing).toBe('23503');
      expect(await storedCount(second.userId)).toBe(0);
    } finally {
      await writing.end();
      await deleting.end();
    }
  });
});

describe("the writer's coalescing wait (WRITE_COALESCE_MS)", () => {
  it('answers queued in consecutive event-loop turns share one statement; a reader waiting for a row has it written at once', async () => {
    const original = await storedAnswer();
    const { db } = server.services;
    // The server's writer waits 5 ms; this one a second, so that the machine's load cannot split the batch.
    const writer = new RecommendationWriter(db.sql, { sessionFunction: db.kind === 'pglite', coalesceMs: 1_000, log: () => {} });
    const ids = Array.from({ length: 5 }, () => newRecommendationId());
    for (const id of ids) {
      writer.enqueue({ ...original, id });
      await new Promise((resolve) => setImmediate(resolve)); // each answer in an event-loop turn of its own
    }
    expect(writer.totals.inserts).toBe(0); // the first row waits for the others
    const waited = performance.now();
    await writer.written(ids[2]); // startSession right after DONE: no coalescing wait
    expect(performance.now() - waited).toBeLessThan(900);
    expect(writer.totals).toMatchObject({ inserts: 1, rows: 5 });
    expect(await server.services.prisma.recommendation.count({ where: { id: { in: ids } } })).toBe(5);
    await writer.close();
  });
});

describe("the analyst's rollups over streamed recommendations", () => {
  it('equal a recount of the sessions and the recommendations they were started with', async () => {
    const { token } = await tokenFor('athlete');
    const checkIns = [OPERATOR, MULTIPLIER_CHECK_IN, PULLEY, { ...OPERATOR, sleepHours: 5 }, { ...OPERATOR, energyLevel: 8 }, { ...MULTIPLIER_CHECK_IN, stressLevel: 7 }];
    // Streamed together, so their rows share the writer's batches; each started the moment its DONE arrives and rated.
    const dones = await Promise.all(checkIns.map(async (input) => eventOf((await streamWs(server.wsUrl, token, input)).events, 'DONE')));
    for (const [i, done] of dones.entries()) {
      const session = await startOk(token, { recommendationId: done.recommendationId });
      await completeSession(server.url, token, session.id, { sessionQuality: 3 + i });
    }
    const prisma = server.services.prisma;
    const drift = await prisma.$queryRawUnsafe<{ n: number }[]>(`
      WITH done AS (
        SELECT s."startedAt"::date AS day, s."sessionQuality" AS quality, r.* FROM "climbing_sessions" s
        JOIN "recommendations" r ON r."id" = s."recommendationId"
        WHERE s."status" = 'COMPLETED' AND s."sessionQuality" IS NOT NULL),
      rules AS (SELECT day, rule, quality, count(*)::int AS sessions FROM done CROSS JOIN LATERAL unnest("matchedRules") AS rule GROUP BY 1, 2, 3),
      predictions AS (
        SELECT day, phase, LEAST(GREATEST(floor("expectedQuality"), 1), 9)::int AS band, count(*)::int AS sessions,
          round(sum("expectedQuality")::numeric, 6) AS predicted, sum(quality)::int AS actual,
          sum(CASE WHEN quality BETWEEN "intervalLow" AND "intervalHigh" THEN 1 ELSE 0 END)::int AS covered
        FROM done WHERE source = 'MODEL' AND "expectedQuality" IS NOT NULL GROUP BY 1, 2, 3),
      rule_rollup AS (SELECT day, rule, quality, sessions FROM "session_rule_days" WHERE sessions <> 0),
      prediction_rollup AS (
        SELECT day, phase, band, sessions, round(predicted::numeric, 6) AS predicted, actual::int AS actual, covered
        FROM "session_prediction_days" WHERE sessions <> 0)
      SELECT ((SELECT count(*) FROM (TABLE rules EXCEPT TABLE rule_rollup) a) + (SELECT count(*) FROM (TABLE rule_rollup EXCEPT TABLE rules) b)
        + (SELECT count(*) FROM (TABLE predictions EXCEPT TABLE prediction_rollup) c) + (SELECT count(*) FROM (TABLE prediction_rollup EXCEPT TABLE predictions) d))::int AS n`);
    expect(drift[0].n).toBe(0);
    // and the ones written here are in them: MODEL predictions and matched rules alike
    const mine = await prisma.recommendation.findMany({ where: { id: { in: dones.map((d) => d.recommendationId!) } }, select: { source: true, matchedRules: true } });
    expect(mine).toHaveLength(checkIns.length);
    expect(mine.some((r) => r.source === 'MODEL')).toBe(true);
    expect(mine.some((r) => r.matchedRules.length > 0)).toBe(true);
  });
});

describe('startSession with a recommendationId', () => {
  it('is idempotent: a repeated start, and two concurrent starts, return the one session', async () => {
    const { token, id } = await tokenFor('athlete');
    const rec = await recommendation(server.url, token, OPERATOR);
    const first = await startOk(token, { recommendationId: rec.id });
    const again = await startOk(token, { recommendationId: rec.id, location: 'ignored on a retry' });
    expect(again.id).toBe(first.id);
    expect(again.location).toBeNull();

    const other = await recommendation(server.url, token, { ...OPERATOR, energyLevel: 6 });
    const [a, b] = await Promise.all([start(token, { recommendationId: other.id }), start(token, { recommendationId: other.id })]);
    expect(a.errors).toBeUndefined();
    expect(b.errors).toBeUndefined();
    expect(a.data!.startSession.id).toBe(b.data!.startSession.id);
    expect(a.data!.startSession.recommendation?.id).toBe(other.id);
    expect(await server.services.prisma.climbingSession.count({ where: { userId: id } })).toBe(2);
  });

  it("refuses another athlete's recommendation (FORBIDDEN) and an unknown one (NOT_FOUND), naming the field", async () => {
    const owner = await tokenFor('athlete');
    const intruder = await tokenFor('athlete');
    const rec = await recommendation(server.url, owner.token, OPERATOR);
    const res = await start(intruder.token, { recommendationId: rec.id });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'FORBIDDEN', field: 'recommendationId' });
    expect(await server.services.prisma.climbingSession.count({ where: { userId: intruder.id } })).toBe(0);
    const unknown = await start(owner.token, { recommendationId: '00000000-0000-4000-8000-00000000abcd' });
    expect(unknown.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'recommendationId' });
    const malformed = await start(owner.token, { recommendationId: 'nope' });
    expect(malformed.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT' });
  });

  it('started on the same socket the moment DONE arrives, it links the recommendation that DONE named', async () => {
    const { token } = await tokenFor('athlete');
    const client = wsClient(server.wsUrl, token);
    try {
      const started = new Promise<{ id?: string; r: Collected<Started> }>((resolve, reject) => {
        let fired = false;
        client.subscribe<{ preSessionRecommendation: { type: string; recommendationId?: string } }>(
          { query: `subscription($input: PreSessionInput!) { preSessionRecommendation(input: $input) { type ... on DoneEvent { recommendationId } } }`, variables: { input: OPERATOR } },
          {
            next: (v) => {
              const e = v.data?.preSessionRecommendation;
              if (e?.type !== 'DONE' || fired) return;
              fired = true;
              collect<Started>(client, START, { input: { recommendationId: e.recommendationId } }).then((r) => resolve({ id: e.recommendationId, r }), reject);
            },
            error: reject,
            complete: () => {},
          },
        );
      });
      const { id, r } = await started;
      expect(r.errors).toEqual([]);
      expect(r.events[0].startSession.recommendation?.id).toBe(id);
    } finally {
      await client.dispose();
    }
  });

  // PostgreSQL only: a second connection can hold the table's INSERTs back while reads go on, so the batch
  // is provably still unwritten when the start arrives (PGlite has one connection: nothing can overtake).
  it.runIf(usingPostgres)('waits for the pending write instead of failing when the batch is not yet stored', async () => {
    const { token, id } = await tokenFor('athlete');
    await streamWs(server.wsUrl, token, OPERATOR); // warm caches: the next stream reads nothing that the lock holds
    const locker = new pg.Client({ connectionString: server.databaseUrl! });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE recommendations IN SHARE MODE'); // blocks INSERT, not SELECT
      const out = await streamWs(server.wsUrl, token, { ...OPERATOR, energyLevel: 5 });
      const recommendationId = eventOf(out.events, 'DONE').recommendationId!;
      let settled = false;
      const pending = start(token, { recommendationId }).finally(() => (settled = true));
      // The row is provably not there yet, and the start has not answered (NOT_FOUND) meanwhile.
      const seen = await locker.query('SELECT count(*)::int AS n FROM recommendations WHERE id = $1', [recommendationId]);
      expect(seen.rows[0].n).toBe(0);
      await new Promise((r) => setTimeout(r, 300));
      expect(settled).toBe(false);
      await locker.query('COMMIT');
      const res = await pending;
      expect(res.errors).toBeUndefined();
      expect(res.data!.startSession.recommendation?.id).toBe(recommendationId);
      expect(await storedCount(id)).toBe(2);
    } finally {
      await locker.end();
    }
  });
});

// PostgreSQL only (two instances share one database; a second connection holds the INSERTs back, as above).
describe.runIf(usingPostgres)('the recommendation query answers before its row is written', () => {
  let databaseUrl: string;
  let a: TestServer;
  let b: TestServer;
  let locker: pg.Client | null = null;
  beforeAll(async () => {
    databaseUrl = await createMigratedTestDatabase();
    a = await startTestServer({ databaseUrl });
    b = await startTestServer({ databaseUrl });
  });
  afterEach(async () => {
    if (locker) await release(); // a failed assertion must not leave the table locked
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    if (databaseUrl) await dropTestDatabase(databaseUrl);
  });
  const holdInserts = async () => {
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    await client.query('BEGIN');
    await client.query('LOCK TABLE recommendations IN SHARE MODE'); // blocks INSERT, not SELECT
    locker = client;
    return client;
  };
  const release = async () => {
    const client = locker!;
    locker = null;
    await client.query('COMMIT');
    await client.end();
  };
  const ask = (server: TestServer, token: string, selection: string) =>
    gql<{ recommendation: { id: string; source?: string; session?: { id: string } | null } }>(
      server.url,
      `query($input: PreSessionInput!) { recommendation(input: $input) { ${selection} } }`,
      { input: OPERATOR },
      token,
    );

  it('answers while the INSERT is held back; asking for a stored relation waits for it', async () => {
    const { token } = await tokenFor('athlete');
    await ask(a, token, 'id'); // warm caches: the next answer reads nothing that the lock holds
    const held = await holdInserts();
    const answered = await ask(a, token, 'id source prediction { expectedQuality }');
    expect(answered.errors).toBeUndefined();
    expect(answered.data!.recommendation.source).toBe('MODEL');
    const seen = await held.query('SELECT count(*)::int AS n FROM recommendations WHERE id = $1', [answered.data!.recommendation.id]);
    expect(seen.rows[0].n).toBe(0); // answered, not yet stored

    let settled = false;
    const withSession = ask(a, token, 'id session { id } user { id }').finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    await release();
    const res = await withSession;
    expect(res.errors).toBeUndefined();
    expect(res.data!.recommendation.session).toBeNull();
  });

  it("a start on another instance right after the answer finds the row once the first instance's batch lands", async () => {
    const { token } = await tokenFor('athlete');
    await ask(a, token, 'id');
    await holdInserts();
    const answered = await ask(a, token, 'id');
    const recommendationId = answered.data!.recommendation.id;
    // Instance b has never seen the id; the row lands 2 s after b first looks for it (a batch slowed by load).
    let settled = false;
    const started = gql<Started>(b.url, START, { input: { recommendationId } }, token).finally(() => (settled = true));
    await new Promise((r) => setTimeout(r, 2000));
    expect(settled).toBe(false);
    await release();
    const res = await started;
    expect(res.errors).toBeUndefined();
    expect(res.data!.startSession.recommendation?.id).toBe(recommendationId);
  });

  it('an id that is not pending anywhere is NOT_FOUND at once on the other instance, not after the wait for a batch', async () => {
    const { token } = await tokenFor('athlete');
    // A UUIDv7 given long ago (its time is 2024) and a v4 id: neither can be in a batch still.
    for (const recommendationId of ['018f0000-0000-7000-8000-000000000001', '00000000-0000-4000-8000-00000000abcd']) {
      const asked = Date.now();
      const res = await gql<Started>(b.url, START, { input: { recommendationId } }, token);
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'recommendationId' });
      expect(Date.now() - asked).toBeLessThan(2000);
    }
  });
});
