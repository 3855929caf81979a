// The evaluation's comparison model (scripts/evaluate.ts): a standard linear mixed model
//
//   y = X (mu + b_u) + e,  b_u ~ N(0, diag(tau²)),  e ~ N(0, sigma²)
//
// fitted by maximum likelihood with EM (Laird & Ware 1982): the E-step is each athlete's conditional distribution
// of beta_u given the current estimates (the BLUP and its variance), the M-step mu = mean of the BLUPs,
// tau_j² = mean of (b_uj² + V_ujj), sigma² = expected residual sum of squares / N. No priors: the estimates are the
// likelihood's (what lme4 fits with (1 + x1 + ... || athlete)). Plain EM creeps on variance components, so its
// steps are extrapolated with SQUAREM (Varadhan & Roland 2008, scheme S3), each extrapolation kept only if it does
// not lower the log-likelihood (their global safeguard; otherwise the plain EM step, which never does).
//
// Stopping: every parameter's change over a SQUAREM cycle below `tolerance` (mu in units of its tau, log tau²,
// log sigma²), or the log-likelihood's gain over a cycle below `logLikTolerance` nats. The second is for a spread
// that ML puts at zero: its log tau² walks towards -infinity ever more slowly (the boundary is never reached) while
// the likelihood, and every BLUP, hardly move; 3,000 steps (`maxSteps`) end such a walk if the likelihood still
// gains more than the tolerance.
import { posteriorInto, workspace } from '../../src/engine/bayes/conjugate-posterior.ts';
import { emptyStats, type SufficientStats } from '../../src/engine/bayes/sufficient-stats.ts';
import type { Hyperparameters } from '../../src/engine/bayes/hyperparameters.ts';
import { P as TERM_COUNT } from '../../src/engine/variables.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

export interface LmmOptions {
  /** Largest number of EM steps (each SQUAREM cycle takes three). Default 3000. */
  maxSteps?: number;
  /** Parameter-change tolerance per cycle. Default 1e-7. */
  tolerance?: number;
  /** Log-likelihood gain per cycle (nats, whole data set) below which the fit stops. Default 1e-8. */
  logLikTolerance?: number;
  /** Starting point (e.g. a Bayesian fit's mu, tau², sigma²). Default: pooled least squares, tau of one unit per feature sd. */
  start?: Pick<Hyperparameters, 'mu' | 'tau2' | 'sigma2'>;
}

export interface LmmUser {
  mean: number[];
  covariance: number[];
}

export interface LmmFit {
  hyper: Hyperparameters;
  users: LmmUser[];
  /** EM steps taken (E-steps evaluated). */
  iterations: number;
  converged: boolean;
  /** Which test stopped it: the parameters', the log-likelihood's, or neither (maxSteps). */
  stoppedBy: 'parameters' | 'logLikelihood' | 'maxSteps';
  logLik: number;
}

const LOG2PI = Math.log(2 * Math.PI);

