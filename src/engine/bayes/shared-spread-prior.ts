// For comparison only (BENCHMARKS.md, issue 22 §1, ninth and tenth rounds; measured, not served): a prior one level
// up on the slopes' between-athlete spreads, log tau_j² ~ N(phi + 2 log unit_j, omega²) with phi and omega² estimated
// across the slopes (empirical Bayes), and its robust forms (sharedSpreadTail). fitHierarchical uses it only with
// FitOptions.sharedSpreadPrior; the served fit never constructs it. Moved out of variational-fit.ts unchanged: the
// fits with and without it are the same bit for bit as before the move.
import { P } from '../variables.ts';
import type { FeatureSpec } from '../variables.ts';

export type SharedSpreadUnit = 'effect' | 'individual';
export type SharedSpreadTail = { kind: 'student'; df: number } | { kind: 'mixture'; wideSd: number; narrowShare: number } | { kind: 'halfCauchy'; narrowShare: number };

/** The shared prior's estimates across the slopes (sharedSpreadPrior): log tau_j² ~ N(phi + 2 log unit_j, omega2). */
export interface SharedSpreadEstimate {
  phi: number;
  omega2: number;
  /** With FitOptions.sharedSpreadTail: each term's prior precision on log tau_j² relative to 1/omega² (NaN: its own prior). */
  weights?: number[];
}

/** What the prior asks of the fit: term j's collapsed tau² step with the athletes' deviations and precisions given. */
export interface SharedSpreadHost {
  solveTau(j: number, tOld: number, devs: Float64Array, hs: Float64Array): number;
}

/** omega² at the start (sd 2 in log tau²: hardly a constraint), and its inner iterations' end. */
const OMEGA2_START = 4;
/** omega ~ half-Cauchy(0, 1) in log tau²: the slopes' spreads relative to their units alike within about e^(1/2). */
const OMEGA_SCALE2 = 1;
const TOLERANCE = 1e-9;
const MAX_ROUNDS = 10;

/**
 * The athletes' sums in log tau_j²'s collapsed condition at tau_j² = t (their posteriors followed from tOld), into
 * out: [0] sum of g_u² + k_u, [1] sum of r_u, [2] sum of r_u², with k_u = 1 / (h_u + t) and r_u = h_u k_u (the
 * restricted likelihood's weights). Shared by the fit's restricted conditions and this prior's.
 */
export function restrictedSums(U: number, tOld: number, t: number, devs: Float64Array, hs: Float64Array, out: Float64Array): void {
  let S = 0;
  let sumR = 0;
  let sumR2 = 0;
  for (let u = 0; u < U; u++) {
    const h = hs[u];
    const k = 1 / (h + t);
    const g = devs[u] * (h + tOld) * k;
    S += g * g + k;
    const r = h * k;
    sumR += r;
    sumR2 += r * r;
  }
  out[0] = S;
  out[1] = sumR;
  out[2] = sumR2;
}

export class SharedSpreadPrior {
  /** 2 log unit_j per term (NaN: the term keeps its own prior). */
  readonly logUnit2: Float64Array;
  /** Per shared slope, the athletes' deviations and the data's precisions (the fit fills them each sweep). */
  readonly devsAll: Float64Array;
  readonly hsAll: Float64Array;
  phi = 0;
  omega2 = 0;
  /** sharedSpreadTail: each slope's prior precision on log tau_j², its data's information J_j / 2, and E[log tau_j²] - 2 log unit_j. */
  private readonly prec = new Float64Array(P);
  private readonly info = new Float64Array(P);
  private readonly L = new Float64Array(P);
  /** sharedSpreadTail 'halfCauchy': each slope's weight on the shared prior, and the data's score in log tau_j² at its t. */
  private readonly rho = new Float64Array(P);
  private readonly score = new Float64Array(P);
  /** restrictedSums' output. */
  private readonly sums = new Float64Array(3);
  /** Model averaging with each slope's own half-Cauchy (sharedSpreadTail 'halfCauchy'). */
  readonly averaging: boolean;

