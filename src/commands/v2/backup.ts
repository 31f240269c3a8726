/**
 * @module commands/v2/backup
 * etcdctl v2's `backup` (etcdctl/ctlv2/command/backup_command.go): copies an etcd 3.4
 * member's data dir into a new one that `etcd --force-new-cluster` can start from:
 * - the newest raft snapshot file is copied;
 * - the WAL after it is rewritten under a new random node and cluster ID, without
 *   configuration-change entries, member attribute updates (`/0/members/<id>/attributes`)
 *   and, unless --with-v3, v3 requests; later entries are renumbered and the commit
 *   index lowered by the number removed;
 * - the backend: with --with-v3 a copy of the db, else an empty one holding only
 *   meta/consistent_index = the new commit index; the members, members_removed and
 *   cluster buckets are dropped either way.
 * Files are written with this project's etcd-format writers (WAL records with chained
 * CRCs, snap files, bbolt pages).
 */

import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { V2Command } from '../../cli/v2/app.js';
import { V2Exit } from '../../cli/v2/app.js';
import { BoltReader } from '../../util/bbolt-reader.js';
import { boltFileSource, writeBoltFile, type BoltSource } from '../../util/bbolt-writer.js';
import { readFields, bytesField, ProtoDecodeError } from '../../util/etcd-format/proto.js';
import {
  decodeWalMetadata, encodeEntry, encodeHardState, encodeWalMetadata, encodeWalSnapshot, ENTRY_CONF_CHANGE, type EtcdEntry,
} from '../../util/etcd-format/raft.js';
import { writeSnapFile } from '../../util/etcd-format/snap.js';
import { loadSnapshot, SnapshotterError } from '../migrate/snapshotter.js';
import { ENTRY_TYPE, readEtcdWal, SNAPSHOT_TYPE, STATE_TYPE, writeNewEtcdWal } from '../../util/etcd-format/wal.js';
import { err, out } from './common.js';

/**
 * A line of Go's standard logger as etcdctl routes it through capnslog, which hijacks
 * the standard logger at level INFO, log.Fatal included:
 * `2006-01-02 15:04:05.000000 I | <msg>`.
 */
function logLine(msg: string): void {
  const d = new Date();
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const micros = p(d.getMilliseconds() * 1000 + Math.floor((performance.now() % 1) * 1000), 6);
  err(`${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${micros} I | ${msg}\n`);
}

/** log.Fatal: the line, exit 1. */
function fatal(msg: string): never {
  logLine(msg);
  throw new V2Exit(1);
}

const utf8 = new TextDecoder();
const MEMBER_ATTR = /\/0\/members\/[0-9A-Fa-f]{1,16}\/attributes/;

/**
 * What backup needs of an entry's request (pbutil.MaybeUnmarshal into
 * InternalRaftRequest, else a bare v2 Request): the v2 method and path, and whether a
 * v3 request header is present.
 */
function requestOf(data: Uint8Array): { v2?: { method: string; path: string }; header: boolean } {
  const v2Of = (b: Uint8Array) => {
    const f = readFields(b, 'etcdserverpb.Request');
    const s = (n: number) => utf8.decode(bytesField(f, n) ?? new Uint8Array());
    return { method: s(2), path: s(3) };
  };
  try {
    const f = readFields(data, 'etcdserverpb.InternalRaftRequest');
    const v2 = bytesField(f, 2);
    return { v2: v2 ? v2Of(v2) : undefined, header: bytesField(f, 100) !== undefined };
  } catch (e) {
    if (!(e instanceof ProtoDecodeError)) throw e;
    return { v2: v2Of(data), header: false };
  }
}

/** idutil.NewGenerator(0, now): IDs from the time in ms, a counter in the low 8 bits. */
function idGenerator(): () => bigint {
  let suffix = (BigInt(Date.now()) & ((1n << 40n) - 1n)) << 8n;
  return () => {
    suffix = (suffix + 1n) & ((1n << 48n) - 1n);
    return suffix;
  };
}

