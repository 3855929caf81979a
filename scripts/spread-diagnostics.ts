// How well the nightly fit recovers each term's between-athlete spread, and what that does to the coefficient
// intervals' coverage (issue 22 section 1): the bounded model alone, fitted to the evaluation's synthetic athletes
// over many seeds (no LMM, so a seed takes seconds), per term:
//   served        - share of the athletes' true coefficients inside the served 95 % interval, pooled over seeds
//                   (± its standard error over the seeds, in points)
//   at true tau   - the same intervals at the true spreads (tau² = the truth's, fitted mu and sigma²)
//   tau / true    - fitted tau over the sample sd of the athletes' true coefficients: geometric mean and range
//   sd log tau²   - how well the data identify the spread (the fit's observed information), mean over seeds
//   without K-S   - the served intervals without Kass-Steffey's term (conditional on the fitted spreads)
//   mixed         - with --mixture: each term's interval mixed over its spread's uncertainty
//                   (spreadMixtureHalfWidths; issue 22 §1's seventh round, measured, not served)
//   grid          - with --grid: the intervals integrated over each spread's own posterior on a grid
//                   (scripts/lib/spread-grid.ts), in place of Kass-Steffey's Gaussian in log tau²
//   profile       - with --profile: each term's interval mixed over its spread's own posterior on a grid, the other
//                   spreads' and mu's first-order share kept (scripts/lib/spread-profile.ts; eighth round, not served),
//                   and that posterior's median tau over the true sd; with --mixture too, the wider of the two
//                   mixtures' intervals (their union)
//
//   npx tsx scripts/spread-diagnostics.ts [--seeds 101-112] [--per-group 200] [--groups 3,5,10,20,30,60]
//                                         [--scenario piled|default|unbounded|all] [--zero-spreads]
//                                         [--spread-equals-mean sleepHours,warmupMin] [--grid [--grid-anchor]]
//                                         [--scale-from-data F] [--tau-zero-power K] [--reml-mu] [--mixture]
//                                         [--skew-shift C] [--grid-median relative|absolute] [--holdout N]
//                                         [--profile [--profile-prior-power C] [--profile-reml] [--profile-nodes 61]
//                                                    [--profile-relinearise]]
//                                         [--fade J0 | --grow J0] [--weight-power N] [--weight-floor W]
//                                         [--shared-spread effect|individual [--mean-field-mu]
//                                          [--shared-tail student:DF|mixture:W:PI|halfCauchy:PI]]
//
// Measured in the ninth round (BENCHMARKS.md), not served: --shared-spread U gives the slopes' spreads one shared
// prior, log tau_j² ~ N(phi + 2 log unit_j, omega²), phi and omega² estimated across the slopes (fitHierarchical's
// sharedSpreadPrior), unit_j = sqrt(priorMean_j² + priorStd_j²) ('effect') or sqrt(individualVariance_j)
// ('individual'), mu's uncertainty counted as a restricted likelihood (remlMu) unless --mean-field-mu.
//
// Remedies measured in issue 22 §1's sixth round (BENCHMARKS.md), none served: --scale-from-data F sets each
// half-Cauchy's scale from the data, A_j = F sd(rating) / rms(x_j) (the same rule for every term); --tau-zero-power K
// and --reml-mu are fitHierarchical's options of those names; --skew-shift C serves each spread at
// log tau² - C Var(log tau²); --grid-median serves it at its grid posterior's median (absolute) or moved from the fit
// by the grid's median - mode (relative); --grid-anchor moves each grid so that its mode is the fit's value.
// --zero-spreads draws every slope with no between-athlete spread (all athletes share it; caffeine keeps its own):
// what the fit reports for spreads that are zero. --spread-equals-mean gives the named terms caffeine's truth, a
// between-athlete sd equal to the population effect (the others keep half of it).
//
// Measured in the eighth round (BENCHMARKS.md), none served: --profile's prior is p(log tau²) ∝ tau^C / (1 + tau²/A²)
// (C = 1: the model's half-Cauchy), --profile-reml integrates mu_j out of it, --profile-relinearise finds the
// censored athletes' mode and curvature again at every grid value (Laplace; 6x the time); --fade / --grow weight the
// spread's two pseudo-athletes by J = sum_u r_u² (fitHierarchical's pseudoAthleteWeight). --holdout N adds N sessions
// per athlete left out of the fit: with --seeds 20240601-20240624 --holdout 20 the bounded fit and its served
// coverage per term are the evaluation's (scripts/evaluate.ts), replicate for replicate, in 2 minutes.
import { parseArgs } from 'node:util';
import { addRatedSession, addSession, emptyStats, fitHierarchical, userPosterior } from '../src/engine/bayes/index.ts';
import type { SharedSpreadEstimate, SharedSpreadTail, SharedSpreadUnit } from '../src/engine/bayes/variational-fit.ts';
import { spreadMixtureHalfWidths, withHyperparameterUncertainty } from '../src/engine/bayes/hyperparameter-uncertainty.ts';
import { Z95 } from '../src/engine/normal.ts';
import { designRow, MODEL_TERMS, P, TERM_NAMES } from '../src/engine/variables.ts';
import { SpreadPosterior, withSpreadPosterior } from './lib/spread-grid.ts';
import { profileMixtureHalfWidths, SpreadProfile } from './lib/spread-profile.ts';
import { hasBounded } from '../src/engine/bayes/censored-newton.ts';
import { BOUNDED_NOISE_SD, BOUNDED_TRUTH_POPULATION, DEFAULT_NOISE_SD, DEFAULT_TRUTH_POPULATION, simulateAthletes, type TruthPopulation } from './lib/synthetic.ts';