  /**
   * `logShift`: E[log tau²] under q(tau²) = InvGamma(aTau, aTau / t) is -log t + logShift (log aTau - digamma(aTau)).
   */
  constructor(
    terms: readonly FeatureSpec[],
    unit: SharedSpreadUnit,
    readonly tail: SharedSpreadTail | undefined,
    private readonly U: number,
    private readonly iv: readonly number[],
    private readonly s02: readonly number[],
    private readonly logShift: number,
  ) {
    this.logUnit2 = Float64Array.from(terms, (t, j) => (j === 0 ? Number.NaN : Math.log(unit === 'effect' ? t.priorMean * t.priorMean + t.priorStd * t.priorStd : t.individualVariance)));
    this.devsAll = new Float64Array(U * P);
    this.hsAll = new Float64Array(U * P);
    this.averaging = tail?.kind === 'halfCauchy';
    this.reset();
  }

  /** Whether term j takes the shared prior (every slope; the intercept keeps its own). */
  has(j: number): boolean {
    return !Number.isNaN(this.logUnit2[j]);
  }

  /** The shared prior's start (with the state's start): phi from the priors' individual variances, omega² wide. */
  reset(): void {
    const lu = this.logUnit2;
    let sum = 0;
    let k = 0;
    for (let j = 0; j < P; j++) {
      if (Number.isNaN(lu[j])) continue;
      sum += Math.log(this.iv[j]) - lu[j];
      k++;
    }
    this.phi = sum / k;
    this.omega2 = OMEGA2_START;
    this.prec.fill(1 / OMEGA2_START);
    this.rho.fill(this.tail?.kind === 'halfCauchy' ? this.tail.narrowShare : 1);
  }

  /** The shared prior's precision on slope j's log tau² (1/omega² without sharedSpreadTail). */
  private precision(j: number): number {
    return this.tail ? this.prec[j] : 1 / this.omega2;
  }

  /** The shared prior's estimates. */
  estimate(): SharedSpreadEstimate {
    const lu = this.logUnit2;
    const estimate: SharedSpreadEstimate = { phi: this.phi, omega2: this.omega2 };
    if (this.tail) estimate.weights = Array.from(lu, (v, j) => (Number.isNaN(v) ? Number.NaN : this.prec[j] * this.omega2));
    return estimate;
  }

  /**
   * The fit's collapsed condition for shared slope j at x = log t, given S = sum_u (g_u² + k_u) plus mu's term
   * (tauCondition's): no half-Cauchy; q(tau²)'s stationarity with the prior N(E[log tau²]; m, omega²) on log tau² (its
   * Jacobian cancels the entropy's), t S = U + 2 (E[log tau²] - m) / omega² (the sign of the log form's wherever the
   * right side is positive).
   */
  condition(j: number, t: number, x: number, S: number): number {
    const { U } = this;
    const lu = this.logUnit2;
    if (this.tail) return (t * S) / U - 1 + (2 * (x - this.logShift + this.phi + lu[j]) * this.prec[j]) / U;
    return (t * S) / U - 1 + (2 * (x - this.logShift + this.phi + lu[j])) / (U * this.omega2);
  }

  /**
   * sharedSpreadTail 'halfCauchy', the whole condition for shared slope j at x = log t: the shared prior's condition
   * (restricted q(mu)) and the served half-Cauchy's (mean-field q(mu), its auxiliary collapsed), mixed with weights
   * rho and 1 - rho: t S = U + rho 2 (E[log tau²] - m) p + (1 - rho) (1 - 2 c t).
   */
  averagingCondition(j: number, tOld: number, t: number, x: number, devs: Float64Array, hs: Float64Array): number {
    const { U, s02, iv } = this;
    const luJ = this.logUnit2[j];
    const rho = this.rho[j];
    const sums = this.sums;
    restrictedSums(U, tOld, t, devs, hs, sums);
    let S = sums[0];
    const sumR = sums[1];
    const sumR2 = sums[2];
    S += rho * (sumR2 / (1 / s02[j] + t * sumR)) + (1 - rho) * (U / (1 / s02[j] + U * t) + 2 / (t + 1 / iv[j]));
    const prior = (2 * (x - this.logShift + this.phi + luJ)) / this.omega2;
    return (t * S - U - (1 - rho) + rho * prior) / U;
  }

  /** Shared slope j's prior term of the ELBO at E[log tau_j²] (q(tau_j²) = InvGamma(aTau, ·)). */
  elbo(j: number, eLogTau: number, aTau: number): number {
    // log tau_j² ~ N(phi + 2 log unit_j, omega²); Var(log tau²) under q is trigamma(aTau) ≈ 1/aTau + 1/(2 aTau²)
    const omega2 = this.tail ? 1 / this.prec[j] : this.omega2;
    const varL = 1 / aTau + 1 / (2 * aTau * aTau);
    // (a density in log tau²: its Jacobian, -E[log tau²], makes it one in tau²)
    return -0.5 * Math.log(2 * Math.PI * omega2) - ((eLogTau - this.phi - this.logUnit2[j]) ** 2 + varL) / (2 * omega2) - eLogTau;
  }

