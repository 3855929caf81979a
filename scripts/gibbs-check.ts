// The model fitted fully Bayesian, as a check on the nightly fit's coefficient coverage (issue 22 section 1): a
// Gibbs sampler over the same hierarchical model and priors (tau_j half-Cauchy(0, sqrt(individualVariance_j)),
// sigma² InvGamma(3, 2 · 1.5²), mu flat) with every rating at 1 or 10 a latent value drawn from its truncated normal,
// so that nothing is approximated: no mode and curvature for the censored athletes, no mean-field point for the
// spreads. Each sweep: the latent values; each athlete's posterior given them; each tau_j by Metropolis on its
// conditional with the athletes' coefficients integrated out (rank-1 updates of their posteriors; a plain Gibbs step
// for a weakly identified spread would take hundreds of sweeps per independent draw); the coefficients; mu; sigma².
// Prints, per term, the served 95 % interval's coverage of the true coefficients beside the sampler's equal-tailed
// 95 % interval's, and the fitted spread against the sampler's posterior of it.
//
//   npx tsx scripts/gibbs-check.ts [--seed 101] [--scenario piled|default] [--sweeps 1500] [--burn-in 300]
//
// About a minute per 1,000 sweeps on 1,200 athletes on a quiet machine; one seed per run (the evaluation's athletes
// of scripts/spread-diagnostics.ts: 200 per group of 3, 5, 10, 20, 30 and 60 sessions).
import { parseArgs } from 'node:util';
import { addRatedSession, emptyStats, fitHierarchical } from '../src/engine/bayes/index.ts';
import { cholesky } from '../src/engine/linalg.ts';
import { LOWER_CUT, UPPER_CUT, Z95 } from '../src/engine/normal.ts';
import { designRow, MODEL_TERMS, P, TERM_NAMES } from '../src/engine/variables.ts';
import { BOUNDED_NOISE_SD, BOUNDED_TRUTH_POPULATION, DEFAULT_NOISE_SD, DEFAULT_TRUTH_POPULATION, Random, simulateAthletes } from './lib/synthetic.ts';

const { values: args } = parseArgs({
  options: {
    seed: { type: 'string', default: '101' },
    scenario: { type: 'string', default: 'piled' },
    sweeps: { type: 'string', default: '1500' },
    'burn-in': { type: 'string', default: '300' },
  },
});
const seed = Number(args.seed);
const sweeps = Number(args.sweeps);
const burnIn = Number(args['burn-in']);
if (!Number.isInteger(seed)) throw new Error(`--seed: expected an integer, got ${args.seed}`);
if (!Number.isInteger(sweeps) || !Number.isInteger(burnIn) || burnIn < 0 || sweeps < burnIn + 2) {
  throw new Error(`--sweeps / --burn-in: expected whole numbers with sweeps >= burn-in + 2, got ${args.sweeps} / ${args['burn-in']}`);
}
if (args.scenario !== 'piled' && args.scenario !== 'default') throw new Error(`--scenario: expected piled or default, got ${args.scenario}`);

// The evaluation's athletes: caffeine 0, 100, 200 or 300 mg, its between-athlete sd equal to its mean.
const CAFFEINE = TERM_NAMES.indexOf('caffeineMg');
const truth = args.scenario === 'piled' ? BOUNDED_TRUTH_POPULATION : DEFAULT_TRUTH_POPULATION;
const population = { mean: truth.mean, sd: truth.sd.map((sd, j) => (j === CAFFEINE ? Math.abs(truth.mean[j]) : sd)) };
const athletes = simulateAthletes({
  seed,
  athletes: 1200,
  sessionsPerAthlete: (i) => [3, 5, 10, 20, 30, 60][i % 6],
  population,
  noiseSd: args.scenario === 'piled' ? BOUNDED_NOISE_SD : DEFAULT_NOISE_SD,
  outcome: 'rated',
  caffeineLevels: [0, 100, 200, 300],
});
const started = performance.now();
const fit = fitHierarchical(
  athletes.map((a) => {
    const st = emptyStats();
    for (const row of a.sessions) addRatedSession(st, row.checkIn as Record<string, unknown>, row.sessionQuality);
    return st;
  }),
);

