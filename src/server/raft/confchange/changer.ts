/**
 * @module raft/confchange/changer
 *
 * Pure single-node membership changes (confchange/confchange.go `Simple` and
 * restore.go, without joint consensus). A change never mutates the tracker it is
 * given: it returns a new configuration that the caller installs.
 *
 * | change                 | id unknown        | id is a learner    | id is a voter     |
 * |------------------------|-------------------|--------------------|-------------------|
 * | AddNode                | new voter         | promote to voter   | no-op             |
 * | AddLearnerNode         | new learner       | no-op              | demote to learner |
 * | RemoveNode             | no-op             | remove             | remove            |
 * | UpdateNode             | no-op             | no-op              | no-op             |
 *
 * A change with node id 0 is ignored (etcd zeroes the id of a change it decided not
 * to apply). New peers start with `next = max(lastIndex, 1)`, `match = 0` and
 * `recentActive = true` so check-quorum does not count them as lost right away.
 */

import { ConfChangeType, NONE, type ConfChange, type ConfState } from '../types.js';
import { Progress } from '../tracker/progress.js';
import type { ProgressTracker } from '../tracker/tracker.js';

/** A complete membership: who votes, who learns, and a Progress for each. */
export interface TrackerConfig {
  readonly voters: Set<bigint>;
  readonly learners: Set<bigint>;
  readonly progress: Map<bigint, Progress>;
}

/** Thrown when a configuration change is invalid (e.g. it removes the last voter). */
export class ConfChangeError extends Error {
  override name = 'ConfChangeError';
}

/**
 * Applies one change to a copy of `tracker`'s configuration and returns the copy.
 * `lastIndex` is the leader's last log index (initial `next` of new peers).
 * Throws ConfChangeError for an unknown change type or if no voter would remain.
 */
export function applySimpleChange(tracker: ProgressTracker, lastIndex: number, cc: ConfChange): TrackerConfig {
  const cfg: TrackerConfig = {
    voters: new Set(tracker.voters),
    learners: new Set(tracker.learners),
    progress: new Map(tracker.progress),
  };
  const id = cc.nodeId;
  if (id !== NONE) {
    switch (cc.type) {
      case ConfChangeType.ConfChangeAddNode:
        makeVoter(cfg, id, lastIndex, tracker.maxInflight, tracker.maxInflightBytes);
        break;
      case ConfChangeType.ConfChangeAddLearnerNode:
        makeLearner(cfg, id, lastIndex, tracker.maxInflight, tracker.maxInflightBytes);
        break;
      case ConfChangeType.ConfChangeRemoveNode:
        cfg.voters.delete(id);
        cfg.learners.delete(id);
        cfg.progress.delete(id);
        break;
      case ConfChangeType.ConfChangeUpdateNode:
        break;
      default:
        throw new ConfChangeError(`unexpected conf type ${String(cc.type)}`);
    }
  }
  if (cfg.voters.size === 0) throw new ConfChangeError('removed all voters');
  return cfg;
}

/**
 * Builds the configuration described by `cs` from scratch (confchange/restore.go
 * for a non-joint ConfState). Throws ConfChangeError if an id is both voter and learner.
 */
export function restoreConfig(cs: ConfState, lastIndex: number, maxInflight: number, maxInflightBytes = 0): TrackerConfig {
  const cfg: TrackerConfig = { voters: new Set(), learners: new Set(), progress: new Map() };
  for (const id of cs.voters) makeVoter(cfg, id, lastIndex, maxInflight, maxInflightBytes);
  for (const id of cs.learners) {
    if (cfg.voters.has(id)) throw new ConfChangeError(`${id} is in Voters and Learners`);
    makeLearner(cfg, id, lastIndex, maxInflight, maxInflightBytes);
  }
  return cfg;
}

function newProgress(lastIndex: number, maxInflight: number, maxInflightBytes: number, isLearner: boolean): Progress {
  const pr = new Progress(Math.max(lastIndex, 1), maxInflight, isLearner, maxInflightBytes);
  pr.recentActive = true;
  return pr;
}

function makeVoter(cfg: TrackerConfig, id: bigint, lastIndex: number, maxInflight: number, maxInflightBytes: number): void {
  const pr = cfg.progress.get(id);
  if (pr === undefined) {
    cfg.voters.add(id);
    cfg.progress.set(id, newProgress(lastIndex, maxInflight, maxInflightBytes, false));
    return;
  }
  if (!pr.isLearner) return;
  const promoted = pr.clone();
  promoted.isLearner = false;
  cfg.progress.set(id, promoted);
  cfg.learners.delete(id);
  cfg.voters.add(id);
}

function makeLearner(cfg: TrackerConfig, id: bigint, lastIndex: number, maxInflight: number, maxInflightBytes: number): void {
  const pr = cfg.progress.get(id);
  if (pr === undefined) {
    cfg.learners.add(id);
    cfg.progress.set(id, newProgress(lastIndex, maxInflight, maxInflightBytes, true));
    return;
  }
  if (pr.isLearner) return;
  const demoted = pr.clone();
  demoted.isLearner = true;
  cfg.progress.set(id, demoted);
  cfg.voters.delete(id);
  cfg.learners.add(id);
}
