// The nightly fit: mean-field variational Bayes over every athlete's coefficients and the population's
// hyperparameters (mu, tau², sigma²), driven only by per-user sufficient statistics; q(mu) and q(tau²) are updated
// with the athletes' posteriors following them (collapsedMu, collapsedTau), which takes the slow variance components
// to their fixed point in about fifteen sweeps.
import { DEFAULT_SIGMA2, MODEL_TERMS, P as TERM_COUNT, type FeatureSpec } from '../variables.ts';
import { digamma, lgamma } from '../normal.ts';
import { cholesky, choleskySolve } from '../linalg.ts';
import { expectedRss, workspace, type UserPosteriorResult } from './conjugate-posterior.ts';
import { athletePosteriorInto, boundedOuterProduct, boundedRss, censoredScratch, NEWTON_STEP_TOLERANCE } from './censored-newton.ts';
import { priorHyperparameters, type Hyperparameters } from './hyperparameters.ts';
import type { SufficientStats } from './sufficient-stats.ts';
import { servedModel, userPosterior } from './user-posterior.ts';
import { LogTau2Information } from './hyperparameter-uncertainty.ts';
import { restrictedSums, SharedSpreadPrior, type SharedSpreadEstimate, type SharedSpreadHost, type SharedSpreadTail, type SharedSpreadUnit } from './shared-spread-prior.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

/**
 * Why half-Cauchy on tau_j and not InvGamma(3, ·) centred at individualVariance_j: an InvGamma(a0, b0) prior
 * acts like 2·a0 pseudo-athletes whose coefficients deviate by about individualVariance_j. The seed
 * individual variances are generous (caffeine: 0.004 per mg², i.e. an sd of 6 quality points per 100 mg), so
 * those 6 pseudo-athletes outweigh hundreds of real ones whenever the true spread is much smaller, and the
 * model never learns to shrink (Gelman 2006, "Prior distributions for variance parameters in hierarchical
 * models"). A half-Cauchy with scale sqrt(individualVariance_j) keeps the seed value as the prior median of
 * tau_j, puts no pressure away from small tau, and stays conditionally conjugate through the auxiliary
 * variable tau_j² | a_j ~ InvGamma(1/2, 1/a_j), a_j ~ InvGamma(1/2, 1/A_j²) (Wand et al. 2011).
 * 'inverseGamma' (shape 3, mode individualVariance_j) is kept as an option for comparison.
 */
export const TAU_PRIOR_NOTE = 'tau_j ~ half-Cauchy(0, sqrt(individualVariance_j))';

export type Tau2Prior = 'halfCauchy' | 'inverseGamma';

export interface FitOptions {
  /** Maximum number of variational sweeps over all users. Default 1000. */
  maxIterations?: number;
  /**
   * Converged when no athlete's prediction on a typical day moved by more than this in one sweep (rating points:
   * sum_j |Δbeta_uj| · rms(x_j), so mu's moves are included) ... Default 1e-4.
   */
  tolerance?: number;
  /** ... and no log variance (each tau_j², sigma²: the intervals' widths) moved by more than this. Default 1e-3. */
  spreadTolerance?: number;
  /** Called after every sweep with the sweep count and its prediction change. */
  onProgress?: (iteration: number, delta: number) => void;
  /** Default 'halfCauchy'. */
  tau2Prior?: Tau2Prior;
  /**
   * SQUAREM extrapolation of the sweeps (same fixed point). Default false: with the collapsed updates of mu and tau²
   * the plain sweeps converge in about fifteen, and extrapolating them took more (266 sweeps instead of 14 at 1,000
   * athletes piled at the bounds).
   */
  accelerate?: boolean;
  /**
   * How q(tau²) is moved each sweep: 'fixedPoint' (default, MacKay's rearrangement, fast) or 'coordinate'
   * (plain coordinate ascent: the ELBO never decreases, but it can take thousands of sweeps). Same fixed point.
   */
  tau2Step?: 'fixedPoint' | 'coordinate';
  /** The terms' hyperpriors (priorMean, priorStd, individualVariance): the PopulationPrior table. Default: the seed. */
  terms?: readonly FeatureSpec[];
  /**
   * For comparison (BENCHMARKS.md, issue 22 §1, sixth round): the half-Cauchy prior on tau_j times tau_j^(k-1), so
   * that near zero the prior weighs like k pseudo-athletes in the spread's update instead of one (k in (0, 1]).
   * Default 1 (the half-Cauchy itself).
   */
  tauZeroPower?: number;
  /**
   * For comparison (same section): in the collapsed tau² step, mu's uncertainty counted as a restricted likelihood
   * counts it, sum_u r_u² / (1/priorStd² + sum_u r_u / tau²) with r_u = tau² / (tau² + v_u) each athlete's share of
   * information about the term, instead of mean-field's U sMu2 = U / (1/priorStd² + U / tau²), which is about one
   * athlete's worth of tau² whatever the athletes say about the term. Default: false (true with sharedSpreadPrior,
   * as the ninth round measured it).
   */
  remlMu?: boolean;
  /**
   * For comparison (BENCHMARKS.md, issue 22 §1, eighth round): the weight w_j in [0, 1] of the spread's two
   * pseudo-athletes as a function of what the athletes say about the term, J_j = sum_u r_u² (r_u as in remlMu):
   * q(mu)'s counted w_j parts mean-field's and 1 - w_j the restricted likelihood's (in place of remlMu's choice), the
   * half-Cauchy's as with tauZeroPower w_j (on top of tauZeroPower). Default: none (the served fit).
   */
  pseudoAthleteWeight?: (information: number) => number;
  /**
   * For comparison (BENCHMARKS.md, issue 22 §1, ninth round; measured, not served): the slopes' spreads share a prior
   * one level up, log tau_j² ~ N(phi + 2 log unit_j, omega²) for every slope, in place of its half-Cauchy (the
   * intercept, a level rather than an effect, keeps its own), phi and omega² estimated across the slopes at every
   * sweep (empirical Bayes, omega half-Cauchy(0, 1)), so that the well-identified slopes set the scale of the weakly
   * identified ones. unit_j: 'effect' the size the PopulationPrior expects of the term's effect,
   * sqrt(priorMean_j² + priorStd_j²) (slopes whose spread is alike relative to their effect); 'individual' the
   * half-Cauchy's scale sqrt(individualVariance_j). Not served: it brings every term of the evaluation into 93-97 %
   * because the evaluation's truths are alike in that unit (each slope's sd half its mean), and where two weakly
   * identified slopes' sd is their whole mean it covers them 77-91 % (the served fit: 94-95 %). Default 'none'.
   */
  sharedSpreadPrior?: SharedSpreadUnit | 'none';
  /**
   * For comparison (BENCHMARKS.md, issue 22 §1, tenth round; with sharedSpreadPrior): the shared prior made robust,
   * so that a slope whose data say its spread is not the others' share can leave the shared level. 'student': log
   * tau_j² - phi - 2 log unit_j ~ Student-t(df, 0, omega²) as a scale mixture, each slope's weight lambda_j = (df + 1)
   * / (df + E[(log tau_j² - m_j)²] / omega²) (EM; phi the lambda-weighted mean). 'mixture': a two-component prior,
   * with prior probability `narrowShare` N(m_j, omega²) (the shared level) and otherwise N(m_j, omega² + wideSd²)
   * (the slope's own, wide), each slope's responsibility from its data's own estimate of log tau_j² (the marginal,
   * the fit's prior taken back out: per-term model averaging by evidence), omega² from the narrow component's slopes.
   * 'halfCauchy': per-term model averaging between the shared prior (prior probability `narrowShare`) and the slope's
   * own half-Cauchy as served (with mean-field q(mu)'s pseudo-athlete): q(tau_j²)'s stationarity is the two priors'
   * conditions mixed with weights rho_j and 1 - rho_j (mean-field over which prior holds), rho_j the shared prior's
   * posterior probability from each one's marginal likelihood of the data's own estimate of log tau_j² (one scoring
   * step from the fit's, N(l̂_j, 1/I_j)): N(l̂_j; m_j, omega² + 1/I_j) against the half-Cauchy's density in log tau²
   * averaged over N(l̂_j, 1/I_j). Default: none (the ninth round's Gaussian).
   */
  sharedSpreadTail?: SharedSpreadTail;
}

