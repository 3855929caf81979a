import { describe, expect, it } from 'vitest';
import {
  NotPositiveDefiniteError,
  cholesky,
  choleskyInverse,
  choleskyLogDet,
  choleskyRank1Update,
  choleskySolve,
  matMul,
  matVec,
  quadForm,
  symmetricRank1Update,
  traceOfProduct,
} from '../../src/engine/linalg.ts';
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
    inv.forEach((v, i) => expect(v).toBeCloseTo(INV3[i], 10));
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) expect(inv[i * 3 + j]).toBe(inv[j * 3 + i]);
  });

  it('solves A x = b', () => {
    const b = matVec(A3, 3, [1, 2, 3]);
    const x = choleskySolve(cholesky(Float64Array.from(A3), 3), 3, b);
    [1, 2, 3].forEach((v, i) => expect(x[i]).toBeCloseTo(v, 10));
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
      r.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThan(1e-12));
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
    [3, -1, 2].forEach((v, i) => expect(b[i]).toBeCloseTo(v, 10));
  });
});

describe('helpers', () => {
  it("quadForm is x'Ax", () => {
    // [1,2,3] A3 [1,2,3]' = sum_ij x_i A_ij x_j
    let s = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) s += [1, 2, 3][i] * A3[i * 3 + j] * [1, 2, 3][j];
    expect(quadForm(A3, 3, [1, 2, 3])).toBe(s);
    expect(quadForm(A3, 3, [1, 0, 0])).toBe(4);
  });

  it("symmetricRank1Update adds alpha x x'", () => {
    const a = Float64Array.from(A3);
    symmetricRank1Update(a, 3, [1, 2, 3], 0.5);
    expect(Array.from(a)).toEqual(A3.map((v, k) => v + 0.5 * [1, 2, 3][Math.floor(k / 3)] * [1, 2, 3][k % 3]));
  });

  it("choleskyRank1Update gives the factor of A + x x'", () => {
    const a = randomSpd(10, 4);
    const x = Float64Array.from({ length: 10 }, (_, i) => Math.sin(i + 1));
    const l = cholesky(a.slice(), 10);
    choleskyRank1Update(l, 10, x.slice());
    const updated = a.slice();
    symmetricRank1Update(updated, 10, x);
    const direct = cholesky(updated, 10);
    l.forEach((v, i) => expect(v).toBeCloseTo(direct[i], 10));
  });

  it('traceOfProduct is tr(AB) for symmetric matrices', () => {
    const inv = choleskyInverse(cholesky(Float64Array.from(A3), 3), 3);
    expect(traceOfProduct(A3, inv, 3)).toBeCloseTo(3, 10);
  });
});