const { values: args } = parseArgs({
  options: {
    seeds: { type: 'string', default: '101-112' },
    'per-group': { type: 'string', default: '200' },
    groups: { type: 'string', default: '3,5,10,20,30,60' },
    holdout: { type: 'string', default: '0' },
    scenario: { type: 'string', default: 'all' },
    'zero-spreads': { type: 'boolean', default: false },
    'spread-equals-mean': { type: 'string', default: '' },
    grid: { type: 'boolean', default: false },
    'tau-zero-power': { type: 'string', default: '1' },
    'scale-from-data': { type: 'string', default: '' },
    'skew-shift': { type: 'string', default: '' },
    'grid-median': { type: 'string', default: '' },
    'grid-anchor': { type: 'boolean', default: false },
    'reml-mu': { type: 'boolean', default: false },
    mixture: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    'profile-reml': { type: 'boolean', default: false },
    'profile-nodes': { type: 'string', default: '61' },
    'profile-relinearise': { type: 'boolean', default: false },
    'profile-prior-power': { type: 'string', default: '1' },
    fade: { type: 'string', default: '' },
    grow: { type: 'string', default: '' },
    'weight-floor': { type: 'string', default: '0.125' },
    'weight-power': { type: 'string', default: '1' },
    'shared-spread': { type: 'string', default: '' },
    'mean-field-mu': { type: 'boolean', default: false },
    'shared-tail': { type: 'string', default: '' },
  },
});

function parseSeeds(text: string): number[] {
  const range = /^(\d+)-(\d+)$/.exec(text);
  if (range) {
    const [lo, hi] = [Number(range[1]), Number(range[2])];
    if (hi < lo) throw new Error(`--seeds: ${text} is an empty range`);
    return Array.from({ length: hi - lo + 1 }, (_, i) => lo + i);
  }
  const seeds = text.split(',').map(Number);
  if (seeds.some((s) => !Number.isInteger(s))) throw new Error(`--seeds: expected "101-112" or "1,2,3", got ${text}`);
  return seeds;
}

