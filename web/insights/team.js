// The Team view, for a signed-in coach: the roster (athletes who linked them) with each one's latest check-in
// (session type, expected quality, a rule override highlighted) and recent predicted vs actual quality, kept
// current by the teamCheckIns subscription (GraphQL over SSE on the same endpoint).
import { graphqlBody, session } from './api.js';
import { TEAM_CHECK_INS, TEAM_ROSTER } from './operations.js';

const number = (x) => (x === null || x === undefined ? '–' : x.toFixed(1));
const time = (iso) => (iso ? new Date(iso).toISOString().slice(0, 16).replace('T', ' ') : '–');

/** Follows teamCheckIns until `signal` aborts, handing each check-in to `live.onCheckIn`. */
async function follow(live, signal) {
  const response = await fetch('/graphql', {
    method: 'POST',
    signal,
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${session.token()}` },
    body: JSON.stringify(await graphqlBody(TEAM_CHECK_INS, {})),
  });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      end = buffer.indexOf('\n\n');
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trim())
        .join('\n');
      const event = JSON.parse(data || 'null')?.data?.teamCheckIns;
      if (event) live.onCheckIn?.(event);
    }
  }
}

function readinessCells(tr, r) {
  tr.cells[2].textContent = r?.sessionType ?? '–';
  tr.cells[3].textContent = number(r?.expectedQuality);
  tr.cells[4].textContent = r?.overrideRule ?? '';
  tr.cells[5].textContent = time(r?.at);
  tr.classList.toggle('override', !!r?.overrideRule);
}

export const TEAM_VIEW = {
  title: 'Team',
  panels: [
    {
      id: 'team-roster',
      title: "Your athletes: today's readiness (live) and recent predicted vs actual quality",
      emptyText: 'No athlete has linked you yet: an athlete creates an invitation (createCoachInvitation) and you redeem its code.',
      load: async (ctx) => {
        const data = await ctx.query(TEAM_ROSTER, {}, { withPeriod: false });
        const live = { onCheckIn: null };
        follow(live, ctx.signal).catch(() => {});
        return { edges: data.me.athletes.edges, live };
      },
      empty: (data) => data.edges.length === 0,
      render: (data) => {
        const el = document.createElement('table');
        el.className = 'team';
        const head = el.createTHead().insertRow();
        for (const heading of ['Athlete', 'Linked since', 'Session type', 'Expected quality', 'Rule override', 'Checked in', 'Recent: predicted → actual']) {
          head.appendChild(document.createElement('th')).textContent = heading;
        }
        const body = el.createTBody();
        const rows = new Map();
        for (const edge of data.edges) {
          const tr = body.insertRow();
          tr.dataset.athlete = edge.node.id;
          for (let i = 0; i < 7; i++) tr.insertCell();
          tr.cells[0].textContent = edge.node.id.slice(0, 8);
          tr.cells[0].title = edge.node.id;
          tr.cells[1].textContent = time(edge.since).slice(0, 10);
          readinessCells(tr, edge.readiness);
          tr.cells[6].textContent =
            edge.node.sessions.edges
              .filter(({ node }) => node.sessionQuality !== null)
              .map(({ node }) => `${number(node.recommendation?.prediction?.expectedQuality)} → ${node.sessionQuality}`)
              .join(', ') || '–';
          rows.set(edge.node.id, tr);
        }
        data.live.onCheckIn = (event) => {
          const tr = rows.get(event.athlete.id);
          if (!tr) return;
          readinessCells(tr, event);
          tr.dataset.live = event.recommendationId;
        };
        return el;
      },
    },
  ],
};
