// Fair turns for the later phases of concurrent streams.
//
// A check-in's first event is cheap (cached context) and leaves in the same event-loop turn as its request.
// The later phases cost more. If every waiting stream continued in one go (a plain setImmediate each), a
// burst of check-ins would run all their later phases back to back while newer requests sit unread on
// their sockets. Here the waiting streams continue a few per event-loop iteration; between two turns Node
// reads the sockets again, so new check-ins get their first event out in between.

export class TurnQueue {
  private waiting: (() => void)[] = [];
  private scheduled = false;

  /** @param perTurn how many waiting continuations run per event-loop iteration */
  constructor(private readonly perTurn = 8) {
    if (!Number.isInteger(perTurn) || perTurn < 1) throw new Error(`perTurn must be a positive integer, got ${perTurn}`);
  }

  /** Resolves when it is this caller's turn (first come, first served). */
  next(): Promise<void> {
    return new Promise((resolve) => {
      this.waiting.push(resolve);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.run);
      }
    });
  }

  get pending(): number {
    return this.waiting.length;
  }

  private readonly run = (): void => {
    const now = this.waiting.slice(0, this.perTurn);
    this.waiting = this.waiting.slice(this.perTurn);
    for (const resolve of now) resolve();
    // An immediate queued from an immediate runs in the next iteration, after Node has polled the sockets.
    if (this.waiting.length > 0) setImmediate(this.run);
    else this.scheduled = false;
  };
}
