// EtcdServer end to end without the gRPC layer: bootstrap, proposals, linearizable
// reads, restart from the WAL and the backend, raft snapshots and WAL purge, leases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { PutRequestSchema, RangeRequestSchema, TxnRequestSchema, Compare_CompareResult, Compare_CompareTarget } from '../../../src/gen/etcdserverpb/rpc_pb.js';
import type { EmbedConfig, TlsConfig } from '../../../src/server/embed/config-types.js';
import { EtcdServer, type ServerLogger } from '../../../src/server/etcdserver/server.js';
import { computeClusterId, computeMemberId } from '../../../src/server/etcdserver/membership/member.js';
import { ErrCompacted } from '../../../src/server/mvcc/errors.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const noTls: TlsConfig = { certFile: '', keyFile: '', trustedCaFile: '', clientCertAuth: false, autoTls: false, crlFile: '', allowedCn: '' };
const quiet: ServerLogger = { debug() {}, info() {}, warn() {}, error() {} };

function config(dataDir: string, over: Partial<EmbedConfig> = {}): EmbedConfig {
  return {
    name: 'default',
    dataDir,
    walDir: '',
    listenClientUrls: [new URL('http://127.0.0.1:0')],
    advertiseClientUrls: [new URL('http://127.0.0.1:2379')],
    listenPeerUrls: [new URL('http://127.0.0.1:0')],
    initialAdvertisePeerUrls: [new URL('http://localhost:2380')],
    listenMetricsUrls: [],
    initialCluster: new Map([['default', ['http://localhost:2380']]]),
    initialClusterState: 'new',
    initialClusterToken: 'etcd-cluster',
    snapshotCount: 100000,
    maxSnapFiles: 5,
    maxWalFiles: 5,
    heartbeatMs: 100,
    electionMs: 1000,
    quotaBackendBytes: 0,
    maxRequestBytes: 1572864,
    maxTxnOps: 128,
    autoCompactionMode: 'periodic',
    autoCompactionRetention: '0',
    strictReconfigCheck: true,
    preVote: false,
    clientTls: noTls,
    peerTls: noTls,
    authToken: 'simple',
    bcryptCost: 4,
    log: { logger: 'zap', level: 'info', outputs: ['stderr'] },
    forceNewCluster: false,
    experimentalWatchProgressNotifyIntervalMs: 0,
    initialElectionTickAdvance: true,
    maxConcurrentStreams: 2 ** 32 - 1,
    grpcKeepAliveMinTimeMs: 5000,
    grpcKeepAliveIntervalMs: 7200000,
    grpcKeepAliveTimeoutMs: 20000,
    authTokenTtlSec: 300,
    unsafeNoFsync: false,
    experimentalEnableLeaseCheckpoint: false,
    experimentalCompactionBatchLimit: 0,
    experimentalWarningApplyDurationMs: 100,
    experimentalInitialCorruptCheck: false,
    experimentalCorruptCheckTimeMs: 0,
    ...over,
  };
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'etcdserver-test-'));
}

const put = (s: EtcdServer, k: string, v: string) => s.put({}, create(PutRequestSchema, { key: enc.encode(k), value: enc.encode(v) }));
const get = async (s: EtcdServer, k: string, serializable = false) => {
  const r = await s.range({}, create(RangeRequestSchema, { key: enc.encode(k), serializable }));
  return r.kvs.map((kv) => dec.decode(kv.value));
};

test('member and cluster IDs are computed as etcd computes them', () => {
  // etcd 3.4.23 `--name default` with default URLs and token: member 8e9e05c52164694d, cluster cdf818194e3a8c32
  const id = computeMemberId(['http://localhost:2380'], 'etcd-cluster');
  assert.equal(id.toString(16), '8e9e05c52164694d');
  assert.equal(computeClusterId([id]).toString(16), 'cdf818194e3a8c32');
});

