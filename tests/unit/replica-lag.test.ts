// How a replica's answer to the lag query becomes its state (src/db/replicas.ts judge): caught up is judged by
// WAL positions, not by the time since the last replayed transaction, which grows on a standby of an idle primary.
import { describe, expect, it } from 'vitest';
import { judge } from '../../src/db/replicas.ts';

const row = { recovery: true, replay_lsn: '0/3000100', receive_lsn: '0/3000100', replayed_primary: true, replayed_received: true, streaming: true, since_replay: 3600 };

describe('replica lag', () => {
  it('a standby that has replayed what the primary wrote is caught up however long ago its last transaction was', () => {
    expect(judge(row, '0/3000100', 30)).toEqual({ state: 'up', lagSeconds: 0 });
    // The primary not reachable for the comparison: streaming and replayed all it received is caught up too.
    expect(judge({ ...row, replayed_primary: null }, null, 30)).toEqual({ state: 'up', lagSeconds: 0 });
  });

  it('behind: the time since its last replayed transaction, skipped past REPLICA_MAX_LAG_SECONDS', () => {
    const behind = { ...row, replayed_primary: false, replayed_received: false, since_replay: 12.34 };
    expect(judge(behind, '0/3000200', 30)).toMatchObject({ state: 'up', lagSeconds: 12.3 });
    expect(judge(behind, '0/3000200', 10)).toMatchObject({ state: 'lagging', lagSeconds: 12.3 });
    expect(judge(behind, '0/3000200', 10).detail).toMatch(/^12.3 s behind the primary \(REPLICA_MAX_LAG_SECONDS=10\): replayed 0\/3000100/);
    // A limit of 0 skips a replica behind at all, even by less than the 0.1 s reported.
    expect(judge({ ...behind, since_replay: 0.01 }, '0/3000200', 0)).toMatchObject({ state: 'lagging', lagSeconds: 0.1 });
    // Its WAL receiver gone (the primary unreachable from it): replayed all it received is no longer enough.
    expect(judge({ ...behind, replayed_received: true, streaming: false, since_replay: 45 }, '0/3000200', 30)).toMatchObject({ state: 'lagging', lagSeconds: 45 });
    expect(judge({ ...behind, since_replay: null }, '0/3000200', 30)).toMatchObject({ state: 'lagging', lagSeconds: null });
  });

  it('a server that is not a standby is never read from', () => {
    expect(judge({ ...row, recovery: false }, '0/3000100', 30)).toMatchObject({ state: 'down', lagSeconds: null, detail: expect.stringMatching(/not a standby/) });
  });
});
