/**
 * @module raft/errors
 *
 * Errors raised by the Raft core. Expected conditions are subclasses of
 * {@link RaftError} whose messages equal etcd-io/raft's sentinel errors, so a driver
 * can map them to etcd's wire errors (`ErrProposalDropped` → "raft proposal dropped").
 * Broken invariants throw {@link RaftInvariantError}, the equivalent of raft's
 * `logger.Panicf`: the node's state can no longer be trusted and the driver must stop it.
 * The core never catches RaftInvariantError.
 */

/** Base class of the expected (sentinel) Raft errors; check with `instanceof`. */
export class RaftError extends Error {
  override name = 'RaftError';
}

/** A proposal was not accepted: no leader, a leader transfer in progress, not a member, or the uncommitted-size limit (raft.go ErrProposalDropped). */
export class ErrProposalDropped extends RaftError {
  override name = 'ErrProposalDropped';
  constructor() {
    super('raft proposal dropped');
  }
}

/** The requested index precedes the first index of the storage (storage.go ErrCompacted). */
export class ErrCompacted extends RaftError {
  override name = 'ErrCompacted';
  constructor() {
    super('requested index is unavailable due to compaction');
  }
}

/** A snapshot older than the one held was applied or requested (storage.go ErrSnapOutOfDate). */
export class ErrSnapOutOfDate extends RaftError {
  override name = 'ErrSnapOutOfDate';
  constructor() {
    super('requested index is older than the existing snapshot');
  }
}

/** The requested entry is beyond the last index of the storage (storage.go ErrUnavailable). */
export class ErrUnavailable extends RaftError {
  override name = 'ErrUnavailable';
  constructor() {
    super('requested entry at index is unavailable');
  }
}

/** Storage.snapshot() cannot produce a snapshot right now; the leader retries later (storage.go). */
export class ErrSnapshotTemporarilyUnavailable extends RaftError {
  override name = 'ErrSnapshotTemporarilyUnavailable';
  constructor() {
    super('snapshot is temporarily unavailable');
  }
}

/** RawNode.step was given a local message type such as MsgHup (rawnode.go ErrStepLocalMsg). */
export class ErrStepLocalMsg extends RaftError {
  override name = 'ErrStepLocalMsg';
  constructor() {
    super('raft: cannot step raft local message');
  }
}

/** RawNode.step was given a response from a node that is not in the configuration (rawnode.go). */
export class ErrStepPeerNotFound extends RaftError {
  override name = 'ErrStepPeerNotFound';
  constructor() {
    super('raft: cannot step as peer not found');
  }
}

/** Invalid configuration given to the RawNode constructor (raft.go Config.validate). */
export class ErrInvalidConfig extends RaftError {
  override name = 'ErrInvalidConfig';
}

/** A Raft invariant was violated (etcd panics); the node must not continue. */
export class RaftInvariantError extends Error {
  override name = 'RaftInvariantError';
}
