/**
 * @module raft/status
 *
 * A detached copy of a node's state for monitoring and tests (status.go). Progress is
 * only reported by the leader.
 */

import type { Raft } from './raft.js';
import { StateType, type SoftState } from './ready.js';
import { ProgressState } from './tracker/progress.js';
import type { ConfState, HardState } from './types.js';

/** The leader's view of one peer (tracker.Progress without the inflight buffer). */
export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly pendingSnapshot: number;
  readonly recentActive: boolean;
  readonly probeSent: boolean;
  readonly isLearner: boolean;
  /** True if the leader holds back MsgApp to this peer (probe sent, inflights window full, or snapshot in flight). */
  readonly paused: boolean;
  /** Messages currently in the inflights window. */
  readonly inflight: number;
}

/** A node's state at one moment (status.go Status). */
export interface Status {
  readonly id: bigint;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly applied: number;
  readonly leadTransferee: bigint;
  readonly config: ConfState;
  /** Per-peer progress, only on the leader (empty map otherwise). */
  readonly progress: ReadonlyMap<bigint, ProgressStatus>;
}

/** Copies the status out of a Raft instance. */
export function getStatus(r: Raft): Status {
  const progress = new Map<bigint, ProgressStatus>();
  if (r.state === StateType.StateLeader) {
    r.prs.visit((id, pr) => {
      progress.set(id, {
        match: pr.match,
        next: pr.next,
        state: pr.state,
        pendingSnapshot: pr.pendingSnapshot,
        recentActive: pr.recentActive,
        probeSent: pr.probeSent,
        isLearner: pr.isLearner,
        paused: pr.isPaused(),
        inflight: pr.inflights.count(),
      });
    });
  }
  return {
    id: r.id,
    hardState: r.hardState(),
    softState: r.softState(),
    applied: r.raftLog.applied,
    leadTransferee: r.leadTransferee,
    config: r.prs.confState(),
    progress,
  };
}

/** `{"id":"1","term":2,...}` in etcd's Status JSON shape (ids in hex). */
export function statusToJSON(s: Status): string {
  const prs = [...s.progress]
    .map(([id, p]) => `"${id.toString(16)}":{"match":${p.match},"next":${p.next},"state":"${ProgressState[p.state]}"}`)
    .join(',');
  return (
    `{"id":"${s.id.toString(16)}","term":${s.hardState.term},"vote":"${s.hardState.vote.toString(16)}",` +
    `"commit":${s.hardState.commit},"lead":"${s.softState.lead.toString(16)}","raftState":"${StateType[s.softState.raftState]}",` +
    `"applied":${s.applied},"progress":{${prs}},"leadtransferee":"${s.leadTransferee.toString(16)}"}`
  );
}
