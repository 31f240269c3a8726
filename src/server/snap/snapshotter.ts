/**
 * @module server/snap/snapshotter
 * Raft snapshot files (etcd's etcdserver/api/snap, in our own format). One file per
 * snapshot, named `<term:016x>-<index:016x>.snap`, so that names sort by (term, index).
 *
 * File layout (all integers little-endian):
 * ```
 * offset  size  field
 *      0     8  magic "TSSNAP01"
 *      8     4  CRC-32C of every byte from offset 16 to the end
 *     12     4  reserved, zero
 *     16     8  term (u64)
 *     24     8  index (u64)
 *     32     4  voter count V (u32)
 *     36     4  learner count L (u32)
 *     40  8V+8L voters then learners (u64 each)
 *      …     8  data length D (u64); must equal the bytes that follow
 *      …     D  data (the application snapshot, opaque here)
 * ```
 * Example: term 2, index 0x10, voters [1], no learners, data "ab" is a 58-byte file (48 fixed + 8 + 2)
 * `0000000000000002-0000000000000010.snap`.
 *
 * A file is written as `<name>.tmp`, fsynced, renamed and the directory fsynced, so a
 * crash leaves either the old set of files or the new file complete. A file that fails
 * its checks (size, magic, CRC, counts, name vs content) is corrupt: {@link load}
 * skips it, reports it and renames it to `<name>.broken` (as etcd does), then tries the
 * next older one. The snapshotter has no knowledge of Raft beyond these fields;
 * {@link SnapshotFile} is structurally raft's `Snapshot`.
 */
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32c } from '../../util/crc32c.js';
import { hexPairName, parseHexPairName } from '../../util/hex-pair-name.js';
import { syncDir } from '../../util/fs-sync.js';

/** A Raft snapshot as stored: structurally equal to raft's `Snapshot`. */
export interface SnapshotFile {
  readonly data: Uint8Array;
  readonly metadata: {
    readonly confState: { readonly voters: readonly bigint[]; readonly learners: readonly bigint[] };
    readonly index: number;
    readonly term: number;
  };
}

/** A snapshot file that failed its checks: `file` is the name (no directory). */
export class SnapCorruptError extends Error {
  constructor(
    readonly file: string,
    readonly reason: string,
  ) {
    super(`snap: corrupt snapshot file ${file}: ${reason}`);
    this.name = 'SnapCorruptError';
  }
}

/** The result of {@link Snapshotter.load}. */
export interface SnapLoadResult {
  /** The newest valid (and matching, if asked) snapshot, if any. */
  readonly snapshot?: SnapshotFile;
  /** Its file name. */
  readonly file?: string;
  /** Newer files that were corrupt and skipped, newest first (renamed to `.broken`). */
  readonly skipped: readonly SnapCorruptError[];
}

/** Options for {@link Snapshotter}. */
export interface SnapshotterOptions {
  /** Makes a written file durable; default `fh.sync()` (fsync). Tests inject a hook. */
  readonly fsync?: (fh: FileHandle) => Promise<void>;
  /** Rename corrupt files to `<name>.broken` when {@link Snapshotter.load} finds them (default true). */
  readonly renameBroken?: boolean;
}

const MAGIC = Buffer.from('TSSNAP01', 'latin1');
const FIXED_BYTES = 48; // header 16 + term/index 16 + counts 8 + data length 8

/** The file name of a snapshot at (`term`, `index`): `<term:016x>-<index:016x>.snap`. */
export function snapName(term: number, index: number): string {
  return hexPairName(term, index, 'snap');
}

/** Parses a snapshot file name; undefined if it is not one (or a number exceeds 2^53-1). */
export function parseSnapName(name: string): { term: number; index: number } | undefined {
  const p = parseHexPairName(name, 'snap');
  return p && { term: p[0], index: p[1] };
}

function checkU53(n: number, what: string): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`snap: ${what} ${n} is not a non-negative safe integer`);
}

