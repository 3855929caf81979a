// The insights page: sign-in, the address (view, period, athlete), and each view's panels with their
// loading, empty and error states. All data comes from the public GraphQL API (api.js).
import { ApiError, RateLimited, SignedOut, graphql, session } from './api.js';
import { VIEWER } from './operations.js';
import { VIEWS } from './views.js';

// The charts (and the charting library, the page's largest file) load while the first requests are in flight.
const charts = import('./charts.js');

const DAY = 86_400_000;
const PRESETS = ['7', '30', '90', '365', 'all', 'custom'];
const DEFAULT_PRESET = '90';
const READERS = ['ANALYST', 'ADMIN'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const $ = (selector) => document.querySelector(selector);
const signIn = $('#sign-in');
const content = $('#content');
const nav = $('#views');
const periodForm = $('#period');
const signOutButton = $('#sign-out');

/** How long an answer is reused: views and periods opened again within it cost no request (nor rate-limit budget). */
const ANSWER_TTL_MS = 5 * 60_000;

/**
 * Answers by document and variables, for this sign-in: each view and period asks once, whichever panels need the
 * answer and however often the view is opened again. A failed request is dropped, so the next attempt asks anew. A
 * request is not cancelled when its view is left: its answer is kept for when the view comes back.
 */
const answers = new Map();

function cachedQuery(query, variables) {
  const key = JSON.stringify([query, variables]);
  const hit = answers.get(key);
  if (hit && Date.now() - hit.at < ANSWER_TTL_MS) return hit.answer;
  const answer = graphql(query, variables);
  answers.set(key, { at: Date.now(), answer });
  answer.catch(() => {
    if (answers.get(key)?.answer === answer) answers.delete(key);
  });
  return answer;
}

/** The viewer behind the stored token (a promise of it), checked once per sign-in. */
let viewer = null;
/** Cancels the requests of the view on screen when another one replaces it. */
let onScreen = null;

// ---- the address: #view=overview&period=90[&from=YYYY-MM-DD&to=YYYY-MM-DD][&athlete=<id>]

function readAddress() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  if (token !== null) {
    // A sign-in link: keep the token for this tab only, and take it out of the address bar and the history.
    params.delete('token');
    if (token) session.signIn(token);
    viewer = null;
    history.replaceState(null, '', `${location.pathname}${location.search}${params.size ? `#${params}` : ''}`);
  }
  return params;
}

function go(changes) {
  const params = new URLSearchParams(location.hash.slice(1));
  for (const [key, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === '') params.delete(key);
    else params.set(key, value);
  }
  location.hash = params.toString();
}

const isoDate = (t) => new Date(t).toISOString().slice(0, 10);
const validDate = (text) => (/^\d{4}-\d{2}-\d{2}$/.test(text ?? '') && !Number.isNaN(Date.parse(text)) ? text : null);

/** The period as the API takes it: both ends inclusive, UTC; null = open. */
function periodOf(params) {
  const preset = PRESETS.includes(params.get('period')) ? params.get('period') : DEFAULT_PRESET;
  if (preset === 'all') return { preset, from: null, to: null };
  if (preset === 'custom') {
    const from = validDate(params.get('from'));
    const to = validDate(params.get('to'));
    return { preset, from: from && `${from}T00:00:00.000Z`, to: to && `${to}T23:59:59.999Z` };
  }
  const today = Date.parse(isoDate(Date.now()));
  return { preset, from: new Date(today - (Number(preset) - 1) * DAY).toISOString(), to: null };
}

// ---- sign-in

function showSignIn(reason = '') {
  onScreen?.abort();
  viewer = null;
  answers.clear();
  for (const el of [nav, periodForm, signOutButton, content]) el.hidden = true;
  content.replaceChildren();
  $('#sign-in-reason').textContent = reason;
  signIn.hidden = false;
  document.body.dataset.state = 'signed-out';
}

function signOut(reason) {
  session.signOut();
  showSignIn(reason);
}

signIn.querySelector('form').addEventListener('submit', (event) => {
  event.preventDefault();
  const field = signIn.querySelector('textarea');
  if (!field.value.trim()) return;
  session.signIn(field.value);
  field.value = '';
  viewer = null;
  void show();
});

signOutButton.addEventListener('click', () => signOut('Signed out.'));

async function whoAmI() {
  const { me } = await graphql(VIEWER);
  if (me.role === 'COACH') {
    // A coach sees their team only.
    document.body.dataset.role = 'coach';
    if (new URLSearchParams(location.hash.slice(1)).get('view') !== 'team') go({ view: 'team' });
    return me;
  }
  delete document.body.dataset.role;
  if (!READERS.includes(me.role)) throw new SignedOut(`This token is an ${me.role.toLowerCase()}'s: the insights page needs an analyst or admin token (or a coach's, for their team).`);
  return me;
}

// ---- the period selector

periodForm.addEventListener('change', (event) => {
  if (event.target.name === 'preset' && event.target.value !== 'custom') return go({ period: event.target.value, from: null, to: null });
  // A date changed, or "Dates…" chosen: a custom period from the two date fields as they stand.
  go({ period: 'custom', from: validDate(periodForm.from.value), to: validDate(periodForm.to.value) });
});

function showPeriod(period) {
  periodForm.preset.value = period.preset;
  periodForm.from.value = period.from ? isoDate(period.from) : '';
  periodForm.to.value = period.to ? isoDate(period.to) : period.preset === 'all' ? '' : isoDate(Date.now());
}

// ---- views

function panelElement(title) {
  const figure = document.createElement('figure');
  figure.className = 'panel';
  const caption = figure.appendChild(document.createElement('figcaption'));
  caption.textContent = title;
  figure.appendChild(document.createElement('div')).className = 'panel-body';
  return figure;
}

function setState(figure, state, ...nodes) {
  figure.dataset.state = state;
  figure.querySelector('.panel-body').replaceChildren(...nodes);
}

function message(text, className) {
  const p = document.createElement('p');
  p.className = className;
  p.textContent = text;
  return p;
}

/** Resolves after `seconds`, showing the countdown in the panel; early (quietly) if the view is left. */
function countdown(figure, ctx, seconds, reason) {
  return new Promise((resolve) => {
    const line = message('', 'waiting');
    line.setAttribute('role', 'status');
    line.title = reason;
    setState(figure, 'waiting', line);
    let left = Math.ceil(seconds);
    const tick = () => {
      line.textContent = `The server asked to wait (rate limit): trying again in ${left} s…`;
      if (left-- <= 0 || ctx.signal.aborted) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1000);
    tick();
  });
}

async function renderPanel(panel, figure, ctx) {
  setState(figure, 'loading', message('Loading…', 'loading'));
  for (;;) {
    try {
      const data = await panel.load(ctx);
      if (ctx.signal.aborted) return;
      if (panel.empty(data)) {
        setState(figure, 'empty', message(panel.emptyText ?? 'No data in this period.', 'empty'));
        return;
      }
      const chart = await charts;
      if (ctx.signal.aborted) return;
      const width = Math.max(320, figure.querySelector('.panel-body').clientWidth);
      setState(figure, 'ready', ...[panel.render(data, width, chart)].flat());
      return;
    } catch (err) {
      if (ctx.signal.aborted) return;
      if (err instanceof SignedOut) return signOut(err.message);
      if (err instanceof RateLimited) {
        // Over the viewer's budget: wait as long as the server says (Retry-After), then ask again.
        await countdown(figure, ctx, err.retryAfterSeconds, err.message);
        if (ctx.signal.aborted) return;
        setState(figure, 'loading', message('Loading…', 'loading'));
        continue;
      }
      const text = err instanceof ApiError ? err.message : `Could not load this chart (${err.message})`;
      setState(figure, 'error', message(text, 'error'));
      return;
    }
  }
}

/**
 * The athlete picker: the period's athletes whose predictions were worst first (modelQuality.byAthlete), or any
 * athlete's id typed or pasted.
 */
function athletePicker(view, ctx) {
  const form = document.createElement('form');
  form.className = 'athlete-picker';
  form.innerHTML =
    '<label>Worst predicted first <select name="ranked"><option value="">Loading the athletes…</option></select></label> <label>or athlete id <input name="athlete" size="38" spellcheck="false" autocomplete="off" required></label> <button type="submit">Show</button> <span class="error" role="alert"></span>';
  form.athlete.value = ctx.athlete ?? '';
  form.ranked.addEventListener('change', () => {
    if (form.ranked.value) go({ athlete: form.ranked.value });
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const id = form.athlete.value.trim();
    if (!UUID.test(id)) {
      form.querySelector('.error').textContent = 'An athlete id is a uuid (or pick one from the list).';
      return;
    }
    go({ athlete: id.toLowerCase() });
  });
  const fill = () =>
    view.choices(ctx).then(
      ({ totalCount, athletes }) => {
        if (ctx.signal.aborted) return;
        const first = athletes.length
          ? `${totalCount} athlete${totalCount === 1 ? '' : 's'} with scored predictions in this period${totalCount > athletes.length ? ` (the worst ${athletes.length})` : ''}`
          : 'No athlete has scored predictions in this period';
        form.ranked.replaceChildren(
          Object.assign(document.createElement('option'), { value: '', textContent: first }),
          ...athletes.map((a, i) => Object.assign(document.createElement('option'), { value: a.id, textContent: `${i + 1}. ${a.id.slice(0, 8)} · ${a.label}` })),
        );
        form.ranked.value = athletes.some((a) => a.id === ctx.athlete) ? ctx.athlete : '';
      },
      async (err) => {
        if (ctx.signal.aborted) return;
        if (err instanceof SignedOut) return signOut(err.message);
        if (err instanceof RateLimited) {
          form.ranked.firstElementChild.textContent = `Rate limit: the list comes back in ${err.retryAfterSeconds} s`;
          await new Promise((resolve) => setTimeout(resolve, err.retryAfterSeconds * 1000));
          if (!ctx.signal.aborted) fill();
          return;
        }
        form.ranked.firstElementChild.textContent = `The list could not be loaded (${err.message})`;
      },
    );
  fill();
  return form;
}

async function show() {
  const params = readAddress();
  onScreen?.abort();
  const controller = new AbortController();
  onScreen = controller;
  if (!session.token()) return showSignIn();
  signIn.hidden = true;
  document.body.dataset.state = 'signed-in';
  if (!viewer) {
    // Checked beside the view's own requests, not before them: a refused token still ends at the prompt.
    const check = whoAmI();
    viewer = check;
    check.catch((err) => {
      if (viewer !== check) return; // signed out, or in with another token, meanwhile
      if (err instanceof SignedOut) return signOut(err.message);
      viewer = null;
      onScreen?.abort();
      content.replaceChildren(message(`The server could not be reached (${err.message}).`, 'error'));
    });
  }
  for (const el of [nav, periodForm, signOutButton, content]) el.hidden = false;

  const name = VIEWS[params.get('view')] ? params.get('view') : 'overview';
  const view = VIEWS[name];
  const period = periodOf(params);
  const athlete = UUID.test(params.get('athlete') ?? '') ? params.get('athlete') : null;
  showPeriod(period);
  for (const link of nav.querySelectorAll('a')) {
    const target = new URLSearchParams(params);
    target.set('view', link.dataset.view);
    link.href = `#${target}`;
    link.toggleAttribute('aria-current', link.dataset.view === name);
  }
  document.title = `${view.title} · ClimbIQ insights`;

  const shared = new Map();
  const ctx = {
    period,
    athlete,
    signal: controller.signal,
    query: (query, variables = {}, { withPeriod = true } = {}) => cachedQuery(query, withPeriod ? { from: period.from, to: period.to, ...variables } : variables),
    /** Panels that read the same answer share one request (the answers cache also does, by document and variables). */
    shared: (key, load) => {
      if (!shared.has(key)) {
        const answer = load();
        shared.set(key, answer);
        answer.catch(() => shared.delete(key));
      }
      return shared.get(key);
    },
  };

  const heading = message(view.title, 'view-title');
  heading.setAttribute('role', 'heading');
  content.dataset.view = name;
  content.dataset.state = 'loading';
  const children = [heading];
  if (view.needsAthlete) children.push(athletePicker(view, ctx));
  const panels = view.needsAthlete && !athlete ? [] : view.panels;
  const figures = panels.map((panel) => {
    const figure = panelElement(typeof panel.title === 'function' ? panel.title(ctx) : panel.title);
    figure.dataset.chart = panel.id;
    return figure;
  });
  if (view.needsAthlete && !athlete) children.push(message('Pick an athlete to see their predictions, coefficients and phases.', 'empty'));
  content.replaceChildren(...children, ...figures);

  await Promise.all(panels.map((panel, i) => renderPanel(panel, figures[i], ctx)));
  if (controller.signal.aborted) return;
  content.dataset.state = 'done';
  // "<view> done": when every panel of the view has settled (read by scripts/bench-insights.ts).
  performance.mark(`${name} done`);
}

window.addEventListener('hashchange', () => void show());
void show();
