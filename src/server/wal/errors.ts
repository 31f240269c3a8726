/**
 * @module server/wal/errors
 * Errors thrown by the write-ahead log. All extend {@link WalError}, so a caller can
 * tell WAL trouble from other failures with one `instanceof`.
 */

/** Base class of every error the WAL throws on purpose. */
export class WalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/**
 * A segment holds bytes that cannot be a torn tail: a bad CRC or an undecodable record
 * followed by a valid record, any damage in a segment that is not the last one, or
 * records whose content contradicts the log (an entry index that leaves a gap,
 * conflicting metadata). The WAL refuses to open; a human has to look.
 * `file` is the segment's file name (no directory), `offset` the byte offset of the
 * damaged record inside it.
 */
export class WalCorruptError extends WalError {
  constructor(
    readonly file: string,
    readonly offset: number,
    readonly reason: string,
  ) {
    super(`wal: corrupt segment ${file} at offset ${offset}: ${reason}`);
  }
}

/** `Wal.open` found no `*.wal` file in the directory. */
export class WalNotFoundError extends WalError {}

/** `Wal.create` was pointed at a directory that already holds `*.wal` files. */
export class WalExistsError extends WalError {}

/**
 * `Wal.open(dir, snap)`: no segment starts at or before `snap.index`, or none of the
 * segments read holds a snapshot marker for `snap.index`, or the marker's term differs.
 */
export class WalSnapshotNotFoundError extends WalError {}

/** The WAL was closed, or an earlier write/fsync failed and the WAL refuses more work. */
export class WalClosedError extends WalError {}
