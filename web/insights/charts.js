// Chart builders (Observable Plot): each takes rows already shaped by the API and returns DOM nodes.
import * as Plot from '/insights/vendor/plot.js';
import { format } from './format.js';

const PHASES = ['COLD_START', 'LEARNING', 'PERSONALIZED'];
const phaseColor = { domain: PHASES, range: ['#9aa5b1', '#e0a030', '#2f7ed8'], legend: true };
const statusColor = {
  domain: ['SUCCEEDED', 'FAILED', 'SKIPPED', 'RUNNING', 'QUEUED'],
  range: ['#2e9d58', '#d64541', '#9aa5b1', '#2f7ed8', '#b9c2cc'],
  legend: true,
};
const QUALITY = [1, 10];
const utc = (date) => new Date(date);
const HOUR = 3_600_000;

/**
 * A time axis over the dates shown: a single instant (one nightly run, one bucket) gets a day either side, so the
 * axis has ticks to label instead of one raw ISO timestamp.
 */
function timeAxis(dates) {
  const times = dates.map((d) => utc(d).getTime());
  const [min, max] = [Math.min(...times), Math.max(...times)];
  const pad = max - min < HOUR ? 24 * HOUR : 0;
  return { type: 'utc', label: null, domain: [new Date(min - pad), new Date(max + pad)], nice: pad > 0 };
}

export function athletesByPhase(rows, width) {
  return Plot.plot({
    width,
    height: 150,
    marginLeft: 110,
    x: { label: 'athletes', grid: true },
    y: { label: null, domain: PHASES },
    color: phaseColor,
    marks: [
      Plot.barX(rows, { x: 'count', y: 'phase', fill: 'phase', tip: true }),
      Plot.text(rows, { x: 'count', y: 'phase', text: (d) => String(d.count), textAnchor: 'start', dx: 4 }),
      Plot.ruleX([0]),
    ],
  });
}

/** Sessions per bucket (bars) above their mean quality (line), on one time axis (rows: { start, end, count, meanQuality }). */
export function sessionsOverTime(data, width) {
  const x = { type: 'utc', label: null, domain: [data[0].start, data.at(-1).end] };
  return [
    Plot.plot({
      width,
      height: 180,
      x,
      y: { label: 'sessions', grid: true },
      marks: [Plot.rectY(data, { x1: 'start', x2: 'end', y: 'count', fill: '#2f7ed8', inset: 1, tip: true }), Plot.ruleY([0])],
    }),
    Plot.plot({
      width,
      height: 150,
      x,
      y: { label: 'mean quality', domain: QUALITY, grid: true },
      marks: [
        Plot.lineY(
          data.filter((d) => d.meanQuality !== null),
          { x: (d) => new Date((d.start.getTime() + d.end.getTime()) / 2), y: 'meanQuality', stroke: '#e0a030' },
        ),
        Plot.dot(
          data.filter((d) => d.meanQuality !== null),
          { x: (d) => new Date((d.start.getTime() + d.end.getTime()) / 2), y: 'meanQuality', fill: '#e0a030', tip: true },
        ),
      ],
    }),
  ];
}

export function qualityHistogram(rows, width) {
  return Plot.plot({
    width,
    height: 200,
    x: { label: 'session quality (athlete rating)', domain: Array.from({ length: 10 }, (_, i) => i + 1) },
    y: { label: 'sessions', grid: true },
    marks: [Plot.barY(rows, { x: 'quality', y: 'count', fill: '#2f7ed8', tip: true }), Plot.ruleY([0])],
  });
}

/** Each nightly run: its total duration over time, coloured by status. */
export function trainingRunsOverTime(runs, width) {
  return Plot.plot({
    width,
    height: 180,
    x: timeAxis(runs.map((d) => d.startedAt)),
    y: { label: 'duration (s)', grid: true, zero: true },
    color: statusColor,
    marks: [Plot.dot(runs, { x: (d) => utc(d.startedAt), y: (d) => d.durationMs / 1000, fill: 'status', r: 4, tip: true })],
  });
}

/** The latest runs, one bar each (labelled with its start, UTC, and status), split by stage. */
export function trainingRunStages(rows, width) {
  const runs = [...new Set(rows.map((d) => d.run))];
  return Plot.plot({
    width,
    height: 60 + 22 * runs.length,
    marginLeft: 190,
    marginBottom: 35,
    x: { label: 'seconds', grid: true },
    y: { label: null, domain: runs },
    color: { legend: true, scheme: 'tableau10' },
    marks: [Plot.barX(rows, { x: (d) => d.ms / 1000, y: 'run', fill: 'stage', tip: true }), Plot.ruleX([0])],
  });
}