export function fitLmm(users: readonly SufficientStats[], options: LmmOptions = {}): LmmFit {
  const maxSteps = options.maxSteps ?? 3000;
  const tolerance = options.tolerance ?? 1e-7;
  const logLikTolerance = options.logLikTolerance ?? 1e-8;
  const U = users.length;
  const N = users.reduce((s, u) => s + u.n, 0);
  const ws = workspace();
  const tauInv = new Float64Array(P);
  const mean = new Float64Array(P);
  const cov = new Float64Array(P * P);
  const g = new Float64Array(P);

  // theta = [mu (P), log tau² (P), log sigma²]
  const hyperOf = (t: Float64Array): Hyperparameters => ({
    mu: Array.from(t.subarray(0, P)),
    tau2: Array.from(t.subarray(P, 2 * P), Math.exp),
    sigma2: Math.exp(t[2 * P]),
    muSd: new Array<number>(P).fill(0),
  });

  /**
   * One pass over the athletes at theta: their posteriors (into `each`, when given), the EM map's image (into `out`,
   * when given) and the marginal log-likelihood at theta, log N(y_u; X mu, X T X' + sigma² I) summed, from the
   * sufficient statistics: with r = y - X mu and V the posterior covariance,
   * -n/2 log(2 pi sigma²) + 1/2 log det V - 1/2 sum log tau² - 1/2 (r'r / sigma² - (X'r)' V (X'r) / sigma⁴).
   */
  let steps = 0;
  const pass = (t: Float64Array, out: Float64Array | null, each?: (u: number, m: Float64Array, v: Float64Array) => void): number => {
    const mu = t.subarray(0, P);
    const s2 = Math.exp(t[2 * P]);
    const s2Inv = 1 / s2;
    let sumLogTau2 = 0;
    for (let j = 0; j < P; j++) {
      tauInv[j] = Math.exp(-t[P + j]);
      sumLogTau2 += t[P + j];
    }
    const sumM = new Float64Array(P);
    const sumM2 = new Float64Array(P);
    let rss = 0;
    let logLik = 0;
    for (let u = 0; u < U; u++) {
      const st = users[u];
      const logDetV = posteriorInto(st.xtx, st.xty, tauInv, mu, s2Inv, mean, cov, ws);
      if (each) each(u, mean, cov);
      const { xtx, xty } = st;
      // Marginal likelihood at theta.
      let rr = st.yty;
      for (let a = 0; a < P; a++) {
        let row = 0;
        for (let b = 0; b < P; b++) row += xtx[a * P + b] * mu[b];
        rr += mu[a] * (row - 2 * xty[a]);
        g[a] = xty[a] - row;
      }
      let gVg = 0;
      for (let a = 0; a < P; a++) {
        let row = 0;
        for (let b = 0; b < P; b++) row += cov[a * P + b] * g[b];
        gVg += g[a] * row;
      }
      logLik += -0.5 * st.n * (LOG2PI + t[2 * P]) + 0.5 * logDetV - 0.5 * sumLogTau2 - 0.5 * (rr * s2Inv - gVg * s2Inv * s2Inv);
      if (!out) continue;
      // E[(y - X beta)'(y - X beta)] = y'y - 2 m'X'y + m'X'X m + tr(X'X V)
      let r = st.yty;
      for (let a = 0; a < P; a++) {
        let row = 0;
        let tr = 0;
        for (let b = 0; b < P; b++) {
          row += xtx[a * P + b] * mean[b];
          tr += xtx[a * P + b] * cov[a * P + b];
        }
        r += mean[a] * (row - 2 * xty[a]) + tr;
        sumM[a] += mean[a];
        sumM2[a] += mean[a] * mean[a] + cov[a * P + a];
      }
      rss += r;
    }
    if (out) {
      steps++;
      for (let j = 0; j < P; j++) {
        const m = sumM[j] / U;
        out[j] = m;
        // mean of (m_uj - mu_j)² + V_ujj over the athletes, mu_j their mean
        out[P + j] = Math.log(Math.max(sumM2[j] / U - m * m, 1e-12));
      }
      out[2 * P] = Math.log(rss / N);
    }
    return logLik;
  };
  const em = (t: Float64Array): { next: Float64Array; logLik: number } => {
    const next = new Float64Array(2 * P + 1);
    const logLik = pass(t, next);
    return { next, logLik };
  };
  const change = (a: Float64Array, b: Float64Array) => {
    let c = 0;
    for (let j = 0; j < P; j++) c = Math.max(c, Math.abs(a[P + j] - b[P + j]), Math.abs(a[j] - b[j]) / Math.exp(0.5 * b[P + j]));
    return Math.max(c, Math.abs(a[2 * P] - b[2 * P]));
  };

  let theta: Float64Array = new Float64Array(2 * P + 1);
  if (options.start) {
    for (let j = 0; j < P; j++) {
      theta[j] = options.start.mu[j];
      theta[P + j] = Math.log(options.start.tau2[j]);
    }
    theta[2 * P] = Math.log(options.start.sigma2);
  } else {
    // Pooled least squares for mu, a spread of one unit of quality per feature sd for tau.
    const pooled = users.reduce((a, b) => ({ n: a.n + b.n, xtx: a.xtx.map((v, i) => v + b.xtx[i]), xty: a.xty.map((v, i) => v + b.xty[i]), yty: a.yty + b.yty }), emptyStats());
    const flatTauInv = new Float64Array(P).fill(1e-8);
    posteriorInto(pooled.xtx, pooled.xty, flatTauInv, new Float64Array(P), 1 / 2, mean, cov, ws);
    for (let j = 0; j < P; j++) {
      theta[j] = mean[j];
      theta[P + j] = Math.log(j === 0 ? 1 : pooled.n / Math.max(1e-9, pooled.xtx[j * P + j]));
    }
    theta[2 * P] = Math.log(2);
  }

  let stoppedBy: LmmFit['stoppedBy'] = 'maxSteps';
  let { next: t1, logLik } = em(theta);
  while (steps < maxSteps) {
    const { next: t2 } = em(t1);
    let rr = 0;
    let vv = 0;
    for (let i = 0; i < theta.length; i++) {
      rr += (t1[i] - theta[i]) ** 2;
      vv += (t2[i] - 2 * t1[i] + theta[i]) ** 2;
    }
    const alpha = vv > 0 ? Math.min(-1, -Math.sqrt(rr / vv)) : -1;
    const tx = theta.map((v, i) => v - 2 * alpha * (t1[i] - v) + alpha * alpha * (t2[i] - 2 * t1[i] + v));
    // The extrapolated point, stabilised by one EM step from it; kept when the likelihood there is no lower
    // than at plain EM's first step.
    let next = t2;
    if (tx.every(Number.isFinite)) {
      const fromTx = em(tx);
      if (fromTx.next.every(Number.isFinite) && fromTx.logLik >= logLik) next = fromTx.next;
    }
    const moved = change(next, theta);
    // The log-likelihood at `next`, and the first EM step of the next cycle.
    const nextStep = em(next);
    const gain = nextStep.logLik - logLik;
    theta = next;
    t1 = nextStep.next;
    logLik = nextStep.logLik;
    if (moved < tolerance) {
      stoppedBy = 'parameters';
      break;
    }
    if (Math.abs(gain) < logLikTolerance) {
      stoppedBy = 'logLikelihood';
      break;
    }
  }
  const hyper = hyperOf(theta);
  const fitted: LmmUser[] = new Array(U);
  pass(theta, null, (u, m, v) => {
    fitted[u] = { mean: Array.from(m), covariance: Array.from(v) };
  });
  return { hyper, users: fitted, iterations: steps, converged: stoppedBy !== 'maxSteps', stoppedBy, logLik };
}
