/**
 * @module raft/tracker/tracker
 *
 * The configuration (voters, learners) and the per-peer {@link Progress} the leader
 * keeps, plus the votes of the current election (tracker/tracker.go, single majority
 * configuration only).
 */

import { committedIndex, voteResult, VoteResult } from '../quorum/majority.js';
import type { ConfState } from '../types.js';
import { Progress } from './progress.js';

/** Sorts ids ascending (bigint-safe comparator). */
export function sortIds(ids: Iterable<bigint>): bigint[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Membership plus progress and votes. Invariant: voters ∩ learners = ∅; progress has exactly voters ∪ learners. */
export class ProgressTracker {
  voters = new Set<bigint>();
  learners = new Set<bigint>();
  progress = new Map<bigint, Progress>();
  votes = new Map<bigint, boolean>();

  /**
   * @param maxInflight inflights window per peer (messages)
   * @param maxInflightBytes inflights byte limit per peer (0: none)
   */
  constructor(
    readonly maxInflight: number,
    readonly maxInflightBytes = 0,
  ) {}

  /** The membership as a ConfState (ids sorted). */
  confState(): ConfState {
    return { voters: sortIds(this.voters), learners: sortIds(this.learners) };
  }

  /** True if this is a one-voter configuration. */
  isSingleton(): boolean {
    return this.voters.size === 1;
  }

  /** The highest index replicated on a majority of voters. */
  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match);
  }

  /** Calls `f` for each peer in ascending id order (deterministic message order). */
  visit(f: (id: bigint, pr: Progress) => void): void {
    for (const id of sortIds(this.progress.keys())) f(id, this.progress.get(id)!);
  }

  /** True if a quorum of voters was recently active (CheckQuorum). */
  quorumActive(): boolean {
    const votes = new Map<bigint, boolean>();
    for (const [id, pr] of this.progress) if (!pr.isLearner) votes.set(id, pr.recentActive);
    return voteResult(this.voters, votes) === VoteResult.VoteWon;
  }

  /** Voter ids, sorted. */
  voterNodes(): bigint[] {
    return sortIds(this.voters);
  }

  /** Learner ids, sorted. */
  learnerNodes(): bigint[] {
    return sortIds(this.learners);
  }

  /** Forgets the votes of the previous election. */
  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records the first vote from `id` in this election (later ones are ignored). */
  recordVote(id: bigint, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  /** Counts granted and rejected votes among voters and the election's result. */
  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: voteResult(this.voters, this.votes) };
  }

  /** `voters=(1 2 3) learners=(4)` (tracker.go Config.String). */
  describeConfig(): string {
    let s = `voters=(${this.voterNodes().join(' ')})`;
    if (this.learners.size > 0) s += ` learners=(${this.learnerNodes().join(' ')})`;
    return s;
  }
}
