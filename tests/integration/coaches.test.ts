// Coaches and their athletes through the real stack: the consent flow over HTTP (invite, accept, read, note,
// end), what a coach may and may not read, codes that cannot be redeemed, the link history, the rate limits, and
// teamCheckIns over graphql-ws (an ended link delivers nothing more on an open stream).
import { randomBytes } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gql, gqlOk, wsClient, type Counted } from '../support/client.ts';
import { startTestServer, startTwoInstances, tokenFor, type TestServer, type TwoInstances } from '../support/server.ts';

type Who = { token: string; id: string };

const INVITE = `mutation($h: Int) { createCoachInvitation(expiresInHours: $h) { id code expiresAt } }`;
const ACCEPT = `mutation($code: String!) { acceptCoachInvitation(code: $code) { id since endedAt active coach { id } athlete { id } } }`;
const END = `mutation($id: ID!) { endCoachLink(id: $id) { id endedAt active endedBy { id } } }`;
const CHECK_IN = `query($input: PreSessionInput!) { recommendation(input: $input) { id sessionType prediction { expectedQuality } override { rule } } }`;
const ROSTER = `query($first: Int, $after: String) { me { athletes(first: $first, after: $after) { totalCount
  pageInfo { hasNextPage endCursor }
  edges { cursor linkId since node { id } readiness { recommendationId sessionType expectedQuality overridden overrideRule at } } } } }`;

/** Everything a linked coach may read of an athlete, one field per query so each refusal is seen on its own. */
const READS: Record<string, string> = {
  user: `query($id: ID!) { user(id: $id) { id currentBaseline { id } } }`,
  sessions: `query($id: ID!) { sessions(userId: $id) { totalCount edges { node { id recommendation { id } } } } }`,
  modelOutput: `query($id: ID!) { modelOutput(userId: $id) { id phase history { fittedAt } } }`,
  modelQuality: `query($id: ID!) { modelQuality(userId: $id) { n } }`,
  baselineAssessment: `query($id: ID!) { baselineAssessment(userId: $id) { id } }`,
};

async function invite(url: string, athlete: Who, hours?: number): Promise<string> {
  return (await gqlOk<Invited>(url, INVITE, { h: hours }, athlete.token)).createCoachInvitation.code;
}

async function link(url: string, athlete: Who, coach: Who): Promise<string> {
  return (await gqlOk<Accepted>(url, ACCEPT, { code: await invite(url, athlete) }, coach.token)).acceptCoachInvitation.id;
}

async function checkIn(url: string, athlete: Who, input: Record<string, unknown> = { sleepHours: 7, energyLevel: 4, stressLevel: 2 }) {
  type Answer = { recommendation: { id: string; sessionType: string; prediction: { expectedQuality: number } | null; override: { rule: string } | null } };
  return (await gqlOk<Answer>(url, CHECK_IN, { input }, athlete.token)).recommendation;
}

async function completedSession(url: string, athlete: Who): Promise<string> {
  const started = await gqlOk<{ startSession: { id: string } }>(url, `mutation { startSession(input: {sleepHours: 7, energyLevel: 4}) { id } }`, {}, athlete.token);
  const id = started.startSession.id;
  await gqlOk(url, `mutation($id: ID!) { completeSession(id: $id, input: {sessionQuality: 7}) { id } }`, { id }, athlete.token);
  return id;
}

interface TeamEvent {
  teamCheckIns: { athlete: { id: string }; recommendationId: string; sessionType: string; expectedQuality: number | null; overrideRule: string | null; at: string };
}
interface LinkEvent {
  kind: string;
  actor: { id: string };
}
/** What INVITE selects. */
type Invited = { createCoachInvitation: { id: string; code: string; expiresAt: string } };
/** What ACCEPT selects. */
type Accepted = { acceptCoachInvitation: { id: string; since: string; endedAt: string | null; active: boolean; coach: { id: string }; athlete: { id: string } } };
/** What END selects. */
type Ended = { endCoachLink: { id: string; endedAt: string | null; active: boolean; endedBy: { id: string } | null } };
/** What READS.sessions selects. */
type SessionsRead = { sessions: Counted<{ id: string; recommendation: { id: string } | null }> };
/** What ROSTER selects. */
type Roster = {
  me: {
    athletes: {
      totalCount: number;
      pageInfo: { hasNextPage: boolean; endCursor: string | null };
      edges: (RosterEdge & {
        cursor: string;
        readiness: { recommendationId: string; sessionType: string; expectedQuality: number | null; overridden: boolean; overrideRule: string | null; at: string } | null;
      })[];
    };
  };
};
interface RosterEdge {
  linkId: string;
  since: string;
  node: { id: string };
}

