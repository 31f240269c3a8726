/**
 * Loading a bbolt database file (etcd's backend format: what `etcdctl snapshot save`
 * writes and what a leader streams to a follower with a raft snapshot) into one of our
 * backends, replacing everything in it (etcd applySnapshot: the received
 * `<index>.snap.db` becomes the new backend).
 */
import { BUCKET_LEAF, BoltReader } from '../../util/bbolt-reader.js';
import type { Backend } from './backend.js';

/** What {@link replaceWithBoltFile} loaded. */
export interface BoltImportStats {
  readonly buckets: number;
  /** key/value pairs written, all buckets together */
  readonly keys: number;
}

/**
 * Replaces the whole content of `backend` with the buckets of the bbolt file at
 * `path`: every existing bucket is deleted, each top-level bucket of the file is
 * created and filled, and the backend is committed, all in one batch transaction
 * (a crash before the commit leaves the old content). Nested buckets below the top
 * level (etcd has none) are skipped. Throws BoltError/BoltCorruptError for a file
 * that is not a valid bbolt database (the backend is then unchanged), BackendError
 * when the batch transaction is in use.
 */
export function replaceWithBoltFile(backend: Backend, path: string): BoltImportStats {
  const db = BoltReader.open(path);
  try {
    // read everything first so a corrupt file leaves the backend untouched
    const buckets: { name: string; entries: { key: Uint8Array; value: Uint8Array }[] }[] = [];
    for (const top of db.rootEntries()) {
      if (!(top.flags & BUCKET_LEAF)) continue;
      const entries: { key: Uint8Array; value: Uint8Array }[] = [];
      for (const e of db.entries(db.bucketRoot(top))) {
        if (e.value === undefined) continue;
        entries.push({ key: new Uint8Array(e.key), value: new Uint8Array(e.value) });
      }
      buckets.push({ name: top.key.toString('utf8'), entries });
    }
    const tx = backend.batchTx();
    let keys = 0;
    tx.lock();
    try {
      for (const b of tx.buckets()) tx.deleteBucket(b);
      for (const b of buckets) {
        tx.createBucket(b.name);
        for (const e of b.entries) tx.put(b.name, e.key, e.value);
        keys += b.entries.length;
      }
    } finally {
      tx.unlock();
    }
    backend.forceCommit();
    return { buckets: buckets.length, keys };
  } finally {
    db.close();
  }
}
