/**
 * @module util/etcd-format/snap
 * etcd 3.4's raft snapshot files (etcdserver/api/snap/snapshotter.go): in the member's
 * `snap` directory, `<term:016x>-<index:016x>.snap` holds a snappb.Snapshot {crc, data}
 * where data is a marshaled raftpb.Snapshot (whose own data, in etcd 3.4, is the v2
 * store as JSON) and crc the CRC-32C of data. Files that fail to load are skipped by
 * etcd (and renamed `.broken`); the member's backend sits next to them as `db`.
 */
import { closeSync, fsyncSync, openSync, readdirSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '../crc32c.js';
import { bytesField, ProtoWriter, readFields, uintField } from './proto.js';
import { decodeRaftSnapshot, encodeRaftSnapshot, type EtcdRaftSnapshot } from './raft.js';

/** A snap file etcd would not load, with etcd's error texts where it has one. */
export class EtcdSnapError extends Error {
  override name = 'EtcdSnapError';
}

/** `<term:016x>-<index:016x>.snap` */
export function snapName(term: bigint, index: bigint): string {
  return `${term.toString(16).padStart(16, '0')}-${index.toString(16).padStart(16, '0')}.snap`;
}

/** The bytes of a snap file for `s`. */
export function encodeSnapFile(s: EtcdRaftSnapshot): Uint8Array {
  const data = encodeRaftSnapshot(s);
  return new ProtoWriter().uint(1, crc32c(data)).bytes(2, data).finish();
}

/**
 * Decodes a snap file's bytes.
 * @throws EtcdSnapError `snap: empty snapshot` / `snap: crc mismatch` (etcd's texts)
 */
export function decodeSnapFile(b: Uint8Array): EtcdRaftSnapshot {
  if (b.length === 0) throw new EtcdSnapError('snap: empty snapshot');
  const f = readFields(b, 'snappb.Snapshot');
  const data = bytesField(f, 2);
  if (data === undefined) throw new EtcdSnapError('snap: empty snapshot');
  if (crc32c(data) !== Number(uintField(f, 1))) throw new EtcdSnapError('snap: crc mismatch');
  return decodeRaftSnapshot(data);
}

/**
 * Writes `s` into `snapDir` as etcd's Snapshotter.SaveSnap does (mode 0644 under the
 * usual umask: etcd writes with 0666), fsynced. Returns the file name.
 */
export function writeSnapFile(snapDir: string, s: EtcdRaftSnapshot): string {
  const name = snapName(s.term, s.index);
  const fd = openSync(join(snapDir, name), 'w', 0o666);
  try {
    writeSync(fd, encodeSnapFile(s));
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return name;
}

/**
 * The newest snap file of `snapDir` that loads (etcd Snapshotter.Load: names sorted
 * newest first, unreadable ones skipped), or undefined when there is none.
 * `skipped` receives each file that failed and why.
 */
export function loadNewestSnap(snapDir: string, skipped: (file: string, why: string) => void = () => {}): { file: string; snapshot: EtcdRaftSnapshot } | undefined {
  let names: string[];
  try {
    names = readdirSync(snapDir).filter((n) => /^[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(n));
  } catch {
    return undefined;
  }
  names.sort().reverse();
  for (const n of names) {
    try {
      return { file: n, snapshot: decodeSnapFile(readFileSync(join(snapDir, n))) };
    } catch (e) {
      skipped(n, (e as Error).message);
    }
  }
  return undefined;
}
