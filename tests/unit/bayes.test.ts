import { describe, expect, it } from 'vitest';
import {
  addObservation,
  addRatedSession,
  addRating,
  addRatingLinearised,
  addSession,
  linearisedStats,
  coefficientsRecord,
  credibleIntervals,
  emptyStats,
  fitHierarchical,
  mergeStats,
  parseHyperparameters,
  parseStats,
  phaseFor,
  populationUserModel,
  predictiveVariance,
  priorHyperparameters,
  shrinkageFactor,
  userPosterior,
  withoutStats,
  type Hyperparameters,
  type SufficientStats,
} from '../../src/engine/bayes/index.ts';
import { normalCdf } from '../../src/engine/normal.ts';
import { spreadMixtureHalfWidths } from '../../src/engine/bayes/hyperparameter-uncertainty.ts';
import { BOUNDED_NOISE_SD, BOUNDED_TRUTH_POPULATION, DEFAULT_TRUTH_POPULATION, mulberry32, simulateAthletes, type SimulatedAthlete } from '../../scripts/lib/synthetic.ts';
import { CHECK_IN_VARIABLES, DEFAULT_SIGMA2, MODEL_TERMS, P, TERM_NAMES, designRow, validateVariable } from '../../src/engine/variables.ts';

const hyper = priorHyperparameters();
const Z = 1.96;

/** Independent reference: Gauss-Jordan inverse with partial pivoting (no Cholesky). */
function gaussJordanInverse(a: number[], n: number): number[] {
  const m = a.map((v) => v);
  const inv: number[] = Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0));
  for (let c = 0; c < n; c++) {
    let piv = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[piv * n + c])) piv = r;
    for (let k = 0; k < n; k++) {
      [m[c * n + k], m[piv * n + k]] = [m[piv * n + k], m[c * n + k]];
      [inv[c * n + k], inv[piv * n + k]] = [inv[piv * n + k], inv[c * n + k]];
    }
    const d = m[c * n + c];
    for (let k = 0; k < n; k++) {
      m[c * n + k] /= d;
      inv[c * n + k] /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r * n + c];
      for (let k = 0; k < n; k++) {
        m[r * n + k] -= f * m[c * n + k];
        inv[r * n + k] -= f * inv[c * n + k];
      }
    }
  }
  return inv;
}

/** The domain.md formula computed directly: V = (T^-1 + X'X/s2)^-1, m = V (T^-1 mu + X'y/s2). */
function directPosterior(stats: SufficientStats, h: Hyperparameters): { mean: number[]; cov: number[] } {
  const prec = stats.xtx.map((v, k) => v / h.sigma2 + (Math.floor(k / P) === k % P ? 1 / h.tau2[k % P] : 0));
  const cov = gaussJordanInverse(prec, P);
  const rhs = stats.xty.map((v, j) => v / h.sigma2 + h.mu[j] / h.tau2[j]);
  const mean = rhs.map((_, i) => rhs.reduce((s, r, k) => s + cov[i * P + k] * r, 0));
  return { mean, cov };
}

function statsOf(athlete: SimulatedAthlete, count = athlete.sessions.length): SufficientStats {
  const s = emptyStats();
  for (const row of athlete.sessions.slice(0, count)) addSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
  return s;
}

function relClose(a: number, b: number, rel: number, abs = 1e-12): void {
  expect(Math.abs(a - b)).toBeLessThanOrEqual(rel * Math.max(Math.abs(a), Math.abs(b)) + abs);
}

