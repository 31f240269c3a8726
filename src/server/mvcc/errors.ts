/**
 * @module server/mvcc/errors
 * The sentinel errors of etcd's mvcc package, one class each, with etcd's exact
 * messages (mvcc/kvstore.go, key_index.go, watcher.go). Callers test them with
 * `instanceof`. The gRPC layer maps them to statuses whose messages add the
 * `etcdserver: ` prefix (rpctypes: `etcdserver: mvcc: required revision has been
 * compacted`, ...); that mapping lives in one table there, not here.
 */

/** Base class of the mvcc sentinel errors. */
export abstract class MvccError extends Error {}

/** The requested revision is at or below the compaction revision (kvstore.go ErrCompacted). */
export class ErrCompacted extends MvccError {
  override readonly name = 'ErrCompacted';
  constructor() {
    super('mvcc: required revision has been compacted');
  }
}

/** The requested revision is above the current revision (kvstore.go ErrFutureRev). */
export class ErrFutureRev extends MvccError {
  override readonly name = 'ErrFutureRev';
  constructor() {
    super('mvcc: required revision is a future revision');
  }
}

/** The watcher was canceled (kvstore.go ErrCanceled). */
export class ErrCanceled extends MvccError {
  override readonly name = 'ErrCanceled';
  constructor() {
    super('mvcc: watcher is canceled');
  }
}

/** The store is closed (kvstore.go ErrClosed). */
export class ErrClosed extends MvccError {
  override readonly name = 'ErrClosed';
  constructor() {
    super('mvcc: closed');
  }
}

/** The key has no revision at or before the asked one (key_index.go ErrRevisionNotFound). */
export class ErrRevisionNotFound extends MvccError {
  override readonly name = 'ErrRevisionNotFound';
  constructor() {
    super('mvcc: revision not found');
  }
}

/** Cancel of an unknown watch ID (watcher.go ErrWatcherNotExist). */
export class ErrWatcherNotExist extends MvccError {
  override readonly name = 'ErrWatcherNotExist';
  constructor() {
    super('mvcc: watcher does not exist');
  }
}

/** A watch range whose end is not after its key, or a watch on a closed stream (watcher.go ErrEmptyWatcherRange). */
export class ErrEmptyWatcherRange extends MvccError {
  override readonly name = 'ErrEmptyWatcherRange';
  constructor() {
    super('mvcc: watcher range is empty');
  }
}

/** A watch with an explicit ID already in use on the stream (watcher.go ErrWatcherDuplicateID). */
export class ErrWatcherDuplicateID extends MvccError {
  override readonly name = 'ErrWatcherDuplicateID';
  constructor() {
    super('mvcc: duplicate watch ID provided on the WatchStream');
  }
}

/**
 * A broken internal invariant (etcd panics: "'put' with an unexpected smaller
 * revision", a missing revision in the backend, ...). Never caught inside mvcc.
 */
export class MvccInvariantError extends Error {
  override readonly name = 'MvccInvariantError';
}