/** One athlete's rows: X'X over every row, X'y and y'y over the rows inside the scale, the bounded rows apart. */
interface AthleteRows {
  xtx: Float64Array;
  xtyInside: Float64Array;
  yyInside: number;
  boundedX: Float64Array;
  /** +1 for a 10 (latent >= 9.5), -1 for a 1 (latent <= 1.5). */
  side: Int8Array;
  latent: Float64Array;
}
const rows: AthleteRows[] = athletes.map((a) => {
  const xtx = new Float64Array(P * P);
  const xtyInside = new Float64Array(P);
  let yyInside = 0;
  const boundedX: number[] = [];
  const side: number[] = [];
  const x = new Float64Array(P);
  for (const s of a.sessions) {
    designRow(s.checkIn as Record<string, unknown>, x);
    for (let i = 0; i < P; i++) for (let k = 0; k < P; k++) xtx[i * P + k] += x[i] * x[k];
    if (s.sessionQuality === 1 || s.sessionQuality === 10) {
      boundedX.push(...x);
      side.push(s.sessionQuality === 10 ? 1 : -1);
    } else {
      for (let i = 0; i < P; i++) xtyInside[i] += x[i] * s.sessionQuality;
      yyInside += s.sessionQuality ** 2;
    }
  }
  return { xtx, xtyInside, yyInside, boundedX: Float64Array.from(boundedX), side: Int8Array.from(side), latent: new Float64Array(side.length) };
});
const U = athletes.length;
const N = athletes.reduce((s, a) => s + a.sessions.length, 0);
const rng = new Random(seed * 7 + 1);

/** A normal(mean, sd) draw beyond `cut` (above it when `above`, else below): Robert's (1995) exponential proposal. */
function truncatedNormal(mean: number, sd: number, cut: number, above: boolean): number {
  const a = above ? (cut - mean) / sd : (mean - cut) / sd;
  let x: number;
  if (a < 0.45) {
    do x = rng.normal();
    while (x < a);
  } else {
    const rate = (a + Math.sqrt(a * a + 4)) / 2;
    for (;;) {
      x = a - Math.log(1 - rng.uniform()) / rate;
      if (rng.uniform() <= Math.exp(-((x - rate) ** 2) / 2)) break;
    }
  }
  return above ? mean + sd * x : mean - sd * x;
}

/** InvGamma(shape, scale): scale over a Gamma(shape) draw (Marsaglia and Tsang, shape >= 1). */
function inverseGamma(shape: number, scale: number): number {
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = rng.normal();
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    if (Math.log(rng.uniform()) < 0.5 * x * x + d - d * v + d * Math.log(v)) return scale / (d * v);
  }
}

const mu = [...fit.hyper.mu];
const tau2 = [...fit.hyper.tau2];
let sigma2 = fit.hyper.sigma2;
const priorScale2 = MODEL_TERMS.map((t) => t.individualVariance);
const beta = fit.users.map((u) => Float64Array.from(u.mean));
const mean = athletes.map(() => new Float64Array(P));
const cov = athletes.map(() => new Float64Array(P * P));
const xty = new Float64Array(P);
const factor = new Float64Array(P * P);
const e = new Float64Array(P);
const column = new Float64Array(P);
const kept = Math.floor((sweeps - burnIn) / 2);
const draws = new Float32Array(kept * U * P);
const tauDraws: number[][] = Array.from({ length: P }, () => []);
const step = new Array<number>(P).fill(0.3);
const accepted = new Array<number>(P).fill(0);
let stored = 0;