/** Mean actual vs mean predicted quality per predicted-quality band, one facet per phase; dot area = sessions. */
export function calibration(rows, width) {
  return Plot.plot({
    width,
    height: Math.min(320, Math.max(220, width / 3)),
    x: { label: 'predicted quality', domain: QUALITY },
    y: { label: 'actual quality', domain: QUALITY, grid: true },
    fx: { label: null, domain: PHASES.filter((p) => rows.some((d) => d.phase === p)) },
    r: { range: [2, 12] },
    color: phaseColor,
    marks: [
      Plot.frame({ stroke: '#ddd' }),
      Plot.line(
        [
          [1, 1],
          [10, 10],
        ],
        { stroke: '#999', strokeDasharray: '4,3' },
      ),
      Plot.line(rows, { fx: 'phase', x: 'meanPredicted', y: 'meanActual', stroke: 'phase' }),
      Plot.dot(rows, { fx: 'phase', x: 'meanPredicted', y: 'meanActual', r: 'n', fill: 'phase', tip: true }),
      Plot.text(rows, { fx: 'phase', x: 'meanPredicted', y: 'meanActual', text: (d) => `n=${d.n}`, dy: -12, fontSize: 9 }),
    ],
  });
}

/** Error and interval coverage per time bucket of the period. */
export function qualityOverTime(rows, width) {
  const x = timeAxis(rows.map((d) => d.start));
  const data = rows.map((d) => ({ ...d, at: utc(d.start) }));
  return [
    Plot.plot({
      width,
      height: 160,
      x,
      y: { label: 'RMSE (quality points)', grid: true, zero: true },
      marks: [Plot.lineY(data, { x: 'at', y: 'rmse', stroke: '#d64541' }), Plot.dot(data, { x: 'at', y: 'rmse', fill: '#d64541', tip: true })],
    }),
    Plot.plot({
      width,
      height: 160,
      x,
      y: { label: 'interval coverage', domain: [0, 1], grid: true, tickFormat: '.0%' },
      marks: [
        Plot.ruleY([0.95], { stroke: '#999', strokeDasharray: '4,3' }),
        Plot.lineY(data, { x: 'at', y: 'intervalCoverage', stroke: '#2f7ed8' }),
        Plot.dot(data, { x: 'at', y: 'intervalCoverage', fill: '#2f7ed8', tip: true }),
      ],
    }),
  ];
}

/** Held-out error of each nightly run (rows: { at, measure, value }). */
export function heldOutError(rows, width) {
  return Plot.plot({
    width,
    height: 180,
    x: timeAxis(rows.map((d) => d.at)),
    y: { label: 'held-out error (quality points)', grid: true, zero: true },
    color: { legend: true },
    // z names the series: with one run, each measure's single point would otherwise look like a series of its own.
    marks: [Plot.lineY(rows, { x: 'at', y: 'value', stroke: 'measure', z: 'measure' }), Plot.dot(rows, { x: 'at', y: 'value', fill: 'measure', tip: true })],
  });
}

/**
 * Forest plot: each variable's population effect per standard deviation with its 95 % interval (line), and the
 * between-athlete spread around it (pale band: effect +- one between-athlete sd).
 */
export function forest(rows, width) {
  const sorted = [...rows].sort((a, b) => Math.abs(b.perSd) - Math.abs(a.perSd));
  return Plot.plot({
    width,
    height: 40 + 24 * sorted.length,
    marginLeft: 160,
    x: { label: 'effect on session quality per SD of the variable', grid: true },
    y: { label: null, domain: sorted.map((d) => d.variable) },
    marks: [
      Plot.barX(sorted, { y: 'variable', x1: (d) => d.perSd - d.betweenAthleteSd, x2: (d) => d.perSd + d.betweenAthleteSd, fill: '#2f7ed8', fillOpacity: 0.15, insetTop: 3, insetBottom: 3 }),
      Plot.ruleX([0], { stroke: '#999' }),
      Plot.ruleY(sorted, { y: 'variable', x1: 'lower', x2: 'upper', stroke: '#2f7ed8', strokeWidth: 2 }),
      Plot.dot(sorted, { y: 'variable', x: 'perSd', fill: '#2f7ed8', r: 4, tip: true }),
    ],
  });
}

