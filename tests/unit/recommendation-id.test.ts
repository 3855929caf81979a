// Recommendation ids: UUIDv7 text as the uuid package writes it, in the order they were made.
import { parse, stringify, validate, version } from 'uuid';
import { describe, expect, it } from 'vitest';
import { newRecommendationId } from '../../src/resolvers/recommendation-store.ts';

describe('newRecommendationId', () => {
  it('makes version 7 UUIDs whose text is uuid stringify of their bytes, each new and in order', () => {
    const ids = Array.from({ length: 2000 }, () => newRecommendationId());
    for (const id of ids) {
      expect(validate(id)).toBe(true);
      expect(version(id)).toBe(7);
      expect(stringify(parse(id))).toBe(id);
    }
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // The time in the first 48 bits is now's.
    const msecs = Number.parseInt(ids.at(-1)!.replace(/-/g, '').slice(0, 12), 16);
    expect(Math.abs(msecs - Date.now())).toBeLessThan(5000);
  });
});
