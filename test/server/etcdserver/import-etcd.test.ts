// Our server started on a real etcd 3.4 data directory (server/etcdserver/import-etcd.ts)
// and etcd's on-disk formats as util/etcd-format reads them:
//
// - a real etcd member's own data dir (snapshot count 10, so it has .snap files and a
//   WAL after them; puts, a deletion, a lease with a key, a learner added), stopped
//   cleanly: ours serves the same keys at the same revision, the same members (names,
//   URLs, learner flag) and the lease with its key; the original files are kept byte
//   for byte under member.etcd-3.4; a restart of ours (now on its own format) serves the
//   same again;
// - WAL entries after the backend's consistent index (what etcd re-applies on restart)
//   are applied by ours: a v3 put, and etcd 3.4's v2 publish request;
// - a backend older than its raft snapshot is refused, with what to do,
//   and nothing is changed; an interrupted swap is completed on the next start;
// - etcd WAL and snap files: a flipped bit is `wal: crc mismatch` / `snap: crc
//   mismatch`, a cut-off last record is a torn tail (not an error).

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ETCD_BIN, OUR_ETCD_BIN } from '../../harness/etcd.js';
import { getFreePorts } from '../../harness/ports.js';
import { killAllProcs, startProc, stopProc, type Proc } from '../../harness/proc.js';
import { bytesToText, REAL, runCli } from '../../harness/run.js';
import { BoltReader, BUCKET_LEAF } from '../../../src/util/bbolt-reader.js';
import { writeBoltFile } from '../../../src/util/bbolt-writer.js';
import { restoreEtcdMember } from '../../../src/util/etcd-format/restore.js';
import { decodeSnapFile } from '../../../src/util/etcd-format/snap.js';
import { decodeSegment, ENTRY_TYPE, EtcdWalEncoder, EtcdWalError, readEtcdWal, STATE_TYPE } from '../../../src/util/etcd-format/wal.js';
import { decodeWalMetadata, encodeEntry, encodeHardState } from '../../../src/util/etcd-format/raft.js';
import { ProtoWriter } from '../../../src/util/etcd-format/proto.js';
import { create, toBinary } from '@bufbuild/protobuf';
import { InternalRaftRequestSchema } from '../../../src/gen/etcdserverpb/raft_internal_pb.js';
import { EtcdImportError, importEtcdDataDir, isEtcdWal, resumeEtcdImport } from '../../../src/server/etcdserver/import-etcd.js';
import { memberDirs } from '../../../src/server/etcdserver/bootstrap.js';

