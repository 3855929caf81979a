import { describe, expect, it } from 'vitest';
import { NotPositiveDefiniteError, cholesky, choleskyInverse, choleskyLogDet, choleskySolve } from '../../src/engine/linalg.ts';
import { mulberry32 } from '../../scripts/lib/synthetic.ts';

// The classic worked example: A = L L' with L = [[2,0,0],[6,1,0],[-8,5,3]].
const A3 = [4, 12, -16, 12, 37, -43, -16, -43, 98];
const L3 = [2, 0, 0, 6, 1, 0, -8, 5, 3];
// A^-1 = (1/36) [[1777, -488, 76], [-488, 136, -20], [76, -20, 4]] (adjugate / det, det = 36).
const INV3 = [1777, -488, 76, -488, 136, -20, 76, -20, 4].map((v) => v / 36);

function randomSpd(n: number, seed: number, scale: number[] = []): Float64Array {
  const rnd = mulberry32(seed);
  const m = new Float64Array(n * n);
  for (let i = 0; i < n * n; i++) m[i] = rnd() * 2 - 1;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? n : 0;
      for (let k = 0; k < n; k++) s += m[i * n + k] * m[j * n + k];
      a[i * n + j] = s * (scale[i] ?? 1) * (scale[j] ?? 1);
    }
  }
  return a;
}

/** A x for a full n x n A (row-major): the check of a solve. */
function matVec(a: ArrayLike<number>, n: number, x: ArrayLike<number>): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i] += a[i * n + j] * x[j];
  return out;
}

/** A B for full n x n matrices (row-major): the check of an inverse. */
function matMul(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) out[i * n + j] += a[i * n + k] * b[k * n + j];
  return out;
}

function expectIdentity(m: Float64Array, n: number, tol: number): void {
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) expect(Math.abs(m[i * n + j] - (i === j ? 1 : 0))).toBeLessThan(tol);
}

describe('cholesky', () => {
  it('factors the 3x3 worked example exactly and zeroes the upper triangle', () => {
    const l = cholesky(Float64Array.from(A3), 3);
    expect(Array.from(l)).toEqual(L3);
  });

  it('log det = 2 sum log L_ii (det 36)', () => {
    expect(choleskyLogDet(cholesky(Float64Array.from(A3), 3), 3)).toBeCloseTo(Math.log(36), 12);
  });

  it('inverse matches the adjugate formula and is exactly symmetric', () => {
    const inv = choleskyInverse(cholesky(Float64Array.from(A3), 3), 3);
    for (const [i, v] of inv.entries()) expect(v).toBeCloseTo(INV3[i], 10);
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(inv[i * 3 + j]).toBe(inv[j * 3 + i]);
  });

  it('solves A x = b', () => {
    const b = matVec(A3, 3, [1, 2, 3]);
    const x = choleskySolve(cholesky(Float64Array.from(A3), 3), 3, b);
    for (const [i, v] of [1, 2, 3].entries()) expect(x[i]).toBeCloseTo(v, 10);
  });

  it('throws a typed error naming the pivot when the matrix is not positive definite', () => {
    expect(() => cholesky(Float64Array.from([1, 2, 2, 1]), 2)).toThrow(NotPositiveDefiniteError);
    try {
      cholesky(Float64Array.from([1, 2, 2, 1]), 2);
    } catch (err) {
      expect((err as NotPositiveDefiniteError).pivot).toBe(1);
      expect((err as NotPositiveDefiniteError).code).toBe('NOT_POSITIVE_DEFINITE');
      expect((err as Error).message).toMatch(/not positive definite/);
    }
    expect(() => cholesky(Float64Array.from([0, 0, 0, 1]), 2)).toThrow(/pivot 0/);
    expect(() => cholesky(Float64Array.from([Number.NaN, 0, 0, 1]), 2)).toThrow(NotPositiveDefiniteError);
  });

  it('random SPD 10x10: A inv(A) = I, solve residual, log det consistent with the inverse', () => {
    for (const seed of [1, 2, 3]) {
      const a = randomSpd(10, seed);
      const l = cholesky(a.slice(), 10);
      const inv = choleskyInverse(l, 10);
      expectIdentity(matMul(a, inv, 10), 10, 1e-12);
      const b = Float64Array.from({ length: 10 }, (_, i) => i - 4.5);
      const x = choleskySolve(l, 10, b);
      const r = matVec(a, 10, x);
      for (const [i, v] of r.entries()) expect(Math.abs(v - b[i])).toBeLessThan(1e-12);
      const logDetInv = choleskyLogDet(cholesky(inv.slice(), 10), 10);
      expect(choleskyLogDet(l, 10) + logDetInv).toBeCloseTo(0, 10);
    }
  });

  it('stays accurate on a badly scaled SPD matrix (scales 1e-3 .. 1e3, like intercept vs caffeine mg)', () => {
    const scale = [1e-3, 1, 1e3, 1, 1, 10, 0.1, 1, 100, 1];
    const a = randomSpd(10, 9, scale);
    const inv = choleskyInverse(cholesky(a.slice(), 10), 10);
    expectIdentity(matMul(a, inv, 10), 10, 1e-9);
  });

  it('solve may write into its input', () => {
    const l = cholesky(Float64Array.from(A3), 3);
    const b = matVec(A3, 3, [3, -1, 2]);
    choleskySolve(l, 3, b, b);
    for (const [i, v] of [3, -1, 2].entries()) expect(b[i]).toBeCloseTo(v, 10);
  });
});