for (let sweep = 0; sweep < sweeps; sweep++) {
  const sd = Math.sqrt(sigma2);
  // The latent values of the bounded rows, then each athlete's posterior given them: N(mean, cov).
  for (let u = 0; u < U; u++) {
    const r = rows[u];
    xty.set(r.xtyInside);
    for (let i = 0; i < r.side.length; i++) {
      let eta = 0;
      for (let j = 0; j < P; j++) eta += r.boundedX[i * P + j] * beta[u][j];
      r.latent[i] = r.side[i] === 1 ? truncatedNormal(eta, sd, UPPER_CUT, true) : truncatedNormal(eta, sd, LOWER_CUT, false);
      for (let j = 0; j < P; j++) xty[j] += r.boundedX[i * P + j] * r.latent[i];
    }
    for (let i = 0; i < P; i++) for (let k = 0; k <= i; k++) factor[i * P + k] = r.xtx[i * P + k] / sigma2 + (i === k ? 1 / tau2[i] : 0);
    cholesky(factor, P);
    for (let c = 0; c < P; c++) {
      for (let i = 0; i < P; i++) {
        let v = i === c ? 1 : 0;
        for (let k = 0; k < i; k++) v -= factor[i * P + k] * e[k];
        e[i] = v / factor[i * P + i];
      }
      for (let i = P - 1; i >= 0; i--) {
        let v = e[i];
        for (let k = i + 1; k < P; k++) v -= factor[k * P + i] * e[k];
        e[i] = v / factor[i * P + i];
      }
      for (let i = 0; i < P; i++) cov[u][i * P + c] = e[i];
    }
    for (let i = 0; i < P; i++) {
      let v = 0;
      for (let k = 0; k < P; k++) v += cov[u][i * P + k] * (xty[k] / sigma2 + mu[k] / tau2[k]);
      mean[u][i] = v;
    }
  }
  // Each tau_j² by Metropolis in log tau² on its conditional with the coefficients integrated out; an accepted move
  // updates every athlete's posterior by the rank-1 change of their prior precision.
  for (let j = 0; j < P; j++) {
    for (let rep = 0; rep < 3; rep++) {
      const t0 = tau2[j];
      const t1 = t0 * Math.exp(step[j] * rng.normal());
      const delta = 1 / t1 - 1 / t0;
      let logRatio = 0.5 * Math.log(t1 / t0) - Math.log1p(t1 / priorScale2[j]) + Math.log1p(t0 / priorScale2[j]);
      for (let u = 0; u < U; u++) {
        const v = cov[u][j * P + j];
        const q = 1 + v * delta;
        logRatio += 0.5 * Math.log(t0 / t1) - 0.5 * Math.log(q) - ((mean[u][j] - mu[j]) ** 2 * delta) / (2 * q);
      }
      if (Math.log(rng.uniform()) >= logRatio) continue;
      tau2[j] = t1;
      accepted[j]++;
      for (let u = 0; u < U; u++) {
        const c = cov[u];
        const q = 1 + delta * c[j * P + j];
        const shift = (delta * (mu[j] - mean[u][j])) / q;
        for (let i = 0; i < P; i++) column[i] = c[i * P + j];
        for (let i = 0; i < P; i++) mean[u][i] += column[i] * shift;
        for (let i = 0; i < P; i++) for (let k = 0; k < P; k++) c[i * P + k] -= (column[i] * column[k] * delta) / q;
      }
    }
    // During the burn-in, aim the proposal at an acceptance rate of about 0.3.
    if (sweep < burnIn && sweep % 50 === 49) {
      step[j] *= accepted[j] / 150 > 0.3 ? 1.3 : 0.8;
      accepted[j] = 0;
    }
  }
  // The coefficients, mu (flat prior), sigma².
  for (let u = 0; u < U; u++) {
    factor.set(cov[u]);
    cholesky(factor, P);
    for (let i = 0; i < P; i++) e[i] = rng.normal();
    for (let i = 0; i < P; i++) {
      let v = mean[u][i];
      for (let k = 0; k <= i; k++) v += factor[i * P + k] * e[k];
      beta[u][i] = v;
    }
  }
  for (let j = 0; j < P; j++) {
    let sum = 0;
    for (let u = 0; u < U; u++) sum += beta[u][j];
    mu[j] = sum / U + Math.sqrt(tau2[j] / U) * rng.normal();
  }
  let rss = 0;
  for (let u = 0; u < U; u++) {
    const r = rows[u];
    let yy = r.yyInside;
    xty.set(r.xtyInside);
    for (let i = 0; i < r.side.length; i++) {
      yy += r.latent[i] ** 2;
      for (let j = 0; j < P; j++) xty[j] += r.boundedX[i * P + j] * r.latent[i];
    }
    let quad = 0;
    let lin = 0;
    for (let i = 0; i < P; i++) {
      let v = 0;
      for (let k = 0; k < P; k++) v += r.xtx[i * P + k] * beta[u][k];
      quad += beta[u][i] * v;
      lin += beta[u][i] * xty[i];
    }
    rss += yy - 2 * lin + quad;
  }
  sigma2 = inverseGamma(3 + N / 2, 2 * 2.25 + rss / 2);
  if (sweep >= burnIn) {
    for (let j = 0; j < P; j++) tauDraws[j].push(Math.sqrt(tau2[j]));
    if ((sweep - burnIn) % 2 === 0 && stored < kept) {
      for (let u = 0; u < U; u++) for (let j = 0; j < P; j++) draws[(stored * U + u) * P + j] = beta[u][j];
      stored++;
    }
  }
}