export type { SharedSpreadEstimate, SharedSpreadTail, SharedSpreadUnit } from './shared-spread-prior.ts';

export interface FitDiagnostics {
  /** Variational sweeps over all users (each costs users x p³). */
  iterations: number;
  converged: boolean;
  /** Final prediction change (see FitOptions.tolerance). */
  delta: number;
  /** Final change of a log variance (see FitOptions.spreadTolerance). */
  spreadDelta: number;
  /** Evidence lower bound (nats) after the last sweep, and the last values of its trace. */
  elbo: number;
  elboTrace: number[];
  /** The sweep at which the collapsed steps were found in a 2-cycle and coordinate ascent took over, or null. */
  cycleBrokenAt: number | null;
  /** With FitOptions.sharedSpreadPrior: its phi and omega² at the fit. */
  sharedSpread?: SharedSpreadEstimate;
  /** Users with at least one session, and their sessions. */
  usersWithData: number;
  sessions: number;
  tau2Prior: Tau2Prior;
  elapsedMs: number;
}

export interface HierarchicalFit {
  hyper: Hyperparameters;
  users: UserPosteriorResult[];
  diagnostics: FitDiagnostics;
}

/**
 * The fit with each athlete's served model computed when asked for (fitHierarchicalServing), from the statistics
 * and the hyperparameters (userPosterior): nothing per athlete is kept (every served model at once, fitHierarchical's
 * users, takes about 3 KB per athlete), at the cost of one more posterior pass over the athletes served.
 */
export interface ServingFit {
  hyper: Hyperparameters;
  diagnostics: FitDiagnostics;
  /** The served model of users[i] (equal to fitHierarchical's users[i]). */
  served(i: number): UserPosteriorResult;
}

/** sigma² ~ InvGamma(3, 2 · 1.5²): prior mean 1.5², weak next to thousands of sessions. */
const SIGMA2_PRIOR_SHAPE = 3;
const SIGMA2_PRIOR_SCALE = (SIGMA2_PRIOR_SHAPE - 1) * DEFAULT_SIGMA2;
/** InvGamma option for tau²: shape 3, scale 4·iv (mode = individualVariance). */
const TAU2_IG_SHAPE = 3;
/** Floors keep precisions finite if a variance component collapses. */
const TAU2_FLOOR_FRACTION = 1e-8;
const SIGMA2_FLOOR = 1e-6;
const TRACE_TAIL = 20;
/**
 * An extrapolation is kept unless the ELBO drops by more than this fraction: near the fixed point the ELBO's
 * differences are the Newton steps' rounding (each athlete's mode solved to the sweep's tolerance), and refusing
 * on them stalls SQUAREM.
 */
const ELBO_SLACK = 1e-7;
/**
 * A sweep is taken for half of a 2-cycle of the collapsed steps (fitHierarchical) when it moves some log variance
 * by more than CYCLE_MIN_STEP and lands within CYCLE_RETURN of that step from where the sweep before it started.
 */
const CYCLE_MIN_STEP = 0.05;
const CYCLE_RETURN = 0.1;
const RESTART = Symbol('restart the fit guarded');
const LOG2PI = Math.log(2 * Math.PI);

/*
 * Variational state, packed so that sweeps can be extrapolated (SQUAREM):
 *   [0, P)     mu_j / sqrt(iv_j)          mean of q(mu_j), in prior-spread units
 *   [P, 2P)    log(1 / E[1/tau_j²])       q(tau_j²) = InvGamma(aTau, aTau · exp(.))
 *   [2P, 3P)   log b_j of q(a_j) = InvGamma(1, b_j)   (half-Cauchy auxiliary; unused for inverseGamma)
 *   3P         log(1 / E[1/sigma²])       q(sigma²) = InvGamma(aSig, aSig · exp(.))
 * q(mu_j)'s variance and every q(beta_u) follow from these in the next sweep.
 */
