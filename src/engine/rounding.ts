/** Values on the 1-10 rating scale leave the API with 2 decimals (more would be false precision). */
export function roundRating(value: number): number;
export function roundRating(value: number | null): number | null;
export function roundRating(value: number | null): number | null {
  return value === null ? null : Math.round(value * 100) / 100;
}