const seeds = parseSeeds(args.seeds!);
for (const [flag, text] of [
  ['--scale-from-data', args['scale-from-data']],
  ['--skew-shift', args['skew-shift']],
  ['--tau-zero-power', args['tau-zero-power']],
  ['--profile-prior-power', args['profile-prior-power']],
  ['--fade', args.fade],
  ['--grow', args.grow],
  ['--weight-floor', args['weight-floor']],
  ['--weight-power', args['weight-power']],
] as const) {
  if (text && !(Number(text) >= 0)) throw new Error(`${flag}: expected a non-negative number, got ${text}`);
}
if (!(Number.isInteger(Number(args['profile-nodes'])) && Number(args['profile-nodes']) >= 3)) throw new Error(`--profile-nodes: expected a whole number >= 3, got ${args['profile-nodes']}`);
for (const flag of ['profile-reml', 'profile-relinearise'] as const) if (args[flag] && !args.profile) throw new Error(`--${flag}: only with --profile`);
if (args.fade && args.grow) throw new Error('--fade, --grow: one or the other');
if (args['grid-median'] && !['relative', 'absolute'].includes(args['grid-median'])) throw new Error(`--grid-median: expected relative or absolute, got ${args['grid-median']}`);
if (args['shared-spread'] && !['effect', 'individual'].includes(args['shared-spread'])) throw new Error(`--shared-spread: expected effect or individual, got ${args['shared-spread']}`);
if (args['mean-field-mu'] && !args['shared-spread']) throw new Error('--mean-field-mu: only with --shared-spread');
if (args['reml-mu'] && args['mean-field-mu']) throw new Error('--reml-mu, --mean-field-mu: one or the other');
// EXPERIMENT (ninth round): the slopes' spreads under one shared prior (with remlMu, unless --mean-field-mu).
const sharedSpreadPrior = (args['shared-spread'] || undefined) as SharedSpreadUnit | undefined;
const remlMu = args['reml-mu'] ? true : args['mean-field-mu'] ? false : undefined;
// EXPERIMENT (tenth round; measured, not served): the shared prior made robust, --shared-tail student:DF, mixture:W:PI
// or halfCauchy:PI (fitHierarchical's sharedSpreadTail: a Student-t with DF degrees of freedom; the shared N(m, omega²)
// with prior share PI beside a wide N(m, omega² + W²), each slope's responsibility from its data's own estimate; or
// per-term model averaging, with prior share PI, between the shared prior and the slope's own half-Cauchy by evidence).
function parseTail(text: string): SharedSpreadTail | undefined {
  if (!text) return undefined;
  const [kind, a, b] = text.split(':');
  if (kind === 'student' && Number(a) > 0) return { kind, df: Number(a) };
  if (kind === 'mixture' && Number(a) > 0 && Number(b) > 0 && Number(b) < 1) return { kind, wideSd: Number(a), narrowShare: Number(b) };
  if (kind === 'halfCauchy' && Number(a) > 0 && Number(a) < 1) return { kind, narrowShare: Number(a) };
  throw new Error(`--shared-tail: expected student:DF, mixture:W:PI or halfCauchy:PI (PI in (0, 1)), got ${text}`);
}
const sharedSpreadTail = parseTail(args['shared-tail']!);
if (sharedSpreadTail && !sharedSpreadPrior) throw new Error('--shared-tail: only with --shared-spread');
if (args['grid-anchor'] && !args.grid) throw new Error('--grid-anchor: only with --grid');
const perGroup = Number(args['per-group']);
// --holdout N: N more sessions per athlete, left out of the fit (scripts/evaluate.ts's athletes: with its seeds,
// 20240601-20240624, and --holdout 20 the bounded fit is the evaluation's, replicate for replicate).
const holdout = Number(args.holdout);
if (!Number.isInteger(holdout) || holdout < 0) throw new Error(`--holdout: expected a whole number >= 0, got ${args.holdout}`);
const groups = args.groups!.split(',').map(Number);
if (!Number.isInteger(perGroup) || perGroup < 1) throw new Error(`--per-group: expected a positive integer, got ${args['per-group']}`);
if (groups.some((g) => !Number.isInteger(g) || g < 1)) throw new Error(`--groups: expected positive integers, got ${args.groups}`);

// The evaluation's athletes (scripts/evaluate.ts): caffeine 0, 100, 200 or 300 mg, between-athlete sd = its mean.
const CAFFEINE = TERM_NAMES.indexOf('caffeineMg');
const fullSpread = args['spread-equals-mean']
  ? args['spread-equals-mean'].split(',').map((name) => {
      const j = TERM_NAMES.indexOf(name);
      if (j <= 0) throw new Error(`--spread-equals-mean: expected slope terms (${TERM_NAMES.slice(1).join(', ')}), got ${name}`);
      return j;
    })
  : [];
