import { describe, expect, it } from 'vitest';
import { TtlCache } from '../../src/engine/ttl-cache.ts';

function fakeClock(start = 1_000) {
  let t = start;
  return {
    now: () => t,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('TtlCache', () => {
  it('expires entries after ttlMs', () => {
    const clock = fakeClock();
    const cache = new TtlCache<string, number>({ ttlMs: 300_000, now: clock.now, maxEntries: 10 });
    cache.set('rules', 15);
    expect(cache.get('rules')).toBe(15);
    clock.advance(300_000);
    expect(cache.get('rules')).toBe(15);
    clock.advance(1);
    expect(cache.get('rules')).toBeUndefined();
    expect(cache.delete('rules')).toBe(false); // the expired entry was dropped by the read
  });

  it('expires each entry on its own clock', () => {
    const clock = fakeClock();
    const cache = new TtlCache<string, number>({ ttlMs: 100, now: clock.now, maxEntries: 10 });
    cache.set('a', 1);
    clock.advance(60);
    cache.set('b', 2);
    clock.advance(50);
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBe(2);
  });

  it('keeps a value 1 ms with ttlMs 0: loads of one moment are shared, the next moment loads again', async () => {
    const clock = fakeClock();
    const cache = new TtlCache<string, number>({ ttlMs: 0, now: clock.now, maxEntries: 10 });
    let calls = 0;
    const loader = async () => ++calls;
    expect(await Promise.all([cache.getOrLoad('k', loader), cache.getOrLoad('k', loader)])).toEqual([1, 1]);
    clock.advance(2);
    expect(await cache.getOrLoad('k', loader)).toBe(2);
  });

  it('caches falsy values other than undefined', async () => {
    const cache = new TtlCache<string, number | null>({ ttlMs: 100, now: fakeClock().now, maxEntries: 10 });
    let calls = 0;
    const loader = async () => {
      calls++;
      return null;
    };
    expect(await cache.getOrLoad('user', loader)).toBeNull();
    expect(await cache.getOrLoad('user', loader)).toBeNull();
    expect(calls).toBe(1);
    expect(cache.get('user')).toBeNull();
  });

  it('coalesces concurrent loads of one key into one loader call', async () => {
    const clock = fakeClock();
    const cache = new TtlCache<string, string>({ ttlMs: 1_000, now: clock.now, maxEntries: 10 });
    const d = deferred<string>();
    let calls = 0;
    const loader = () => {
      calls++;
      return d.promise;
    };
    const a = cache.getOrLoad('k', loader);
    const b = cache.getOrLoad('k', loader);
    expect(calls).toBe(1);
    d.resolve('v');
    expect(await a).toBe('v');
    expect(await b).toBe('v');
    expect(cache.get('k')).toBe('v');

    // Served from the cache for ttlMs, then loaded again.
    expect(await cache.getOrLoad('k', async () => 'other')).toBe('v');
    clock.advance(1_001);
    expect(await cache.getOrLoad('k', async () => 'fresh')).toBe('fresh');
  });

  it('does not cache a failed load, and the next call loads again', async () => {
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 10 });
    const d = deferred<number>();
    const a = cache.getOrLoad('k', () => d.promise);
    const b = cache.getOrLoad('k', () => Promise.resolve(99));
    d.reject(new Error('db down'));
    await expect(a).rejects.toThrow('db down');
    await expect(b).rejects.toThrow('db down'); // coalesced onto the failing load
    expect(cache.get('k')).toBeUndefined();
    expect(await cache.getOrLoad('k', async () => 7)).toBe(7);
  });

  it('turns a synchronously throwing loader into a rejection', async () => {
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 10 });
    await expect(
      cache.getOrLoad('k', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(await cache.getOrLoad('k', () => 3)).toBe(3);
  });

  it('delete invalidates at once, including a load in flight', async () => {
    const cache = new TtlCache<string, string>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 10 });
    cache.set('rules', 'old');
    expect(cache.delete('rules')).toBe(true);
    expect(cache.get('rules')).toBeUndefined();
    expect(cache.delete('rules')).toBe(false);

    const stale = deferred<string>();
    const pending = cache.getOrLoad('rules', () => stale.promise);
    cache.delete('rules'); // e.g. an admin wrote a rule while the old set was loading
    const fresh = cache.getOrLoad('rules', async () => 'new');
    stale.resolve('stale');
    expect(await pending).toBe('stale'); // its waiting caller still gets an answer
    expect(await fresh).toBe('new');
    expect(cache.get('rules')).toBe('new'); // the stale load never lands in the cache
  });

  it('clear empties everything', () => {
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 10 });
    cache.set('a', 1).set('b', 2);
    cache.clear();
    expect(cache.get('a')).toBeUndefined();
    expect(cache.get('b')).toBeUndefined();
  });

  it('evicts the least recently used entry beyond maxEntries', () => {
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 2 });
    cache.set('a', 1).set('b', 2);
    expect(cache.get('a')).toBe(1); // a is now more recent than b
    cache.set('c', 3);
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('a')).toBe(1);
    expect(cache.get('c')).toBe(3);
  });

  it('refresh serves the current value until the reload is in, then the new one', async () => {
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 10 });
    cache.set('a', 1);
    let finish!: (v: number) => void;
    const done = cache.refresh('a', () => new Promise<number>((resolve) => (finish = resolve)));
    expect(await cache.getOrLoad('a', () => 99)).toBe(1);
    finish(2);
    await done;
    expect(cache.get('a')).toBe(2);
  });

  it('refresh leaves a key that is not cached alone, and abandons a load of it under way', async () => {
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 10 });
    let loads = 0;
    await cache.refresh('a', async () => ++loads);
    expect(loads).toBe(0);
    expect(cache.get('a')).toBeUndefined();
    let finish!: (v: number) => void;
    const stale = cache.getOrLoad('a', () => new Promise<number>((resolve) => (finish = resolve)));
    await cache.refresh('a', async () => ++loads);
    finish(1);
    expect(await stale).toBe(1); // its caller still gets it, the cache does not keep it
    expect(cache.get('a')).toBeUndefined();
  });

  it('refresh results are discarded by a delete meanwhile; a failed refresh drops the entry', async () => {
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 10 });
    cache.set('a', 1);
    let finish!: (v: number) => void;
    const done = cache.refresh('a', () => new Promise<number>((resolve) => (finish = resolve)));
    cache.delete('a');
    finish(2);
    await done;
    expect(cache.get('a')).toBeUndefined();
    cache.set('b', 1);
    await cache.refresh('b', () => Promise.reject(new Error('database down')));
    expect(cache.get('b')).toBeUndefined();
  });

  it('refresh abandons an earlier reload still under way (it may have read the value before it changed)', async () => {
    const cache = new TtlCache<string, number>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 10 });
    cache.set('a', 1);
    let finishOld!: (v: number) => void;
    const old = cache.refresh('a', () => new Promise<number>((resolve) => (finishOld = resolve)));
    const fresh = cache.refresh('a', async () => 3);
    await fresh;
    expect(cache.get('a')).toBe(3);
    finishOld(2);
    await old;
    expect(cache.get('a')).toBe(3);
  });

  it('evicts by recency across loads: what is read stays, what is not goes', async () => {
    const cache = new TtlCache<number, string>({ ttlMs: 1_000, now: fakeClock().now, maxEntries: 3 });
    for (let i = 0; i < 3; i++) await cache.getOrLoad(i, async () => `v${i}`);
    expect(cache.get(0)).toBe('v0');
    await cache.getOrLoad(3, async () => 'v3');
    expect([0, 1, 2, 3].map((i) => cache.get(i))).toEqual(['v0', undefined, 'v2', 'v3']);
  });

  it('rejects invalid options', () => {
    expect(() => new TtlCache({ ttlMs: -1, maxEntries: 10 })).toThrow(RangeError);
    expect(() => new TtlCache({ ttlMs: 10, maxEntries: 0 })).toThrow(RangeError);
    expect(() => new TtlCache({ ttlMs: 10, maxEntries: 1.5 })).toThrow(RangeError);
  });

  it('uses the real clock by default', () => {
    const cache = new TtlCache<string, number>({ ttlMs: 60_000, maxEntries: 10 });
    cache.set('a', 1);
    expect(cache.get('a')).toBe(1);
  });
});