const THETA = 3 * TERM_COUNT + 1;

interface SweepResult {
  elbo: number;
  /** Largest change of a log variance (tau_j², sigma²). */
  delta: number;
  /** Largest change of an athlete's prediction on a typical day: sum_j |Δm_uj| · rms(x_j), rating points. */
  predictionChange: number;
}

class VariationalFit {
  readonly U: number;
  readonly N: number;
  readonly aTau: number;
  readonly aSig: number;
  readonly mu0: number[];
  readonly s02: number[];
  readonly iv: number[];
  readonly ivSd: number[];
  readonly bTau0: number[];
  private readonly mean = new Float64Array(P);
  private readonly cov = new Float64Array(P * P);
  private readonly m: Float64Array;
  private readonly featureSd: Float64Array;
  /** Each athlete's sum of x x' over their bounded rows (the features' rms). */
  private readonly outer: (Float64Array | null)[];
  private readonly vdiag: Float64Array;
  private readonly ws = workspace();
  private readonly cs = censoredScratch();
  /** q(beta_u) means hold the previous sweep's (the warm start of the censored Newton steps). */
  private warm = false;
  /** The last sweep's prediction change (how loosely the next may solve each athlete's censored mode). */
  private lastChange = Number.POSITIVE_INFINITY;
  private readonly eInvTau = new Float64Array(P);
  private readonly mMu = new Float64Array(P);
  /** restrictedSums' output (remlMu, pseudoAthleteWeight). */
  private readonly restricted = new Float64Array(3);
  readonly sMu2 = new Float64Array(P);
  /** Sum of the athletes' posterior covariances (lower triangle), and the collapsed mu update's scratch. */
  private readonly sumV = new Float64Array(P * P);
  private readonly muSystem = new Float64Array(P * P);
  private readonly muRhs = new Float64Array(P);
  private readonly muScale = new Float64Array(P);
  private readonly muNew = new Float64Array(P);
  private readonly sumM = new Float64Array(P);
  /** Per athlete, for one term at a time: the deviation from mu, the data's precision about the term. */
  private devs: Float64Array;
  private hs: Float64Array;
  private readonly devsOne: Float64Array;
  private readonly hsOne: Float64Array;
  /** Per term, between the sweep's two passes over the terms. */
  private readonly termS = new Float64Array(P);
  private readonly termC = new Float64Array(P);
  private readonly termDev = new Float64Array(P);
  private readonly termDenom = new Float64Array(P);
  private readonly termMu = new Float64Array(P);
  private readonly termT = new Float64Array(P);
  /** FitOptions.sharedSpreadPrior (for comparison, shared-spread-prior.ts), or null: the served fit. */
  readonly shared: SharedSpreadPrior | null = null;

  constructor(
    private readonly active: readonly SufficientStats[],
    private readonly activeIndex: readonly number[],
    readonly tauPrior: Tau2Prior,
    readonly tau2Step: 'fixedPoint' | 'coordinate',
    terms: readonly FeatureSpec[],
    readonly tauZeroPower = 1,
    readonly remlMu = false,
    readonly pseudoAthleteWeight?: (information: number) => number,
    shared?: { unit: SharedSpreadUnit; tail?: SharedSpreadTail },
  ) {
    this.mu0 = terms.map((t) => t.priorMean);
    this.s02 = terms.map((t) => t.priorStd * t.priorStd);
    this.iv = terms.map((t) => t.individualVariance);
    this.ivSd = this.iv.map(Math.sqrt);
    this.bTau0 = this.iv.map((v) => (TAU2_IG_SHAPE + 1) * v);
    this.U = active.length;
    let n = 0;
    for (const u of active) n += u.n;
    this.N = n;
    this.aTau = (tauPrior === 'halfCauchy' ? 0.5 + (1 - tauZeroPower) / 2 : TAU2_IG_SHAPE) + this.U / 2;
    this.aSig = SIGMA2_PRIOR_SHAPE + n / 2;
    this.m = new Float64Array(this.U * P);
    this.outer = active.map((st) => (st.bounded ? boundedOuterProduct(st.bounded) : null));
    // Each feature's root mean square over every rated row (centred at its reference value): the change of a
    // coefficient times it is the change of a prediction on a typical day.
    this.featureSd = new Float64Array(P);
    for (let u = 0; u < this.U; u++) {
      const st = active[u];
      const outer = this.outer[u];
      for (let j = 0; j < P; j++) this.featureSd[j] += st.xtx[j * P + j] + (outer ? outer[j * P + j] : 0);
    }
    for (let j = 0; j < P; j++) this.featureSd[j] = Math.sqrt(this.featureSd[j] / Math.max(1, n));
    this.vdiag = new Float64Array(this.U * P);
    this.devsOne = new Float64Array(this.U);
    this.hsOne = new Float64Array(this.U);
    this.devs = this.devsOne;
    this.hs = this.hsOne;
    if (shared) {
      // E[log tau²] under q(tau²) = InvGamma(aTau, aTau / t) is -log t + log aTau - digamma(aTau)
      this.shared = new SharedSpreadPrior(terms, shared.unit, shared.tail, this.U, this.iv, this.s02, Math.log(this.aTau) - digamma(this.aTau));
    }
  }

  /** SharedSpreadHost: term j's collapsed tau² step with the athletes' deviations and precisions given. */
  solveTau(j: number, tOld: number, devs: Float64Array, hs: Float64Array): number {
    this.devs = devs;
    this.hs = hs;
    return this.collapsedTau(j, tOld);
  }

  /** Starting point: the seed priors. */
  initial(): Float64Array {
    const t = new Float64Array(THETA);
    for (let j = 0; j < P; j++) {
      t[j] = this.mu0[j] / this.ivSd[j];
      t[P + j] = Math.log(this.iv[j]);
      t[2 * P + j] = Math.log(2 / this.iv[j]);
    }
    t[3 * P] = Math.log(DEFAULT_SIGMA2);
    return t;
  }