test('a single member elects itself, commits writes and serves linearizable reads', async () => {
  const dir = tmp();
  const s = await EtcdServer.start(config(dir), quiet);
  try {
    await s.waitReady();
    assert.equal(s.memberId.toString(16), '8e9e05c52164694d');
    const r1 = await put(s, 'a', '1');
    const r2 = await put(s, 'a', '2');
    assert.equal(r2.header!.revision, r1.header!.revision + 1n);
    assert.deepEqual(await get(s, 'a'), ['2']);
    assert.deepEqual(await get(s, 'a', true), ['2']);
    // many concurrent writes share fsyncs and all get distinct revisions
    const revs = await Promise.all(Array.from({ length: 200 }, (_, i) => put(s, `k${i}`, String(i)).then((r) => r.header!.revision)));
    assert.equal(new Set(revs).size, 200);
    // a txn with a compare
    const t = await s.txn(
      {},
      create(TxnRequestSchema, {
        compare: [{ key: enc.encode('a'), target: Compare_CompareTarget.VALUE, result: Compare_CompareResult.EQUAL, targetUnion: { case: 'value', value: enc.encode('2') } }],
        success: [{ request: { case: 'requestPut', value: { key: enc.encode('b'), value: enc.encode('x') } } }],
      }),
    );
    assert.equal(t.succeeded, true);
    assert.deepEqual(await get(s, 'b'), ['x']);
    const members = await s.memberList({}, true);
    assert.equal(members.members.length, 1);
    assert.equal(members.members[0]!.name, 'default');
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a restarted member has every acknowledged write and its revision', async () => {
  const dir = tmp();
  let s = await EtcdServer.start(config(dir), quiet);
  let lastRev = 0n;
  try {
    await s.waitReady();
    for (let i = 0; i < 50; i++) lastRev = (await put(s, `key${i}`, `v${i}`)).header!.revision;
  } finally {
    await s.stop();
  }
  s = await EtcdServer.start(config(dir), quiet);
  try {
    await s.waitReady();
    for (let i = 0; i < 50; i++) assert.deepEqual(await get(s, `key${i}`), [`v${i}`]);
    const r = await put(s, 'after', 'restart');
    assert.equal(r.header!.revision, lastRev + 1n);
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('raft snapshots every --snapshot-count entries and restarts from the newest', async () => {
  const dir = tmp();
  let s = await EtcdServer.start(config(dir, { snapshotCount: 20, maxSnapFiles: 2 }), quiet);
  try {
    await s.waitReady();
    for (let i = 0; i < 100; i++) await put(s, `s${i}`, `v${i}`);
    await new Promise((r) => setTimeout(r, 200));
  } finally {
    await s.stop();
  }
  const snaps = readdirSync(join(dir, 'member', 'snap')).filter((f) => f.endsWith('.snap'));
  assert.ok(snaps.length >= 1 && snaps.length <= 2, `snapshot files: ${snaps.join(', ')}`);
  s = await EtcdServer.start(config(dir, { snapshotCount: 20 }), quiet);
  try {
    await s.waitReady();
    for (let i = 0; i < 100; i += 7) assert.deepEqual(await get(s, `s${i}`), [`v${i}`]);
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('compaction errors and leases through raft', async () => {
  const dir = tmp();
  const s = await EtcdServer.start(config(dir), quiet);
  try {
    await s.waitReady();
    const r = await put(s, 'c', '1');
    await put(s, 'c', '2');
    await s.compact({}, { revision: r.header!.revision + 1n, physical: true } as never);
    await assert.rejects(s.range({}, create(RangeRequestSchema, { key: enc.encode('c'), revision: r.header!.revision })), ErrCompacted);
    const g = await s.leaseGrant({}, { TTL: 5n, ID: 0n } as never);
    assert.ok(g.ID > 0n);
    assert.ok(g.TTL >= 5n);
    await s.put({}, create(PutRequestSchema, { key: enc.encode('leased'), value: enc.encode('x'), lease: g.ID }));
    const ttl = await s.leaseTimeToLive({}, { ID: g.ID, keys: true } as never);
    assert.deepEqual(ttl.keys.map((k) => dec.decode(k)), ['leased']);
    await s.leaseRevoke({}, { ID: g.ID } as never);
    assert.deepEqual(await get(s, 'leased'), []);
  } finally {
    await s.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a failed WAL fsync stops the member: the write is not acknowledged and later writes fail', async () => {
  const dir = tmp();
  let failing = false;
  const errors: string[] = [];
  const log: ServerLogger = { ...quiet, error: (m) => errors.push(m) };
  const s = await EtcdServer.start(config(dir), log, {
    walFdatasync: async (fh) => {
      if (failing) throw Object.assign(new Error('ENOSPC: no space left on device, fdatasync'), { code: 'ENOSPC' });
      await fh.datasync();
    },
  });
  try {
    await s.waitReady();
    await put(s, 'ok', '1');
    failing = true;
    await assert.rejects(put(s, 'lost', '2'), /etcdserver: server stopped/);
    await assert.rejects(put(s, 'after', '3'), /etcdserver: server stopped/);
    assert.ok(errors.some((e) => e.includes('no more writes are accepted')), errors.join('\n'));
    assert.deepEqual(await get(s, 'ok', true), ['1']);
    assert.deepEqual(await get(s, 'lost', true), []);
  } finally {
    await s.stop();
  }
  // the acknowledged write survives, the failed one is not there
  const s2 = await EtcdServer.start(config(dir), quiet);
  try {
    await s2.waitReady();
    assert.deepEqual(await get(s2, 'ok'), ['1']);
  } finally {
    await s2.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a data dir holding another cluster's backend is refused with a clear error", async () => {
  const a = tmp();
  const b = tmp();
  const sa = await EtcdServer.start(config(a), quiet);
  await sa.waitReady();
  await put(sa, 'a', '1');
  await sa.stop();
  const other = new Map([['other', ['http://localhost:12380']]]);
  const sb = await EtcdServer.start(config(b, { name: 'other', initialCluster: other, initialClusterToken: 'another-token' }), quiet);
  await sb.waitReady();
  await put(sb, 'b', '2');
  await sb.stop();
  try {
    // member a's WAL with member b's backend file
    const { copyFileSync } = await import('node:fs');
    copyFileSync(join(b, 'member', 'snap', 'db'), join(a, 'member', 'snap', 'db'));
    await assert.rejects(EtcdServer.start(config(a), quiet), /holds a backend of another cluster: member 8e9e05c52164694d \(from the WAL\) is not among its members/);
  } finally {
    rmSync(a, { recursive: true, force: true });
    rmSync(b, { recursive: true, force: true });
  }
});