/** Encodes a snapshot into the file layout above. Throws RangeError for out-of-range fields. */
export function encodeSnapshotFile(s: SnapshotFile): Buffer {
  const { term, index, confState } = s.metadata;
  checkU53(term, 'term');
  checkU53(index, 'index');
  const ids = [...confState.voters, ...confState.learners];
  const out = Buffer.alloc(FIXED_BYTES + 8 * ids.length + s.data.length);
  MAGIC.copy(out, 0);
  out.writeBigUInt64LE(BigInt(term), 16);
  out.writeBigUInt64LE(BigInt(index), 24);
  out.writeUInt32LE(confState.voters.length, 32);
  out.writeUInt32LE(confState.learners.length, 36);
  let off = 40;
  for (const id of ids) {
    if (id < 0n || id >= 1n << 64n) throw new RangeError(`snap: member id ${id} does not fit in 64 bits`);
    out.writeBigUInt64LE(id, off);
    off += 8;
  }
  out.writeBigUInt64LE(BigInt(s.data.length), off);
  out.set(s.data, off + 8);
  out.writeUInt32LE(crc32c(out.subarray(16)), 8);
  return out;
}

/** Decodes and checks a snapshot file's bytes; `file` names it in errors. Throws {@link SnapCorruptError}. */
export function decodeSnapshotFile(buf: Buffer, file: string): SnapshotFile {
  const bad = (reason: string): SnapCorruptError => new SnapCorruptError(file, reason);
  if (buf.length < FIXED_BYTES) throw bad(`${buf.length} bytes is shorter than the ${FIXED_BYTES}-byte minimum`);
  if (!buf.subarray(0, 8).equals(MAGIC)) throw bad('bad magic');
  if (crc32c(buf.subarray(16)) !== buf.readUInt32LE(8)) throw bad('CRC mismatch');
  const term = buf.readBigUInt64LE(16);
  const index = buf.readBigUInt64LE(24);
  const max = BigInt(Number.MAX_SAFE_INTEGER);
  if (term > max || index > max) throw bad('term or index exceeds 2^53-1');
  const nv = buf.readUInt32LE(32);
  const nl = buf.readUInt32LE(36);
  // bound the counts by the file size before allocating anything
  if (FIXED_BYTES + 8 * (nv + nl) > buf.length) throw bad(`${nv} voters and ${nl} learners do not fit in ${buf.length} bytes`);
  const ids: bigint[] = [];
  let off = 40;
  for (let i = 0; i < nv + nl; i++, off += 8) ids.push(buf.readBigUInt64LE(off));
  const dataLen = buf.readBigUInt64LE(off);
  if (dataLen !== BigInt(buf.length - off - 8)) throw bad(`data length ${dataLen} does not match the ${buf.length - off - 8} bytes that follow`);
  return {
    data: new Uint8Array(buf.subarray(off + 8)),
    metadata: { confState: { voters: ids.slice(0, nv), learners: ids.slice(nv) }, index: Number(index), term: Number(term) },
  };
}

/** Saves, loads and purges Raft snapshot files in one directory. */
export class Snapshotter {
  private readonly fsync: (fh: FileHandle) => Promise<void>;
  private readonly renameBroken: boolean;

  /** `dir` is created (mode 0700) on the first {@link save}. */
  constructor(
    readonly dir: string,
    options: SnapshotterOptions = {},
  ) {
    this.fsync = options.fsync ?? ((fh) => fh.sync());
    this.renameBroken = options.renameBroken ?? true;
  }

