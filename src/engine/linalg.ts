// Small dense linear algebra for the Bayesian model: n x n matrices as row-major Float64Array (n = P = 10).
// Hand-written on purpose: the quick update and the nightly fit factor millions of 10 x 10 matrices, where a
// general-purpose library's allocation and dispatch would cost more than the arithmetic.

export class NotPositiveDefiniteError extends Error {
  readonly code = 'NOT_POSITIVE_DEFINITE';
  constructor(
    readonly pivot: number,
    readonly value: number,
  ) {
    super(`matrix is not positive definite (pivot ${pivot} = ${value})`);
    this.name = 'NotPositiveDefiniteError';
  }
}

/**
 * In-place Cholesky factorisation A = L L'. Reads the lower triangle of `a`; on return `a` holds L in its
 * lower triangle and zeros above the diagonal. Throws NotPositiveDefiniteError on a non-positive pivot.
 */
export function cholesky(a: Float64Array, n: number): Float64Array {
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j];
    for (let k = 0; k < j; k++) d -= a[rj + k] * a[rj + k];
    if (!(d > 0) || !Number.isFinite(d)) throw new NotPositiveDefiniteError(j, d);
    const ljj = Math.sqrt(d);
    a[rj + j] = ljj;
    const inv = 1 / ljj;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = a[ri + j];
      for (let k = 0; k < j; k++) s -= a[ri + k] * a[rj + k];
      a[ri + j] = s * inv;
    }
    for (let k = j + 1; k < n; k++) a[rj + k] = 0;
  }
  return a;
}

/** Solves L L' x = b with a Cholesky factor; `out` may alias `b`. */
export function choleskySolve(l: Float64Array, n: number, b: ArrayLike<number>, out: Float64Array = new Float64Array(n)): Float64Array {
  // forward: L z = b
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    let s = b[i];
    for (let k = 0; k < i; k++) s -= l[ri + k] * out[k];
    out[i] = s / l[ri + i];
  }
  // backward: L' x = z
  for (let i = n - 1; i >= 0; i--) {
    let s = out[i];
    for (let k = i + 1; k < n; k++) s -= l[k * n + i] * out[k];
    out[i] = s / l[i * n + i];
  }
  return out;
}

/**
 * Inverse of A = L L' from its factor: A^-1 = L^-T L^-1, returned full and exactly symmetric.
 * `work` (n*n) avoids an allocation when given.
 */
export function choleskyInverse(l: Float64Array, n: number, out: Float64Array = new Float64Array(n * n), work: Float64Array = new Float64Array(n * n)): Float64Array {
  // work := L^-1 (lower triangular), column by column of the identity.
  work.fill(0);
  for (let j = 0; j < n; j++) {
    work[j * n + j] = 1 / l[j * n + j];
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let s = 0;
      for (let k = j; k < i; k++) s -= l[ri + k] * work[k * n + j];
      work[ri + j] = s / l[ri + i];
    }
  }
  // out := W' W (W = L^-1), only the lower triangle computed, then mirrored.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let k = i; k < n; k++) s += work[k * n + i] * work[k * n + j];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
  return out;
}

/** log det A from its Cholesky factor. */
export function choleskyLogDet(l: Float64Array, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s += Math.log(l[i * n + i]);
  return 2 * s;
}