describe('sufficient statistics', () => {
  it("accumulate X'X, X'y, y'y, n on the centred design", () => {
    const s = emptyStats();
    addSession(s, { sleepHours: 8, caffeineMg: 200 }, 7);
    addSession(s, { sleepHours: 6 }, 5);
    expect(s.n).toBe(2);
    expect(s.yty).toBe(49 + 25);
    const iSleep = TERM_NAMES.indexOf('sleepHours');
    const iCaf = TERM_NAMES.indexOf('caffeineMg');
    expect(s.xtx[0]).toBe(2);
    expect(s.xtx[iSleep * P + iSleep]).toBe(1 + 1); // (8-7)² + (6-7)²
    expect(s.xtx[iCaf * P + iCaf]).toBe(200 * 200);
    expect(s.xtx[iSleep * P + iCaf]).toBe(200);
    expect(s.xtx[iCaf * P + iSleep]).toBe(200);
    expect(s.xty[0]).toBe(12);
    expect(s.xty[iSleep]).toBe(7 - 5);
    // a legitimate 0 is a value: caffeineMg 0 and warmupMin 0 are x - c = 0 and -15
    const z = addSession(emptyStats(), { caffeineMg: 0, warmupMin: 0 }, 5);
    expect(z.xtx[TERM_NAMES.indexOf('warmupMin') * (P + 1)]).toBe(225);
  });

  it('are JSON-safe and parseStats round-trips them', () => {
    const s = addSession(emptyStats(), { energyLevel: 8 }, 6);
    const back = parseStats(JSON.parse(JSON.stringify(s)));
    expect(back).toEqual(s);
    expect(back).not.toBe(s);
  });

  it('parseStats returns null for stale or wrong shapes', () => {
    const good = addSession(emptyStats(), { energyLevel: 8 }, 6);
    expect(parseStats(null)).toBeNull();
    expect(parseStats('x')).toBeNull();
    expect(parseStats([])).toBeNull();
    expect(parseStats({ ...good, xtx: good.xtx.slice(0, 81) })).toBeNull(); // written with 9 terms
    expect(parseStats({ ...good, xty: [...good.xty, 0] })).toBeNull();
    expect(parseStats({ ...good, n: 1.5 })).toBeNull();
    expect(parseStats({ ...good, n: -1 })).toBeNull();
    expect(parseStats({ ...good, yty: Number.NaN })).toBeNull();
    expect(parseStats({ ...good, xtx: good.xtx.map((v, i) => (i === 3 ? 'a' : v)) })).toBeNull();
    // X'X[0][0] counts the rows (a linearised rating at 1 or 10 counts its weight in (0, 1]): never more than n.
    expect(parseStats({ ...good, n: 0 })).toBeNull();
    expect(parseStats({ xtx: good.xtx, xty: good.xty, yty: 1 })).toBeNull();
  });

  it('mergeStats adds two batches', () => {
    const a = addSession(emptyStats(), { energyLevel: 8 }, 6);
    const b = addSession(emptyStats(), { stressLevel: 2 }, 9);
    const both = addSession(addSession(emptyStats(), { energyLevel: 8 }, 6), { stressLevel: 2 }, 9);
    expect(mergeStats(a, b)).toEqual(both);
  });

  it("withoutStats takes rows back out: a 1 or 10 leaves the bounded rows, another rating X'X, X'y, y'y", () => {
    const rows: [Record<string, unknown>, number][] = [
      [{ energyLevel: 8 }, 6],
      [{ stressLevel: 2 }, 10],
      [{ sleepHours: 5 }, 1],
      [{ caffeineMg: 200 }, 10],
    ];
    const all = emptyStats();
    for (const [values, q] of rows) addRatedSession(all, values, q);
    const held = addRatedSession(addRatedSession(emptyStats(), { stressLevel: 2 }, 10), { energyLevel: 8 }, 6);
    const rest = emptyStats();
    for (const [values, q] of [rows[2], rows[3]]) addRatedSession(rest, values, q);
    const out = withoutStats(all, held);
    expect(out.n).toBe(2);
    expect(out.bounded).toEqual(rest.bounded);
    out.xtx.forEach((v, i) => {
      expect(v).toBeCloseTo(rest.xtx[i], 9);
    });
    out.xty.forEach((v, i) => {
      expect(v).toBeCloseTo(rest.xty[i], 9);
    });
    expect(out.yty).toBeCloseTo(rest.yty, 9);
    // A bounded row that is not there is an error, not a silent wrong downdate.
    expect(() => withoutStats(rest, addRatedSession(emptyStats(), { motivationLevel: 9 }, 10))).toThrow(/not in the statistics/);
    expect(() => withoutStats(emptyStats(), addRatedSession(emptyStats(), { motivationLevel: 9 }, 10))).toThrow(/not in the statistics/);
  });
});