  /**
   * Writes `snap` durably as `<term>-<index>.snap` (temp file, fsync, rename, directory
   * fsync) and returns the file name. Throws RangeError for an empty snapshot (index 0)
   * or out-of-range fields, and fs errors as they come (the temp file is removed).
   */
  async save(snap: SnapshotFile): Promise<string> {
    if (snap.metadata.index === 0) throw new RangeError('snap: refusing to save an empty snapshot (index 0)');
    const buf = encodeSnapshotFile(snap);
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = snapName(snap.metadata.term, snap.metadata.index);
    const tmp = join(this.dir, `${name}.tmp`);
    // etcd writes snapshot files with mode 0666 & ~umask (pioutil.WriteAndSyncFile(path, d, 0666)), not 0600
    const fh = await open(tmp, 'w', 0o666);
    try {
      await fh.writeFile(buf);
      await this.fsync(fh);
      await fh.close();
      await rename(tmp, join(this.dir, name));
    } catch (e) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw e;
    }
    await syncDir(this.dir);
    return name;
  }

  /**
   * {@link save} without yielding: for the raft loop, which must have a received
   * snapshot's file on disk before its WAL marker is queued (etcd SaveSnap). Same file,
   * same durability (fsync of the file and the directory); throws as {@link save}.
   */
  saveSync(snap: SnapshotFile): string {
    if (snap.metadata.index === 0) throw new RangeError('snap: refusing to save an empty snapshot (index 0)');
    const buf = encodeSnapshotFile(snap);
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const name = snapName(snap.metadata.term, snap.metadata.index);
    const tmp = join(this.dir, `${name}.tmp`);
    const fd = openSync(tmp, 'w', 0o666);
    try {
      writeSync(fd, buf);
      fsyncSync(fd);
      closeSync(fd);
      renameSync(tmp, join(this.dir, name));
    } catch (e) {
      try { closeSync(fd); } catch { /* already closed */ }
      rmSync(tmp, { force: true });
      throw e;
    }
    const d = openSync(this.dir, 'r');
    try {
      fsyncSync(d);
    } finally {
      closeSync(d);
    }
    return name;
  }

  /**
   * Loads the newest valid snapshot, newest by (term, index) from the file names. With
   * `matching`, only a snapshot whose (term, index) is in the list qualifies (pass the
   * WAL's snapshot markers, as etcd's LoadNewestAvailable does); newer valid files that
   * do not match are passed over silently. Corrupt files are skipped, reported in
   * `skipped` and renamed to `.broken` (unless disabled). A missing directory means no
   * snapshot. Throws only fs errors other than ENOENT.
   */
  async load(matching?: readonly { readonly term: number; readonly index: number }[]): Promise<SnapLoadResult> {
    const skipped: SnapCorruptError[] = [];
    for (const { name, term, index } of await this.list()) {
      if (matching && !matching.some((m) => m.term === term && m.index === index)) continue;
      try {
        const snapshot = await Snapshotter.read(join(this.dir, name));
        if (snapshot.metadata.term !== term || snapshot.metadata.index !== index) {
          throw new SnapCorruptError(name, `holds term ${snapshot.metadata.term} index ${snapshot.metadata.index}, not what its name says`);
        }
        return { snapshot, file: name, skipped };
      } catch (e) {
        if (!(e instanceof SnapCorruptError)) throw e;
        skipped.push(e);
        if (this.renameBroken) await rename(join(this.dir, name), join(this.dir, `${name}.broken`)).catch(() => {});
      }
    }
    return { skipped };
  }

  /** Reads and checks one snapshot file at `path`. Throws {@link SnapCorruptError} or fs errors. */
  static async read(path: string): Promise<SnapshotFile> {
    const fh = await open(path, 'r');
    let buf: Buffer;
    try {
      buf = await fh.readFile();
    } finally {
      await fh.close();
    }
    return decodeSnapshotFile(buf, path.slice(path.lastIndexOf('/') + 1));
  }

  /**
   * Deletes all but the newest `keep` (>= 1) snapshot files, plus leftover `.snap.tmp`
   * files, and returns the deleted names. Throws RangeError for `keep` < 1, fs errors.
   */
  async purge(keep: number): Promise<string[]> {
    if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`snap: purge keep ${keep} must be an integer >= 1`);
    const deleted: string[] = [];
    for (const { name } of (await this.list()).slice(keep)) {
      await unlink(join(this.dir, name));
      deleted.push(name);
    }
    for (const name of await readdir(this.dir).catch(() => [] as string[])) {
      if (name.endsWith('.snap.tmp')) {
        await unlink(join(this.dir, name));
        deleted.push(name);
      }
    }
    if (deleted.length > 0) await syncDir(this.dir);
    return deleted;
  }

  /** Snapshot files, newest (term, index) first; [] when the directory does not exist. */
  async list(): Promise<{ name: string; term: number; index: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    const out: { name: string; term: number; index: number }[] = [];
    for (const name of names) {
      const p = parseSnapName(name);
      if (p) out.push({ name, ...p });
    }
    return out.sort((a, b) => b.term - a.term || b.index - a.index);
  }
}
