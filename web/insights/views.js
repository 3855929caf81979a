// The five views: each panel is one GraphQL request of the public API and one chart (or table) of its answer.
// render(data, width, chart) gets the chart module from the caller, which loads it (and the charting library)
// while the panels' requests are in flight.
import { format } from './format.js';
import {
  ATHLETE_CHOICES,
  ATHLETE_MODEL,
  ATHLETE_SESSIONS,
  ATHLETES_BY_PHASE,
  EFFECTS,
  HELD_OUT,
  MODEL_QUALITY,
  NIGHTLY_RUNS,
  POPULATION,
  QUALITY_HISTOGRAM,
  RULES,
  SESSIONS_OVER_TIME,
} from './operations.js';

import { TEAM_VIEW } from './team.js';

const DAY = 86_400_000;

/** A small table: columns are [heading, row => text]. */
function table(columns, rows) {
  const el = document.createElement('table');
  const head = el.createTHead().insertRow();
  for (const [heading] of columns) head.appendChild(document.createElement('th')).textContent = heading;
  const body = el.createTBody();
  for (const row of rows) {
    const tr = body.insertRow();
    for (const [, cell] of columns) tr.insertCell().textContent = cell(row);
  }
  return el;
}

/** Calendar bucket (UTC, as the API's sessionsOverTime) for a period: days up to two weeks, weeks up to about four months, else months. */
function bucketFor(period) {
  const days = period.from ? (Date.parse(period.to ?? new Date().toISOString()) - Date.parse(period.from)) / DAY : Infinity;
  if (days <= 14) return { name: 'DAY', start: (t) => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate())), end: (start) => new Date(start.getTime() + DAY) };
  if (days <= 120) {
    // Weeks start on Monday.
    return { name: 'WEEK', start: (t) => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() - ((t.getUTCDay() + 6) % 7))), end: (start) => new Date(start.getTime() + 7 * DAY) };
  }
  return { name: 'MONTH', start: (t) => new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1)), end: (start) => new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth() + 1, 1)) };
}

