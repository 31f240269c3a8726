/**
 * @module raft/tracker/progress
 *
 * What the leader knows about one follower's log (tracker/progress.go, design.md):
 *
 * ```
 *                 +--------------------------------------------------------+
 *                 |                  send snapshot                         |
 *                 |                                                        v
 *       +---------+----------+                                  +----------+---------+
 *   +-->|       probe        |                                  |      snapshot      |
 *   |   |  max inflight = 1  |<---------------------------------+  max inflight = 0  |
 *   |   +---------+----------+                                  +--------------------+
 *   |             |            1. snapshot success
 *   |             |               (next = snapshot.index + 1)
 *   |             |            2. snapshot failure / unreachable
 *   |             |               (next = match + 1)
 *   |             | receives MsgAppResp (index ≥ match)
 *   |   +---------v----------+
 *   +---+     replicate      |  next is optimistically advanced; inflights window
 *       +--------------------+  rejection → probe (next = match + 1)
 * ```
 */

import { Inflights } from './inflights.js';

/** Replication state of a follower, as seen by the leader. */
export enum ProgressState {
  /** Send at most one MsgApp per heartbeat interval until the match point is found. */
  StateProbe = 0,
  /** Stream entries optimistically, limited by the inflights window. */
  StateReplicate = 1,
  /** A snapshot is in flight; send nothing else. */
  StateSnapshot = 2,
}

/** The leader's view of one peer. Mutable; owned by the ProgressTracker. */
export class Progress {
  /** Highest index known to be replicated on the peer. */
  match = 0;
  /** Index of the next entry to send. Invariant: match < next. */
  next: number;
  state: ProgressState = ProgressState.StateProbe;
  /** Index of the snapshot in flight while in StateSnapshot (0 otherwise). */
  pendingSnapshot = 0;
  /** True if the peer was heard from since the last check-quorum round. */
  recentActive = false;
  /** In StateProbe: a MsgApp was sent and not yet acknowledged, so sending is paused. */
  probeSent = false;
  readonly inflights: Inflights;
  isLearner: boolean;

  /**
   * @param maxInflight the inflights window size (Config.maxInflightMsgs)
   * @param maxInflightBytes the inflights byte limit (Config.maxInflightBytes; 0: none)
   */
  constructor(next: number, maxInflight: number, isLearner: boolean, maxInflightBytes = 0) {
    this.next = next;
    this.inflights = new Inflights(maxInflight, maxInflightBytes);
    this.isLearner = isLearner;
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  /** Enters StateProbe; after a snapshot, resumes after the snapshot index. */
  becomeProbe(): void {
    if (this.state === ProgressState.StateSnapshot) {
      const pending = this.pendingSnapshot;
      this.resetState(ProgressState.StateProbe);
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState(ProgressState.StateProbe);
      this.next = this.match + 1;
    }
  }

  /** Enters StateReplicate from the match point. */
  becomeReplicate(): void {
    this.resetState(ProgressState.StateReplicate);
    this.next = this.match + 1;
  }

  /** Enters StateSnapshot with a snapshot at `snapshotIndex` in flight. */
  becomeSnapshot(snapshotIndex: number): void {
    this.resetState(ProgressState.StateSnapshot);
    this.pendingSnapshot = snapshotIndex;
  }

  /** An acknowledgement up to `n` arrived; returns true if `match` grew. Unpauses a probe. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    if (this.next < n + 1) this.next = n + 1;
    return updated;
  }

  /** Entries up to `n` were sent (StateReplicate pipelining). */
  optimisticUpdate(n: number): void {
    this.next = n + 1;
  }

  /**
   * A MsgApp at `rejected` was refused; the follower's last index is `last`. Moves
   * `next` back and returns true, or returns false if the rejection is stale
   * (progress.go MaybeDecrTo).
   */
  maybeDecrTo(rejected: number, last: number): boolean {
    if (this.state === ProgressState.StateReplicate) {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, last + 1), 1);
    this.probeSent = false;
    return true;
  }

  /** True if the leader must not send MsgApp to this peer now. */
  isPaused(): boolean {
    switch (this.state) {
      case ProgressState.StateProbe:
        return this.probeSent;
      case ProgressState.StateReplicate:
        return this.inflights.full();
      case ProgressState.StateSnapshot:
        return true;
    }
  }

  /** A detached copy (for Status). */
  clone(): Progress {
    const p = new Progress(this.next, this.inflights.size, this.isLearner, this.inflights.maxBytes);
    p.match = this.match;
    p.state = this.state;
    p.pendingSnapshot = this.pendingSnapshot;
    p.recentActive = this.recentActive;
    p.probeSent = this.probeSent;
    (p as { inflights: Inflights }).inflights = this.inflights.clone();
    return p;
  }

  /** `StateReplicate match=5 next=6 learner paused inflight=2[full]` (progress.go String). */
  toString(): string {
    let s = `${ProgressState[this.state]} match=${this.match} next=${this.next}`;
    if (this.isLearner) s += ' learner';
    if (this.isPaused()) s += ' paused';
    if (this.pendingSnapshot > 0) s += ` pendingSnap=${this.pendingSnapshot}`;
    if (!this.recentActive) s += ' inactive';
    const n = this.inflights.count();
    if (n > 0) s += ` inflight=${n}${this.inflights.full() ? '[full]' : ''}`;
    return s;
  }
}
