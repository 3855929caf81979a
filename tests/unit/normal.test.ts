import { describe, expect, it } from 'vitest';
import { censoredObservation, expectedBoundedRating, inverseMills, LOWER_CUT, normalCdf, normalPdf, UPPER_CUT } from '../../src/engine/normal.ts';

/** Midpoint rule over [a, b] with n steps. */
const integrate = (f: (x: number) => number, a: number, b: number, n = 200_000) => {
  const h = (b - a) / n;
  let s = 0;
  for (let i = 0; i < n; i++) s += f(a + (i + 0.5) * h);
  return s * h;
};

describe('normal distribution', () => {
  it('Phi matches tabulated values, in the tails to its relative accuracy', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959963984540054)).toBeCloseTo(0.975, 7);
    expect(normalCdf(-1)).toBeCloseTo(0.15865525393145707, 7);
    // Phi(-10) = 7.619853024160527e-24
    expect(normalCdf(-10) / 7.619853024160527e-24).toBeCloseTo(1, 6);
  });

  it('the inverse Mills ratio is finite and right far into the lower tail (phi/Phi -> -z)', () => {
    expect(inverseMills(0)).toBeCloseTo(normalPdf(0) / 0.5, 7);
    // Asymptotically phi(z)/Phi(z) = -z - 1/z + 2/z³ - ...
    expect(inverseMills(-40) / (40 + 1 / 40 - 2 / 40 ** 3)).toBeCloseTo(1, 6);
    expect(Number.isFinite(inverseMills(-200))).toBe(true);
  });

  it('truncated moments and the censored score match numerical integration and differentiation', () => {
    for (const [upper, eta, s] of [
      [true, 8.7, 1.5],
      [false, 2.3, 1.2],
      [true, 12, 1],
      [false, 5, 2],
    ] as const) {
      const inside = (y: number) => (upper ? y >= UPPER_CUT : y <= LOWER_CUT);
      const density = (y: number) => (inside(y) ? normalPdf((y - eta) / s) / s : 0);
      const [lo, hi] = upper ? [UPPER_CUT, eta + 12 * s] : [eta - 12 * s, LOWER_CUT];
      const mass = integrate(density, lo, hi);
      const mean = integrate((y) => y * density(y), lo, hi) / mass;
      const variance = integrate((y) => (y - mean) ** 2 * density(y), lo, hi) / mass;
      const c = censoredObservation(upper, eta, s);
      expect(Math.exp(c.logP)).toBeCloseTo(mass, 6);
      expect(c.mean).toBeCloseTo(mean, 5);
      expect(c.variance).toBeCloseTo(variance, 5);
      const h = 1e-5;
      const score = (censoredObservation(upper, eta + h, s).logP - censoredObservation(upper, eta - h, s).logP) / (2 * h);
      expect(c.score).toBeCloseTo(score, 5);
      const curvature = -(censoredObservation(upper, eta + h, s).score - censoredObservation(upper, eta - h, s).score) / (2 * h);
      expect(c.weight).toBeCloseTo(curvature * s * s, 5);
    }
  });

  it('E[rating | bounds] is the mean of 1 below 1.5, the latent value in between, 10 above 9.5', () => {
    for (const [eta, s] of [
      [5.9, 2.2],
      [9.4, 1.3],
      [0.5, 1],
      [11, 0.8],
    ]) {
      const g = (y: number) => (y < LOWER_CUT ? 1 : y > UPPER_CUT ? 10 : y);
      const expected = integrate((y) => (g(y) * normalPdf((y - eta) / s)) / s, eta - 12 * s, eta + 12 * s);
      // (the midpoint rule is only first-order accurate across the jumps at the cuts)
      expect(expectedBoundedRating(eta, s)).toBeCloseTo(expected, 4);
    }
  });
});
