/**
 * @module raft/tracker/inflights
 *
 * The sliding window of MsgApp sent to a follower in StateReplicate and not yet
 * acknowledged (tracker/inflights.go). Each slot holds the last index carried by one
 * message and the bytes of entry data it carried; the leader stops sending when the
 * window holds `size` messages or, with a byte limit, at least `maxBytes` bytes (flow
 * control; the byte limit is etcd-io/raft's MaxInflightBytes, later than etcd 3.4).
 *
 * ```
 * size 3: add(5) add(8) add(9) → full; freeLE(8) → [9] (two slots free)
 * size 9, maxBytes 100: add(5, 60) add(6, 50) → full (110 bytes); freeLE(5) → 50 bytes
 * ```
 */

import { RaftInvariantError } from '../errors.js';

/** A bounded FIFO of in-flight last-indexes, in increasing order. */
export class Inflights {
  /** In-flight last indexes, oldest first. Invariant: increasing, length ≤ size. */
  private buf: number[] = [];
  /** Entry bytes of each message in `buf`. */
  private sizes: number[] = [];
  private totalBytes = 0;

  /**
   * @param size maximum number of in-flight messages (Config.maxInflightMsgs)
   * @param maxBytes bytes of entry data in flight that make the window full (Config.maxInflightBytes); 0: no limit
   */
  constructor(
    readonly size: number,
    readonly maxBytes = 0,
  ) {}

  /** Records a message whose last entry is `inflight`, carrying `bytes` of entry data; throws RaftInvariantError when full. */
  add(inflight: number, bytes = 0): void {
    if (this.full()) throw new RaftInvariantError('cannot add into a Full inflights');
    this.buf.push(inflight);
    this.sizes.push(bytes);
    this.totalBytes += bytes;
  }

  /** Frees every in-flight message with last index ≤ `to`. */
  freeLE(to: number): void {
    let i = 0;
    while (i < this.buf.length && this.buf[i]! <= to) this.totalBytes -= this.sizes[i++]!;
    if (i > 0) {
      this.buf.splice(0, i);
      this.sizes.splice(0, i);
    }
  }

  /** Frees the oldest message (used when a heartbeat response shows the follower is alive). */
  freeFirstOne(): void {
    if (this.buf.length === 0) return;
    this.buf.shift();
    this.totalBytes -= this.sizes.shift()!;
  }

  /** True when no more messages may be sent. */
  full(): boolean {
    return this.buf.length >= this.size || (this.maxBytes > 0 && this.totalBytes >= this.maxBytes);
  }

  /** Bytes of entry data in flight. */
  bytes(): number {
    return this.totalBytes;
  }

  /** Number of messages in flight. */
  count(): number {
    return this.buf.length;
  }

  /** Empties the window. */
  reset(): void {
    this.buf = [];
    this.sizes = [];
    this.totalBytes = 0;
  }

  /** A copy (for Status). */
  clone(): Inflights {
    const c = new Inflights(this.size, this.maxBytes);
    c.buf = this.buf.slice();
    c.sizes = this.sizes.slice();
    c.totalBytes = this.totalBytes;
    return c;
  }
}