  /** Floors on the variances, applied to every (possibly extrapolated) state. */
  clampState(t: Float64Array): void {
    for (let j = 0; j < P; j++) t[P + j] = Math.max(t[P + j], Math.log(this.iv[j] * TAU2_FLOOR_FRACTION));
    t[3 * P] = Math.max(t[3 * P], Math.log(SIGMA2_FLOOR));
  }

  hyperparameters(t: Float64Array): Hyperparameters {
    return {
      mu: Array.from({ length: P }, (_, j) => t[j] * this.ivSd[j]),
      tau2: Array.from({ length: P }, (_, j) => Math.exp(t[P + j])),
      sigma2: Math.exp(t[3 * P]),
      muSd: Array.from({ length: P }, (_, j) => Math.sqrt(1 / (1 / this.s02[j] + this.U / Math.exp(t[P + j])))),
    };
  }

  /**
   * One coordinate-ascent sweep from state `tin` into `tout`: q(beta_u) for every user, then q(mu), q(tau²)
   * (and its auxiliary), q(sigma²). Returns the ELBO after the sweep and the largest change. `collapsed` false
   * takes coordinate ascent's own q(mu), q(tau²) steps, which cannot lower the ELBO.
   */
  sweep(tin: Float64Array, tout: Float64Array, collapsed = this.tau2Step === 'fixedPoint'): SweepResult {
    const { U, N, aTau, aSig, mu0, s02, iv, m, vdiag, mean, cov, eInvTau, mMu, sMu2 } = this;
    const halfCauchy = this.tauPrior === 'halfCauchy';
    for (let j = 0; j < P; j++) {
      eInvTau[j] = Math.exp(-tin[P + j]);
      mMu[j] = tin[j] * this.ivSd[j];
    }
    const eInvSig = Math.exp(-tin[3 * P]);

    // q(beta_u): exact Gaussian given E[mu], E[1/tau²], E[1/sigma²]; with bounded rows, centred at the censored
    // posterior's mode (warm-started from the previous sweep) with its curvature, and each bounded row's latent
    // value augmented by its truncated normal.
    let sumLogDetV = 0;
    let sumRss = 0;
    let sumEntropy = 0;
    let predictionChange = 0;
    const { sumV } = this;
    sumV.fill(0);
    const s = Math.sqrt(1 / eInvSig);
    // A Newton step of δ leaves an error of order δ²: keep it a hundredth of how far the last sweep moved.
    const stepTolerance = Math.max(NEWTON_STEP_TOLERANCE, Math.sqrt(0.01 * Math.min(1, this.lastChange)));
    for (let u = 0; u < U; u++) {
      const st = this.active[u];
      const o = u * P;
      let logDetV: number;
      try {
        if (this.warm) for (let j = 0; j < P; j++) mean[j] = m[o + j];
        logDetV = athletePosteriorInto(st, eInvTau, mMu, eInvSig, mean, cov, this.ws, this.cs, this.warm, stepTolerance);
      } catch (err) {
        throw new Error(`fitHierarchical: statistics of user #${this.activeIndex[u]} are not usable: ${(err as Error).message}`);
      }
      sumLogDetV += logDetV;
      sumRss += expectedRss(st, mean, cov);
      if (st.bounded) {
        const b = boundedRss(st.bounded, mean, cov, s);
        sumRss += b.rss;
        sumEntropy += b.entropy;
      }
      for (let i = 0; i < P; i++) for (let k = 0; k <= i; k++) sumV[i * P + k] += cov[i * P + k];
      let change = 0;
      for (let j = 0; j < P; j++) {
        change += Math.abs(mean[j] - m[o + j]) * this.featureSd[j];
        m[o + j] = mean[j];
        vdiag[o + j] = cov[j * P + j];
      }
      if (change > predictionChange) predictionChange = change;
    }
    if (!this.warm) predictionChange = Number.POSITIVE_INFINITY;
    this.lastChange = predictionChange;

    this.warm = true;
    let elbo = -0.5 * N * LOG2PI + U * 0.5 * P * (1 + LOG2PI) + 0.5 * sumLogDetV + sumEntropy;
    let delta = 0;
    const psiATau = digamma(aTau);
    const muNew = collapsed ? this.collapsedMu() : this.plainMu();
    const { termS, termC, termDev, termDenom, termMu, termT } = this;
    const sh = this.shared;
    for (let j = 0; j < P; j++) {
      // q(mu_j) = N(mMu_j, sMu2_j)
      const prec = 1 / s02[j] + U * eInvTau[j];
      sMu2[j] = 1 / prec;
      const muJ = muNew[j];
      const shift = collapsed ? muJ - mMu[j] : 0;

      // q(tau_j²) = InvGamma(aTau, bTau); c = E[1/a_j] for the half-Cauchy, the InvGamma scale otherwise.
      // Coordinate ascent sets 2 bTau = 2c + D + W with D = sum_u (m_uj - mu_j)², W = sum_u V_ujj + U sMu2_j.
      // The default step (collapsedTau) solves that stationarity condition with every athlete's m_uj and V_ujj
      // following tau_j² as their posteriors would; when it cannot, MacKay's (1992) rearrangement,
      // tau² = (2c + D) / (2 aTau - W / tau²_old). Same fixed point as coordinate ascent, which creeps when each
      // user says little about beta_uj (W / tau² close to U).
      // The deviations are those once the athletes' means follow mu's move (to first order, each by its shrinkage
      // V_ujj / tau²_j times the move), which is what the next sweep will find; the ELBO's own is trueDev.
      const sharedTerm = sh?.has(j) === true;
      const devs = sharedTerm ? sh!.devsAll.subarray(j * U, (j + 1) * U) : this.devsOne;
      const hs = sharedTerm ? sh!.hsAll.subarray(j * U, (j + 1) * U) : this.hsOne;
      this.devs = devs;
      this.hs = hs;
      let dev = 0;
      let trueDev = 0;
      let within = U * sMu2[j];
      for (let u = 0; u < U; u++) {
        const v = vdiag[u * P + j];
        const d = m[u * P + j] - muJ;
        const e = d + v * eInvTau[j] * shift;
        trueDev += d * d;
        dev += e * e;
        within += v;
        devs[u] = e;
        hs[u] = Math.max(0, 1 / v - eInvTau[j]);
      }
      termS[j] = trueDev + within;
      termC[j] = halfCauchy && !sharedTerm ? 1 / Math.exp(tin[2 * P + j]) : halfCauchy ? 0 : this.bTau0[j];
      termDev[j] = dev;
      // 2 aTau - W / tau²_old is 1 + (effective number of users informative about term j) for the half-Cauchy;
      // when hardly any user informs the term (a feature nobody records), the plain step is the stable one.
      termDenom[j] = 2 * aTau - within * eInvTau[j];
      termMu[j] = muJ;
      termT[j] = collapsed && !sharedTerm ? this.collapsedTau(j, eInvTau[j]) : 0;
    }
    // sharedSpreadPrior: the slopes' spreads solved together with the prior they share (phi, omega²).
    if (collapsed && sh) {
      sh.solve(this satisfies SharedSpreadHost, eInvTau, termT);
      this.devs = this.devsOne;
      this.hs = this.hsOne;
    }
    for (let j = 0; j < P; j++) {
      const sharedTerm = sh?.has(j) === true;
      const s = termS[j];
      const c = termC[j];
      const muJ = termMu[j];
      const bLamIn = Math.exp(tin[2 * P + j]);
      let bTau = c + s / 2;
      if (sharedTerm && !collapsed) {
        termT[j] = sh!.coordinate(s, j);
        bTau = aTau / termT[j];
      }
      if (collapsed) {
        const t = termT[j];
        if (t > 0) bTau = aTau / t;
        else if (termDenom[j] >= 2) bTau = (aTau * (2 * c + termDev[j])) / termDenom[j];
      }
      bTau = Math.max(bTau, aTau * iv[j] * TAU2_FLOOR_FRACTION);
      const eInvTauNew = aTau / bTau;
      const bLam = halfCauchy && !sharedTerm ? eInvTauNew + 1 / iv[j] : bLamIn;

      tout[j] = muJ / this.ivSd[j];
      tout[P + j] = Math.log(bTau / aTau);
      tout[2 * P + j] = Math.log(bLam);
      delta = Math.max(delta, Math.abs(tout[P + j] - tin[P + j]));

      // ELBO terms of this coordinate
      const eLogTau = Math.log(bTau) - psiATau;
      elbo += -0.5 * U * (LOG2PI + eLogTau) - 0.5 * eInvTauNew * s;
      elbo += -0.5 * Math.log(2 * Math.PI * s02[j]) - ((muJ - mu0[j]) ** 2 + sMu2[j]) / (2 * s02[j]);
      elbo += 0.5 * Math.log(2 * Math.PI * Math.E * sMu2[j]);
      if (sharedTerm) {
        elbo += sh!.elbo(j, eLogTau, aTau);
      } else if (halfCauchy) {
        const eLogLam = Math.log(bLam) - digamma(1);
        const eInvLam = 1 / bLam;
        elbo += -0.5 * eLogLam - lgamma(0.5) - 1.5 * eLogTau - eInvLam * eInvTauNew;
        // tauZeroPower's factor tau^(k-1) (unnormalised: a constant more or less does not move the fit)
        elbo += 0.5 * (this.tauZeroPower - 1) * eLogTau;
        elbo += -0.5 * Math.log(iv[j]) - lgamma(0.5) - 1.5 * eLogLam - eInvLam / iv[j];
        elbo += invGammaEntropy(1, bLam);
      } else {
        elbo += TAU2_IG_SHAPE * Math.log(this.bTau0[j]) - lgamma(TAU2_IG_SHAPE) - (TAU2_IG_SHAPE + 1) * eLogTau - this.bTau0[j] * eInvTauNew;
      }
      elbo += invGammaEntropy(aTau, bTau);
    }

    if (!collapsed && sh) sh.coordinateUpdate(termT);

    // q(sigma²) = InvGamma(aSig, bSig)
    const bSig = Math.max(SIGMA2_PRIOR_SCALE + sumRss / 2, aSig * SIGMA2_FLOOR);
    tout[3 * P] = Math.log(bSig / aSig);
    delta = Math.max(delta, Math.abs(tout[3 * P] - tin[3 * P]));
    const eInvSigNew = aSig / bSig;
    const eLogSig = Math.log(bSig) - digamma(aSig);
    elbo += -0.5 * N * eLogSig - 0.5 * eInvSigNew * sumRss;
    elbo += SIGMA2_PRIOR_SHAPE * Math.log(SIGMA2_PRIOR_SCALE) - lgamma(SIGMA2_PRIOR_SHAPE) - (SIGMA2_PRIOR_SHAPE + 1) * eLogSig - SIGMA2_PRIOR_SCALE * eInvSigNew;
    elbo += invGammaEntropy(aSig, bSig);
    return { elbo, delta, predictionChange };
  }

