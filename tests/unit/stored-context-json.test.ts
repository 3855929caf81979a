// A stored answer's statistical context: the writer makes its JSON text from parts made once (storedContextJson: a
// population comparison shared by every answer with its value under one statistics version keeps its own JSON); the
// text must be what JSON.stringify makes of the stored form (storedContext), whatever the answer holds.
import { describe, expect, it } from 'vitest';
import { storedContext, storedContextJson, type RecommendationRow } from '../../src/resolvers/recommendation-store.ts';
import { answer, checkIns } from '../../scripts/lib/writer-rows.ts';

const ATHLETE = '00000000-0000-4000-8000-000000000001';

describe("a stored answer's statistical context as text", () => {
  it('is JSON.stringify of its stored form, for answers that share comparisons, a row read back, awkward insights and no context', () => {
    const fittedAt = new Date();
    // Each check-in twice: the second answer with a value reuses the comparison (and its text) the first one made.
    const rows = [...checkIns, ...checkIns].map((c) => answer(ATHLETE, c, fittedAt));
    for (const row of rows) expect(storedContextJson(row)).toBe(JSON.stringify(storedContext(row)));

    // A row read back from the table holds the positional arrays, as stored.
    const [row] = rows;
    const readBack = { ...row, statisticalContext: JSON.parse(JSON.stringify(storedContext(row))) } as RecommendationRow;
    expect(storedContextJson(readBack)).toBe(JSON.stringify(storedContext(row)));

    // Insights that JSON must escape, and none.
    const context = row.statisticalContext as unknown as { insights: string[] };
    for (const insights of [['quote " backslash \\ newline \n tab \t', 'é 😀 \u0001'], []]) {
      const awkward = { ...row, statisticalContext: { ...context, insights } } as unknown as RecommendationRow;
      expect(storedContextJson(awkward)).toBe(JSON.stringify(storedContext(awkward)));
      expect(JSON.parse(storedContextJson(awkward) ?? 'null').insights).toEqual(insights);
    }

    // A rule override's answer has none: SQL NULL.
    expect(storedContextJson({ ...row, statisticalContext: null })).toBeNull();
  });
});