describe('userPosterior (quick update)', () => {
  it('(a) reduced case by hand: only the intercept informed', () => {
    // Check-ins at the reference values: x - c = [1, 0, ..., 0]. Intercept prior N(6, 1), sigma² = 2.25.
    const s = emptyStats();
    for (const y of [7, 8, 6]) addSession(s, {}, y);
    const h = { ...hyper, mu: [...hyper.mu], tau2: [...hyper.tau2] };
    h.mu[0] = 6;
    h.tau2[0] = 1;
    h.sigma2 = 2.25;
    const r = userPosterior(s, h);
    // V = 1 / (1/1 + 3/2.25) = 3/7;  m = V (6/1 + 21/2.25) = 46/7
    expect(r.covariance[0]).toBeCloseTo(3 / 7, 12);
    expect(r.mean[0]).toBeCloseTo(46 / 7, 12);
    for (let j = 1; j < P; j++) {
      expect(r.mean[j]).toBeCloseTo(h.mu[j], 12);
      relClose(r.covariance[j * P + j], h.tau2[j], 1e-12);
      expect(r.covariance[j]).toBe(0);
    }
  });

  it('(a) matches the formula computed independently (Gauss-Jordan) on realistic rows, caffeine in mg included', () => {
    const [athlete] = simulateAthletes({ seed: 11, athletes: 1, sessionsPerAthlete: 25 });
    const s = statsOf(athlete);
    const h: Hyperparameters = { ...hyper, sigma2: 1.7 };
    const r = userPosterior(s, h);
    const d = directPosterior(s, h);
    for (let i = 0; i < P; i++) {
      relClose(r.mean[i], d.mean[i], 1e-9);
      for (let k = 0; k < P; k++) relClose(r.covariance[i * P + k], d.cov[i * P + k], 1e-7, 1e-15);
    }
    // symmetric and a proper covariance
    for (let i = 0; i < P; i++) for (let k = 0; k < P; k++) expect(r.covariance[i * P + k]).toBe(r.covariance[k * P + i]);
  });

  it('(b) adding rows one by one equals the statistics built in one go (and in two merged batches)', () => {
    const [athlete] = simulateAthletes({ seed: 5, athletes: 1, sessionsPerAthlete: 40 });
    const x = new Float64Array(P);
    const incremental = emptyStats();
    let last = userPosterior(incremental, hyper);
    for (const row of athlete.sessions) {
      designRow(row.checkIn as Record<string, unknown>, x);
      addObservation(incremental, x, row.sessionQuality);
      last = userPosterior(incremental, hyper);
    }
    const batch = statsOf(athlete);
    const merged = mergeStats(statsOf({ ...athlete, sessions: athlete.sessions.slice(0, 17) }), statsOf({ ...athlete, sessions: athlete.sessions.slice(17) }));
    for (const other of [batch, merged]) {
      const r = userPosterior(other, hyper);
      r.mean.forEach((v, i) => {
        relClose(last.mean[i], v, 1e-10);
      });
      r.covariance.forEach((v, i) => {
        relClose(last.covariance[i], v, 1e-9, 1e-15);
      });
    }
    expect(last.sessionsIncluded).toBe(40);
  });

  it('(c) phases and shrinkage at n = 0, 5, 12, 40', () => {
    const [athlete] = simulateAthletes({ seed: 3, athletes: 1, sessionsPerAthlete: 40 });
    const at = (n: number) => userPosterior(statsOf(athlete, n), hyper);
    const r0 = at(0);
    const r5 = at(5);
    const r12 = at(12);
    const r40 = at(40);
    expect([r0, r5, r12, r40].map((r) => r.phase)).toEqual(['COLD_START', 'COLD_START', 'LEARNING', 'PERSONALIZED']);
    expect(phaseFor(9)).toBe('COLD_START');
    expect(phaseFor(10)).toBe('LEARNING');
    expect(phaseFor(29)).toBe('LEARNING');
    expect(phaseFor(30)).toBe('PERSONALIZED');
    // Every phase serves the posterior (the phase is a label): with no data the population N(mu, diag(tau²)),
    // with 5 sessions already moved off it.
    expect(r0.mean).toEqual(hyper.mu);
    expect(r0.shrinkageFactor).toBeCloseTo(0, 12);
    for (let j = 0; j < P; j++) {
      relClose(r0.covariance[j * P + j], hyper.tau2[j], 1e-12);
      for (let k = 0; k < P; k++) if (k !== j) expect(r0.covariance[j * P + k]).toBe(0);
    }
    expect(r5.mean).not.toEqual(hyper.mu);
    expect(r5.shrinkageFactor).toBeGreaterThan(0);
    expect(r5.sessionsIncluded).toBe(5);
    directPosterior(statsOf(athlete, 5), hyper).mean.forEach((v, i) => {
      relClose(r5.mean[i], v, 1e-9);
    });
    // shrinkage grows with data and stays in (0, 1)
    expect(r12.shrinkageFactor).toBeGreaterThan(r5.shrinkageFactor);
    expect(r12.shrinkageFactor).toBeGreaterThan(0);
    expect(r12.shrinkageFactor).toBeLessThan(1);
    expect(r40.shrinkageFactor).toBeGreaterThan(r12.shrinkageFactor);
    expect(r40.shrinkageFactor).toBeLessThan(1);
    expect(r12.shrinkageFactor).toBeCloseTo(shrinkageFactor(r12.covariance, hyper.tau2), 15);
  });

  it('credible intervals are mean ± 1.96 sd keyed by term; coefficients keyed by term', () => {
    const [athlete] = simulateAthletes({ seed: 8, athletes: 1, sessionsPerAthlete: 15 });
    const r = userPosterior(statsOf(athlete), hyper);
    expect(Object.keys(r.credibleIntervals)).toEqual([...TERM_NAMES]);
    TERM_NAMES.forEach((name, j) => {
      const sd = Math.sqrt(r.covariance[j * P + j]);
      expect(r.credibleIntervals[name][0]).toBeCloseTo(r.mean[j] - Z * sd, 12);
      expect(r.credibleIntervals[name][1]).toBeCloseTo(r.mean[j] + Z * sd, 12);
      expect(r.coefficients[name]).toBe(r.mean[j]);
    });
    expect(credibleIntervals(r.mean, r.covariance)).toEqual(r.credibleIntervals);
    expect(coefficientsRecord(r.mean)).toEqual(r.coefficients);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });

  it("predictiveVariance = x'Vx + sigma²", () => {
    const cov = new Array(P * P).fill(0);
    cov[0] = 0.5;
    cov[1] = 0.1;
    cov[P] = 0.1;
    cov[P + 1] = 0.2;
    const x = designRow({ sleepHours: 9 }); // [1, 2, 0, ...]
    expect(predictiveVariance(x, cov, 2)).toBeCloseTo(0.5 + 2 * 2 * 0.1 + 4 * 0.2 + 2, 12);
  });

  it('populationUserModel and the fallback hyperparameters come from the seed priors', () => {
    expect(hyper.mu).toEqual(MODEL_TERMS.map((t) => t.priorMean));
    expect(hyper.tau2).toEqual(MODEL_TERMS.map((t) => t.individualVariance));
    expect(hyper.muSd).toEqual(MODEL_TERMS.map((t) => t.priorStd));
    expect(hyper.sigma2).toBe(DEFAULT_SIGMA2);
    const m = populationUserModel();
    expect(m.phase).toBe('COLD_START');
    expect(m.mean).toEqual(hyper.mu);
    expect(parseHyperparameters(JSON.parse(JSON.stringify(hyper)))).toEqual(hyper);
    expect(parseHyperparameters({ ...hyper, tau2: hyper.tau2.slice(1) })).toBeNull();
    expect(parseHyperparameters({ ...hyper, sigma2: 0 })).toBeNull();
    expect(parseHyperparameters(null)).toBeNull();
  });
});