  /**
   * The q(mu) update with every athlete's mean following mu: m_u(mu) = m_u + V_u T (mu - mu_in) (exact for athletes
   * without bounded rows, to first order with them, T = diag(E[1/tau²])), solved jointly with
   * mu = (S0^-1 mu0 + T sum_u m_u(mu)) / (S0^-1 + U T), i.e. (S0^-1 + U T - T (sum V_u) T) mu = S0^-1 mu0 +
   * T (sum m_u - (sum V_u) T mu_in). The plain update moves mu_j by only (1 - mean shrinkage) of the way when the
   * athletes say little about term j (their means follow the population mean back), so a weakly identified slope
   * took hundreds of sweeps; the fixed point is the same (at it mu = mu_in).
   */
  private plainMu(): Float64Array {
    const { U, m, muNew, sumM, eInvTau: t, s02, mu0 } = this;
    sumM.fill(0);
    for (let u = 0; u < U; u++) for (let j = 0; j < P; j++) sumM[j] += m[u * P + j];
    for (let j = 0; j < P; j++) muNew[j] = (mu0[j] / s02[j] + t[j] * sumM[j]) / (1 / s02[j] + U * t[j]);
    return muNew;
  }

  /**
   * E[1/tau_j²] = t solving the q(tau_j²) update's stationarity condition, t (2c(t) + D(t) + W(t)) = 2 aTau, with
   * each athlete's posterior of beta_uj following t as a one-term conjugate posterior would: precision h_u + t
   * (h_u = 1/V_ujj - t_old, what their data say about the term), deviation from mu scaled by
   * (h_u + t_old) / (h_u + t); with the half-Cauchy c(t) = 1 / (t + 1/iv_j), and U sMu2_j(t) in W. At t = t_old this
   * is the plain update's condition, so the fixed point is the same; away from it, the athletes' response, which
   * the plain step leaves to later sweeps (hundreds for a weakly identified slope), is taken at once. The root is
   * bracketed and closed in on in log t (Newton steps stalled where the condition is nearly flat, as for a spread
   * heading to zero); returns 0 when there is no root within e^64 of t_old (the caller takes MacKay's step).
   */
  private collapsedTau(j: number, tOld: number): number {
    const x0 = Math.log(tOld);
    const f0 = this.tauCondition(j, tOld, x0);
    if (!Number.isFinite(f0)) return 0;
    if (f0 === 0) return tOld;
    // At a stable fixed point the condition rises through zero (its slope is 1 minus the plain step's rate of
    // convergence): bracket that root on the side f0 points to, by steps doubling from 0.05 in log t ...
    const dir = f0 > 0 ? -1 : 1;
    let a = x0;
    let fa = f0;
    let b = Number.NaN;
    let fb = Number.NaN;
    for (let step = 0.05; step <= 64; step *= 2) {
      const x = x0 + dir * step;
      const f = this.tauCondition(j, tOld, x);
      if (!Number.isFinite(f)) return 0;
      if (f > 0 !== f0 > 0) {
        b = x;
        fb = f;
        break;
      }
      a = x;
      fa = f;
    }
    if (Number.isNaN(b)) return 0;
    // ... then close in on it by regula falsi with the Illinois modification (superlinear, and the bracket always
    // holds the root), to 1e-12 of the condition or 1e-9 in log t.
    let side = 0;
    for (let iter = 0; iter < 100; iter++) {
      const x = (a * fb - b * fa) / (fb - fa);
      const f = this.tauCondition(j, tOld, x);
      if (!Number.isFinite(f)) return 0;
      if (Math.abs(f) < 1e-12) return Math.exp(x);
      if (f > 0 === fb > 0) {
        b = x;
        fb = f;
        if (side === -1) fa /= 2;
        side = -1;
      } else {
        a = x;
        fa = f;
        if (side === 1) fb /= 2;
        side = 1;
      }
      if (Math.abs(b - a) < 1e-9) break;
    }
    return Math.exp((a * fb - b * fa) / (fb - fa));
  }

