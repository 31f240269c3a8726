/**
 * @module commands/migrate/backend
 * The second half of etcdctl 3.4's `migrate`: the keys the transformer produced
 * written into the member's backend, `<data-dir>/member/snap/db` (etcd's bbolt file),
 * as mvcc.WriteKV and mvcc.UpdateConsistentIndex do:
 *
 * - each mvccpb.KeyValue is stored in the `key` bucket under the revision
 *   {main: mod_revision, sub: 0} (8 bytes big-endian main, `_`, 8 bytes sub), its value
 *   the KeyValue marshaled again; a revision already present (a v3 key written at the
 *   same number) is overwritten, as in etcd;
 * - `meta/consistent_index` is raised to the rebuilt store's raft index (never lowered).
 *
 * etcd opens the file with bbolt and commits in place. Here the whole file is read
 * (util/bbolt-reader.ts), the keys added in memory, and a compact new file written
 * (util/bbolt-writer.ts) as `db.tmp.migrate`, fsynced, and renamed over `db`; etcd
 * deletes a left-over `db.tmp*` file as an orphaned defragmentation file when it
 * starts. The whole backend is held in memory while this runs.
 */
import { chmodSync, existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BoltReader } from '../../util/bbolt-reader.js';
import { writeBoltFile, type BoltSource } from '../../util/bbolt-writer.js';
import { bytesField, ProtoWriter, readFields, uintField } from '../../util/etcd-format/proto.js';
import { syncDirSync } from '../../util/fs-sync.js';

/** mvccpb.KeyValue with int64 fields as bigint. */
export interface MvccKeyValue {
  key: Uint8Array;
  createRevision: bigint;
  modRevision: bigint;
  version: bigint;
  value: Uint8Array;
  lease: bigint;
}

/** mvccpb.KeyValue.Marshal: fields 1–6 in order, zero values left out (proto3). */
export function encodeKeyValue(kv: MvccKeyValue): Uint8Array {
  const w = new ProtoWriter();
  if (kv.key.length > 0) w.bytes(1, kv.key);
  if (kv.createRevision !== 0n) w.uint(2, kv.createRevision);
  if (kv.modRevision !== 0n) w.uint(3, kv.modRevision);
  if (kv.version !== 0n) w.uint(4, kv.version);
  if (kv.value.length > 0) w.bytes(5, kv.value);
  if (kv.lease !== 0n) w.uint(6, kv.lease);
  return w.finish();
}

/**
 * proto.Unmarshal of an mvccpb.KeyValue.
 * @throws ProtoDecodeError on malformed bytes
 */
export function decodeKeyValue(b: Uint8Array): MvccKeyValue {
  const f = readFields(b, 'mvccpb.KeyValue');
  const i64 = (n: number) => BigInt.asIntN(64, uintField(f, n));
  return {
    key: bytesField(f, 1) ?? new Uint8Array(0),
    createRevision: i64(2),
    modRevision: i64(3),
    version: i64(4),
    value: bytesField(f, 5) ?? new Uint8Array(0),
    lease: i64(6),
  };
}

/** mvcc's revToBytes for {main, sub 0}: 17 bytes. */
function revisionKey(main: bigint): Buffer {
  const b = Buffer.alloc(17);
  b.writeBigUInt64BE(BigInt.asUintN(64, main), 0);
  b[8] = 0x5f; // '_'
  b.writeBigUInt64BE(0n, 9);
  return b;
}

/** The buckets of a backend held in memory: name → (key as latin1 string → value). */
type Buckets = Map<string, Map<string, Uint8Array>>;

/**
 * A member's backend opened for migrate: read whole, changed in memory, written back
 * by {@link MigrateBackend.commit}.
 */
export class MigrateBackend {
  private constructor(
    readonly path: string,
    private readonly buckets: Buckets,
  ) {}

  /**
   * Reads `path` (every top-level bucket; etcd uses no nested ones); a missing file is
   * an empty backend, as bbolt creates it. The `key` and `meta` buckets are created
   * when missing (migrate's prepareBackend).
   * @throws BoltError when the file is not a bbolt database (bbolt's messages)
   */
  static open(path: string): MigrateBackend {
    const buckets: Buckets = new Map();
    if (existsSync(path)) {
      const r = BoltReader.open(path);
      try {
        for (const [name, top] of r.topBuckets()) {
          const m = new Map<string, Uint8Array>();
          for (const e of r.entries(r.bucketRoot(top))) if (e.value !== undefined) m.set(Buffer.from(e.key).toString('latin1'), Uint8Array.prototype.slice.call(e.value));
          buckets.set(name, m);
        }
      } finally {
        r.close();
      }
    }
    for (const b of ['key', 'meta']) if (!buckets.has(b)) buckets.set(b, new Map());
    return new MigrateBackend(path, buckets);
  }

  /** mvcc.WriteKV: `kv` stored at revision {kv.modRevision, 0}. */
  writeKV(kv: MvccKeyValue): void {
    this.buckets.get('key')!.set(revisionKey(kv.modRevision).toString('latin1'), encodeKeyValue(kv));
  }

  /** mvcc.UpdateConsistentIndex: meta/consistent_index raised to `index`. */
  updateConsistentIndex(index: bigint): void {
    const meta = this.buckets.get('meta')!;
    const k = Buffer.from('consistent_index').toString('latin1');
    const old = meta.get(k);
    const oldIndex = old && old.length >= 8 ? Buffer.from(old).readBigUInt64BE(0) : 0n;
    if (index <= oldIndex) return;
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(index);
    meta.set(k, b);
  }

  /**
   * Writes the backend to `<dir>/db.tmp.migrate` (mode 0600, fsynced) and renames it
   * over the file, then syncs the directory.
   * @throws Error on I/O errors (the original file is then unchanged)
   */
  commit(): void {
    const tmp = join(dirname(this.path), 'db.tmp.migrate');
    const src: BoltSource = {
      buckets: () => [...this.buckets.keys()],
      forEach: (bucket, visit) => {
        const m = this.buckets.get(bucket);
        if (!m) return;
        for (const k of [...m.keys()].sort()) if (visit(Buffer.from(k, 'latin1'), m.get(k)!) === false) return;
      },
    };
    try {
      writeBoltFile(tmp, src);
      chmodSync(tmp, 0o600);
      renameSync(tmp, this.path);
    } finally {
      rmSync(tmp, { force: true });
    }
    syncDirSync(dirname(this.path));
  }
}