describe('synthetic athletes', () => {
  it('are reproducible from the seed and stay inside the variable ranges', () => {
    const a = simulateAthletes({ seed: 42, athletes: 20, sessionsPerAthlete: (i) => 5 + i });
    const b = simulateAthletes({ seed: 42, athletes: 20, sessionsPerAthlete: (i) => 5 + i });
    expect(a).toEqual(b);
    expect(simulateAthletes({ seed: 43, athletes: 1, sessionsPerAthlete: 5 })).not.toEqual(simulateAthletes({ seed: 42, athletes: 1, sessionsPerAthlete: 5 }));
    // an athlete does not change when others are added
    expect(simulateAthletes({ seed: 42, athletes: 3, sessionsPerAthlete: (i) => 5 + i })[2]).toEqual(a[2]);
    for (const athlete of a) {
      expect(athlete.sessions).toHaveLength(5 + athlete.index);
      expect(athlete.trueCoefficients).toHaveLength(P);
      for (const s of athlete.sessions) {
        for (const spec of CHECK_IN_VARIABLES) expect(() => validateVariable(spec, (s.checkIn as Record<string, unknown>)[spec.name])).not.toThrow();
        expect(Number.isInteger(s.sessionQuality)).toBe(true);
        expect(s.sessionQuality).toBeGreaterThanOrEqual(1);
        expect(s.sessionQuality).toBeLessThanOrEqual(10);
        for (const spec of CHECK_IN_VARIABLES) {
          if (spec.feature) expect(typeof (s.checkIn as Record<string, unknown>)[spec.name]).toBe('number');
        }
      }
    }
  });

  it('mulberry32 is uniform in [0, 1)', () => {
    const r = mulberry32(1);
    let s = 0;
    for (let i = 0; i < 10_000; i++) {
      const u = r();
      expect(u).toBeGreaterThanOrEqual(0);
      expect(u).toBeLessThan(1);
      s += u;
    }
    expect(s / 10_000).toBeCloseTo(0.5, 1);
  });
});