/** `backup --data-dir DIR --backup-dir DIR [--wal-dir] [--backup-wal-dir] [--with-v3]`. */
export const backupCommand: V2Command = {
  name: 'backup',
  usage: 'backup an etcd directory',
  argsUsage: ' ',
  flags: [
    { name: 'data-dir', kind: 'string', usage: 'Path to the etcd data dir' },
    { name: 'wal-dir', kind: 'string', usage: 'Path to the etcd wal dir' },
    { name: 'backup-dir', kind: 'string', usage: 'Path to the backup dir' },
    { name: 'backup-wal-dir', kind: 'string', usage: 'Path to the backup wal dir' },
    { name: 'with-v3', kind: 'bool', usage: 'Backup v3 backend data' },
  ],
  action(c) {
    const withV3 = c.flags.bool('with-v3');
    const srcSnap = join(c.flags.string('data-dir'), 'member', 'snap');
    const destSnap = join(c.flags.string('backup-dir'), 'member', 'snap');
    const srcWAL = c.flags.string('wal-dir') || join(c.flags.string('data-dir'), 'member', 'wal');
    const destWAL = c.flags.string('backup-wal-dir') || join(c.flags.string('backup-dir'), 'member', 'wal');
    try {
      mkdirSync(destSnap, { recursive: true, mode: 0o700 });
    } catch (e) {
      fatal(`failed creating backup snapshot dir ${destSnap}: ${(e as Error).message}`);
    }

    // the newest raft snapshot and where the WAL is read from
    // (snap.New(zap.NewExample(), srcSnap).Load(): etcd's JSON warnings on stdout for a
    // snap file that does not read, which is renamed to *.broken; log.Fatal on an error
    // other than ErrNoSnapshot)
    let walsnap = { index: 0n, term: 0n };
    let snap;
    try {
      snap = loadSnapshot(srcSnap, out);
    } catch (e) {
      if (!(e instanceof SnapshotterError)) throw e;
      fatal(e.message);
    }
    if (snap) {
      walsnap = { index: snap.index, term: snap.term };
      writeSnapFile(destSnap, snap);
    }

    let wal;
    try {
      wal = readEtcdWal(srcWAL, walsnap, { allowMissingSnapshot: true });
    } catch (e) {
      fatal((e as Error).message);
    }
    if (!wal.snapshotFound) {
      logLine(`Failed to find the match snapshot record {Index:${walsnap.index} Term:${walsnap.term} XXX_unrecognized:[]} in wal ${srcWAL}.`);
      logLine('etcdctl will add it back. Start auto fixing...');
    }
    const ents: EtcdEntry[] = [];
    let removed = 0n;
    for (const ent of wal.entries) {
      const e = { ...ent, index: ent.index - removed };
      if (e.type === ENTRY_CONF_CHANGE) {
        logLine('ignoring EntryConfChange raft entry');
        removed++;
        continue;
      }
      const req = requestOf(e.data ?? new Uint8Array());
      if (req.v2 && req.v2.method === 'PUT' && MEMBER_ATTR.test(req.v2.path)) {
        logLine(`ignoring member attribute update on ${req.v2.path}`);
        removed++;
        continue;
      }
      if (req.v2 || withV3 || !req.header) {
        ents.push(e);
        continue;
      }
      logLine('ignoring v3 raft entry');
      removed++;
    }
    const state = { ...wal.hardState, commit: wal.hardState.commit - removed };

    // the backend
    const srcDB = join(srcSnap, 'db');
    const dropped = new Set(['members', 'members_removed', 'cluster']);
    let source: BoltSource;
    let reader: BoltReader | undefined;
    if (withV3) {
      try {
        reader = BoltReader.open(srcDB);
      } catch (e) {
        fatal((e as Error).message);
      }
      const all = boltFileSource(reader);
      source = { buckets: () => all.buckets().filter((b) => !dropped.has(b)), forEach: (b, v) => all.forEach(b, v) };
    } else {
      const idx = Buffer.alloc(8);
      idx.writeBigUInt64BE(state.commit);
      source = {
        buckets: () => ['meta'],
        forEach: (b, visit) => {
          if (b === 'meta') visit(Buffer.from('consistent_index'), idx);
        },
      };
    }
    try {
      writeBoltFile(join(destSnap, 'db'), source);
      chmodSync(join(destSnap, 'db'), 0o644); // bolt.Open(destDB, 0644)
    } finally {
      reader?.close();
    }

    // the new WAL under new IDs
    const next = idGenerator();
    const meta = decodeWalMetadata(wal.metadata);
    const metadata = encodeWalMetadata({ ...meta, nodeId: next(), clusterId: next() });
    if (existsSync(destWAL)) fatal('file already exists');
    writeNewEtcdWal(destWAL, metadata, [
      ...ents.map((e) => ({ type: ENTRY_TYPE, data: encodeEntry(e) })),
      { type: STATE_TYPE, data: encodeHardState(state) },
      { type: SNAPSHOT_TYPE, data: encodeWalSnapshot(walsnap) },
    ]);
  },
};