  /** log t + log(2c(t) + D(t) + W(t)) - log(2 aTau) for term j at x = log t (collapsedTau's condition). */
  private tauCondition(j: number, tOld: number, x: number): number {
    const { U, devs, hs, aTau, s02, iv } = this;
    const t = Math.exp(x);
    const sh = this.shared;
    const sharedTerm = sh?.has(j) === true;
    if (sharedTerm && sh!.averaging) return sh!.averagingCondition(j, tOld, t, x, devs, hs);
    let S = 0;
    let target = 2 * aTau;
    if (this.remlMu || this.pseudoAthleteWeight) {
      // mu's uncertainty as a restricted likelihood counts it: sum_u r_u² Var(mu_j), r_u = h_u / (h_u + t)
      const sums = this.restricted;
      restrictedSums(U, tOld, t, devs, hs, sums);
      S = sums[0];
      const sumR = sums[1];
      const sumR2 = sums[2];
      const restricted = sumR2 / (1 / s02[j] + t * sumR);
      if (this.pseudoAthleteWeight) {
        // w parts mean-field's count and 1 - w the restricted one; the half-Cauchy's pseudo-athlete as tauZeroPower w
        const w = Math.min(1, Math.max(0, this.pseudoAthleteWeight(sumR2)));
        S += w * (U / (1 / s02[j] + U * t)) + (1 - w) * restricted;
        target += 1 - w;
      } else {
        S += restricted;
      }
    } else {
      for (let u = 0; u < U; u++) {
        const h = hs[u];
        const k = 1 / (h + t);
        const g = devs[u] * (h + tOld) * k;
        S += g * g + k;
      }
      S += U / (1 / s02[j] + U * t);
    }
    // sharedSpreadPrior: no half-Cauchy, the shared prior's condition (shared-spread-prior.ts)
    if (sharedTerm) return sh!.condition(j, t, x, S);
    S += this.tauPrior === 'halfCauchy' ? 2 / (t + 1 / iv[j]) : 2 * this.bTau0[j];
    return x + Math.log(S) - Math.log(target);
  }

  private collapsedMu(): Float64Array {
    const { U, m, sumV, muSystem: a, muRhs: r, muScale: d, muNew, sumM, eInvTau: t, mMu, s02, mu0 } = this;
    sumM.fill(0);
    for (let u = 0; u < U; u++) for (let j = 0; j < P; j++) sumM[j] += m[u * P + j];
    for (let i = 0; i < P; i++) {
      let svtm = 0;
      for (let k = 0; k < P; k++) svtm += (k <= i ? sumV[i * P + k] : sumV[k * P + i]) * t[k] * mMu[k];
      r[i] = mu0[i] / s02[i] + t[i] * (sumM[i] - svtm);
      d[i] = 1 / Math.sqrt(1 / s02[i] + U * t[i] - t[i] * sumV[i * P + i] * t[i]);
    }
    // Equilibrated (unit diagonal) like posteriorInto: the terms' scales differ by orders of magnitude.
    for (let i = 0; i < P; i++) {
      for (let k = 0; k <= i; k++) {
        let v = -t[i] * sumV[i * P + k] * t[k];
        if (k === i) v += 1 / s02[i] + U * t[i];
        a[i * P + k] = v * d[i] * d[k];
      }
      r[i] *= d[i];
    }
    try {
      cholesky(a, P);
      choleskySolve(a, P, r, r);
      for (let j = 0; j < P; j++) muNew[j] = r[j] * d[j];
    } catch {
      // Rounding made the system indefinite (a spread at its floor): the plain update.
      for (let j = 0; j < P; j++) muNew[j] = (mu0[j] / s02[j] + t[j] * sumM[j]) / (1 / s02[j] + U * t[j]);
    }
    return muNew;
  }
}