describe('fitHierarchical', () => {
  const groups = [3, 5, 10, 20, 30, 60];
  const athletes = simulateAthletes({ seed: 2024, athletes: 600, sessionsPerAthlete: (i) => groups[i % groups.length] });
  const stats = athletes.map((a) => statsOf(a));
  const fit = fitHierarchical(stats);
  const truth = DEFAULT_TRUTH_POPULATION;

  it('converges and reports diagnostics', () => {
    expect(fit.diagnostics.converged).toBe(true);
    expect(fit.diagnostics.iterations).toBeLessThan(300);
    expect(fit.diagnostics.delta).toBeLessThan(1e-4);
    expect(fit.diagnostics.spreadDelta).toBeLessThan(1e-3);
    expect(fit.diagnostics.usersWithData).toBe(600);
    expect(fit.diagnostics.sessions).toBe(100 * (3 + 5 + 10 + 20 + 30 + 60));
    expect(Number.isFinite(fit.diagnostics.elbo)).toBe(true);
    expect(fit.diagnostics.elboTrace.length).toBeGreaterThan(0);
    expect(fit.users).toHaveLength(600);
  });

  it('(d) recovers the population mean and spread', () => {
    for (let j = 0; j < P; j++) {
      expect(Math.abs(fit.hyper.mu[j] - truth.mean[j])).toBeLessThan(0.5 * truth.sd[j]);
      const tau = Math.sqrt(fit.hyper.tau2[j]);
      expect(tau).toBeGreaterThan(0.4 * truth.sd[j]);
      expect(tau).toBeLessThan(2.5 * truth.sd[j]);
      expect(fit.hyper.muSd[j]).toBeGreaterThan(0);
    }
    expect(Math.abs(fit.hyper.mu[0] - 6)).toBeLessThan(0.15);
    expect(fit.hyper.sigma2).toBeGreaterThan(1.1);
    expect(fit.hyper.sigma2).toBeLessThan(1.7);
  });

  it('(d) recovers per-user coefficients better than the prior, and 95 % intervals cover 90-98 %', () => {
    let errFit = 0;
    let errPrior = 0;
    let covered = 0;
    athletes.forEach((a, u) => {
      const post = fit.users[u];
      a.trueCoefficients.forEach((b, j) => {
        errFit += Math.abs(post.mean[j] - b) / truth.sd[j];
        errPrior += Math.abs(hyper.mu[j] - b) / truth.sd[j];
        if (Math.abs(post.mean[j] - b) <= Z * Math.sqrt(post.covariance[j * P + j])) covered++;
      });
    });
    expect(errFit).toBeLessThan(0.95 * errPrior);
    const coverage = covered / (athletes.length * P);
    expect(coverage).toBeGreaterThan(0.9);
    expect(coverage).toBeLessThan(0.98);
    // personal intercepts: far better than the prior once there are 30+ sessions
    const rich = athletes.filter((_, u) => stats[u].n >= 30);
    const mae = (f: (a: SimulatedAthlete) => number) => rich.reduce((s, a) => s + Math.abs(f(a) - a.trueCoefficients[0]), 0) / rich.length;
    expect(mae((a) => fit.users[a.index].mean[0])).toBeLessThan(0.6 * mae(() => hyper.mu[0]));
  });

  it('the quick update with the fitted hyperparameters reproduces every user of the fit', () => {
    for (const u of [0, 1, 7, 100, 599]) {
      expect(userPosterior(stats[u], fit.hyper)).toEqual(fit.users[u]);
    }
    expect(fit.users.map((r) => r.phase).slice(0, 6)).toEqual(['COLD_START', 'COLD_START', 'LEARNING', 'LEARNING', 'PERSONALIZED', 'PERSONALIZED']);
  });

  it('(e) is deterministic', () => {
    const again = fitHierarchical(stats.map((s) => JSON.parse(JSON.stringify(s)) as SufficientStats));
    expect(again.hyper).toEqual(fit.hyper);
    expect(again.users).toEqual(fit.users);
    expect({ ...again.diagnostics, elapsedMs: 0 }).toEqual({ ...fit.diagnostics, elapsedMs: 0 });
  });

  it('users with no sessions get the population model and do not move the fit', () => {
    const withEmpty = fitHierarchical([emptyStats(), ...stats.slice(0, 120), emptyStats()]);
    const without = fitHierarchical(stats.slice(0, 120));
    expect(withEmpty.hyper).toEqual(without.hyper);
    expect(withEmpty.users[0].phase).toBe('COLD_START');
    expect(withEmpty.users[0].mean).toEqual(without.hyper.mu);
    expect(withEmpty.users[0].sessionsIncluded).toBe(0);
    expect(withEmpty.users[121]).toEqual(withEmpty.users[0]);
    expect(withEmpty.users[1]).toEqual(without.users[0]);
  });

  it('with no data at all returns the seed priors', () => {
    const r = fitHierarchical([emptyStats(), emptyStats()]);
    expect(r.hyper).toEqual(hyper);
    expect(r.diagnostics.converged).toBe(true);
    expect(r.users[1].mean).toEqual(hyper.mu);
    expect(fitHierarchical([]).users).toEqual([]);
  });

  it('the accelerated scheme reaches the fixed point of plain coordinate ascent, whose ELBO never decreases', () => {
    const small = stats.filter((s) => s.n >= 20).slice(0, 150);
    const fast = fitHierarchical(small, { tolerance: 1e-9 });
    const progress: number[] = [];
    const plain = fitHierarchical(small, {
      accelerate: false,
      tau2Step: 'coordinate',
      tolerance: 1e-9,
      maxIterations: 20_000,
      onProgress: (i) => progress.push(i),
    });
    expect(plain.diagnostics.iterations).toBeGreaterThan(fast.diagnostics.iterations);
    expect(progress.at(-1)).toBe(plain.diagnostics.iterations);
    const trace = plain.diagnostics.elboTrace;
    for (let i = 1; i < trace.length; i++) expect(trace[i]).toBeGreaterThanOrEqual(trace[i - 1] - 1e-9 * Math.abs(trace[i]));
    for (let j = 0; j < P; j++) {
      relClose(fast.hyper.tau2[j], plain.hyper.tau2[j], 1e-4);
      expect(Math.abs(fast.hyper.mu[j] - plain.hyper.mu[j])).toBeLessThan(1e-4 * Math.sqrt(plain.hyper.tau2[j]));
    }
    relClose(fast.hyper.sigma2, plain.hyper.sigma2, 1e-6);
  });

  it('plain coordinate ascent: the ELBO never decreases from the start', () => {
    const trace: number[] = [];
    const sub = stats.slice(0, 60);
    fitHierarchical(sub, { accelerate: false, tau2Step: 'coordinate', maxIterations: 15 });
    for (let k = 1; k <= 15; k++) trace.push(fitHierarchical(sub, { accelerate: false, tau2Step: 'coordinate', maxIterations: k }).diagnostics.elbo);
    for (let i = 1; i < trace.length; i++) expect(trace[i]).toBeGreaterThanOrEqual(trace[i - 1] - 1e-9 * Math.abs(trace[i]));
  });

  it('stays finite when a feature is never recorded, and with the inverse-gamma tau² prior', () => {
    const noWarmup = athletes.slice(0, 120).map((a) => {
      const s = emptyStats();
      for (const row of a.sessions) addSession(s, { ...row.checkIn, warmupMin: null } as Record<string, unknown>, row.sessionQuality);
      return s;
    });
    const r = fitHierarchical(noWarmup);
    const jw = TERM_NAMES.indexOf('warmupMin');
    expect(r.diagnostics.converged).toBe(true);
    expect(Number.isFinite(r.hyper.tau2[jw])).toBe(true);
    expect(r.hyper.tau2[jw]).toBeGreaterThan(0);
    expect(Math.abs(r.hyper.mu[jw] - hyper.mu[jw])).toBeLessThan(hyper.muSd[jw]);
    const ig = fitHierarchical(stats.slice(0, 120), { tau2Prior: 'inverseGamma' });
    expect(ig.diagnostics.converged).toBe(true);
    expect(ig.diagnostics.tau2Prior).toBe('inverseGamma');
    // the inverse-gamma prior pulls tau² toward the (generous) seed individual variances
    const hc = fitHierarchical(stats.slice(0, 120));
    expect(ig.hyper.tau2[TERM_NAMES.indexOf('caffeineMg')]).toBeGreaterThan(hc.hyper.tau2[TERM_NAMES.indexOf('caffeineMg')]);
  });

  it('names the user whose statistics are unusable', () => {
    const bad = stats.slice(0, 3).map((s) => ({ ...s, xtx: [...s.xtx], xty: [...s.xty] }));
    bad[1].xtx[P + 1] = -1e9;
    expect(() => fitHierarchical(bad)).toThrow(/user #1/);
  });
});

describe('the bounded rating scale (ratings at 1 or 10 censored)', () => {
  const truth = BOUNDED_TRUTH_POPULATION;
  const athletes = simulateAthletes({ seed: 77, athletes: 300, sessionsPerAthlete: (i) => [5, 15, 40][i % 3], population: truth, noiseSd: BOUNDED_NOISE_SD });
  const boundedStats = athletes.map((a) => {
    const s = emptyStats();
    for (const row of a.sessions) addRatedSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
    return s;
  });

  it("keeps ratings at 1 and 10 apart from X'X, X'y, y'y", () => {
    const s = boundedStats[2];
    const atBounds = athletes[2].sessions.filter((r) => r.sessionQuality === 1 || r.sessionQuality === 10);
    expect(atBounds.length).toBeGreaterThan(0);
    expect(s.n).toBe(40);
    expect(s.bounded!.upper).toEqual(atBounds.map((r) => (r.sessionQuality === 10 ? 1 : 0)));
    expect(s.xtx[0]).toBe(40 - atBounds.length);
  });

  it("an athlete's posterior is the mode of the censored posterior (its gradient vanishes there)", () => {
    const h: Hyperparameters = { mu: truth.mean, tau2: truth.sd.map((v) => v * v), sigma2: BOUNDED_NOISE_SD ** 2, muSd: new Array<number>(P).fill(0) };
    const st = boundedStats[2];
    const m = userPosterior(st, h).mean;
    // Gradient of the log posterior, computed independently: prior + observed rows + log Phi of each bounded row.
    const s = Math.sqrt(h.sigma2);
    const logPost = (b: number[]) => {
      let lp = 0;
      for (let j = 0; j < P; j++) lp -= (b[j] - h.mu[j]) ** 2 / (2 * h.tau2[j]);
      for (const row of athletes[2].sessions) {
        const eta = designRow(row.checkIn as Record<string, unknown>).reduce((acc, x, j) => acc + x * b[j], 0);
        if (row.sessionQuality === 10) lp += Math.log(normalCdf((eta - 9.5) / s));
        else if (row.sessionQuality === 1) lp += Math.log(normalCdf((1.5 - eta) / s));
        else lp -= (row.sessionQuality - eta) ** 2 / (2 * h.sigma2);
      }
      return lp;
    };
    for (let j = 0; j < P; j++) {
      const step = 1e-4 * Math.sqrt(h.tau2[j]);
      const up = [...m];
      const down = [...m];
      up[j] += step;
      down[j] -= step;
      // The derivative in units of the prior sd is ~0 at the mode (the log posterior moves by O(1) over one sd).
      expect(Math.abs(((logPost(up) - logPost(down)) / (2 * step)) * Math.sqrt(h.tau2[j]))).toBeLessThan(1e-3);
    }
  });

  it('recovers known coefficients within their 95 % intervals (92-98 % here), where the Gaussian fit falls short', () => {
    const fit = fitHierarchical(boundedStats);
    const gaussian = fitHierarchical(athletes.map((a) => statsOf(a)));
    const coverage = (users: { mean: number[]; covariance: number[] }[]) => {
      let covered = 0;
      athletes.forEach((a, u) => {
        a.trueCoefficients.forEach((b, j) => {
          covered += Math.abs(b - users[u].mean[j]) <= Z * Math.sqrt(users[u].covariance[j * P + j]) ? 1 : 0;
        });
      });
      return covered / (athletes.length * P);
    };
    expect(fit.diagnostics.converged).toBe(true);
    // 3,000 coefficients: the coverage's own standard error is 0.4 %.
    expect(coverage(fit.users)).toBeGreaterThanOrEqual(0.92);
    expect(coverage(fit.users)).toBeLessThanOrEqual(0.98);
    expect(coverage(fit.users)).toBeGreaterThan(coverage(gaussian.users));
    // The population it recovers: the intercept's mean and spread, and the residual sd, near the truth.
    expect(fit.hyper.mu[0]).toBeCloseTo(truth.mean[0], 0);
    expect(Math.abs(Math.sqrt(fit.hyper.tau2[0]) - truth.sd[0])).toBeLessThan(0.3);
    expect(Math.abs(Math.sqrt(fit.hyper.sigma2) - Math.hypot(BOUNDED_NOISE_SD, Math.sqrt(1 / 12)))).toBeLessThan(0.15);
    // The Gaussian fit, fooled by the piles at 1 and 10, shrinks the spread of the intercepts.
    expect(Math.sqrt(gaussian.hyper.tau2[0])).toBeLessThan(Math.sqrt(fit.hyper.tau2[0]) - 0.2);
  });

  it('the quick update: linearised statistics reproduce the posterior, and a new 10 is a good approximation', () => {
    const fit = fitHierarchical(boundedStats);
    const st = boundedStats[1];
    const stored = linearisedStats(st, fit.users[1].mean, fit.hyper);
    expect(stored.bounded).toBeUndefined();
    userPosterior(stored, fit.hyper).mean.forEach((v, j) => {
      relClose(v, fit.users[1].mean[j], 1e-6, 1e-9);
    });
    const x = designRow({ sleepHours: 8, energyLevel: 8 });
    const exact = userPosterior(addRating({ ...st, xtx: [...st.xtx], xty: [...st.xty], bounded: { x: [...st.bounded!.x], upper: [...st.bounded!.upper] } }, x, 10), fit.hyper);
    const quick = userPosterior(addRatingLinearised(stored, x, 10, fit.hyper), fit.hyper);
    quick.mean.forEach((v, j) => {
      expect(Math.abs(v - exact.mean[j])).toBeLessThan(0.05 * Math.sqrt(exact.covariance[j * P + j]));
    });
    expect(quick.sessionsIncluded).toBe(exact.sessionsIncluded);
  });
});

describe('intervals that carry the uncertainty of the spreads (Kass-Steffey)', () => {
  // Caffeine as a weakly identified slope with a realistic spread: 0/100/200/300 mg, between-athlete sd = its mean.
  const caffeine = TERM_NAMES.indexOf('caffeineMg');
  const truth = { mean: BOUNDED_TRUTH_POPULATION.mean, sd: BOUNDED_TRUTH_POPULATION.sd.map((sd, j) => (j === caffeine ? BOUNDED_TRUTH_POPULATION.mean[j] : sd)) };
  const rnd = mulberry32(5);
  const athletes = simulateAthletes({
    seed: 2026,
    athletes: 400,
    sessionsPerAthlete: () => 3 + Math.floor(rnd() * 58),
    population: truth,
    noiseSd: BOUNDED_NOISE_SD,
    caffeineLevels: [0, 100, 200, 300],
  });
  const stats = athletes.map((a) => {
    const s = emptyStats();
    for (const row of a.sessions) addRatedSession(s, row.checkIn as Record<string, unknown>, row.sessionQuality);
    return s;
  });
  const fit = fitHierarchical(stats);
  const conditional: Hyperparameters = { ...fit.hyper, logTau2Cov: undefined };

  it('the fit measures how uncertain each spread is: a symmetric, positive covariance of log tau², stored and parsed back', () => {
    const c = fit.hyper.logTau2Cov!;
    expect(c).toHaveLength(P * P);
    for (let j = 0; j < P; j++) {
      expect(c[j * P + j]).toBeGreaterThan(0);
      for (let k = 0; k < P; k++) expect(c[j * P + k]).toBe(c[k * P + j]);
    }
    // The intercept (every athlete informs it) is known far better than warm-up's spread (hardly any athlete does).
    expect(c[0]).toBeLessThan(c[TERM_NAMES.indexOf('warmupMin') * (P + 1)] / 10);
    expect(parseHyperparameters(JSON.parse(JSON.stringify(fit.hyper)))).toEqual(fit.hyper);
    expect(parseHyperparameters({ ...fit.hyper, logTau2Cov: [1, 2] })).toBeNull();
  });

  it("adds what each spread's and mu's uncertainty moves the athlete's posterior mean by (checked by finite differences)", () => {
    const u = athletes.findIndex((a) => a.sessions.length > 20);
    const base = userPosterior(stats[u], conditional);
    const j = caffeine;
    const h = 1e-4;
    const at = (f: (hy: Hyperparameters) => void) => {
      const hy: Hyperparameters = { ...conditional, mu: [...conditional.mu], tau2: [...conditional.tau2] };
      f(hy);
      return userPosterior(stats[u], hy).mean;
    };
    // d m / d log tau_j² and d m / d mu_j, numerically
    const up = at((hy) => (hy.tau2[j] *= Math.exp(h)));
    const down = at((hy) => (hy.tau2[j] *= Math.exp(-h)));
    const gTau = up.map((v, i) => (v - down[i]) / (2 * h));
    const dMu = 1e-3 * Math.sqrt(conditional.tau2[j]);
    const muUp = at((hy) => (hy.mu[j] += dMu));
    const muDown = at((hy) => (hy.mu[j] -= dMu));
    const gMu = muUp.map((v, i) => (v - muDown[i]) / (2 * dMu));
    // Only term j's spread and mean uncertain: the served covariance is V + c gTau gTau' + muSd_j² gMu gMu'.
    const c = 0.3;
    const muSd = new Array<number>(P).fill(0);
    muSd[j] = 2 * Math.sqrt(conditional.tau2[j]);
    const logTau2Cov = new Array<number>(P * P).fill(0);
    logTau2Cov[j * P + j] = c;
    const served = userPosterior(stats[u], { ...conditional, muSd, logTau2Cov });
    for (let a = 0; a < P; a++) {
      for (let b = 0; b < P; b++) {
        const expected = base.covariance[a * P + b] + c * gTau[a] * gTau[b] + muSd[j] ** 2 * gMu[a] * gMu[b];
        const scale = Math.sqrt(served.covariance[a * P + a] * served.covariance[b * P + b]);
        expect(Math.abs(served.covariance[a * P + b] - expected) / scale).toBeLessThan(1e-4);
      }
    }
    expect(served.mean).toEqual(base.mean);
  });

  it("spreadMixtureHalfWidths mixes the athlete's posterior over each spread's uncertainty (checked against a brute-force mixture)", () => {
    // Only term j's spread uncertain (sd of log tau_j² 0.9, about sleep hours' and warm-up's), mu known: m_j ± h must
    // hold 95 % of the mixture over log tau_j² ~ N(log tau_j², 0.81) of the conditional posteriors, each solved in
    // full here at its own tau_j² (no rank-1 shortcut), on a fine grid (no Gauss-Hermite).
    const c = 0.81;
    const halfWidths = new Float64Array(P);
    for (const [name, u] of [
      ['warmupMin', athletes.findIndex((a) => a.sessions.length <= 4)],
      ['caffeineMg', athletes.findIndex((a) => a.sessions.length >= 50)],
      ['stressLevel', athletes.findIndex((a) => a.sessions.length >= 20)],
    ] as const) {
      const j = TERM_NAMES.indexOf(name);
      const logTau2Cov = new Array<number>(P * P).fill(0);
      logTau2Cov[j * P + j] = c;
      const post = userPosterior(stats[u], conditional);
      // No other hyperparameter uncertain: the served covariance is V plus term j's own first-order share.
      const served = userPosterior(stats[u], { ...conditional, muSd: new Array<number>(P).fill(0), logTau2Cov });
      spreadMixtureHalfWidths(post.mean, post.covariance, served.covariance, { ...conditional, logTau2Cov }, halfWidths);
      const m = post.mean[j];
      const h = halfWidths[j];
      let mass = 0;
      let weight = 0;
      for (let k = -800; k <= 800; k++) {
        const z = k / 100; // log tau_j² = fit + sqrt(c) z, z from -8 to 8
        const w = Math.exp(-0.5 * z * z);
        const hy: Hyperparameters = { ...conditional, tau2: [...conditional.tau2] };
        hy.tau2[j] *= Math.exp(Math.sqrt(c) * z);
        const at = userPosterior(stats[u], hy);
        const sd = Math.sqrt(at.covariance[j * P + j]);
        mass += w * (normalCdf((m + h - at.mean[j]) / sd) - normalCdf((m - h - at.mean[j]) / sd));
        weight += w;
      }
      expect(Math.abs(mass / weight - 0.95), name).toBeLessThan(2e-3);
      // Wider than the conditional interval by as much as the spread matters to this athlete's coefficient.
      expect(h, name).toBeGreaterThan(Z * Math.sqrt(post.covariance[j * P + j]));
    }
    // A spread known exactly: the conditional interval, m ± 1.96 sd.
    const u = athletes.findIndex((a) => a.sessions.length <= 4);
    const post = userPosterior(stats[u], conditional);
    spreadMixtureHalfWidths(post.mean, post.covariance, post.covariance, { ...conditional, logTau2Cov: new Array<number>(P * P).fill(0) }, halfWidths);
    for (let j = 0; j < P; j++) expect(halfWidths[j]).toBeCloseTo(Z * Math.sqrt(post.covariance[j * P + j]), 10);
  });

  it("the weakly identified slope's intervals cover 93-97 % of the true coefficients, all terms together 93-97 %; the quick update serves the same", () => {
    const covered = new Array<number>(P).fill(0);
    athletes.forEach((a, u) => {
      a.trueCoefficients.forEach((b, j) => {
        covered[j] += Math.abs(b - fit.users[u].mean[j]) <= Z * Math.sqrt(fit.users[u].covariance[j * P + j]) ? 1 : 0;
      });
    });
    const share = covered.map((c) => c / athletes.length);
    expect(share[caffeine]).toBeGreaterThanOrEqual(0.93);
    expect(share[caffeine]).toBeLessThanOrEqual(0.97);
    // Not every term on its own: with ratings this piled up, correlated terms (stress, soreness) can have their
    // spreads fitted low and cover less (BENCHMARKS.md, coverage by term).
    const pooled = covered.reduce((a, b) => a + b, 0) / (athletes.length * P);
    expect(pooled).toBeGreaterThanOrEqual(0.93);
    expect(pooled).toBeLessThanOrEqual(0.97);
    // Every term whose spread the data identify (sd of log tau² under 0.3: the intercept, days since a hard
    // session, caffeine here) covers 93-97 % on its own.
    const identified = TERM_NAMES.map((_, j) => j).filter((j) => Math.sqrt(fit.hyper.logTau2Cov![j * P + j]) < 0.3);
    expect(identified.map((j) => TERM_NAMES[j])).toEqual(expect.arrayContaining(['intercept', 'caffeineMg']));
    for (const j of identified) {
      expect(share[j], TERM_NAMES[j]).toBeGreaterThanOrEqual(0.93);
      expect(share[j], TERM_NAMES[j]).toBeLessThanOrEqual(0.97);
    }
    // Served intervals are at least as wide as the conditional ones, and the quick update reproduces them.
    for (const u of [0, 1, 2, 3]) {
      const quick = userPosterior(stats[u], fit.hyper);
      const cond = userPosterior(stats[u], conditional);
      for (let j = 0; j < P; j++) {
        expect(quick.covariance[j * P + j]).toBeCloseTo(fit.users[u].covariance[j * P + j], 12);
        expect(quick.covariance[j * P + j]).toBeGreaterThanOrEqual(cond.covariance[j * P + j]);
      }
    }
  });

  it('at the true spreads every term covers 93-97 %: what a term misses in the served intervals is its fitted spread', () => {
    // The athletes' posteriors (censored ratings included) given the truth's tau² and the fitted mu and sigma²:
    // per term, 400 coefficients (the share's own standard error is 1.1 %).
    const atTrueSpread: Hyperparameters = { ...conditional, tau2: truth.sd.map((sd) => sd * sd) };
    const covered = new Array<number>(P).fill(0);
    athletes.forEach((a, u) => {
      const post = userPosterior(stats[u], atTrueSpread);
      a.trueCoefficients.forEach((b, j) => {
        covered[j] += Math.abs(b - post.mean[j]) <= Z * Math.sqrt(post.covariance[j * P + j]) ? 1 : 0;
      });
    });
    covered.forEach((c, j) => {
      expect(c / athletes.length, TERM_NAMES[j]).toBeGreaterThanOrEqual(0.93);
      expect(c / athletes.length, TERM_NAMES[j]).toBeLessThanOrEqual(0.97);
    });
    // Where the data say little about a spread (sleep hours, warm-up: a few athletes' worth of information), the
    // fitted spread, and with it the served coverage, is what moves (BENCHMARKS.md, "What sets each term's coverage").
    const sdLogTau2 = (name: string) => Math.sqrt(fit.hyper.logTau2Cov![TERM_NAMES.indexOf(name) * (P + 1)]);
    expect(sdLogTau2('sleepHours')).toBeGreaterThan(0.5);
    expect(sdLogTau2('warmupMin')).toBeGreaterThan(0.5);
    expect(sdLogTau2('caffeineMg')).toBeLessThan(0.3);
  });
});