export const VIEWS = {
  overview: {
    title: 'Overview',
    panels: [
      {
        id: 'athletes-by-phase',
        title: 'Athletes per model phase',
        load: (ctx) => ctx.query(ATHLETES_BY_PHASE).then((d) => d.insights.athletesByPhase),
        empty: (rows) => rows.every((d) => d.count === 0),
        render: (rows, width, chart) => chart.athletesByPhase(rows, width),
      },
      {
        id: 'sessions-over-time',
        title: (ctx) => `Sessions and mean quality per ${bucketFor(ctx.period).name.toLowerCase()}`,
        load: async (ctx) => {
          const bucket = bucketFor(ctx.period);
          const data = await ctx.query(SESSIONS_OVER_TIME, { bucket: bucket.name });
          return data.insights.sessionsOverTime.map((d) => ({ ...d, start: new Date(d.start), end: bucket.end(new Date(d.start)) }));
        },
        empty: (rows) => rows.every((d) => d.count === 0),
        render: (rows, width, chart) => chart.sessionsOverTime(rows, width),
      },
      {
        id: 'quality-histogram',
        title: 'Session quality ratings',
        load: (ctx) => ctx.query(QUALITY_HISTOGRAM).then((d) => d.insights.qualityHistogram),
        empty: (rows) => rows.every((d) => d.count === 0),
        render: (rows, width, chart) => chart.qualityHistogram(rows, width),
      },
      {
        id: 'training-runs',
        title: 'Nightly training runs: duration and status',
        load: (ctx) => ctx.shared('nightly', () => ctx.query(NIGHTLY_RUNS)).then(nightlyRuns),
        empty: (runs) => runs.length === 0,
        render: (runs, width, chart) => chart.trainingRunsOverTime(runs, width),
      },
      {
        id: 'training-stages',
        title: 'Duration by stage, latest 20 nightly runs',
        load: (ctx) => ctx.shared('nightly', () => ctx.query(NIGHTLY_RUNS)).then(nightlyRuns),
        empty: (runs) => runs.every((run) => run.stages.length === 0),
        render: (runs, width, chart) =>
          chart.trainingRunStages(
            runs.slice(-20).flatMap((run) => run.stages.map((s) => ({ run: `${format.dateTime(run.startedAt)} UTC, ${run.status.toLowerCase()}`, stage: s.stage, ms: s.ms }))),
            width,
          ),
      },
    ],
  },

  quality: {
    title: 'Model quality',
    panels: [
      {
        id: 'quality-summary',
        title: 'Predictions scored against the ratings that followed',
        load: (ctx) => modelQuality(ctx),
        empty: (q) => q.n === 0,
        render: (q) =>
          table(
            [
              ['phase', (r) => r.phase ?? 'all'],
              ['sessions', (r) => String(r.n)],
              ['RMSE', (r) => format.number(r.rmse)],
              ['MAE', (r) => format.number(r.mae)],
              ['bias (predicted - actual)', (r) => format.number(r.bias)],
              ['inside the 95 % interval', (r) => format.share(r.intervalCoverage)],
            ],
            [{ ...q, phase: 'all phases' }, ...q.byPhase.filter((p) => p.n > 0)],
          ),
      },
      {
        id: 'calibration',
        title: 'Calibration: mean actual vs mean predicted quality, per phase (dot area: sessions)',
        load: (ctx) => modelQuality(ctx).then((q) => q.byPhase.flatMap((p) => p.calibration.filter((b) => b.n > 0).map((b) => ({ ...b, phase: p.phase })))),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.calibration(rows, width),
      },
      {
        id: 'quality-over-time',
        title: (ctx) => `RMSE and 95 % interval coverage per ${bucketFor(ctx.period).name.toLowerCase()}`,
        load: (ctx) => modelQuality(ctx).then((q) => q.overTime.filter((d) => d.n > 0)),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.qualityOverTime(rows, width),
      },
      {
        id: 'held-out-error',
        title: 'Nightly held-out error (recent sessions predicted by a fit that did not see them)',
        load: (ctx) =>
          ctx.query(HELD_OUT).then((d) =>
            d.trainingRuns.edges
              .map((e) => e.node)
              .filter((run) => run.heldOut && run.heldOut.n > 0)
              .flatMap((run) => [
                { at: new Date(run.startedAt), measure: 'RMSE', value: run.heldOut.rmse, n: run.heldOut.n },
                { at: new Date(run.startedAt), measure: 'MAE', value: run.heldOut.mae, n: run.heldOut.n },
              ]),
          ),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.heldOutError(rows, width),
      },
    ],
  },

  population: {
    title: 'Population model',
    panels: [
      {
        id: 'effects',
        title: 'Effect of one SD of each variable on session quality: 95 % interval, and how much athletes differ (band)',
        load: (ctx) => ctx.query(EFFECTS).then((d) => d.insights.effects),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.forest(rows, width),
      },
      {
        id: 'population-statistics',
        title: 'Population statistics',
        load: (ctx) => ctx.query(POPULATION, {}, { withPeriod: false }),
        empty: (d) => !d.populationModel && d.populationStatistics.length === 0,
        render: (d) => {
          const fit = d.populationModel;
          const summary = document.createElement('p');
          summary.textContent = fit
            ? `Last nightly fit ${format.dateTime(fit.fittedAt)} UTC: ${fit.usersIncluded} athletes, ${fit.sessionsIncluded} sessions, residual sd ${format.number(fit.sigma)}.`
            : 'No nightly fit yet.';
          return [
            summary,
            table(
              [
                ['variable', (r) => r.variable],
                ['mean', (r) => format.number(r.mean)],
                ['sd', (r) => format.number(r.std)],
                ['min', (r) => format.number(r.min)],
                ['max', (r) => format.number(r.max)],
                ['sessions', (r) => String(r.n)],
              ],
              d.populationStatistics,
            ),
          ];
        },
      },
    ],
  },

  rules: {
    title: 'Rules',
    panels: [
      {
        id: 'rule-matches',
        title: 'How often each rule matched',
        load: (ctx) => ctx.shared('rules', () => ctx.query(RULES)).then(matchedRules),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.ruleMatches(rows, width),
      },
      {
        id: 'rule-quality',
        title: 'Mean quality of the sessions where each rule matched, against the sessions where it did not',
        load: (ctx) => ctx.shared('rules', () => ctx.query(RULES)).then(matchedRules),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.ruleQuality(rows, width),
      },
    ],
  },

  athlete: {
    title: 'One athlete',
    needsAthlete: true,
    /** The period's athletes, worst predicted first (modelQuality.byAthlete, ordered by the database). */
    choices: (ctx) =>
      ctx.query(ATHLETE_CHOICES).then((d) => ({
        totalCount: d.modelQuality.byAthlete.totalCount,
        athletes: d.modelQuality.byAthlete.edges.map(({ node }) => ({
          id: node.userId,
          label: `RMSE ${format.number(node.rmse)}, bias ${node.bias > 0 ? '+' : ''}${format.number(node.bias)}, ${node.n} scored sessions`,
        })),
      })),
    panels: [
      {
        id: 'athlete-predictions',
        title: 'Predicted (with 95 % interval) vs actual session quality',
        load: (ctx) =>
          ctx.query(ATHLETE_SESSIONS, { userId: ctx.athlete }).then((d) =>
            d.sessions.edges
              .map(({ node }) => {
                const prediction = node.recommendation?.prediction;
                return {
                  startedAt: node.startedAt,
                  sessionQuality: node.sessionQuality,
                  expectedQuality: prediction?.expectedQuality ?? null,
                  low: prediction?.interval?.low ?? null,
                  high: prediction?.interval?.high ?? null,
                };
              })
              .reverse(),
          ),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.athletePredictions(rows, width),
      },
      {
        id: 'athlete-coefficients',
        title: 'Coefficient history (nightly fits)',
        load: (ctx) =>
          ctx
            .shared('athlete-model', () => ctx.query(ATHLETE_MODEL, { userId: ctx.athlete }))
            .then((d) =>
              (d.modelOutput?.history ?? []).flatMap((h) => h.coefficients.filter((c) => c.variable !== 'intercept').map((c) => ({ at: new Date(h.fittedAt), variable: c.variable, value: c.value }))),
            ),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.coefficientHistory(rows, width),
      },
      {
        id: 'athlete-phases',
        title: 'Model phase over time (rings: a change of phase)',
        load: (ctx) =>
          ctx
            .shared('athlete-model', () => ctx.query(ATHLETE_MODEL, { userId: ctx.athlete }))
            .then((d) => (d.modelOutput?.history ?? []).map((h) => ({ at: new Date(h.fittedAt), phase: h.phase, sessionsIncluded: h.sessionsIncluded }))),
        empty: (rows) => rows.length === 0,
        render: (rows, width, chart) => chart.phaseChanges(rows, width),
      },
    ],
  },
  team: TEAM_VIEW,
};

/** Nightly runs, oldest first, with their duration and the stages that add up to it. */
function nightlyRuns(data) {
  return data.trainingRuns.edges
    .map(({ node }) => ({
      ...node,
      durationMs: node.stageTimings?.totalMs ?? (node.finishedAt ? Date.parse(node.finishedAt) - Date.parse(node.startedAt) : 0),
      // "fit" is the part of "trainedModel" spent fitting: stacking both would count it twice.
      stages: (node.stageTimings?.stages ?? []).filter((s) => s.stage !== 'fit'),
    }))
    .reverse();
}

const matchedRules = (data) => data.insights.rules.filter((r) => r.matched > 0).sort((a, b) => b.matched - a.matched);

/** The Model quality view's one modelQuality request, shared by its panels. */
const modelQuality = (ctx) => ctx.shared('quality', () => ctx.query(MODEL_QUALITY, { bucket: bucketFor(ctx.period).name })).then((d) => d.modelQuality);