const CAFFEINE_LEVELS = [0, 100, 200, 300];
const evaluationPopulation = (pop: TruthPopulation): TruthPopulation => ({
  mean: pop.mean,
  sd: pop.sd.map((sd, j) => (j === CAFFEINE || fullSpread.includes(j) ? Math.abs(pop.mean[j]) : j > 0 && args['zero-spreads'] ? 0 : sd)),
});
const SCENARIOS = [
  { name: 'piled', title: 'piled at the bounds', population: evaluationPopulation(BOUNDED_TRUTH_POPULATION), noiseSd: BOUNDED_NOISE_SD, outcome: 'rated' as const },
  { name: 'default', title: 'default', population: evaluationPopulation(DEFAULT_TRUTH_POPULATION), noiseSd: DEFAULT_NOISE_SD, outcome: 'rated' as const },
  { name: 'unbounded', title: 'unbounded control', population: evaluationPopulation(DEFAULT_TRUTH_POPULATION), noiseSd: DEFAULT_NOISE_SD, outcome: 'linear' as const },
];
const chosen = args.scenario === 'all' ? SCENARIOS : SCENARIOS.filter((s) => s.name === args.scenario);
if (chosen.length === 0) throw new Error(`--scenario: expected piled, default, unbounded or all, got ${args.scenario}`);