  /**
   * sharedSpreadPrior: every slope's E[1/tau_j²] solved with the prior log tau_j² ~ N(phi + 2 log unit_j, omega²)
   * (the fit's collapsed condition with `condition`'s prior), then phi and omega² re-estimated from the slopes' solutions (EM: phi their mean, omega² from the
   * squared deviations plus each log tau_j²'s posterior variance 1 / (J_j / 2 + 1 / omega²), J_j = sum_u r_u² the
   * athletes' information about it (the collapsed count, not mean-field q(tau²)'s 2 / U), with omega's half-Cauchy),
   * until they settle. Writes each slope's t into `out`.
   */
  solve(host: SharedSpreadHost, tOld: Float64Array, out: Float64Array): void {
    const lu = this.logUnit2;
    const { U } = this;
    let k = 0;
    for (let j = 0; j < P; j++) if (!Number.isNaN(lu[j])) k++;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      let sumL = 0;
      let sumV = 0;
      const omega2 = this.omega2;
      for (let j = 0; j < P; j++) {
        if (Number.isNaN(lu[j])) continue;
        const devs = this.devsAll.subarray(j * U, (j + 1) * U);
        const hs = this.hsAll.subarray(j * U, (j + 1) * U);
        const t = host.solveTau(j, tOld[j], devs, hs);
        out[j] = t;
        const tt = t > 0 ? t : tOld[j];
        let info = 0;
        for (let u = 0; u < U; u++) {
          const r = hs[u] / (hs[u] + tt);
          info += 0.5 * r * r;
        }
        sumL += -Math.log(tt) + this.logShift - lu[j];
        sumV += 1 / (info + 1 / omega2);
        this.L[j] = -Math.log(tt) + this.logShift - lu[j];
        this.info[j] = info;
        if (this.tail?.kind === 'halfCauchy') this.score[j] = this.dataScore(j, tOld[j], tt, devs, hs);
      }
      const moved = this.tail ? this.robustUpdate() : this.update(out, tOld, sumL, sumV, k);
      if (moved < TOLERANCE) break;
    }
  }

  /**
   * phi and omega² from the slopes' t (or `fallback`'s where t is 0): phi the mean of E[log tau_j²] - 2 log unit_j
   * (`sumL` their sum), and q(omega²) = InvGamma((k + 1) / 2, E[1/b] + (sq + sumV) / 2) with omega's half-Cauchy
   * auxiliary b, E[1/b] = 1 / (1/omega² + 1/A²), omega² its 1 / E[1/omega²] (bounded, about A², when no slope is
   * identified). Returns how far they moved.
   */
  private update(t: Float64Array, fallback: Float64Array, sumL: number, sumV: number, k: number): number {
    const lu = this.logUnit2;
    const omega2 = this.omega2;
    const phi = sumL / k;
    let sq = 0;
    for (let j = 0; j < P; j++) {
      if (Number.isNaN(lu[j])) continue;
      const tt = t[j] > 0 ? t[j] : fallback[j];
      sq += (-Math.log(tt) + this.logShift - lu[j] - phi) ** 2;
    }
    const omega2New = (1 / (1 / omega2 + 1 / OMEGA_SCALE2) + (sq + sumV) / 2) / ((k + 1) / 2);
    const moved = Math.abs(phi - this.phi) + Math.abs(Math.log(omega2New / omega2));
    this.phi = phi;
    this.omega2 = omega2New;
    return moved;
  }

  /**
   * sharedSpreadTail: phi, omega² and each slope's prior precision p_j from the slopes' E[log tau_j²] - 2 log unit_j
   * (L_j) and their data's information I_j, each L_j's posterior variance 1 / (I_j + p_j). 'student': lambda_j = (df +
   * 1) / (df + ((L_j - phi)² + V_j) / omega²), p_j = lambda_j / omega², phi = sum lambda_j L_j / sum lambda_j, omega²
   * as sharedUpdate's with lambda_j-weighted squares. 'mixture': the data's own estimate l̂_j = phi + (L_j - phi)
   * (I_j + p_j) / I_j (the prior taken back out), responsibility of the narrow component rho_j from l̂_j's marginal
   * under each, N(l̂_j; phi, omega² + 1/I_j) against N(l̂_j; phi, omega² + W² + 1/I_j), p_j = rho_j / omega² + (1 -
   * rho_j) / (omega² + W²), phi the p-weighted mean, omega² from the rho-weighted squares. Returns how far they moved.
   */
  private robustUpdate(): number {
    const lu = this.logUnit2;
    const tail = this.tail!;
    if (tail.kind === 'halfCauchy') return this.averagingUpdate(tail.narrowShare);
    const { L, info: I, prec } = this;
    const omega2 = this.omega2;
    const phiOld = this.phi;
    const wide2 = tail.kind === 'mixture' ? tail.wideSd * tail.wideSd : 0;
    const rhos = new Float64Array(P);
    let sumW = 0;
    let sumWL = 0;
    let sumSq = 0;
    let count = 0;
    for (let j = 0; j < P; j++) {
      if (Number.isNaN(lu[j])) continue;
      const v = 1 / (I[j] + prec[j]);
      const d = L[j] - phiOld;
      let w: number;
      let narrow: number;
      if (tail.kind === 'student') {
        w = (tail.df + 1) / (tail.df + (d * d + v) / omega2);
        narrow = w;
      } else {
        const dHat = I[j] > 0 ? (d * (I[j] + prec[j])) / I[j] : 0;
        const s2 = I[j] > 0 ? 1 / I[j] : Number.POSITIVE_INFINITY;
        const vn = omega2 + s2;
        const vw = omega2 + wide2 + s2;
        // the two components' marginal densities at dHat, weighted by their prior shares (in logs)
        const ln = Math.log(tail.narrowShare) - 0.5 * Math.log(vn) - (dHat * dHat) / (2 * vn);
        const lw = Math.log(1 - tail.narrowShare) - 0.5 * Math.log(vw) - (dHat * dHat) / (2 * vw);
        const rho = Number.isFinite(s2) ? 1 / (1 + Math.exp(lw - ln)) : tail.narrowShare;
        rhos[j] = rho;
        w = (rho / omega2 + (1 - rho) / (omega2 + wide2)) * omega2;
        narrow = rho;
      }
      sumW += w;
      sumWL += w * L[j];
      sumSq += narrow * (d * d + v);
      count += narrow;
    }
    const phi = sumWL / sumW;
    const omega2New = (1 / (1 / omega2 + 1 / OMEGA_SCALE2) + sumSq / 2) / ((count + 1) / 2);
    const moved = Math.abs(phi - phiOld) + Math.abs(Math.log(omega2New / omega2));
    this.phi = phi;
    this.omega2 = omega2New;
    // each slope's precision at the new omega², its weight (lambda_j or rho_j) held
    for (let j = 0; j < P; j++) {
      if (Number.isNaN(lu[j])) continue;
      if (tail.kind === 'student') {
        const d = L[j] - phiOld;
        const v = 1 / (I[j] + prec[j]);
        prec[j] = (tail.df + 1) / (tail.df + (d * d + v) / omega2) / omega2New;
      } else {
        prec[j] = rhos[j] / omega2New + (1 - rhos[j]) / (omega2New + wide2);
      }
    }
    return moved;
  }

  /**
   * sharedSpreadTail 'halfCauchy': each slope's rho_j (the shared prior's posterior probability) from its data's own
   * estimate l̂_j = E[log tau_j²] + score_j / I_j, s² = 1 / I_j; phi and omega² from the slopes weighted by rho_j.
   */
  private averagingUpdate(narrowShare: number): number {
    const lu = this.logUnit2;
    const { L, info: I, rho, score, iv } = this;
    const omega2 = this.omega2;
    const phiOld = this.phi;
    let sumRho = 0;
    let sumRhoL = 0;
    let sumSq = 0;
    for (let j = 0; j < P; j++) {
      if (Number.isNaN(lu[j])) continue;
      if (!(I[j] > 0)) {
        rho[j] = narrowShare;
      } else {
        const s2 = 1 / I[j];
        const lHat = L[j] + lu[j] + score[j] / I[j];
        const vn = omega2 + s2;
        const dn = lHat - phiOld - lu[j];
        const narrow = Math.exp(-(dn * dn) / (2 * vn)) / Math.sqrt(2 * Math.PI * vn);
        // the half-Cauchy(0, A) on tau as a density in l = log tau², (1/pi) (tau/A) / (1 + tau²/A²), averaged over N(l̂, s²)
        const sd = Math.sqrt(s2);
        let own = 0;
        let wsum = 0;
        for (let i = -30; i <= 30; i++) {
          const z = i / 5;
          const w = Math.exp(-0.5 * z * z);
          const tau2OverA2 = Math.exp(lHat + sd * z) / iv[j];
          own += (w * Math.sqrt(tau2OverA2)) / (Math.PI * (1 + tau2OverA2));
          wsum += w;
        }
        own /= wsum;
        rho[j] = (narrowShare * narrow) / (narrowShare * narrow + (1 - narrowShare) * own);
      }
      sumRho += rho[j];
      sumRhoL += rho[j] * L[j];
    }
    if (!(sumRho > 1e-9)) return 0;
    const phi = sumRhoL / sumRho;
    for (let j = 0; j < P; j++) {
      if (Number.isNaN(lu[j])) continue;
      const v = 1 / (I[j] + rho[j] / omega2);
      sumSq += rho[j] * ((L[j] - phi) ** 2 + v);
    }
    const omega2New = (1 / (1 / omega2 + 1 / OMEGA_SCALE2) + sumSq / 2) / ((sumRho + 1) / 2);
    const moved = Math.abs(phi - phiOld) + Math.abs(Math.log(omega2New / omega2));
    this.phi = phi;
    this.omega2 = omega2New;
    for (let j = 0; j < P; j++) if (!Number.isNaN(lu[j])) this.prec[j] = rho[j] / omega2New;
    return moved;
  }

  /** The data's score in log tau_j² at t (the restricted likelihood's, the athletes following t): ½ (t S(t) - U). */
  private dataScore(j: number, tOld: number, t: number, devs: Float64Array, hs: Float64Array): number {
    const { U, s02 } = this;
    const sums = this.sums;
    restrictedSums(U, tOld, t, devs, hs, sums);
    const S = sums[0] + sums[2] / (1 / s02[j] + t * sums[1]);
    return 0.5 * (t * S - U);
  }

  /** Coordinate ascent's sweeps (sharedSpreadPrior): phi and omega² once from the slopes' new E[1/tau²], `t`. */
  coordinateUpdate(t: Float64Array): void {
    const lu = this.logUnit2;
    const { U } = this;
    let k = 0;
    let sumL = 0;
    let sumV = 0;
    for (let j = 0; j < P; j++) {
      if (Number.isNaN(lu[j])) continue;
      const hs = this.hsAll.subarray(j * U, (j + 1) * U);
      let info = 0;
      for (let u = 0; u < U; u++) {
        const r = hs[u] / (hs[u] + t[j]);
        info += 0.5 * r * r;
      }
      sumL += -Math.log(t[j]) + this.logShift - lu[j];
      sumV += 1 / (info + 1 / this.omega2);
      this.L[j] = -Math.log(t[j]) + this.logShift - lu[j];
      this.info[j] = info;
      k++;
    }
    if (this.tail) this.robustUpdate();
    else this.update(t, t, sumL, sumV, k);
  }

  /**
   * sharedSpreadPrior, coordinate ascent's step (the athletes held, phi and omega² held): the t = E[1/tau_j²] at
   * which q(tau_j²) maximises the ELBO, t S = U + 2 (E[log tau²] - m) / omega², by Newton in log t (the left side
   * minus the right rises with log t).
   */
  coordinate(S: number, j: number): number {
    const { U } = this;
    const m = this.phi + this.logUnit2[j];
    const k = this.tail ? (2 * this.prec[j]) / U : 2 / (U * this.omega2);
    let x = Math.log(U / S);
    for (let iter = 0; iter < 60; iter++) {
      const ts = (Math.exp(x) * S) / U;
      const step = (ts - 1 + k * (x - this.logShift + m)) / (ts + k);
      x -= Math.max(-2, Math.min(2, step));
      if (Math.abs(step) < 1e-12) break;
    }
    return Math.exp(x);
  }

  /** Each term's prior information about log tau_j² for the served intervals: 1/omega² for the shared prior's slopes, NaN for the others (their own prior's). */
  priorInformation(): number[] {
    const lu = this.logUnit2;
    // model averaging ('halfCauchy'): the half-Cauchy's own information (0.5) for its share 1 - rho_j
    const own = this.tail?.kind === 'halfCauchy' ? 0.5 : 0;
    return Array.from(lu, (v, j) => (Number.isNaN(v) ? Number.NaN : this.precision(j) + (own ? (1 - this.rho[j]) * own : 0)));
  }
}
