/**
 * @module raft/tracker/inflights
 *
 * The sliding window of MsgApp sent to a follower in StateReplicate and not yet
 * acknowledged (tracker/inflights.go). Each slot holds the last index carried by one
 * message; the leader stops sending when the window is full (flow control).
 *
 * ```
 * size 3: add(5) add(8) add(9) → full; freeLE(8) → [9] (two slots free)
 * ```
 */

import { RaftInvariantError } from '../errors.js';

/** A bounded FIFO of in-flight last-indexes, in increasing order. */
export class Inflights {
  /** In-flight last indexes, oldest first. Invariant: increasing, length ≤ size. */
  private buf: number[] = [];

  /** @param size maximum number of in-flight messages (Config.maxInflightMsgs) */
  constructor(readonly size: number) {}

  /** Records a message whose last entry is `inflight`; throws RaftInvariantError when full. */
  add(inflight: number): void {
    if (this.full()) throw new RaftInvariantError('cannot add into a Full inflights');
    this.buf.push(inflight);
  }

  /** Frees every in-flight message with last index ≤ `to`. */
  freeLE(to: number): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i]! <= to) i++;
    if (i > 0) this.buf.splice(0, i);
  }

  /** Frees the oldest message (used when a heartbeat response shows the follower is alive). */
  freeFirstOne(): void {
    if (this.buf.length > 0) this.buf.shift();
  }

  /** True when no more messages may be sent. */
  full(): boolean {
    return this.buf.length >= this.size;
  }

  /** Number of messages in flight. */
  count(): number {
    return this.buf.length;
  }

  /** Empties the window. */
  reset(): void {
    this.buf = [];
  }

  /** A copy (for Status). */
  clone(): Inflights {
    const c = new Inflights(this.size);
    c.buf = this.buf.slice();
    return c;
  }
}
