/**
 * @module commands/migrate/snapshotter
 * etcd 3.4's snap.Snapshotter.Load as etcdctl runs it with a zap example logger (JSON
 * lines on stdout): `migrate` (rebuilding the v2 store) and the v2 `backup` read a
 * member's newest raft snapshot through it, with etcd's warnings for files that do not
 * read and the renaming of those to `*.broken` (etcd server/etcdserver/api/snap).
 */

import { readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../../util/crc32c.js';
import { bytesField, readFields, uintField, type ProtoField } from '../../util/etcd-format/proto.js';
import { decodeRaftSnapshot, type EtcdRaftSnapshot } from '../../util/etcd-format/raft.js';
import { goPathError } from '../../util/go-errors.js';
import { zapExampleLine } from './zap-example.js';

/** Where etcd's zap lines go: each call gets one line, newline included. */
export type LogSink = (line: string) => void;

/** An error Snapshotter.Load returns (its message is etcd's text). */
export class SnapshotterError extends Error {
  override name = 'SnapshotterError';
}

/** The error text of a failed directory listing, as Go's os.Open + Readdirnames gives it. */
export function readDirError(dir: string, e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOTDIR') {
    // the directory itself is a file: open succeeds and getdents fails
    try {
      if (statSync(dir).isFile()) return goPathError('readdirent', dir, e);
    } catch {
      /* a path component is the file: open fails */
    }
  }
  return goPathError('open', dir, e);
}

// ---------------------------------------------------------------- snapshot

/** The valid non-snapshot file of a snap directory (snap.validFiles). */
const VALID_FILES = new Set(['db']);

/**
 * etcd's Snapshotter.Load on `snapDir` with its zap lines: the newest snap file that
 * reads, or undefined (ErrNoSnapshot).
 * @throws SnapshotterError when the directory cannot be listed or an orphaned
 *   defragmentation file cannot be removed (etcd returns these errors from Load)
 */
export function loadSnapshot(snapDir: string, log: LogSink): EtcdRaftSnapshot | undefined {
  let names: string[];
  try {
    names = readdirSync(snapDir);
  } catch (e) {
    throw new SnapshotterError(readDirError(snapDir, e));
  }
  const kept: string[] = [];
  for (const name of names) {
    if (name.startsWith('db.tmp')) {
      log(zapExampleLine('info', 'found orphaned defragmentation file; deleting', [['path', name]]));
      try {
        rmSync(join(snapDir, name));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new SnapshotterError(`failed to remove orphaned .snap.db file ${name}: ${goPathError('remove', join(snapDir, name), e)}`);
      }
      continue;
    }
    kept.push(name);
  }
  const snaps: string[] = [];
  for (const name of kept) {
    if (name.endsWith('.snap')) snaps.push(name);
    else if (!VALID_FILES.has(name)) log(zapExampleLine('warn', 'found unexpected non-snap file; skipping', [['path', name]]));
  }
  snaps.sort().reverse();
  for (const name of snaps) {
    const path = join(snapDir, name);
    const r = readSnap(path, log);
    if (typeof r !== 'string') return r;
    const broken = path + '.broken';
    log(zapExampleLine('warn', 'failed to read a snap file', [['path', path], ['error', r]]));
    try {
      renameSync(path, broken);
      log(zapExampleLine('warn', 'renamed to a broken snap file', [['path', path], ['broken-path', broken]]));
    } catch (e) {
      log(zapExampleLine('warn', 'failed to rename a broken snap file', [['path', path], ['broken-path', broken], ['error', goPathError('rename', path, e)]]));
    }
  }
  return undefined;
}

/** snap.Read: the snapshot, or the error text after logging etcd's warning. */
function readSnap(path: string, log: LogSink): EtcdRaftSnapshot | string {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (e) {
    const err = goPathError('open', path, e);
    log(zapExampleLine('warn', 'failed to read a snap file', [['path', path], ['error', err]]));
    return err;
  }
  if (b.length === 0) {
    log(zapExampleLine('warn', 'failed to read empty snapshot file', [['path', path]]));
    return 'snap: empty snapshot';
  }
  let fields: ProtoField[];
  try {
    fields = readFields(b, 'snappb.Snapshot');
  } catch (e) {
    log(zapExampleLine('warn', 'failed to unmarshal snappb.Snapshot', [['path', path], ['error', (e as Error).message]]));
    return (e as Error).message;
  }
  const data = bytesField(fields, 2);
  const crc = Number(uintField(fields, 1));
  if (data === undefined || data.length === 0 || crc === 0) {
    log(zapExampleLine('warn', 'failed to read empty snapshot data', [['path', path]]));
    return 'snap: empty snapshot';
  }
  const sum = crc32c(data);
  if (sum !== crc) {
    log(zapExampleLine('warn', 'snap file is corrupt', [['path', path], ['prev-crc', crc], ['new-crc', sum]]));
    return 'snap: crc mismatch';
  }
  try {
    return decodeRaftSnapshot(data);
  } catch (e) {
    log(zapExampleLine('warn', 'failed to unmarshal raftpb.Snapshot', [['path', path], ['error', (e as Error).message]]));
    return (e as Error).message;
  }
}
