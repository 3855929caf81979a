// Sufficient statistics of one athlete's rated sessions (X'X, X'y, y'y, n; rows rated 1 or 10 kept apart): what
// the quick update and the nightly fit read instead of the sessions themselves (domain.md section 6).
import { P as TERM_COUNT, designRow } from '../variables.ts';
import { isBoundedRating, RATING_MAX } from '../normal.ts';

/** Number of terms, as a module-local constant (an imported binding is a property read in hot loops under tsx). */
const P = TERM_COUNT;

/**
 * Per-user sufficient statistics of the centred design (JSON-safe: plain numbers and arrays). Without `bounded`
 * every rated row is in X'X, X'y, y'y (the stored form, bounded rows linearised: see linearisedStats).
 */
export interface SufficientStats {
  /** Rated sessions, bounded ones included. */
  n: number;
  /** X'X, P x P row-major (both triangles). */
  xtx: number[];
  /** X'y, length P. */
  xty: number[];
  /** y'y. */
  yty: number;
  /** Ratings at a bound of the scale (1 or 10), kept apart for the censored likelihood; not in X'X, X'y, y'y. */
  bounded?: BoundedRows;
}

/** An athlete's ratings at 1 or 10: their centred design rows and which bound. */
export interface BoundedRows {
  /** Design rows, k x P row-major. */
  x: number[];
  /** 1 for a rating of 10 (latent >= 9.5), 0 for a rating of 1 (latent <= 1.5). */
  upper: number[];
}

export function emptyStats(): SufficientStats {
  return { n: 0, xtx: new Array<number>(P * P).fill(0), xty: new Array<number>(P).fill(0), yty: 0 };
}

/** Adds one row (a centred design row from designRow) and its outcome, in place (rank-1 step). */
export function addObservation(stats: SufficientStats, x: ArrayLike<number>, y: number): SufficientStats {
  const { xtx, xty } = stats;
  for (let i = 0; i < P; i++) {
    const xi = x[i];
    const ri = i * P;
    for (let k = 0; k < P; k++) xtx[ri + k] += xi * x[k];
    xty[i] += xi * y;
  }
  stats.yty += y * y;
  stats.n += 1;
  return stats;
}

const rowScratch = new Float64Array(P);

/** designRow + addObservation for a check-in-like record (missing features sit at their reference value). */
export function addSession(stats: SufficientStats, values: Readonly<Record<string, unknown>>, quality: number): SufficientStats {
  return addObservation(stats, designRow(values, rowScratch), quality);
}

/**
 * Adds one rated row the bounded model's way: a rating at 1 or 10 goes to `bounded`, any other into X'X, X'y,
 * y'y (the nightly fit and full recomputes).
 */
export function addRating(stats: SufficientStats, x: ArrayLike<number>, y: number): SufficientStats {
  if (!isBoundedRating(y)) return addObservation(stats, x, y);
  stats.bounded ??= { x: [], upper: [] };
  for (let j = 0; j < P; j++) stats.bounded.x.push(x[j]);
  stats.bounded.upper.push(y === RATING_MAX ? 1 : 0);
  stats.n += 1;
  return stats;
}

/** addRating for a check-in-like record. */
export function addRatedSession(stats: SufficientStats, values: Readonly<Record<string, unknown>>, quality: number): SufficientStats {
  return addRating(stats, designRow(values, rowScratch), quality);
}

/** Sum of two users' (or two batches') statistics, as a new object. */
export function mergeStats(a: SufficientStats, b: SufficientStats): SufficientStats {
  return {
    n: a.n + b.n,
    xtx: a.xtx.map((v, i) => v + b.xtx[i]),
    xty: a.xty.map((v, i) => v + b.xty[i]),
    yty: a.yty + b.yty,
    ...(a.bounded || b.bounded ? { bounded: { x: [...(a.bounded?.x ?? []), ...(b.bounded?.x ?? [])], upper: [...(a.bounded?.upper ?? []), ...(b.bounded?.upper ?? [])] } } : {}),
  };
}

/**
 * a without b's rows (an exact downdate: b's rows must be part of a). A bounded row of b is taken out of a's
 * bounded rows (the first with the same side and design row), the others out of X'X, X'y, y'y.
 */
export function withoutStats(a: SufficientStats, b: SufficientStats): SufficientStats {
  const out: SufficientStats = {
    n: a.n - b.n,
    xtx: a.xtx.map((v, i) => v - b.xtx[i]),
    xty: a.xty.map((v, i) => v - b.xty[i]),
    yty: a.yty - b.yty,
  };
  const rows = b.bounded?.upper.length ?? 0;
  if (!a.bounded && rows === 0) return out;
  const x = [...(a.bounded?.x ?? [])];
  const upper = [...(a.bounded?.upper ?? [])];
  for (let r = 0; r < rows; r++) {
    const i = upper.findIndex((u, k) => u === b.bounded!.upper[r] && sameRow(x, k, b.bounded!.x, r));
    if (i < 0) throw new Error('withoutStats: a bounded row to remove is not in the statistics');
    upper.splice(i, 1);
    x.splice(i * P, P);
  }
  if (upper.length > 0) out.bounded = { x, upper };
  return out;
}

/** Row k of a and row r of b (k x P row-major) agree (to rounding: one may come from SQL, one from designRow). */
function sameRow(a: readonly number[], k: number, b: readonly number[], r: number): boolean {
  for (let j = 0; j < P; j++) if (Math.abs(a[k * P + j] - b[r * P + j]) > 1e-9 * (1 + Math.abs(b[r * P + j]))) return false;
  return true;
}

export function finiteArray(v: unknown, length: number): v is number[] {
  return Array.isArray(v) && v.length === length && v.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/** Validates stored statistics; null for a stale or wrong shape (e.g. written with another number of terms). */
export function parseStats(json: unknown): SufficientStats | null {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return null;
  const o = json as Record<string, unknown>;
  const { n, yty } = o;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) return null;
  if (typeof yty !== 'number' || !Number.isFinite(yty) || yty < 0) return null;
  if (!finiteArray(o.xtx, P * P) || !finiteArray(o.xty, P)) return null;
  // X'X[0][0] counts the rows (the intercept column is all ones); a linearised bounded row counts its weight in (0, 1].
  if (o.xtx[0] < 0 || o.xtx[0] - n > 1e-6 * Math.max(1, n)) return null;
  return { n, xtx: [...o.xtx], xty: [...o.xty], yty };
}
