/**
 * @module server/mvcc/hash
 * The checksums behind the Hash and HashKV RPCs, computed as etcd 3.4 does
 * (mvcc/kvstore.go HashByRev, mvcc/backend/backend.go Hash): CRC-32C
 * (Castagnoli, as Go's `crc32.MakeTable(crc32.Castagnoli)`) over bucket names,
 * backend keys and values in byte order. Members of a cluster compare these to
 * detect corruption, so the bytes hashed must be exactly etcd's.
 */

import type { IgnoreKey, ReadOps } from '../backend/backend.js';
import { Buckets } from '../backend/backend.js';
import { Crc32c } from '../../util/crc32c.js';
import { bytesToRev, revGreaterThan, type Revision, type RevisionSet } from './revision.js';

const utf8 = new TextEncoder();

/** The keys etcd leaves out of the Hash RPC: the consistent index, which may differ between members. */
export const DEFAULT_IGNORES: readonly IgnoreKey[] = [{ bucket: Buckets.meta, key: 'consistent_index' }];

/**
 * Hash of a whole backend (etcd `backend.Hash`): for each bucket in name order,
 * its name, then every key and value not listed in `ignores`.
 */
export function hashBackend(tx: ReadOps, ignores: readonly IgnoreKey[] = DEFAULT_IGNORES): number {
  const h = new Crc32c();
  const dec = new TextDecoder('latin1');
  for (const bucket of tx.buckets()) {
    h.update(utf8.encode(bucket));
    const skip = new Set(ignores.filter((i) => i.bucket === bucket).map((i) => i.key));
    tx.forEach(bucket, (k, v) => {
      if (skip.size > 0 && skip.has(dec.decode(k))) return;
      h.update(k);
      h.update(v);
    });
  }
  return h.sum();
}

/**
 * The HashKV checksum (etcd `HashByRev`): the bucket name `key`, then every entry
 * of the key bucket with revision <= `rev`, except entries at or below
 * `compactRev` that a compaction at `rev` would not keep (`keep`, from the index's
 * `keep(rev)`). Those entries may or may not still be in the backend while a
 * compaction runs; skipping them makes the hash the same either way. As in etcd,
 * nothing is skipped when `keep` is empty.
 */
export function hashKeyBucket(tx: ReadOps, compactRev: number, rev: number, keep: RevisionSet): number {
  const upper: Revision = { main: rev + 1, sub: 0 };
  const lower: Revision = { main: compactRev + 1, sub: 0 };
  const h = new Crc32c();
  h.update(utf8.encode(Buckets.key));
  tx.forEach(Buckets.key, (k, v) => {
    const kr = bytesToRev(k);
    if (!revGreaterThan(upper, kr)) return false; // keys are in revision order: nothing further qualifies
    if (keep.size > 0 && revGreaterThan(lower, kr) && !keep.has(kr)) return;
    h.update(k);
    h.update(v);
  });
  return h.sum();
}
