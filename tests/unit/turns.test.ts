import { describe, expect, it } from 'vitest';
import { TurnQueue } from '../../src/engine-runtime/turns.ts';

/** Resolves after the current event-loop iteration's immediates (one macrotask later). */
const nextIteration = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('TurnQueue', () => {
  it('lets waiters continue in arrival order, at most perTurn per event-loop iteration', async () => {
    const turns = new TurnQueue(3, 0);
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

  it('holds the turns while a burst arrives (more waiters per iteration than a turn serves), first events first', async () => {
    const turns = new TurnQueue(2, 10_000);
    const order: number[] = [];
    const burst = Array.from({ length: 5 }, (_, i) => turns.next().then(() => order.push(i)));
    await nextIteration();
    expect(order).toEqual([]); // 5 arrived in this iteration: its turn waits for the next one
    const more = Array.from({ length: 3 }, (_, i) => turns.next().then(() => order.push(5 + i)));
    await nextIteration();
    expect(order).toEqual([]); // 3 more, still more than a turn serves
    await nextIteration();
    expect(order).toEqual([0, 1]); // none arrived: the turns go on, in arrival order
    await Promise.all([...burst, ...more]);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('does not hold a steady trickle (no more arrivals per iteration than a turn serves)', async () => {
    const turns = new TurnQueue(2, 10_000);
    const order: number[] = [];
    void turns.next().then(() => order.push(0));
    void turns.next().then(() => order.push(1));
    await nextIteration();
    expect(order).toEqual([0, 1]);
  });

  it('holds the turns of a busy period for at most maxDeferMs, then serves them while the arrivals go on', async () => {
    const turns = new TurnQueue(1, 20);
    const started = performance.now();
    let served = 0;
    while (served === 0) {
      void turns.next().then(() => served++);
      void turns.next().then(() => served++);
      await nextIteration();
      expect(performance.now() - started).toBeLessThan(2_000);
    }
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
    // The period's budget is spent: every later iteration serves a turn although two arrive in each.
    for (let i = 0; i < 3; i++) {
      const before = served;
      void turns.next().then(() => served++);
      void turns.next().then(() => served++);
      await nextIteration();
      expect(served).toBe(before + 1);
    }
  });

  it('rejects a turn size that is not a positive integer', () => {
    expect(() => new TurnQueue(0)).toThrow(/perTurn must be a positive integer/);
    expect(() => new TurnQueue(1.5)).toThrow(/perTurn/);
    expect(() => new TurnQueue(2, -1)).toThrow(/maxDeferMs must be 0 or more/);
  });
});