/** A graphql-ws subscription whose events are awaited one by one. */
function follow(client: Client, query: string) {
  const events: TeamEvent[] = [];
  const errors: unknown[] = [];
  let wake: (() => void) | null = null;
  const dispose = client.subscribe(
    { query },
    {
      next: (v) => {
        if (v.errors) errors.push(...v.errors);
        if (v.data) events.push(v.data as unknown as TeamEvent);
        wake?.();
      },
      error: (e) => {
        errors.push(e);
        wake?.();
      },
      complete: () => wake?.(),
    },
  );
  return {
    events,
    errors,
    dispose,
    /** Waits until an event satisfying `match` has arrived; returns every event received up to it. */
    async until(match: (e: TeamEvent) => boolean, timeoutMs = 10_000): Promise<TeamEvent[]> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const i = events.findIndex(match);
        if (i >= 0) return events.splice(0, i + 1);
        if (errors.length) throw new Error(`subscription failed: ${JSON.stringify(errors)}`);
        if (Date.now() > deadline) throw new Error(`no matching event in ${timeoutMs} ms (${events.length} others)`);
        await new Promise<void>((resolve) => {
          wake = resolve;
          setTimeout(resolve, 50);
        });
      }
    },
  };
}

const TEAM = `subscription { teamCheckIns { athlete { id } recommendationId sessionType expectedQuality overrideRule at } }`;