/**
 * Full posterior inference over mu, tau², sigma² and every beta_u by mean-field variational Bayes: coordinate
 * ascent on q(beta_u) q(mu) q(tau²) q(sigma²), each factor in closed form; deterministic, so the same input
 * gives the same output bit for bit. Plain coordinate ascent converges slowly when the data say little about a
 * variance component (the EM "missing information" problem: each athlete's mean follows the population back), so
 * the population's factors are updated with the athletes' response to them taken into account (collapsedMu,
 * collapsedTau: the same fixed point); SQUAREM (Varadhan & Roland 2008, scheme S3, an extrapolation kept only if
 * the ELBO does not drop) remains an option. Users with n = 0 carry no likelihood: they do not enter the population update and get the population
 * model. The returned tau2 and sigma2 are 1/E_q[1/tau²] and 1/E_q[1/sigma²], the values at which q(beta_u) is
 * the conjugate posterior, so userPosterior(stats, hyper) reproduces every user of the fit.
 */
export function fitHierarchical(users: readonly SufficientStats[], opts: FitOptions = {}): HierarchicalFit {
  // Every athlete's posterior kept from the fit's last pass: the served models need no second pass.
  const posteriors: { mean: Float64Array; cov: Float64Array }[] = [];
  const fit = fitPopulation(users, opts, (i, mean, cov) => {
    posteriors[i] = { mean: mean.slice(), cov: cov.slice() };
  });
  return { hyper: fit.hyper, users: users.map((st, i) => servedModel(st.n, posteriors[i].mean, posteriors[i].cov, fit.hyper)), diagnostics: fit.diagnostics };
}

/**
 * fitHierarchical, each athlete's served model computed again when asked for (the nightly run writes them a chunk
 * at a time): nothing per athlete is kept, for one more posterior pass over the athletes served.
 */
export function fitHierarchicalServing(users: readonly SufficientStats[], opts: FitOptions = {}): ServingFit {
  const fit = fitPopulation(users, opts);
  return { hyper: fit.hyper, diagnostics: fit.diagnostics, served: servedModels(users, fit.hyper) };
}