const sampleSd = Array.from({ length: P }, (_, j) => {
  const values = athletes.map((a) => a.trueCoefficients[j]);
  const m = values.reduce((s, v) => s + v, 0) / values.length;
  return Math.sqrt(values.reduce((s, v) => s + (v - m) ** 2, 0) / values.length);
});
console.log(
  `Seed ${seed}, ${args.scenario === 'piled' ? 'piled at the bounds' : 'default'}: ${U} athletes, ${N} sessions; ${sweeps} sweeps (${burnIn} burn-in), ${stored} draws kept; sigma² ${fit.hyper.sigma2.toFixed(3)} (fit), ${sigma2.toFixed(3)} (last draw); ${((performance.now() - started) / 1000).toFixed(0)} s`,
);
console.log('| Term | Served (the fit) | Gibbs, equal-tailed 95 % | Fitted tau / true sd | Gibbs tau / true sd: median (2.5-97.5 %) |');
console.log('|---|---:|---:|---:|---|');
const column95 = new Float64Array(stored);
const pct = (v: number) => `${(100 * v).toFixed(1)} %`;
for (let j = 0; j < P; j++) {
  let served = 0;
  let sampled = 0;
  for (let u = 0; u < U; u++) {
    const b = athletes[u].trueCoefficients[j];
    if (Math.abs(b - fit.users[u].mean[j]) <= Z95 * Math.sqrt(fit.users[u].covariance[j * P + j])) served++;
    for (let k = 0; k < stored; k++) column95[k] = draws[(k * U + u) * P + j];
    column95.sort();
    if (b >= column95[Math.floor(0.025 * stored)] && b <= column95[Math.ceil(0.975 * stored) - 1]) sampled++;
  }
  const t = [...tauDraws[j]].sort((a, b) => a - b);
  const q = (p: number) => (t[Math.floor(p * (t.length - 1))] / sampleSd[j]).toFixed(2);
  console.log(`| ${TERM_NAMES[j]} | ${pct(served / U)} | ${pct(sampled / U)} | ${(Math.sqrt(fit.hyper.tau2[j]) / sampleSd[j]).toFixed(2)} | ${q(0.5)} (${q(0.025)}-${q(0.975)}) |`);
}