describe('coaches and their athletes', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { RATE_LIMIT_CREATE_COACH_INVITATION: '6/3600', RATE_LIMIT_ACCEPT_COACH_INVITATION: '8/3600' } });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('the whole flow: invite, accept, read, note, end; the coach reads nothing afterwards', async () => {
    const { url } = server;
    const athlete = await tokenFor('athlete');
    const coach = await tokenFor('coach');
    await gqlOk(url, `mutation { recordBaselineAssessment(input: {age: 30, yearsClimbing: 5}) { id } }`, {}, athlete.token);
    const sessionId = await completedSession(url, athlete);
    const invitation = (await gqlOk<Invited>(url, INVITE, {}, athlete.token)).createCoachInvitation;
    expect(invitation.code).toMatch(/^[A-Za-z0-9_-]{27}$/);
    const hoursLeft = (Date.parse(invitation.expiresAt) - Date.now()) / 3_600_000;
    expect(hoursLeft).toBeGreaterThan(71.9);
    expect(hoursLeft).toBeLessThanOrEqual(72);
    // Only the hash is stored.
    const stored = await server.services.prisma.coachInvitation.findUniqueOrThrow({ where: { id: invitation.id } });
    expect(JSON.stringify(stored)).not.toContain(invitation.code);

    const accepted = (await gqlOk<Accepted>(url, ACCEPT, { code: invitation.code }, coach.token)).acceptCoachInvitation;
    expect(accepted).toMatchObject({ coach: { id: coach.id }, athlete: { id: athlete.id }, endedAt: null, active: true });

    for (const [field, query] of Object.entries(READS)) {
      const res = await gql(url, query, { id: athlete.id }, coach.token);
      expect(res.errors, field).toBeUndefined();
    }
    const sessions = await gqlOk<SessionsRead>(url, READS.sessions, { id: athlete.id }, coach.token);
    expect(sessions.sessions.totalCount).toBe(1);
    expect((await gqlOk<{ session: { id: string; user: { id: string } } }>(url, `query($id: ID!) { session(id: $id) { id user { id } } }`, { id: sessionId }, coach.token)).session.user.id).toBe(
      athlete.id,
    );
    const me = await gqlOk<{ me: { coaches: { id: string; coach: { id: string }; since: string }[] } }>(url, `{ me { coaches { id coach { id } since } } }`, {}, athlete.token);
    expect(me.me.coaches).toEqual([{ id: accepted.id, coach: { id: coach.id }, since: accepted.since }]);

    // A note, and nothing else written.
    const note = await gqlOk<{ addCoachNote: { id: string; coach: { id: string } } }>(
      url,
      `mutation($s: ID!) { addCoachNote(sessionId: $s, text: "Good pacing, rest tomorrow") { id coach { id } } }`,
      { s: sessionId },
      coach.token,
    );
    expect(note.addCoachNote.coach.id).toBe(coach.id);
    const seen = await gqlOk<{ session: { coachNotes: { text: string; coach: { id: string } }[] } }>(
      url,
      `query($s: ID!) { session(id: $s) { coachNotes { text coach { id } } } }`,
      { s: sessionId },
      athlete.token,
    );
    expect(seen.session.coachNotes).toEqual([{ text: 'Good pacing, rest tomorrow', coach: { id: coach.id } }]);
    const update = await gql(url, `mutation($s: ID!) { updateSession(id: $s, input: {notes: "x"}) { id } }`, { s: sessionId }, coach.token);
    expect(update.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const del = await gql(url, `mutation($s: ID!) { deleteSession(id: $s) }`, { s: sessionId }, coach.token);
    expect(del.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await gqlOk<SessionsRead>(url, READS.sessions, { id: athlete.id }, athlete.token)).sessions.totalCount).toBe(1);

    // The athlete ends it: the coach's very next request is FORBIDDEN, for every read.
    const ended = (await gqlOk<Ended>(url, END, { id: accepted.id }, athlete.token)).endCoachLink;
    expect(ended).toMatchObject({ id: accepted.id, active: false, endedBy: { id: athlete.id } });
    for (const [field, query] of Object.entries(READS)) {
      const res = await gql(url, query, { id: athlete.id }, coach.token);
      expect(res.errors?.[0].extensions?.code, field).toBe('FORBIDDEN');
    }
    expect((await gql(url, `query($id: ID!) { session(id: $id) { id } }`, { id: sessionId }, coach.token)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const late = await gql(url, `mutation($s: ID!) { addCoachNote(sessionId: $s, text: "x") { id } }`, { s: sessionId }, coach.token);
    expect(late.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect((await gqlOk<{ me: { coaches: { id: string }[] } }>(url, `{ me { coaches { id } } }`, {}, athlete.token)).me.coaches).toEqual([]);
    const again = await gql(url, END, { id: accepted.id }, coach.token);
    expect(again.errors?.[0].extensions).toMatchObject({ code: 'CONFLICT', field: 'id' });

    // The history, newest first: invited and ended by the athlete, accepted by the coach.
    const history = await gqlOk<{ me: { coachLinkEvents: (LinkEvent & { at: string; coach: { id: string }; linkId: string; invitationId: string | null })[] } }>(
      url,
      `{ me { coachLinkEvents { kind at actor { id } coach { id } linkId invitationId } } }`,
      {},
      athlete.token,
    );
    expect(history.me.coachLinkEvents.map((e) => [e.kind, e.actor.id])).toEqual([
      ['ENDED', athlete.id],
      ['ACCEPTED', coach.id],
      ['INVITED', athlete.id],
    ]);
    expect(history.me.coachLinkEvents[1]).toMatchObject({ coach: { id: coach.id }, linkId: accepted.id, invitationId: invitation.id });
    const coachHistory = await gqlOk<{ me: { coachLinkEvents: { kind: string }[] } }>(url, `{ me { coachLinkEvents { kind } } }`, {}, coach.token);
    expect(coachHistory.me.coachLinkEvents.map((e) => e.kind)).toEqual(['ENDED', 'ACCEPTED']);
  });

  it('a coach reads nothing of an athlete who did not link them, nor of another coach’s athletes, and sees no one’s coaches', async () => {
    const { url } = server;
    const athlete = await tokenFor('athlete');
    const stranger = await tokenFor('athlete');
    const coach = await tokenFor('coach');
    const otherCoach = await tokenFor('coach');
    await completedSession(url, stranger);
    await link(url, athlete, coach);
    await link(url, stranger, otherCoach);
    for (const [field, query] of Object.entries(READS)) {
      const res = await gql(url, query, { id: stranger.id }, coach.token);
      expect(res.errors?.[0].extensions?.code, field).toBe('FORBIDDEN');
    }
    const strangerSession = (await gqlOk<SessionsRead>(url, READS.sessions, { id: stranger.id }, stranger.token)).sessions.edges[0].node.id;
    expect((await gql(url, `query($id: ID!) { session(id: $id) { id } }`, { id: strangerSession }, coach.token)).errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // Without userId a coach's lists are their own.
    expect((await gqlOk<{ sessions: { totalCount: number } }>(url, `{ sessions { totalCount } }`, {}, coach.token)).sessions.totalCount).toBe(0);
    // Reaching the athlete's other coach through the link reads none of that coach's data, nor whom they coach.
    const other = await tokenFor('coach');
    await link(url, athlete, other);
    const through = await gql(url, `query($id: ID!) { user(id: $id) { coaches { id } } }`, { id: athlete.id }, coach.token);
    expect(through.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const coachData = await gql(url, `{ me { coaches { coach { id sessions { totalCount } } } } }`, {}, athlete.token);
    expect(coachData.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    // An athlete cannot follow another athlete's model live, a coach neither (streams are checked once).
    const ws = wsClient(server.wsUrl, coach.token);
    try {
      const errors = await new Promise<unknown[]>((resolve) => {
        const out: unknown[] = [];
        ws.subscribe(
          { query: `subscription($id: ID!) { modelUpdated(userId: $id) { id } }`, variables: { id: athlete.id } },
          { next: (v) => v.errors && out.push(...v.errors), error: (e) => resolve([...out, ...(Array.isArray(e) ? e : [e])]), complete: () => resolve(out) },
        );
      });
      expect(JSON.stringify(errors)).toContain('FORBIDDEN');
    } finally {
      await ws.dispose();
    }
  });

  it('codes: an athlete cannot redeem, forge, reuse or use an expired one; one error for all, and never for your own', async () => {
    const { url } = server;
    const athlete = await tokenFor('athlete');
    const otherAthlete = await tokenFor('athlete');
    const coach = await tokenFor('coach');
    const code = await invite(url, athlete);
    const asAthlete = await gql(url, ACCEPT, { code }, otherAthlete.token);
    expect(asAthlete.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    expect(asAthlete.status).toBe(403);
    // The athlete's own code, redeemed with a coach token for the same user.
    const selfAsCoach = await tokenFor('coach', athlete.id);
    const own = await gql(url, ACCEPT, { code }, selfAsCoach.token);
    expect(own.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code' });
    await gqlOk(url, ACCEPT, { code }, coach.token);

    const refusals = [];
    refusals.push(await gql(url, ACCEPT, { code }, (await tokenFor('coach')).token)); // used
    refusals.push(await gql(url, ACCEPT, { code: randomBytes(20).toString('base64url') }, coach.token)); // forged
    refusals.push(await gql(url, ACCEPT, { code: 'not-a-code' }, coach.token)); // malformed
    const expiring = (await gqlOk<Invited>(url, INVITE, { h: 1 }, athlete.token)).createCoachInvitation;
    await server.services.prisma.coachInvitation.update({ where: { id: expiring.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    refusals.push(await gql(url, ACCEPT, { code: expiring.code }, coach.token)); // expired
    for (const res of refusals) {
      expect(res.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'code' });
      expect(res.errors?.[0].message).toBe(refusals[0].errors?.[0].message);
    }
    const badHours = await gql(url, INVITE, { h: 0 }, athlete.token);
    expect(badHours.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'expiresInHours' });
    // Links are ended by their parties only: anyone else is told there is no such link.
    const linkId = (await gqlOk<{ me: { coaches: { id: string }[] } }>(url, `{ me { coaches { id } } }`, {}, athlete.token)).me.coaches[0].id;
    const foreign = await gql(url, END, { id: linkId }, otherAthlete.token);
    expect(foreign.errors?.[0].extensions).toMatchObject({ code: 'NOT_FOUND', field: 'id' });
  });

  it("the roster: a connection with totalCount, each edge with since and today's readiness", async () => {
    const { url } = server;
    const coach = await tokenFor('coach');
    const athletes = [await tokenFor('athlete'), await tokenFor('athlete'), await tokenFor('athlete')];
    for (const a of athletes) await link(url, a, coach);
    const model = await checkIn(url, athletes[0]);
    const override = await checkIn(url, athletes[1], { sleepHours: 7, energyLevel: 4, pulleyInjuryGrade: 3 });
    expect(override.override).not.toBeNull();
    // The writes are batched after the answer: wait for both rows.
    await server.services.recommendations.written(model.id);
    await server.services.recommendations.written(override.id);

    const first = (await gqlOk<Roster>(url, ROSTER, { first: 2 }, coach.token)).me.athletes;
    expect(first.totalCount).toBe(3);
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(first.edges.map((e) => e.node.id)).toEqual([athletes[0].id, athletes[1].id]);
    expect(first.edges[0].readiness).toMatchObject({
      recommendationId: model.id,
      sessionType: model.sessionType,
      expectedQuality: model.prediction?.expectedQuality,
      overridden: false,
      overrideRule: null,
    });
    expect(first.edges[1].readiness).toMatchObject({ recommendationId: override.id, overridden: true, overrideRule: override.override?.rule, expectedQuality: null });
    expect(Date.parse(first.edges[0].since)).toBeLessThanOrEqual(Date.parse(first.edges[1].since));
    const second = (await gqlOk<Roster>(url, ROSTER, { first: 2, after: first.pageInfo.endCursor }, coach.token)).me.athletes;
    expect(second.edges.map((e) => e.node.id)).toEqual([athletes[2].id]);
    expect(second.edges[0].readiness).toBeNull();
    expect(second.pageInfo.hasNextPage).toBe(false);
    const badCursor = await gql(url, ROSTER, { first: 2, after: 'nope' }, coach.token);
    expect(badCursor.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });

    // Ending one link touches no other.
    await gqlOk(url, END, { id: first.edges[1].linkId }, coach.token);
    const after = (await gqlOk<Roster>(url, ROSTER, {}, coach.token)).me.athletes;
    expect(after.totalCount).toBe(2);
    expect(after.edges.map((e) => e.node.id)).toEqual([athletes[0].id, athletes[2].id]);
  });

  it('teamCheckIns: linked athletes only, and nothing more of an athlete once the link ends (open stream)', async () => {
    const { url } = server;
    const coach = await tokenFor('coach');
    const kept = await tokenFor('athlete');
    const leaving = await tokenFor('athlete');
    const stranger = await tokenFor('athlete');
    await link(url, kept, coach);
    const leavingLink = await link(url, leaving, coach);
    const ws = wsClient(server.wsUrl, coach.token);
    try {
      const team = follow(ws, TEAM);
      // The stream is open once a check-in comes through (graphql-ws has no subscribe acknowledgement).
      let warm: string | null = null;
      for (let i = 0; i < 40 && !team.events.length; i++) {
        warm = (await checkIn(url, kept)).id;
        await new Promise((r) => setTimeout(r, 50));
      }
      await team.until((e) => e.teamCheckIns.recommendationId === warm);
      team.events.length = 0;

      const strangers = await checkIn(url, stranger);
      const leavingOne = await checkIn(url, leaving, { sleepHours: 7, energyLevel: 4, pulleyInjuryGrade: 3 });
      const received = await team.until((e) => e.teamCheckIns.recommendationId === leavingOne.id);
      expect(received.map((e) => e.teamCheckIns.recommendationId)).not.toContain(strangers.id);
      expect(received.at(-1)?.teamCheckIns).toMatchObject({ athlete: { id: leaving.id }, sessionType: leavingOne.sessionType, expectedQuality: null, overrideRule: leavingOne.override?.rule });

      await gqlOk(url, END, { id: leavingLink }, leaving.token);
      const afterEnd = await checkIn(url, leaving);
      const keptOne = await checkIn(url, kept);
      const later = await team.until((e) => e.teamCheckIns.recommendationId === keptOne.id);
      expect(later.map((e) => e.teamCheckIns.recommendationId)).not.toContain(afterEnd.id);
      expect(later.at(-1)?.teamCheckIns).toMatchObject({ athlete: { id: kept.id }, expectedQuality: keptOne.prediction?.expectedQuality });
      team.dispose();
    } finally {
      await ws.dispose();
    }
    // Athletes cannot subscribe.
    const athleteWs = wsClient(server.wsUrl, kept.token);
    try {
      const refused = follow(athleteWs, TEAM);
      await expect(refused.until(() => false, 3000)).rejects.toThrow(/FORBIDDEN/);
    } finally {
      await athleteWs.dispose();
    }
  });

  it('a client that leaves teamCheckIns or modelUpdated leaves nothing listening on the server', async () => {
    const { url, services } = server;
    const coach = await tokenFor('coach');
    const athlete = await tokenFor('athlete');
    await link(url, athlete, coach);
    const heard = () => ({ checkIns: services.pubsub.heard('checkIn'), model: services.pubsub.heard(`modelUpdated:${athlete.id}`) });
    // Until the state holds or 3 s pass; the state at that moment.
    const settle = async (want: { checkIns: boolean; model: boolean }) => {
      for (const deadline = Date.now() + 3000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
        const now = heard();
        if (now.checkIns === want.checkIns && now.model === want.model) break;
      }
      return heard();
    };
    expect(heard()).toEqual({ checkIns: false, model: false });

    const coachWs = wsClient(server.wsUrl, coach.token);
    const athleteWs = wsClient(server.wsUrl, athlete.token);
    try {
      follow(coachWs, TEAM);
      const models = follow(athleteWs, 'subscription { modelUpdated { phase } }');
      await models.until(() => true); // the current model, sent at once: the stream is open
      expect(await settle({ checkIns: true, model: true })).toEqual({ checkIns: true, model: true });
    } finally {
      await Promise.all([coachWs.dispose(), athleteWs.dispose()]);
    }
    // No check-in and no nightly run since: the streams were waiting on quiet topics when their clients left.
    expect(await settle({ checkIns: false, model: false })).toEqual({ checkIns: false, model: false });
  });

  it('invitation creation and redemption are rate-limited per viewer (429 with Retry-After)', async () => {
    const { url } = server;
    const athlete = await tokenFor('athlete');
    for (let i = 0; i < 6; i++) await invite(url, athlete);
    const over = await gql(url, INVITE, {}, athlete.token);
    expect(over.status).toBe(429);
    expect(over.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
    const guesser = await tokenFor('coach');
    for (let i = 0; i < 8; i++) {
      const res = await gql(url, ACCEPT, { code: randomBytes(20).toString('base64url') }, guesser.token);
      expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
    const guessed = await gql(url, ACCEPT, { code: randomBytes(20).toString('base64url') }, guesser.token);
    expect(guessed.status).toBe(429);
    expect(guessed.errors?.[0].extensions?.code).toBe('RATE_LIMITED');
  });
});

const redisUrl = process.env.TEST_REDIS_URL;
const pgUrl = process.env.TEST_DATABASE_URL;

describe.runIf(!!redisUrl && !!pgUrl)('teamCheckIns across two instances with Redis', () => {
  let instances: TwoInstances | undefined;
  let a: TestServer;
  let b: TestServer;

  beforeAll(async () => {
    instances = await startTwoInstances(redisUrl!);
    ({ a, b } = instances);
  });
  afterAll(() => instances?.close());

  it('a coach on one instance gets the check-ins made on the other, and none of an athlete whose link ended there', async () => {
    const coach = await tokenFor('coach');
    const kept = await tokenFor('athlete');
    const leaving = await tokenFor('athlete');
    await link(a.url, kept, coach);
    const leavingLink = await link(a.url, leaving, coach);
    const ws = wsClient(b.wsUrl, coach.token);
    try {
      const team = follow(ws, TEAM);
      let warm: string | null = null;
      for (let i = 0; i < 40 && !team.events.length; i++) {
        warm = (await checkIn(a.url, kept)).id;
        await new Promise((r) => setTimeout(r, 50));
      }
      await team.until((e) => e.teamCheckIns.recommendationId === warm);
      team.events.length = 0;
      const leavingOne = await checkIn(a.url, leaving);
      expect((await team.until((e) => e.teamCheckIns.recommendationId === leavingOne.id)).at(-1)?.teamCheckIns.athlete.id).toBe(leaving.id);

      // Ended on instance A; the check-in on A; the stream on B delivers nothing more of that athlete.
      await gqlOk(a.url, END, { id: leavingLink }, leaving.token);
      const afterEnd = await checkIn(a.url, leaving);
      const keptOne = await checkIn(a.url, kept);
      const later = await team.until((e) => e.teamCheckIns.recommendationId === keptOne.id);
      expect(later.map((e) => e.teamCheckIns.recommendationId)).not.toContain(afterEnd.id);
      // And the coach's next request on B for that athlete is refused.
      const refused = await gql(b.url, READS.sessions, { id: leaving.id }, coach.token);
      expect(refused.errors?.[0].extensions?.code).toBe('FORBIDDEN');
      team.dispose();
    } finally {
      await ws.dispose();
    }
  });
});