let dir: string;
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'import-etcd-'));
});
after(() => {
  killAllProcs();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** sha256 of every file under `root`, by relative path. */
function fileHashes(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const n of fs.readdirSync(d).sort()) {
      const p = path.join(d, n);
      if (fs.statSync(p).isDirectory()) walk(p);
      else out[path.relative(root, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(root);
  return out;
}

/** Starts `binary` as member n1 on `dataDir`; resolves once `endpoint health` answers. */
async function startMember(binary: string, dataDir: string, ports: { client: number; peer: number }, extra: string[] = []): Promise<{ p: Proc; ep: string }> {
  const peer = `http://127.0.0.1:${ports.peer}`;
  const client = `http://127.0.0.1:${ports.client}`;
  const p = startProc(binary, [
    '--name=n1',
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=n1=${peer}`,
    ...extra,
  ]);
  const ep = `127.0.0.1:${ports.client}`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await runCli(REAL, [`--endpoints=${ep}`, 'endpoint', 'health'], { timeoutMs: 5000 });
    if (r.code === 0) return { p, ep };
    if (p.exited || Date.now() > deadline) {
      await stopProc(p, 'SIGKILL');
      assert.fail(`${binary} did not become healthy on ${dataDir}: ${Buffer.concat(p.err).toString().slice(-4000)}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
}

async function ctl(ep: string, ...args: string[]): Promise<string> {
  const r = await runCli(REAL, [`--endpoints=${ep}`, ...args]);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
  return bytesToText(r.stdout);
}

/** What a member serves: keys and revision, members, the lease's keys. */
async function served(ep: string, lease: string): Promise<unknown> {
  const g = JSON.parse(await ctl(ep, 'get', '', '--prefix', '-w', 'json')) as { header: { revision: string }; kvs: unknown };
  const m = JSON.parse(await ctl(ep, 'member', 'list', '-w', 'json')) as { members: Array<Record<string, unknown>> };
  const members = m.members.map((x) => ({ ID: x.ID, name: x.name ?? '', peerURLs: x.peerURLs, clientURLs: x.clientURLs ?? [], isLearner: x.isLearner ?? false }));
  const ttl = (await ctl(ep, 'lease', 'timetolive', lease, '--keys')).replace(/remaining\(\d+s\)/, 'remaining(N)');
  return { revision: g.header.revision, kvs: g.kvs, members, ttl };
}

describe('our server on a real etcd 3.4 data dir', () => {
  test('a real etcd member\'s own data dir: same keys, revision, members and lease; originals kept; restart on our format', async () => {
    const [client, peer, learnerPeer] = await getFreePorts(3);
    const data = path.join(dir, 'real-member');
    const real = await startMember(ETCD_BIN, data, { client: client!, peer: peer! }, ['--snapshot-count=10']);
    let lease: string;
    try {
      for (let i = 0; i < 25; i++) await ctl(real.ep, 'put', `k${i}`, `v${i}`);
      await ctl(real.ep, 'del', 'k3');
      lease = /lease ([0-9a-f]+) granted/.exec(await ctl(real.ep, 'lease', 'grant', '600'))![1]!;
      await ctl(real.ep, 'put', '--lease', lease, 'leased', 'x');
      await ctl(real.ep, 'member', 'add', 'n2', '--learner', `--peer-urls=http://127.0.0.1:${learnerPeer}`);
    } finally {
      await stopProc(real.p, 'SIGTERM');
    }
    assert.ok(fs.readdirSync(path.join(data, 'member', 'snap')).some((n) => n.endsWith('.snap')), 'etcd saved raft snapshots');
    assert.ok(isEtcdWal(path.join(data, 'member', 'wal')));
    // what real etcd serves on it (started again, then stopped cleanly)
    const again = await startMember(ETCD_BIN, data, { client: client!, peer: peer! });
    let want: unknown;
    try {
      want = await served(again.ep, lease!);
    } finally {
      await stopProc(again.p, 'SIGTERM');
    }
    const originals = fileHashes(path.join(data, 'member'));

    const ours = await startMember(OUR_ETCD_BIN, data, { client: client!, peer: peer! });
    try {
      assert.deepEqual(await served(ours.ep, lease!), want);
    } finally {
      await stopProc(ours.p, 'SIGTERM');
    }
    const log = Buffer.concat(ours.p.err).toString();
    assert.match(log, /imported an etcd 3\.4 data directory; its original files are kept unchanged/);
    assert.deepEqual(fileHashes(path.join(data, 'member.etcd-3.4')), originals, 'the original files are kept byte for byte');
    assert.equal(isEtcdWal(path.join(data, 'member', 'wal')), false);

    const restarted = await startMember(OUR_ETCD_BIN, data, { client: client!, peer: peer! });
    try {
      assert.deepEqual(await served(restarted.ep, lease!), want);
    } finally {
      await stopProc(restarted.p, 'SIGTERM');
    }
    assert.doesNotMatch(Buffer.concat(restarted.p.err).toString(), /importing/);
  });

  /** A restored one-member etcd data dir (what `etcdctl snapshot restore` writes). */
  function restoredDir(name: string, peerUrl = 'http://127.0.0.1:1'): { dataDir: string } {
    const dataDir = path.join(dir, name);
    // a snapshot: any etcd backend will do; take the bbolt file our writer makes of a tiny backend
    const snapshot = path.join(dir, `${name}.snapshot.db`);
    const rows: Record<string, Array<[string, string]>> = { meta: [], key: [], lease: [], members: [], members_removed: [], cluster: [] };
    writeBoltFile(snapshot, {
      buckets: () => Object.keys(rows),
      forEach: (b, visit) => {
        for (const [k, v] of rows[b] ?? []) visit(Buffer.from(k), Buffer.from(v));
      },
    });
    restoreEtcdMember({ snapshotPath: snapshot, name: 'n1', initialCluster: new Map([['n1', [peerUrl]]]), clusterToken: 't', dataDir, walDir: '' });
    return { dataDir };
  }

  const quietLog = { info() {}, warn() {} };

  test('a backend older than its raft snapshot is refused and nothing changes; an interrupted swap completes', async () => {
    const { dataDir } = restoredDir('behind');
    const dirs = memberDirs(dataDir, '');
    // consistent_index 0 < the raft snapshot's index 1 (etcd 3.4 refuses such a backend too)
    const db = BoltReader.open(dirs.backendPath);
    const copy = path.join(dir, 'behind.db');
    try {
      const tops = [...db.rootEntries()].filter((t) => t.flags & BUCKET_LEAF);
      writeBoltFile(copy, {
        buckets: () => tops.map((t) => t.key.toString()),
        forEach: (b, visit) => {
          const top = tops.find((t) => t.key.toString() === b)!;
          for (const e of db.entries(db.bucketRoot(top))) {
            if (e.value === undefined) continue;
            visit(e.key, e.key.toString() === 'consistent_index' ? Buffer.alloc(8) : e.value);
          }
        },
      });
    } finally {
      db.close();
    }
    fs.renameSync(copy, dirs.backendPath);
    const before = fileHashes(dataDir);
    await assert.rejects(importEtcdDataDir(dirs, quietLog), (e: unknown) => {
      assert.ok(e instanceof EtcdImportError);
      assert.match(e.message, /its backend \(consistent index 0\) is older than its raft snapshot \(index 1\)/);
      return true;
    });
    assert.deepEqual(fileHashes(dataDir), before);
    assert.deepEqual(fs.readdirSync(dataDir), ['member']);

    const { dataDir: d2 } = restoredDir('swap');
    const dirs2 = memberDirs(d2, '');
    await importEtcdDataDir(dirs2, quietLog);
    assert.deepEqual(fs.readdirSync(d2).sort(), ['member', 'member.etcd-3.4']);
    // as if the process died between the two renames
    fs.renameSync(dirs2.memberDir, dirs2.memberDir + '.import');
    assert.equal(resumeEtcdImport(dirs2, quietLog), true);
    assert.deepEqual(fs.readdirSync(d2).sort(), ['member', 'member.etcd-3.4']);
    assert.equal(resumeEtcdImport(dirs2, quietLog), false);
  });

  test('WAL entries after the backend\'s consistent index are applied by our server: a v3 put, a v2 publish', async () => {
    const [client, peer] = await getFreePorts(2);
    const { dataDir } = restoredDir('replay', `http://127.0.0.1:${peer}`);
    const walDir = path.join(dataDir, 'member', 'wal');
    const [seg] = fs.readdirSync(walDir);
    const segPath = path.join(walDir, seg!);
    const buf = fs.readFileSync(segPath);
    const { crc, end } = decodeSegment(buf, 0, seg!);
    const meta = decodeWalMetadata(readEtcdWal(walDir, { index: 1n, term: 1n }).metadata);
    // what etcd appends after a restore: a v3 put (not yet in the backend) and its publish
    const put = toBinary(InternalRaftRequestSchema, create(InternalRaftRequestSchema, { header: { ID: 7n }, put: { key: Buffer.from('replayed'), value: Buffer.from('yes') } }));
    const publish = new ProtoWriter()
      .uint(1, 8n)
      .bytes(2, 'PUT')
      .bytes(3, `/0/members/${meta.nodeId.toString(16)}/attributes`)
      .bytes(4, `{"name":"n1","clientURLs":["http://127.0.0.1:${client}"]}`)
      .finish();
    const more = new EtcdWalEncoder(crc)
      .record(ENTRY_TYPE, encodeEntry({ type: 0, term: 1n, index: 2n, data: put }))
      .record(ENTRY_TYPE, encodeEntry({ type: 0, term: 1n, index: 3n, data: publish }))
      .record(STATE_TYPE, encodeHardState({ term: 1n, vote: meta.nodeId, commit: 3n }))
      .bytes();
    const fd = fs.openSync(segPath, 'r+');
    fs.writeSync(fd, more, 0, more.length, end);
    fs.closeSync(fd);

    const ours = await startMember(OUR_ETCD_BIN, dataDir, { client: client!, peer: peer! });
    try {
      assert.equal(await ctl(ours.ep, 'get', 'replayed', '--print-value-only'), 'yes\n');
      assert.equal(await ctl(ours.ep, 'member', 'list'), `${meta.nodeId.toString(16)}, started, n1, http://127.0.0.1:${peer}, http://127.0.0.1:${client}, false\n`);
    } finally {
      await stopProc(ours.p, 'SIGTERM');
    }
    assert.match(Buffer.concat(ours.p.err).toString(), /consistent-index=1, entries-to-apply=2/);
  });

  test('a member added to an imported member catches up through a snapshot that names it (etcd\'s merged snapshot metadata)', async () => {
    const [client, peer, client2, peer2] = await getFreePorts(4);
    const { dataDir } = restoredDir('grow', `http://127.0.0.1:${peer}`);
    // the imported log starts after the raft snapshot: a new member needs a snapshot,
    // which must carry the configuration as of the applied index (with the new member)
    const first = await startMember(OUR_ETCD_BIN, dataDir, { client: client!, peer: peer! });
    let second: { p: Proc; ep: string } | undefined;
    try {
      await ctl(first.ep, 'put', 'k', 'v');
      await ctl(first.ep, 'member', 'add', 'n2', `--peer-urls=http://127.0.0.1:${peer2}`);
      const c2 = `http://127.0.0.1:${client2}`;
      const p = startProc(OUR_ETCD_BIN, [
        '--name=n2',
        `--data-dir=${path.join(dir, 'grow-n2')}`,
        `--listen-client-urls=${c2}`,
        `--advertise-client-urls=${c2}`,
        `--listen-peer-urls=http://127.0.0.1:${peer2}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer2}`,
        `--initial-cluster=n1=http://127.0.0.1:${peer},n2=http://127.0.0.1:${peer2}`,
        '--initial-cluster-state=existing',
      ]);
      second = { p, ep: `127.0.0.1:${client2}` };
      const deadline = Date.now() + 20_000;
      for (;;) {
        const r = await runCli(REAL, [`--endpoints=${second.ep}`, 'get', 'k', '--print-value-only'], { timeoutMs: 5000 });
        if (r.code === 0 && r.stdout.toString() === 'v\n') break;
        if (p.exited || Date.now() > deadline) assert.fail(`the new member did not catch up: ${Buffer.concat(p.err).toString().slice(-3000)}`);
        await new Promise((res) => setTimeout(res, 200));
      }
      const log = Buffer.concat(p.err).toString();
      assert.match(log, /applied snapshot/);
      assert.match(log, /enabled capabilities for version 3\.4/);
    } finally {
      if (second) await stopProc(second.p, 'SIGTERM');
      await stopProc(first.p, 'SIGTERM');
    }
  });

  test('etcd WAL and snap files: crc mismatches, a torn tail', () => {
    const { dataDir } = restoredDir('formats');
    const walDir = path.join(dataDir, 'member', 'wal');
    const snapDir = path.join(dataDir, 'member', 'snap');
    const [seg] = fs.readdirSync(walDir);
    const segPath = path.join(walDir, seg!);
    const good = fs.readFileSync(segPath);
    const read = readEtcdWal(walDir, { index: 1n, term: 1n });
    assert.equal(read.hardState.commit, 1n);
    assert.equal(read.tornTail, false);
    // the conf-change entry's data: flip one bit inside it
    const at = good.indexOf(Buffer.from('"peerURLs"'));
    const flipped = Buffer.from(good);
    flipped[at] = flipped[at]! ^ 1;
    fs.writeFileSync(segPath, flipped);
    assert.throws(() => readEtcdWal(walDir, { index: 1n, term: 1n }), (e: unknown) => e instanceof EtcdWalError && e.message === 'wal: crc mismatch');
    // cut in the middle of the last record (the final snapshot marker): a torn tail
    const end = good.indexOf(Buffer.alloc(16)); // the zeros after the records
    fs.writeFileSync(segPath, good.subarray(0, end - 3));
    const torn = readEtcdWal(walDir, { index: 0n, term: 0n });
    assert.equal(torn.tornTail, true);
    assert.throws(() => readEtcdWal(walDir, { index: 1n, term: 1n }), /wal: snapshot not found/);
    const snapFile = fs.readdirSync(snapDir).find((n) => n.endsWith('.snap'))!;
    const snapBytes = fs.readFileSync(path.join(snapDir, snapFile));
    assert.equal(decodeSnapFile(snapBytes).index, 1n);
    const bad = Buffer.from(snapBytes);
    bad[bad.length - 5] = bad[bad.length - 5]! ^ 0x10;
    assert.throws(() => decodeSnapFile(bad), /snap: crc mismatch/);
  });
});