// EXPERIMENT (eighth round): the spread's two pseudo-athletes weighted by what the athletes say about the term,
// J = sum_u r_u²: --fade J0 gives w = J0 / (J0 + J) (fading as the term is identified), --grow J0 w = J / (J0 + J);
// never below --weight-floor; with --weight-power n the ratios of J^n and J0^n (a steeper step at J0).
const weightFloor = Number(args['weight-floor']);
const weightPower = Number(args['weight-power']);
const pseudoAthleteWeight = args.fade
  ? (info: number) => Math.max(weightFloor, Number(args.fade) ** weightPower / (Number(args.fade) ** weightPower + info ** weightPower))
  : args.grow
    ? (info: number) => Math.max(weightFloor, info ** weightPower / (Number(args.grow) ** weightPower + info ** weightPower))
    : undefined;
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
const started = performance.now();
console.log(
  `Seeds ${seeds.join(', ')}; ${perGroup} athletes per group x ${groups.length} groups (${groups.join(', ')} sessions)${args['zero-spreads'] ? '; every slope without a between-athlete spread (caffeine keeps its own)' : ''}${fullSpread.length ? `; between-athlete sd = the population effect for caffeineMg, ${fullSpread.map((j) => TERM_NAMES[j]).join(', ')}` : ''}.`,
);
for (const sc of chosen) {
  /** Per seed, per term: the served coverage (for the pooled figure's standard error). */
  const servedBySeed: number[][] = [];
  /** Per seed, per term: the coverage of the intervals mixed over each spread's uncertainty (--mixture). */
  const mixtureBySeed: number[][] = [];
  /** Per seed, per term: the coverage of the intervals mixed over each spread's grid posterior (--profile). */
  const profileBySeed: number[][] = [];
  /** Per seed, per term: the coverage of the wider of the two (--mixture with --profile). */
  const unionBySeed: number[][] = [];
  /** Per term, per seed: log of the grid posterior's median tau over the true sd (--profile). */
  const profileRatios: number[][] = Array.from({ length: P }, () => []);
  const gridServed = new Array<number>(P).fill(0);
  const atTrue = new Array<number>(P).fill(0);
  const noKs = new Array<number>(P).fill(0);
  const logRatios: number[][] = Array.from({ length: P }, () => []);
  const logTau: number[][] = Array.from({ length: P }, () => []);
  const logTau2Sd = new Array<number>(P).fill(0);
  let athletesTotal = 0;
  let sweeps = 0;
  /** Per seed: the shared prior's phi and omega² (--shared-spread). */
  const sharedEstimates: SharedSpreadEstimate[] = [];
  for (const seed of seeds) {
    const athletes = simulateAthletes({
      seed,
      athletes: perGroup * groups.length,
      sessionsPerAthlete: (i) => groups[i % groups.length] + holdout,
      population: sc.population,
      noiseSd: sc.noiseSd,
      outcome: sc.outcome,
      caffeineLevels: CAFFEINE_LEVELS,
    });
    const add = sc.outcome === 'rated' ? addRatedSession : addSession;
    const stats = athletes.map((a) => {
      const s = emptyStats();
      for (const row of a.sessions.slice(0, a.sessions.length - holdout)) add(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
      return s;
    });
    let terms = MODEL_TERMS;
    if (args['scale-from-data']) {
      // EXPERIMENT (a): each half-Cauchy's scale A_j = f · sd(rating) / rms(x_j), the same rule for every term.
      const f = Number(args['scale-from-data']);
      const sq = new Array<number>(P).fill(0);
      let n = 0;
      let sy = 0;
      let syy = 0;
      const x = new Float64Array(P);
      for (const a of athletes)
        for (const row of a.sessions) {
          designRow(row.checkIn as Record<string, unknown>, x);
          for (let j = 0; j < P; j++) sq[j] += x[j] * x[j];
          sy += row.sessionQuality;
          syy += row.sessionQuality * row.sessionQuality;
          n++;
        }
      const sdY = Math.sqrt(syy / n - (sy / n) ** 2);
      terms = MODEL_TERMS.map((t, j) => ({ ...t, individualVariance: (f * sdY) ** 2 / (j === 0 ? 1 : sq[j] / n) }));
      if (seed === seeds[0]) console.log(`A_j: ${terms.map((t) => Math.sqrt(t.individualVariance).toPrecision(2)).join(', ')}`);
    }
    const fit = fitHierarchical(stats, { tauZeroPower: Number(args['tau-zero-power']), terms, remlMu, pseudoAthleteWeight, sharedSpreadPrior, sharedSpreadTail });
    const shared = fit.diagnostics.sharedSpread;
    if (shared) sharedEstimates.push(shared);
    if (args['grid-median']) {
      // EXPERIMENT: each spread served at its grid posterior's median ('absolute'), or at the fit moved by the grid's
      // median - mode in log tau² ('relative': the skew of the spread's posterior, not the grid's own peak).
      const plainHyper = { ...fit.hyper, logTau2Cov: undefined };
      const cov0 = fit.hyper.logTau2Cov ?? new Array<number>(P * P).fill(0);
      const grid = new SpreadPosterior(
        fit.hyper.mu,
        fit.hyper.tau2,
        Array.from({ length: P }, (_, j) => Math.sqrt(cov0[j * P + j])),
      );
      stats.forEach((st) => {
        if (st.n === 0) return;
        const post = userPosterior(st, plainHyper);
        grid.add(post.mean, post.covariance);
      });
      const grids = grid.grids(MODEL_TERMS.map((t) => t.individualVariance));
      const tau2 = fit.hyper.tau2.map((t0, j) => {
        const g = grids[j];
        let acc = 0;
        let median = Math.log(g.tau2[g.tau2.length - 1]);
        for (let k = 0; k < g.tau2.length; k++) {
          if (acc + g.weight[k] >= 0.5) {
            // interpolate within the cell (weights as mass at the points)
            const prev = k > 0 ? Math.log(g.tau2[k - 1]) : Math.log(g.tau2[k]);
            const f = (0.5 - acc) / g.weight[k];
            median = prev + f * (Math.log(g.tau2[k]) - prev);
            break;
          }
          acc += g.weight[k];
        }
        let mode = 0;
        for (let k = 1; k < g.weight.length; k++) if (g.weight[k] > g.weight[mode]) mode = k;
        return args['grid-median'] === 'absolute' ? Math.exp(median) : t0 * Math.exp(median - Math.log(g.tau2[mode]));
      });
      if (seed === seeds[0]) console.log(`tau ratio to fit: ${tau2.map((t, j) => Math.sqrt(t / fit.hyper.tau2[j]).toFixed(2)).join(', ')}`);
      const hyper = { ...fit.hyper, tau2 };
      fit.hyper.tau2 = tau2;
      fit.users.forEach((_, u) => {
        fit.users[u] = userPosterior(stats[u], hyper);
      });
    }
    if (args['skew-shift']) {
      // EXPERIMENT (c): serve each spread at log tau² - c Var(log tau²) (the Laplace mean's shift for a left-skewed
      // posterior, which only an unidentified spread's variance makes large), athletes re-served at it.
      const c = Number(args['skew-shift']);
      const cov0 = fit.hyper.logTau2Cov ?? [];
      const hyper = { ...fit.hyper, tau2: fit.hyper.tau2.map((t, j) => t * Math.exp(-c * cov0[j * P + j])) };
      fit.hyper.tau2 = hyper.tau2;
      fit.users.forEach((_, u) => {
        fit.users[u] = userPosterior(stats[u], hyper);
      });
    }
    sweeps += fit.diagnostics.iterations;
    const trueSpread = { ...fit.hyper, tau2: sc.population.sd.map((sd) => Math.max(sd * sd, 1e-12)), logTau2Cov: undefined };
    if (args.grid) {
      // Each athlete's posterior at the fit's tau² (no spreads' uncertainty), each spread's grid posterior over them,
      // then the intervals integrated over it (mu's uncertainty kept as served).
      const conditional = stats.map((st) => userPosterior(st, { ...fit.hyper, logTau2Cov: undefined }));
      const logTau2Cov = fit.hyper.logTau2Cov ?? new Array<number>(P * P).fill(0);
      const grid = new SpreadPosterior(
        fit.hyper.mu,
        fit.hyper.tau2,
        Array.from({ length: P }, (_, j) => Math.sqrt(logTau2Cov[j * P + j])),
      );
      conditional.forEach((post, u) => {
        if (stats[u].n > 0) grid.add(post.mean, post.covariance);
      });
      const grids = grid.grids(MODEL_TERMS.map((t) => t.individualVariance));
      if (args['grid-anchor']) {
        // EXPERIMENT: each grid moved (in log tau²) so that its mode is the fit's value: the posterior's shape, not
        // the grid's own peak (which the censored athletes' fixed Gaussian moves).
        grids.forEach((g, j) => {
          let mode = 0;
          for (let k = 1; k < g.weight.length; k++) if (g.weight[k] > g.weight[mode]) mode = k;
          const f = fit.hyper.tau2[j] / g.tau2[mode];
          g.tau2 = g.tau2.map((t) => t * f);
        });
      }
      const noSpreadUncertainty = { ...fit.hyper, logTau2Cov: new Array<number>(P * P).fill(0) };
      athletes.forEach((a, u) => {
        const { mean, covariance } = conditional[u];
        const base = withHyperparameterUncertainty(mean, covariance, noSpreadUncertainty, new Float64Array(P * P));
        const cov = withSpreadPosterior(mean, covariance, base, fit.hyper.mu, fit.hyper.tau2, grids, base);
        a.trueCoefficients.forEach((b, j) => {
          if (Math.abs(b - mean[j]) <= Z95 * Math.sqrt(cov[j * P + j])) gridServed[j]++;
        });
      });
    }
    const seedServed = new Array<number>(P).fill(0);
    servedBySeed.push(seedServed);
    const seedMixture = new Array<number>(P).fill(0);
    mixtureBySeed.push(seedMixture);
    const halfWidths = new Float64Array(P);
    const seedProfile = new Array<number>(P).fill(0);
    profileBySeed.push(seedProfile);
    const seedUnion = new Array<number>(P).fill(0);
    unionBySeed.push(seedUnion);
    /** Each athlete's profile half-widths (P per athlete), for the union with the mixture (--profile with --mixture). */
    const profileWidths = new Float64Array(athletes.length * P);
    if (args.profile && fit.hyper.logTau2Cov) {
      const logTau2Cov = fit.hyper.logTau2Cov;
      const profile = new SpreadProfile(
        fit.hyper.mu,
        fit.hyper.tau2,
        Array.from({ length: P }, (_, j) => Math.sqrt(logTau2Cov[j * P + j])),
        { reml: args['profile-reml'], nodes: Number(args['profile-nodes']), priorPower: Number(args['profile-prior-power']) },
      );
      const plainHyper = { ...fit.hyper, logTau2Cov: undefined };
      const conditional = stats.map((st) => userPosterior(st, plainHyper));
      const relinearise = args['profile-relinearise'];
      const moments = conditional.map((post, u) => {
        if (stats[u].n === 0) return undefined;
        if (relinearise && hasBounded(stats[u])) return profile.addCensored(stats[u], post.mean, fit.hyper.sigma2);
        profile.add(post.mean, post.covariance);
        return undefined;
      });
      const nodes = profile.posteriors(
        terms.map((t) => t.individualVariance),
        terms.map((t) => t.priorStd ** 2),
      );
      nodes.forEach((nd, j) => {
        let acc = 0;
        let k = 0;
        while (k < nd.weight.length - 1 && acc + nd.weight[k] < 0.5) acc += nd.weight[k++];
        const values = athletes.map((a) => a.trueCoefficients[j]);
        const m = values.reduce((s, v) => s + v, 0) / values.length;
        const sampleSd = Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length);
        profileRatios[j].push(0.5 * nd.logTau2[k] - Math.log(sampleSd));
      });
      athletes.forEach((a, u) => {
        const post = conditional[u];
        const widths = profileWidths.subarray(u * P, (u + 1) * P);
        profileMixtureHalfWidths(post.mean, post.covariance, fit.users[u].covariance, { ...fit.hyper, logTau2Cov }, nodes, widths, moments[u], Number(args['profile-nodes']));
        a.trueCoefficients.forEach((b, j) => {
          if (Math.abs(b - post.mean[j]) <= widths[j]) seedProfile[j] += 1 / athletes.length;
        });
      });
    }
    athletes.forEach((a, u) => {
      const known = userPosterior(stats[u], trueSpread);
      const plain = userPosterior(stats[u], { ...fit.hyper, logTau2Cov: undefined });
      if (args.mixture && fit.hyper.logTau2Cov) {
        spreadMixtureHalfWidths(plain.mean, plain.covariance, fit.users[u].covariance, { ...fit.hyper, logTau2Cov: fit.hyper.logTau2Cov }, halfWidths);
        a.trueCoefficients.forEach((b, j) => {
          if (Math.abs(b - plain.mean[j]) <= halfWidths[j]) seedMixture[j] += 1 / athletes.length;
          if (args.profile && Math.abs(b - plain.mean[j]) <= Math.max(halfWidths[j], profileWidths[u * P + j])) seedUnion[j] += 1 / athletes.length;
        });
      }
      a.trueCoefficients.forEach((b, j) => {
        if (Math.abs(b - plain.mean[j]) <= Z95 * Math.sqrt(plain.covariance[j * P + j])) noKs[j]++;
      });
      a.trueCoefficients.forEach((b, j) => {
        if (Math.abs(b - fit.users[u].mean[j]) <= Z95 * Math.sqrt(fit.users[u].covariance[j * P + j])) seedServed[j] += 1 / athletes.length;
        if (Math.abs(b - known.mean[j]) <= Z95 * Math.sqrt(known.covariance[j * P + j])) atTrue[j]++;
      });
    });
    athletesTotal += athletes.length;
    for (let j = 0; j < P; j++) {
      const values = athletes.map((a) => a.trueCoefficients[j]);
      const mean = values.reduce((s, v) => s + v, 0) / values.length;
      const sampleSd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / values.length);
      logRatios[j].push(Math.log(Math.sqrt(fit.hyper.tau2[j]) / sampleSd));
      logTau[j].push(0.5 * Math.log(fit.hyper.tau2[j]));
      logTau2Sd[j] += Math.sqrt(fit.hyper.logTau2Cov?.[j * P + j] ?? Number.NaN) / seeds.length;
    }
  }
  console.log(`\n${sc.title}: ${athletesTotal.toLocaleString('en')} athletes, ${(sweeps / seeds.length).toFixed(0)} sweeps per fit`);
  if (sharedEstimates.length > 0) {
    const range = (v: number[]) => `${Math.min(...v).toFixed(2)}-${Math.max(...v).toFixed(2)}`;
    console.log(
      `Shared prior (${args['shared-spread']}${args['mean-field-mu'] ? ', mean-field q(mu)' : ''}${args['shared-tail'] ? `, tail ${args['shared-tail']}` : ''}): tau_j / unit_j = exp(phi / 2) ${range(sharedEstimates.map((e) => Math.exp(e.phi / 2)))}, omega (sd of log tau²) ${range(sharedEstimates.map((e) => Math.sqrt(e.omega2)))} over the seeds`,
    );
    const weighted = sharedEstimates.filter((e) => e.weights);
    if (weighted.length > 0) {
      // each slope's prior precision on log tau_j² relative to 1/omega² (student: lambda_j; mixture: about rho_j)
      const cells = TERM_NAMES.map((name, j) => (Number.isNaN(weighted[0].weights![j]) ? null : `${name} ${range(weighted.map((e) => e.weights![j]))}`)).filter((c) => c !== null);
      console.log(`Each slope's weight in the shared prior (precision x omega², range over the seeds): ${cells.join(', ')}`);
    }
  }
  console.log(
    `| Term | Served | Served without K-S | At the true spread | Fitted tau / true sd: geometric mean (range) | sd of log tau² |${args.grid ? ' Grid |' : ''}${args.mixture ? ' Mixed over the spread |' : ''}${args.profile ? ' Mixed over its grid posterior | Grid median tau / true sd |' : ''}${args.profile && args.mixture ? ' The wider of the two mixtures |' : ''}`,
  );
  console.log(`|---|---:|---:|---:|---|---:|${args.grid ? '---:|' : ''}${args.mixture ? '---:|' : ''}${args.profile ? '---:|---:|' : ''}${args.profile && args.mixture ? '---:|' : ''}`);
  /** Pooled coverage over the seeds ± its standard error (the seeds' sd / sqrt(seeds)), in points. */
  const pooled = (perSeed: number[]) => {
    const m = perSeed.reduce((t, v) => t + v, 0) / perSeed.length;
    const se = perSeed.length > 1 ? ` ± ${(100 * Math.sqrt(perSeed.reduce((t, v) => t + (v - m) ** 2, 0) / (perSeed.length - 1) / perSeed.length)).toFixed(1)}` : '';
    return `${pct(m)}${se}`;
  };
  for (let j = 0; j < P; j++) {
    const zero = args['zero-spreads'] && j > 0 && j !== CAFFEINE;
    const r = zero ? logTau[j] : logRatios[j];
    const show = (v: number) => (zero ? Math.exp(v).toPrecision(2) : Math.exp(v).toFixed(2));
    const ratio = `${zero ? 'true sd 0, fitted tau ' : ''}${show(r.reduce((s, v) => s + v, 0) / r.length)} (${show(Math.min(...r))}-${show(Math.max(...r))})`;
    const gridColumn = args.grid ? ` ${pct(gridServed[j] / athletesTotal)} |` : '';
    const mixtureColumn = args.mixture ? ` ${pooled(mixtureBySeed.map((c) => c[j]))} |` : '';
    const pr = profileRatios[j];
    const profileColumn = args.profile ? ` ${pooled(profileBySeed.map((c) => c[j]))} | ${Math.exp(pr.reduce((s, v) => s + v, 0) / pr.length).toFixed(2)} |` : '';
    const unionColumn = args.profile && args.mixture ? ` ${pooled(unionBySeed.map((c) => c[j]))} |` : '';
    console.log(
      `| ${TERM_NAMES[j]} | ${pooled(servedBySeed.map((c) => c[j]))} | ${pct(noKs[j] / athletesTotal)} | ${pct(atTrue[j] / athletesTotal)} | ${ratio} | ${logTau2Sd[j].toFixed(2)} |${gridColumn}${mixtureColumn}${profileColumn}${unionColumn}`,
    );
  }
}
console.log(`\n${((performance.now() - started) / 1000).toFixed(1)} s`);