export function ruleMatches(rows, width) {
  return Plot.plot({
    width,
    height: 40 + 22 * rows.length,
    marginLeft: 200,
    x: { label: 'sessions where the rule matched', grid: true },
    y: { label: null, domain: rows.map((d) => d.name) },
    marks: [Plot.barX(rows, { x: 'matched', y: 'name', fill: '#2f7ed8', tip: true }), Plot.ruleX([0])],
  });
}

/** Mean quality after sessions where each rule matched vs sessions where it did not (a dumbbell per rule). */
export function ruleQuality(rows, width) {
  const points = rows
    .flatMap((d) => [
      { name: d.name, group: 'rule matched', quality: d.meanQuality },
      { name: d.name, group: 'rule not matched', quality: d.meanQualityOthers },
    ])
    .filter((d) => d.quality !== null);
  return Plot.plot({
    width,
    height: 40 + 22 * rows.length,
    marginLeft: 200,
    x: { label: 'mean session quality', domain: QUALITY, grid: true },
    y: { label: null, domain: rows.map((d) => d.name) },
    color: { domain: ['rule matched', 'rule not matched'], range: ['#d64541', '#9aa5b1'], legend: true },
    marks: [
      Plot.link(
        rows.filter((d) => d.meanQuality !== null && d.meanQualityOthers !== null),
        { y1: 'name', y2: 'name', x1: 'meanQualityOthers', x2: 'meanQuality', stroke: '#ccc' },
      ),
      Plot.dot(points, { y: 'name', x: 'quality', fill: 'group', r: 5, tip: true }),
    ],
  });
}

/** One athlete: actual ratings (dots) against the expected quality shown before each session and its interval. */
export function athletePredictions(rows, width) {
  const data = rows.map((d) => ({ ...d, at: utc(d.startedAt) }));
  const predicted = data.filter((d) => d.expectedQuality !== null);
  return Plot.plot({
    width,
    height: 260,
    x: timeAxis(data.map((d) => d.at)),
    y: { label: 'session quality', domain: QUALITY, grid: true },
    color: { domain: ['predicted (95 % interval)', 'actual rating'], range: ['#2f7ed8', '#d64541'], legend: true },
    marks: [
      Plot.areaY(predicted, { x: 'at', y1: 'low', y2: 'high', fill: '#2f7ed8', fillOpacity: 0.15, curve: 'step' }),
      Plot.lineY(predicted, { x: 'at', y: 'expectedQuality', stroke: '#2f7ed8', curve: 'step' }),
      Plot.dot(
        data.filter((d) => d.sessionQuality !== null),
        { x: 'at', y: 'sessionQuality', fill: '#d64541', r: 3.5, tip: true },
      ),
    ],
  });
}

/** One athlete: how each coefficient moved over the nightly fits (rows: { at, variable, value, lower, upper }). */
export function coefficientHistory(rows, width) {
  return Plot.plot({
    width,
    height: 300,
    x: timeAxis(rows.map((d) => d.at)),
    y: { label: 'coefficient (quality points per unit)', grid: true },
    color: { legend: true, scheme: 'tableau10' },
    marks: [
      Plot.ruleY([0], { stroke: '#999' }),
      // z names the series (one per variable), which a single nightly fit could not show by itself.
      Plot.lineY(rows, { x: 'at', y: 'value', stroke: 'variable', z: 'variable' }),
      Plot.dot(rows, { x: 'at', y: 'value', fill: 'variable', r: 2.5, tip: true }),
    ],
  });
}

/** One athlete: the model phase over time, a mark where it changed (rows: { at, phase, sessionsIncluded }). */
export function phaseChanges(rows, width) {
  const changes = rows.filter((d, i) => i === 0 || d.phase !== rows[i - 1].phase);
  return Plot.plot({
    width,
    height: 130,
    x: timeAxis(rows.map((d) => d.at)),
    y: { label: null, domain: PHASES },
    marginLeft: 110,
    color: phaseColor,
    marks: [
      Plot.lineY(rows, { x: 'at', y: 'phase', stroke: '#ccc', curve: 'step-after' }),
      Plot.dot(rows, { x: 'at', y: 'phase', fill: 'phase', r: 2.5 }),
      Plot.dot(changes, { x: 'at', y: 'phase', stroke: 'phase', r: 7, tip: true }),
      Plot.text(changes, { x: 'at', y: 'phase', text: (d) => format.date(d.at), dy: -14, fontSize: 9 }),
    ],
  });
}
