// Fair turns for the later phases of concurrent streams.
//
// A check-in's first event is cheap (cached context) and leaves in the same event-loop turn as its request.
// The later phases cost more. If every waiting stream continued in one go (a plain setImmediate each), a
// burst of check-ins would run all their later phases back to back while newer requests sit unread on
// their sockets. Here the waiting streams continue a few per event-loop iteration; between two turns Node
// reads the sockets again, so new check-ins get their first event out in between.
//
// First events first: when more streams joined the queue since the last turn than a turn serves (the sockets
// read in that iteration carried a burst of check-ins), the turn waits for the next iteration, so the burst's
// remaining first events are not held behind other streams' later phases (BENCHMARKS.md issue 19, eighth round).
// At most `maxDeferMs` per busy period (from the first deferral until the queue drains): under a sustained overload
// the later phases still get their turns, and a steady rate (a few arrivals per iteration) is never deferred.

export class TurnQueue {
  private waiting: (() => void)[] = [];
  private scheduled = false;
  /** Waiters queued since the last turn ran. */
  private arrivals = 0;
  /** When this busy period's first deferred turn was due (null: none deferred since the queue last drained). */
  private deferringSince: number | null = null;

  /**
   * @param perTurn how many waiting continuations run per event-loop iteration
   * @param maxDeferMs how long, per busy period, turns may wait for a burst's first events (0: never)
   */
  constructor(
    private readonly perTurn = 8,
    private readonly maxDeferMs = 250,
  ) {
    if (!Number.isInteger(perTurn) || perTurn < 1) throw new Error(`perTurn must be a positive integer, got ${perTurn}`);
    if (!(maxDeferMs >= 0)) throw new Error(`maxDeferMs must be 0 or more, got ${maxDeferMs}`);
  }

  /** Resolves when it is this caller's turn (first come, first served). */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      this.arrivals++;
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.run);
      }
    });
  }

  get pending(): number {
    return this.waiting.length;
  }

  /** A burst is arriving (more waiters joined since the last turn than a turn serves) and this busy period may still wait. */
  private deferred(): boolean {
    if (this.arrivals <= this.perTurn || this.maxDeferMs === 0) return false;
    const now = performance.now();
    this.deferringSince ??= now;
    return now - this.deferringSince < this.maxDeferMs;
  }

  private readonly run = (): void => {
    const defer = this.deferred();
    this.arrivals = 0;
    if (!defer) {
      const now = this.waiting.slice(0, this.perTurn);
      this.waiting = this.waiting.slice(this.perTurn);
      for (const resolve of now) resolve();
    }
    // An immediate queued from an immediate runs in the next iteration, after Node has polled the sockets.
    if (this.waiting.length > 0) setImmediate(this.run);
    else {
      this.scheduled = false;
      this.deferringSince = null;
    }
  };
}
