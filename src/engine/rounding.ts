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
