/**
 * @module server/wal/wal
 * The write-ahead log: Raft hard state and entries, appended to segment files in one
 * directory and fdatasync'ed before `save()` resolves. The format is described in
 * doc.md next to this file; framing is in encoder.ts/decoder.ts, payloads in record.ts.
 *
 * Life cycle:
 * ```
 * const wal = await Wal.create(dir, { nodeId, clusterId });   // new member
 * const { wal, metadata, hardState, entries } = await Wal.open(dir, { term, index }); // restart
 * await wal.save(hardState, entries);      // durable when it resolves
 * await wal.saveSnapshotMarker({ term, index });
 * wal.releaseLockTo(index); await wal.purge(5);
 * await wal.close();
 * ```
 *
 * Concurrency: one process owns the directory (there is no file lock; the caller, the
 * server's data-dir handling, must ensure it). Inside the process, `save()` calls may
 * overlap: they are written in call order, and calls made while a write+fsync is in
 * flight are written together and share the next fsync (group commit). Writes go
 * through libuv's thread pool, except a lone small batch while the WAL is idle (one
 * request in flight), which is written on the event loop before `save()` returns
 * (see Wal.writesOnLoop); its promise still resolves asynchronously.
 */
import { constants as fsConstants, fdatasync, write, writeSync } from 'node:fs';
import { open, readdir, rename, unlink, mkdir, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeSegment } from './decoder.js';
import { encodeRecord, framedSize, frameInPlace, HEADER_BYTES } from './encoder.js';
import { WalClosedError, WalCorruptError, WalError, WalExistsError, WalNotFoundError, WalSnapshotNotFoundError } from './errors.js';
import {
  RecordDecodeError,
  RecordType,
  decodeEntryAt,
  entryIndexAt,
  decodeHardState,
  decodeMetadata,
  decodeSnapshot,
  ENTRY_HEADER_BYTES,
  encodeHardState,
  encodeMetadata,
  encodeSnapshot,
  putEntry,
  type WalEntry,
  type WalHardState,
  type WalMetadata,
  type WalSnapshot,
} from './record.js';
import { hexPairName, parseHexPairName } from '../../util/hex-pair-name.js';
import { syncDir } from '../../util/fs-sync.js';

export type { WalEntry, WalHardState, WalMetadata, WalSnapshot } from './record.js';

/** Default segment size: a segment is cut once it reaches 64 MiB. */
export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;

/** Options for {@link Wal.create} and {@link Wal.open}. */
export interface WalOptions {
  /**
   * Cut to a new segment once the current one holds at least this many bytes
   * (default {@link DEFAULT_SEGMENT_BYTES}). A segment can exceed it by one batch.
   */
  readonly segmentBytes?: number;
  /**
   * Makes a segment file's data durable; default fdatasync(2) of the file. Tests
   * inject a counting or gating hook. Every data sync of the WAL goes through it.
   */
  readonly fdatasync?: (fh: FileHandle) => Promise<void>;
  /**
   * Lone small batches are written on the event loop only while the moving average of
   * batch write times is at most this many ms (default {@link LOOP_WRITE_SLOW_MS}; a
   * test sets 0 to see the fallback). See Wal.writesOnLoop.
   */
  readonly loopWriteSlowMs?: number;
  /**
   * Told after each durable write: `syncSeconds` is how long making it durable took (the
   * O_DSYNC write, or the sync hook's call when {@link fdatasync} is given; a new
   * segment's creation for a cut) and `bytes` how many bytes were written. For etcd's
   * etcd_disk_wal_fsync_duration_seconds and etcd_disk_wal_write_bytes_total.
   */
  readonly onWrite?: (syncSeconds: number, bytes: number) => void;
}

/** A lone batch up to this many bytes (one put of a few hundred bytes) may be written on the event loop. */
export const LOOP_WRITE_MAX_BYTES = 1024;
/** Default {@link WalOptions.loopWriteSlowMs}: a disk slower than this is not waited for on the event loop. */
export const LOOP_WRITE_SLOW_MS = 2;
/** Weight of the newest batch in the moving average of write times. */
const WRITE_TIME_WEIGHT = 0.1;