/** The fit's sweeps and hyperparameters; `onPosterior` sees each athlete's posterior at them (scratch arrays: copy what is kept). */
function fitPopulation(
  users: readonly SufficientStats[],
  opts: FitOptions,
  onPosterior?: (i: number, mean: Float64Array, cov: Float64Array) => void,
): { hyper: Hyperparameters; diagnostics: FitDiagnostics } {
  const started = performance.now();
  const maxIterations = opts.maxIterations ?? 1000;
  const tolerance = opts.tolerance ?? 1e-4;
  const spreadTolerance = opts.spreadTolerance ?? 1e-3;
  const tauPrior: Tau2Prior = opts.tau2Prior ?? 'halfCauchy';
  const accelerate = opts.accelerate ?? false;
  const terms = opts.terms ?? MODEL_TERMS;
  const tauZeroPower = opts.tauZeroPower ?? 1;
  const sharedSpreadPrior = opts.sharedSpreadPrior ?? 'none';
  const shared = sharedSpreadPrior === 'none' || tauPrior !== 'halfCauchy' ? undefined : sharedSpreadPrior;
  const remlMu = opts.remlMu ?? shared !== undefined;
  if (!(tauZeroPower > 0 && tauZeroPower <= 1)) throw new RangeError(`fitHierarchical: tauZeroPower must be in (0, 1], got ${opts.tauZeroPower}`);

  const activeIndex: number[] = [];
  users.forEach((u, i) => {
    if (u.n > 0) activeIndex.push(i);
  });
  const vb = new VariationalFit(
    activeIndex.map((i) => users[i]),
    activeIndex,
    tauPrior,
    opts.tau2Step ?? 'fixedPoint',
    terms,
    tauZeroPower,
    remlMu,
    opts.pseudoAthleteWeight,
    shared ? { unit: shared, tail: opts.sharedSpreadTail } : undefined,
  );

  const trace: number[] = [];
  let iterations = 0;
  let converged = false;
  let delta = Number.POSITIVE_INFINITY;
  let spreadDelta = Number.POSITIVE_INFINITY;
  let elbo = Number.NaN;
  let cycleBrokenAt: number | null = null;
  const collapsed = vb.tau2Step === 'fixedPoint';
  let accelerating = accelerate;
  let theta = vb.initial();

  if (vb.U > 0) {
    const t1 = new Float64Array(THETA);
    const t2 = new Float64Array(THETA);
    const t3 = new Float64Array(THETA);
    const tx = new Float64Array(THETA);
    const before = new Float64Array(THETA); // where the previous sweep started
    let haveBefore = false;
    // How far `tout` is from `before` in the log variances (tau_j², sigma²): near 0 when a sweep undid the last one.
    const distanceBack = (tout: Float64Array) => {
      let d = Math.abs(tout[3 * P] - before[3 * P]);
      for (let j = 0; j < P; j++) d = Math.max(d, Math.abs(tout[P + j] - before[P + j]));
      return d;
    };
    const step = (tin: Float64Array, tout: Float64Array) => {
      let r = vb.sweep(tin, tout);
      if (collapsed && cycleBrokenAt === null && haveBefore && r.delta > CYCLE_MIN_STEP && distanceBack(tout) < CYCLE_RETURN * r.delta) {
        // The collapsed steps solve each tau_j² with sigma² held, then sigma² with the spreads held. Where the data
        // cannot tell them apart (one rating per athlete: the intercept's spread against the noise) the two can
        // overshoot each other into a 2-cycle: every other sweep returns to the same state, the ELBO drops on each
        // return, and the fit never converges (1,000 sweeps on 2,500 athletes with one rating each, the intercept's
        // spread 0.02 <-> 0.84). On the first such return the fit starts again from the priors, guarded: a sweep
        // whose collapsed steps lower the ELBO is taken again from the same state with coordinate ascent's steps,
        // which cannot lower it, and SQUAREM's extrapolation works against their creep along such a ridge (200
        // sweeps in all there; guarded only from the cycle on, or coordinate ascent alone from the start with
        // SQUAREM, took 454 to over 1,000). Data without a cycle are fitted as before.
        iterations++;
        cycleBrokenAt = iterations;
        accelerating = true;
        throw RESTART;
      }
      if (cycleBrokenAt !== null && Number.isFinite(elbo) && r.elbo < elbo - ELBO_SLACK * Math.abs(elbo)) {
        // A retaken sweep's prediction change keeps the rejected one's (the athletes' means were already moved by it).
        const again = vb.sweep(tin, tout, false);
        r = { ...again, predictionChange: Math.max(r.predictionChange, again.predictionChange) };
      }
      before.set(tin);
      haveBefore = true;
      iterations++;
      elbo = r.elbo;
      delta = r.predictionChange;
      spreadDelta = r.delta;
      trace.push(r.elbo);
      if (trace.length > TRACE_TAIL) trace.shift();
      opts.onProgress?.(iterations, r.predictionChange);
      if (r.predictionChange < tolerance && r.delta < spreadTolerance) converged = true;
      return r;
    };
    // One round from `from`: two sweeps, then (when accelerating) SQUAREM's extrapolation and a stabilising sweep.
    const squaremRound = (from: Float64Array): Float64Array => {
      step(from, t1);

      if (converged || iterations >= maxIterations) return t1.slice();
      const r2 = step(t1, t2);
      if (converged || !accelerating || iterations >= maxIterations) return t2.slice();
      // SQUAREM S3: r = t1 - from, v = t2 - 2 t1 + from, alpha = -|r|/|v| (at most -1). One step length for
      // the whole state: one per term's block was tried and diverges when correlated terms trade their spreads.
      let rr = 0;
      let vv = 0;
      for (let i = 0; i < THETA; i++) {
        const r = t1[i] - from[i];
        const v = t2[i] - 2 * t1[i] + from[i];
        rr += r * r;
        vv += v * v;
      }
      const alpha = vv > 0 ? Math.min(-1, -Math.sqrt(rr / vv)) : -1;
      for (let i = 0; i < THETA; i++) {
        const r = t1[i] - from[i];
        const v = t2[i] - 2 * t1[i] + from[i];
        tx[i] = from[i] - 2 * alpha * r + alpha * alpha * v;
      }
      vb.clampState(tx);
      // Stabilising sweep from the extrapolated point; keep it only if the ELBO did not drop (beyond the noise of
      // the Newton steps' tolerance).
      let ok = true;
      let r3: SweepResult | null = null;
      try {
        r3 = step(tx, t3);
      } catch (err) {
        if (err === RESTART) throw err;
        ok = false; // an extrapolation far outside the data's support: fall back to the plain sweeps
      }
      if (ok && r3 && Number.isFinite(r3.elbo) && r3.elbo >= r2.elbo - ELBO_SLACK * Math.abs(r2.elbo)) return t3.slice();
      converged = false;
      return t2.slice();
    };
    while (!converged && iterations < maxIterations) {
      try {
        theta = squaremRound(theta);
      } catch (err) {
        if (err !== RESTART) throw err;
        theta = vb.initial();
        vb.shared?.reset();
        elbo = Number.NaN;
      }
    }
  } else {
    converged = true;
    delta = 0;
    spreadDelta = 0;
  }

  const hyper = vb.U > 0 ? vb.hyperparameters(theta) : priorHyperparameters(terms);
  const tauInv = Float64Array.from(hyper.tau2, (t) => 1 / t);
  const ws = workspace();
  const cs = censoredScratch();
  // Each athlete's posterior at the returned hyperparameters from the same start as the quick update's (userPosterior),
  // so that it reproduces every athlete of the fit bit for bit (a start from the last sweep's modes, one Newton step
  // away, saved about one posterior pass but agreed only to the Newton steps' tolerance, 1e-8 of a variance); from
  // them, how uncertain each between-athlete spread is, so that the served intervals carry it (Kass-Steffey). One
  // athlete at a time: every posterior at once took about 0.9 KB per athlete, every served model about 3 KB.
  const information = vb.U > 0 ? new LogTau2Information(hyper.tau2) : null;
  const mean = new Float64Array(P);
  const cov = new Float64Array(P * P);
  users.forEach((st, i) => {
    if (st.n === 0 && !onPosterior) return;
    mean.fill(0);
    cov.fill(0);
    athletePosteriorInto(st, tauInv, hyper.mu, 1 / hyper.sigma2, mean, cov, ws, cs);
    if (st.n > 0) information?.add(cov);
    onPosterior?.(i, mean, cov);
  });
  if (information) hyper.logTau2Cov = information.covariance(vb.shared?.priorInformation());

  return {
    hyper,
    diagnostics: {
      iterations,
      converged,
      delta,
      spreadDelta,
      elbo,
      elboTrace: trace,
      cycleBrokenAt,
      sharedSpread: vb.shared?.estimate(),
      usersWithData: vb.U,
      sessions: vb.N,
      tau2Prior: tauPrior,
      elapsedMs: performance.now() - started,
    },
  };
}

/** users[i]'s served model at the fit's hyperparameters, on demand (a function of its own: a closure in fitHierarchicalServing would keep the fit's state alive with it). */
function servedModels(users: readonly SufficientStats[], hyper: Hyperparameters): (i: number) => UserPosteriorResult {
  return (i) => userPosterior(users[i], hyper);
}

/** Entropy of InvGamma(a, b) (a term of the ELBO). */
function invGammaEntropy(a: number, b: number): number {
  return a + Math.log(b) + lgamma(a) - (1 + a) * digamma(a);
}
