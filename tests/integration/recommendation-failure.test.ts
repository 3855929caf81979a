// An engine failure through the real stack ends the stream with one ERROR and no DONE (domain.md section 8).
// The failure is real: the climbing_sessions table is renamed on the server's own database, so the history
// read (awaited only by the STATS phase) fails after PREDICTION and RECOMMENDATIONS have gone out.
// A dedicated server: the other files must never see the renamed table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { gql, wsClient } from '../support/client.ts';
import { eventOf, expectWellFormed, OPERATOR, recommendation, RECOMMENDATION_QUERY, streamSse, streamWs, types } from '../support/recommendation.ts';
import { startTestServer, type TestServer, tokenFor, withTableMissing } from '../support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(async () => {
  await server?.close();
});

describe('engine failure', () => {
  it('streams ..., PREDICTION, RECOMMENDATIONS, ERROR (INTERNAL_SERVER_ERROR) and no DONE when the history read fails', async () => {
    const { token, id } = await tokenFor('athlete');
    // The viewer's context (user row, caches) is loaded once before the failure is induced.
    const before = await streamWs(server.wsUrl, token, OPERATOR);
    expect(types(before.events)).toEqual(['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE']);

    await withTableMissing(server, 'climbing_sessions', async () => {
      server.services.engine.invalidate({ kind: 'history', userId: id }); // as a session write would: the next stream reads it
      for (const out of [await streamWs(server.wsUrl, token, OPERATOR), await streamSse(server.url, token, OPERATOR)]) {
        expect(out.errors).toEqual([]); // the failure is an event of the stream, not a GraphQL error
        expect(types(out.events)).toEqual(['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'ERROR']);
        expectWellFormed(out.events);
        const error = eventOf(out.events, 'ERROR');
        expect(error).toMatchObject({ __typename: 'ErrorEvent', code: 'INTERNAL_SERVER_ERROR' });
        // Masked: no SQL or table names leak to the client.
        expect(error.message).not.toMatch(/climbing_sessions|relation|prisma/i);
        expect(out.events.some((e) => e.type === 'DONE')).toBe(false);
      }
      // The one-shot query fails as a whole, masked.
      const query = await gql(server.url, RECOMMENDATION_QUERY, { input: OPERATOR }, token);
      expect(query.data ?? null).toBeNull();
      expect(query.errors?.[0].extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(query.errors?.[0].message).not.toMatch(/climbing_sessions|relation/i);
      // An override never reads the history: it still answers.
      const override = await streamWs(server.wsUrl, token, { ...OPERATOR, pulleyInjuryGrade: 3 });
      expect(types(override.events)).toEqual(['CONTEXT_LOADED', 'RULE_OVERRIDE', 'DONE']);
    });

    const after = await streamWs(server.wsUrl, token, OPERATOR);
    expect(types(after.events)).toEqual(['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE']);
  });

  it('ends with a lone ERROR (no CONTEXT_LOADED, no DONE) when the rule set cannot be loaded', async () => {
    const { token } = await tokenFor('athlete');
    await withTableMissing(server, 'expert_rules', async () => {
      server.services.engine.invalidate({ kind: 'rules' }); // as an admin write would: the next request reloads
      const out = await streamWs(server.wsUrl, token, OPERATOR);
      // CONTEXT_LOADED needs the rules: the stream fails before it, as its first and only event.
      expect(types(out.events)).toEqual(['ERROR']);
      expect(out.events[0]).toMatchObject({ sequence: 1, code: 'INTERNAL_SERVER_ERROR' });
    });
    const after = await streamWs(server.wsUrl, token, OPERATOR);
    expect(types(after.events)).toEqual(['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE']);
  });
});

describe('a burst of cache invalidations and model announcements', () => {
  // The nightly fit invalidates the cached model of every athlete and publishes modelUpdated for each. yoga's
  // pubsub throws (inside the EventTarget listener, so the process dies) once 1024 events are pending for one
  // subscriber. A modelUpdated subscriber stops reading the topic while its own event is being resolved (a
  // database read), so every announcement published meanwhile queues for it. The watcher's session is read
  // first, so its event goes out first and the other 2,499 queue behind it.
  it('survives a nightly fit over 2,500 athletes with a modelUpdated subscriber, which hears its event; the server still answers', async () => {
    const prisma = server.services.db.prisma; // raw client: no quick update per inserted row
    const ids = Array.from({ length: 2500 }, () => randomUUID());
    await prisma.user.createMany({ data: ids.map((id) => ({ id, role: 'ATHLETE' as const })) });
    const startedAt = new Date(Date.UTC(2026, 0, 5, 17));
    await prisma.climbingSession.createMany({
      data: ids.map((userId, i) => ({
        // The training read goes by session id: the watcher's (ids[0]) comes first.
        id: i === 0 ? '00000000-0000-4000-8000-000000000000' : randomUUID(),
        userId,
        status: 'COMPLETED' as const,
        startedAt,
        endedAt: new Date(startedAt.getTime() + 7_200_000),
        sleepHours: 6 + (i % 4),
        energyLevel: 3 + (i % 6),
        sessionQuality: 3 + (i % 7),
      })),
    });

    const watcher = await tokenFor('athlete', ids[0]);
    const client = wsClient(server.wsUrl, watcher.token);
    // The first event is the model the athlete is served on subscribing (the population's, no session yet);
    // the nightly fit's comes after it.
    const events: unknown[] = [];
    // Armed once the nightly run has returned: its event is due then, however long the fit took on a loaded machine.
    let expire: (err: Error) => void = () => {};
    const heard = new Promise<unknown>((resolve, reject) => {
      expire = reject;
      client.subscribe(
        { query: 'subscription { modelUpdated { phase sessionsIncluded } }' },
        {
          next: (v) => {
            events.push(v);
            if ((v.data?.modelUpdated as { sessionsIncluded?: number } | undefined)?.sessionsIncluded === 0) return;
            resolve(v);
          },
          error: reject,
          complete: () => {},
        },
      );
    });
    await new Promise((r) => setTimeout(r, 300)); // let the subscription start on the server

    const run = await server.training.runNightly('MANUAL');
    const timer = setTimeout(() => expire(new Error('no modelUpdated event within 30 s of the end of the nightly run')), 30_000);
    expect(run.status).toBe('SUCCEEDED');
    expect(run.usersTrained).toBeGreaterThanOrEqual(2500);
    const event = await heard.finally(() => clearTimeout(timer));
    expect(event).toMatchObject({ data: { modelUpdated: { phase: 'COLD_START', sessionsIncluded: 1 } } });
    expect(events[0]).toMatchObject({ data: { modelUpdated: { phase: 'COLD_START', sessionsIncluded: 0 } } });
    await client.dispose();

    const rec = await recommendation(server.url, watcher.token, OPERATOR);
    expect(rec.personalization).toMatchObject({ phase: 'COLD_START', sessionsIncluded: 1 });
    const out = await streamWs(server.wsUrl, watcher.token, OPERATOR);
    expect(types(out.events)).toEqual(['CONTEXT_LOADED', 'PREDICTION', 'RECOMMENDATIONS', 'STATS', 'DONE']);
  }, 180_000); // 2,500 athletes written and fitted: about 10 s on a quiet machine, over 60 s at a load above 12
});