/** What {@link Wal.open} replays. */
export interface WalReplay {
  readonly wal: Wal;
  readonly metadata: WalMetadata;
  /** The last hard state saved, or term 0 / vote 0n / commit 0 if none. */
  readonly hardState: WalHardState;
  /** The entries after the snapshot index, contiguous, with overwritten tails already dropped. */
  readonly entries: WalEntry[];
  /** Set when a torn tail was cut off the last segment: which file, from which byte offset, how many bytes. */
  readonly truncatedTail?: { readonly file: string; readonly offset: number; readonly bytes: number; readonly reason: string };
}

interface Segment {
  readonly name: string;
  readonly seq: number;
  /** Raft index of the first entry expected in the segment (from its name). */
  readonly index: number;
}

interface Pending {
  readonly buf: Buffer;
  /** Number of entries in `buf`. */
  readonly entries: number;
  readonly hardState?: WalHardState;
  /** Index of the last entry in `buf`, if it holds entries. */
  readonly lastIndex?: number;
  /** Index of the snapshot marker in `buf`, if it is one. */
  readonly markerIndex?: number;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

const EMPTY_HS: WalHardState = { term: 0, vote: 0n, commit: 0 };

/** The file name of segment `seq` whose first entry is `index`: `<seq:016x>-<index:016x>.wal`. */
export function segmentName(seq: number, index: number): string {
  return hexPairName(seq, index, 'wal');
}

/** Parses a segment file name; undefined if it is not one (or its numbers exceed 2^53-1). */
export function parseSegmentName(name: string): { seq: number; index: number } | undefined {
  const p = parseHexPairName(name, 'wal');
  return p && { seq: p[0], index: p[1] };
}

function isEmptyHardState(hs: WalHardState): boolean {
  return hs.term === 0 && hs.vote === 0n && hs.commit === 0;
}

async function listSegments(dir: string): Promise<{ segments: Segment[]; tmp: string[] }> {
  const names = await readdir(dir);
  const segments: Segment[] = [];
  const tmp: string[] = [];
  for (const name of names) {
    const p = parseSegmentName(name);
    if (p) segments.push({ name, ...p });
    else if (name.endsWith('.wal.tmp')) tmp.push(name);
  }
  segments.sort((a, b) => a.seq - b.seq);
  return { segments, tmp };
}

/**
 * Writes all of `buf` at `position` of the open file. Uses the callback fs API on the
 * handle's descriptor: FileHandle's promise methods cost about 20 µs more per call,
 * which is on the path of every acknowledged write (bench/README.md).
 */
function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const step = (done: number): void => {
      write(fh.fd, buf, done, buf.length - done, position + done, (err, bytesWritten) => {
        if (err) reject(err);
        else if (bytesWritten <= 0) reject(new WalError(`wal: write returned ${bytesWritten}`));
        else if (done + bytesWritten < buf.length) step(done + bytesWritten);
        else resolve();
      });
    };
    step(0);
  });
}

/** {@link writeFully} on the event loop: all of `buf` at `position`, synchronously. */
function writeFullySync(fh: FileHandle, buf: Buffer, position: number): void {
  for (let done = 0; done < buf.length; ) {
    const n = writeSync(fh.fd, buf, done, buf.length - done, position + done);
    if (n <= 0) throw new WalError(`wal: write returned ${n}`);
    done += n;
  }
}

/**
 * Opens `path` (a segment just created or replayed) for writing with O_DSYNC; closes
 * `owner` (the segment's other handle) when that fails, as the callers would have to.
 */
async function openDsync(path: string, owner: FileHandle): Promise<FileHandle> {
  try {
    return await open(path, fsConstants.O_WRONLY | fsConstants.O_DSYNC);
  } catch (e) {
    await owner.close().catch(() => {});
    throw e;
  }
}

