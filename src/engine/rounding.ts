/** Values on the 1-10 rating scale leave the API with 2 decimals (more would be false precision). */
export function roundRating(value: number): number;
export function roundRating(value: number | null): number | null;
export function roundRating(value: number | null): number | null {
  return value === null ? null : Math.round(value * 100) / 100;
}

/** Shares (0-1, e.g. interval coverage) leave the API with 4 decimals (0.9512 = 95.12 %). */
export function roundShare(value: number): number;
export function roundShare(value: number | null): number | null;
export function roundShare(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10_000) / 10_000;
}

/**
 * The statistical context's own figures (z-scores, population means and standard deviations, similarities, the
 * history's slope) are made with 4 decimals, once, in the engine: the API answers them so and a stored answer keeps
 * them so (more would be false precision, and every digit is paid for in the stored row).
 */
export function roundStatistic(value: number): number;
export function roundStatistic(value: number | null): number | null;
export function roundStatistic(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10_000) / 10_000;
}

/** Percentiles (0-100) are made with 2 decimals (95.95). */
export function roundPercentile(value: number): number {
  return Math.round(value * 100) / 100;
}
