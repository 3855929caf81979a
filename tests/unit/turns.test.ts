import { describe, expect, it } from 'vitest';
import { TurnQueue } from '../../src/engine-runtime/turns.ts';

/** Resolves after the current event-loop iteration's immediates (one macrotask later). */
const nextIteration = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnQueue', () => {
  it('lets waiters continue in arrival order, at most perTurn per event-loop iteration', async () => {
    const turns = new TurnQueue(3);
    const order: number[] = [];
    const all = Array.from({ length: 8 }, (_, i) => turns.next().then(() => order.push(i)));
    expect(turns.pending).toBe(8);
    await nextIteration();
    expect(order).toEqual([0, 1, 2]);
    expect(turns.pending).toBe(5);
    await nextIteration();
    expect(order).toEqual([0, 1, 2, 3, 4, 5]);
    await Promise.all(all);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(turns.pending).toBe(0);
  });

  it('serves a waiter that arrives after the queue drained', async () => {
    const turns = new TurnQueue(2);
    await turns.next();
    await nextIteration();
    let resumed = false;
    const late = turns.next().then(() => (resumed = true));
    await late;
    expect(resumed).toBe(true);
  });

  it('rejects a turn size that is not a positive integer', () => {
    expect(() => new TurnQueue(0)).toThrow(/perTurn must be a positive integer/);
    expect(() => new TurnQueue(1.5)).toThrow(/perTurn/);
  });
});