/** The default data sync: fdatasync(2) of the handle's descriptor (callback API, see {@link writeFully}). */
function datasync(fh: FileHandle): Promise<void> {
  return new Promise<void>((resolve, reject) => fdatasync(fh.fd, (err) => (err ? reject(err) : resolve())));
}

/** Writes `buf` to a new file `<dir>/<name>` atomically: temp file, fsync, rename, directory fsync. Returns the open handle. */
async function createSegmentFile(dir: string, name: string, buf: Buffer, sync: (fh: FileHandle) => Promise<void>): Promise<FileHandle> {
  const tmpPath = join(dir, `${name}.tmp`);
  const fh = await open(tmpPath, 'w+', 0o600);
  try {
    await writeFully(fh, buf, 0);
    await sync(fh);
    await rename(tmpPath, join(dir, name));
    await syncDir(dir);
    return fh;
  } catch (e) {
    await fh.close().catch(() => {});
    await unlink(tmpPath).catch(() => {});
    throw e;
  }
}

/** The write-ahead log. Build one with {@link Wal.create} or {@link Wal.open}. */
export class Wal {
  private pending: Pending[] = [];
  private busy = false;
  private idle: Promise<void> = Promise.resolve();
  private closed = false;
  private failure: unknown;
  /** Count of leading `segments` released by {@link releaseLockTo}; never includes the tail. */
  private released = 0;
  /**
   * With the default sync: a second descriptor of the tail segment opened with O_DSYNC,
   * through which batches are appended, so that one write(2) both writes and syncs the
   * data (and the file size), as write + fdatasync would; one trip through libuv's thread
   * pool instead of two (bench/README.md). Unset when a sync hook is given: then every
   * batch is written through `tail` and synced through the hook.
   */
  private appendFh: FileHandle | undefined;
  /** Moving average of batch write times (ms), on the loop and in the pool alike. */
  private writeMs = 0;
  /** {@link WalOptions.loopWriteSlowMs} */
  private loopWriteSlowMs = LOOP_WRITE_SLOW_MS;
  /** {@link WalOptions.onWrite} */
  private onWrite: WalOptions['onWrite'];
  /** Batches written so far: on the event loop, and through the thread pool. */
  private readonly writes = { onLoop: 0, inPool: 0 };

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    private readonly sync: (fh: FileHandle) => Promise<void>,
    private readonly metadata: WalMetadata,
    private readonly segments: Segment[],
    private tail: FileHandle,
    private tailBytes: number,
    private hardState: WalHardState,
    /** Index of the last entry written (or snapshot marker, if later); names the next segment. */
    private lastIndex: number,
  ) {}

  /**
   * Creates a new WAL in `dir` (made with mode 0700 if missing): the first segment
   * `0000000000000000-0000000000000000.wal` holding the metadata and a snapshot marker
   * at term 0, index 0. Throws {@link WalExistsError} if `dir` already holds segments,
   * RangeError for ids outside u64, and fs errors as they come.
   */
  static async create(dir: string, metadata: WalMetadata, options: WalOptions = {}): Promise<Wal> {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const { segments, tmp } = await listSegments(dir);
    if (segments.length > 0) throw new WalExistsError(`wal: ${dir} already holds ${segments.length} segment(s)`);
    for (const t of tmp) await unlink(join(dir, t));
    const sync = options.fdatasync ?? datasync;
    const name = segmentName(0, 0);
    const buf = Buffer.concat([encodeRecord(RecordType.Metadata, encodeMetadata(metadata)), encodeRecord(RecordType.Snapshot, encodeSnapshot({ term: 0, index: 0 }))]);
    const fh = await createSegmentFile(dir, name, buf, sync);
    const wal = new Wal(dir, segmentBytesOf(options), sync, metadata, [{ name, seq: 0, index: 0 }], fh, buf.length, EMPTY_HS, 0);
    if (options.fdatasync === undefined) wal.appendFh = await openDsync(join(dir, name), fh);
    wal.loopWriteSlowMs = options.loopWriteSlowMs ?? LOOP_WRITE_SLOW_MS;
    wal.onWrite = options.onWrite;
    return wal;
  }

  /**
   * Opens the WAL in `dir` for appending and replays it from the Raft snapshot `snap`
   * (`{term: 0, index: 0}` when there is none). Reads the last segment whose name index
   * is <= `snap.index` and every later one; returns the metadata, the last hard state
   * and the entries with index > `snap.index` (a later entry at an index already seen
   * replaces it and everything after it). A torn tail of the last segment is cut off
   * (reported in `truncatedTail`) and leftover `*.wal.tmp` files are deleted.
   *
   * Throws {@link WalNotFoundError} (no segments), {@link WalCorruptError} (damage that is
   * not a torn tail, missing segment numbers, an entry index gap, conflicting metadata),
   * {@link WalSnapshotNotFoundError} (no marker for `snap.index`, or a different term).
   */
  static async open(dir: string, snap: WalSnapshot, options: WalOptions = {}): Promise<WalReplay> {
    const sync = options.fdatasync ?? datasync;
    const { segments, tmp } = await listSegments(dir).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') throw new WalNotFoundError(`wal: directory ${dir} does not exist`);
      throw e;
    });
    if (segments.length === 0) throw new WalNotFoundError(`wal: no segments in ${dir}`);
    for (let i = 1; i < segments.length; i++) {
      if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
        throw new WalCorruptError(segments[i]!.name, 0, `segment sequence jumps from ${segments[i - 1]!.seq} to ${segments[i]!.seq}`);
      }
    }
    let first = -1;
    for (let i = segments.length - 1; i >= 0; i--) {
      if (segments[i]!.index <= snap.index) {
        first = i;
        break;
      }
    }
    if (first < 0) throw new WalSnapshotNotFoundError(`wal: no segment in ${dir} starts at or before snapshot index ${snap.index} (oldest starts at ${segments[0]!.index})`);

    let metadata: WalMetadata | undefined;
    let hardState = EMPTY_HS;
    let entries: WalEntry[] = [];
    let lastIndex = 0;
    let matched = false;
    let truncatedTail: WalReplay['truncatedTail'];
    let tailValidBytes = 0;
    let tailFileBytes = 0;
    for (let i = first; i < segments.length; i++) {
      const seg = segments[i]!;
      const isLast = i === segments.length - 1;
      const fh = await open(join(dir, seg.name), 'r');
      let buf: Buffer;
      try {
        buf = await fh.readFile();
      } finally {
        await fh.close();
      }
      const scan = decodeSegment(buf, seg.name, isLast);
      if (isLast) {
        tailValidBytes = scan.validBytes;
        tailFileBytes = buf.length;
        if (scan.tornBytes > 0) truncatedTail = { file: seg.name, offset: scan.validBytes, bytes: scan.tornBytes, reason: scan.tornReason ?? '' };
      }
      for (const rec of scan.records) {
        const bad = (reason: string): WalCorruptError => new WalCorruptError(seg.name, rec.offset, reason);
        try {
          switch (rec.type) {
            case RecordType.Metadata: {
              const m = decodeMetadata(buf.subarray(rec.start, rec.end));
              if (metadata && (metadata.nodeId !== m.nodeId || metadata.clusterId !== m.clusterId)) throw bad('metadata differs from an earlier segment');
              metadata = m;
              break;
            }
            case RecordType.HardState:
              hardState = decodeHardState(buf.subarray(rec.start, rec.end));
              break;
            case RecordType.Entry: {
              // entries the snapshot covers are checked but not kept (their data is not copied)
              const index = entryIndexAt(buf, rec.start, rec.end);
              if (index > snap.index) {
                const at = index - snap.index - 1;
                if (at > entries.length) throw bad(`entry index ${index} leaves a gap after index ${snap.index + entries.length}`);
                if (at < entries.length) entries = entries.slice(0, at);
                entries.push(decodeEntryAt(buf, rec.start, rec.end));
              }
              lastIndex = index;
              break;
            }
            case RecordType.Snapshot: {
              const s = decodeSnapshot(buf.subarray(rec.start, rec.end));
              if (s.index === snap.index) {
                if (s.term !== snap.term) throw new WalSnapshotNotFoundError(`wal: snapshot marker at index ${s.index} has term ${s.term}, expected ${snap.term} (${seg.name} offset ${rec.offset})`);
                matched = true;
              }
              break;
            }
            default:
              throw bad(`unknown record type ${rec.type}`);
          }
        } catch (e) {
          if (e instanceof RecordDecodeError) throw bad(e.message);
          throw e;
        }
      }
    }
    const tailSeg = segments[segments.length - 1]!;
    if (!metadata) throw new WalCorruptError(segments[first]!.name, 0, 'no metadata record');
    if (!matched) throw new WalSnapshotNotFoundError(`wal: no snapshot marker for index ${snap.index} in ${dir} (read from ${segments[first]!.name})`);

    const tail = await open(join(dir, tailSeg.name), 'r+');
    try {
      if (tailFileBytes !== tailValidBytes) {
        await tail.truncate(tailValidBytes);
        await sync(tail);
      }
      for (const t of tmp) await unlink(join(dir, t));
    } catch (e) {
      await tail.close();
      throw e;
    }
    const wal = new Wal(dir, segmentBytesOf(options), sync, metadata, segments, tail, tailValidBytes, hardState, Math.max(lastIndex, snap.index));
    if (options.fdatasync === undefined) wal.appendFh = await openDsync(join(dir, tailSeg.name), tail);
    wal.loopWriteSlowMs = options.loopWriteSlowMs ?? LOOP_WRITE_SLOW_MS;
    wal.onWrite = options.onWrite;
    return truncatedTail ? { wal, metadata, hardState, entries, truncatedTail } : { wal, metadata, hardState, entries };
  }

  /**
   * Appends `entries` (then `hardState`, unless it is all zero) and resolves once they
   * are written and fdatasync'ed. Entries must have consecutive indexes; an index at or
   * below one already saved overwrites the log from there on replay. Calls made while
   * an earlier write is in flight are batched into one write and one fsync. Resolves at
   * once when there is nothing to write.
   *
   * Rejects with RangeError for bad terms/indexes (nothing written), with
   * {@link WalClosedError} after {@link close} or after an earlier I/O failure, and with
   * the fs error when the write or fsync fails; after such a failure the WAL refuses all
   * further saves (a failed fsync leaves the file state unknown: reopen and replay).
   */
  save(hardState: WalHardState, entries: readonly WalEntry[]): Promise<void> {
    const empty = isEmptyHardState(hardState);
    if (empty && entries.length === 0) return Promise.resolve();
    // every record of the save framed in one buffer: no buffer per entry and per record
    let out: Buffer;
    try {
      const hs = empty ? undefined : encodeHardState(hardState);
      let total = hs ? framedSize(hs.length) : 0;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i]!;
        if (i > 0 && e.index !== entries[i - 1]!.index + 1) throw new RangeError(`wal: entry index ${e.index} does not follow ${entries[i - 1]!.index}`);
        total += framedSize(ENTRY_HEADER_BYTES + e.data.length);
      }
      out = Buffer.allocUnsafe(total);
      let pos = 0;
      for (const e of entries) {
        putEntry(out, pos + HEADER_BYTES, e);
        pos = frameInPlace(out, pos, RecordType.Entry, ENTRY_HEADER_BYTES + e.data.length);
      }
      if (hs) {
        out.set(hs, pos + HEADER_BYTES);
        frameInPlace(out, pos, RecordType.HardState, hs.length);
      }
    } catch (e) {
      return Promise.reject(e);
    }
    const last = entries[entries.length - 1];
    return this.enqueue(out, entries.length, empty ? undefined : hardState, last?.index);
  }

  /**
   * Records that a Raft snapshot at (`snap.term`, `snap.index`) was saved, so that
   * {@link open} can start replay there; resolves once it is fsynced (batched like
   * {@link save}). Save the snapshot file itself first. Same errors as {@link save}.
   */
  saveSnapshotMarker(snap: WalSnapshot): Promise<void> {
    let buf: Buffer;
    try {
      buf = encodeRecord(RecordType.Snapshot, encodeSnapshot(snap));
    } catch (e) {
      return Promise.reject(e);
    }
    return this.enqueue(buf, 0, undefined, undefined, snap.index);
  }

  /**
   * Marks segments that hold only entries below `index` as no longer needed: all
   * segments before the last one whose name index is < `index` (etcd's ReleaseLockTo:
   * with segments starting at 1..6, `releaseLockTo(4)` releases 1 and 2 and keeps 3).
   * The current segment is never released. Files are deleted by {@link purge}.
   */
  releaseLockTo(index: number): void {
    let below = 0;
    while (below < this.segments.length && this.segments[below]!.index < index) below++;
    this.released = Math.max(this.released, Math.min(below - 1, this.segments.length - 1));
  }

  /**
   * Deletes released segment files, oldest first, while more than `keep` segment files
   * (>= 1) remain. Returns the deleted file names. Throws RangeError for `keep` < 1 and
   * fs errors as they come.
   */
  async purge(keep: number): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`wal: purge keep ${keep} must be an integer >= 1`);
    const deleted: string[] = [];
    while (this.released > 0 && this.segments.length > keep) {
      const seg = this.segments[0]!;
      await unlink(join(this.dir, seg.name));
      this.segments.shift();
      this.released--;
      deleted.push(seg.name);
    }
    if (deleted.length > 0) await syncDir(this.dir);
    return deleted;
  }

  /**
   * Resolves once every save queued before the call has finished, including a segment
   * cut that a batch triggered (cuts run after the batch's callers are resolved). It
   * never rejects; failures are reported to the save calls themselves.
   */
  async flush(): Promise<void> {
    while (this.busy) await this.idle;
  }

  /** Names of the segment files this WAL knows about, oldest first. */
  segmentNames(): string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Waits for queued saves to finish, then closes the current segment. Later calls to
   * save methods reject with {@link WalClosedError}. Closing twice is a no-op.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.idle;
    await this.appendFh?.close();
    await this.tail.close();
  }

  private enqueue(buf: Buffer, entries: number, hardState: WalHardState | undefined, lastIndex: number | undefined, snapIndex?: number): Promise<void> {
    if (this.closed) return Promise.reject(new WalClosedError('wal: closed'));
    if (this.failure !== undefined) return Promise.reject(new WalClosedError(`wal: an earlier write failed: ${String(this.failure)}`));
    return new Promise<void>((resolve, reject) => {
      const item: Pending = {
        buf,
        entries,
        ...(hardState ? { hardState } : {}),
        ...(lastIndex !== undefined ? { lastIndex } : {}),
        ...(snapIndex !== undefined ? { markerIndex: snapIndex } : {}),
        resolve,
        reject,
      };
      this.pending.push(item);
      if (!this.busy) {
        this.busy = true;
        this.idle = this.flushLoop();
      }
    });
  }

  /** Writes queued batches until the queue is empty. `busy` is cleared synchronously at the end. */
  private async flushLoop(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        try {
          const buf = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((b) => b.buf));
          let syncStart: number;
          if (this.appendFh && this.writesOnLoop(batch, buf)) {
            this.writes.onLoop++;
            syncStart = performance.now();
            writeFullySync(this.appendFh, buf, this.tailBytes); // O_DSYNC: durable when written
            this.timed(syncStart);
          } else if (this.appendFh) {
            this.writes.inPool++;
            syncStart = performance.now();
            await writeFully(this.appendFh, buf, this.tailBytes); // O_DSYNC: durable when written
            this.timed(syncStart);
          } else {
            await writeFully(this.tail, buf, this.tailBytes);
            syncStart = performance.now();
            await this.sync(this.tail);
          }
          this.onWrite?.((performance.now() - syncStart) / 1000, buf.length);
          this.tailBytes += buf.length;
        } catch (e) {
          this.fail(e, batch);
          return;
        }
        for (const b of batch) {
          if (b.hardState) this.hardState = b.hardState;
          // entries set the last index (an overwrite may lower it); a snapshot marker only raises it
          if (b.lastIndex !== undefined) this.lastIndex = b.lastIndex;
          if (b.markerIndex !== undefined) this.lastIndex = Math.max(this.lastIndex, b.markerIndex);
          b.resolve();
        }
        if (this.tailBytes >= this.segmentBytes) {
          try {
            await this.cut();
          } catch (e) {
            this.fail(e, []);
            return;
          }
        }
      }
    } finally {
      this.busy = false;
    }
  }

  /** How many batches were written on the event loop and how many through the thread pool (with the default sync; for tests). */
  writeCounts(): { onLoop: number; inPool: number } {
    return { ...this.writes };
  }

  /**
   * Whether `batch` is written on the event loop instead of in libuv's thread pool: a
   * lone save of at most one entry (or a hard state alone) of up to
   * {@link LOOP_WRITE_MAX_BYTES}, while batches take at most `loopWriteSlowMs` on
   * average. That is a member with one request in flight, which has nothing else to do
   * while its disk syncs: writing on the loop saves the hand-off to a pool thread and
   * back (bench/README.md). With more in flight, saves made during a write queue up and
   * go to the pool together, so the loop keeps serving while the disk syncs; on a slow
   * disk the loop is not held up (one slow write raises the average past the limit).
   */
  private writesOnLoop(batch: readonly Pending[], buf: Buffer): boolean {
    return batch.length === 1 && batch[0]!.entries <= 1 && buf.length <= LOOP_WRITE_MAX_BYTES && this.writeMs <= this.loopWriteSlowMs;
  }

  /** Adds the write that started at `start` (performance.now()) to the moving average. */
  private timed(start: number): void {
    this.writeMs += WRITE_TIME_WEIGHT * (performance.now() - start - this.writeMs);
  }

  private fail(e: unknown, batch: Pending[]): void {
    this.failure = e;
    for (const b of batch) b.reject(e);
    const rest = this.pending;
    this.pending = [];
    for (const b of rest) b.reject(new WalClosedError(`wal: an earlier write failed: ${String(e)}`));
  }

  /**
   * Starts segment seq+1 named after the next entry index: written as a temp file with
   * the metadata and the current hard state, fsynced, renamed, directory fsynced. The
   * previous tail was fsynced by the batch that filled it.
   */
  private async cut(): Promise<void> {
    const prev = this.segments[this.segments.length - 1]!;
    const seg: Segment = { name: segmentName(prev.seq + 1, this.lastIndex + 1), seq: prev.seq + 1, index: this.lastIndex + 1 };
    const parts = [encodeRecord(RecordType.Metadata, encodeMetadata(this.metadata))];
    if (!isEmptyHardState(this.hardState)) parts.push(encodeRecord(RecordType.HardState, encodeHardState(this.hardState)));
    const buf = Buffer.concat(parts);
    const start = performance.now();
    const fh = await createSegmentFile(this.dir, seg.name, buf, this.sync);
    this.onWrite?.((performance.now() - start) / 1000, buf.length);
    const oldAppend = this.appendFh;
    if (oldAppend) this.appendFh = await openDsync(join(this.dir, seg.name), fh);
    const old = this.tail;
    this.tail = fh;
    this.tailBytes = buf.length;
    this.segments.push(seg);
    await oldAppend?.close();
    await old.close();
  }
}

function segmentBytesOf(o: WalOptions): number {
  const n = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`wal: segmentBytes ${n} must be a positive integer`);
  return n;
}
