// raftpb codec: byte equality with etcd 3.4's gogoproto-generated Marshal and round trips.
//
// Golden bytes: testdata/raftpb-fixtures.json, printed by testdata/gen/main.go (built
// against /usr/share/gocode/src/go.etcd.io/etcd/raft/raftpb with
// `GO111MODULE=off GOPATH=/usr/share/gocode go run ./test/server/rafthttp/testdata/gen`).
// When `go` and the etcd sources are available the program is re-run here and its
// output must equal the committed fixtures, so the fixtures cannot drift from Go.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  decodeConfState, decodeEntry, decodeHardState, decodeMessage, decodeSnapshot,
  encodeConfState, encodeEntry, encodeHardState, encodeMessage, encodeSnapshot, RaftpbDecodeError,
} from '../../../src/server/rafthttp/raftpb.js';
import { EntryType, makeMessage, MessageType, type Message } from '../../../src/server/raft/types.js';

// dist/test/server/rafthttp -> repository root
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../../..');
const fixturesPath = join(root, 'test/server/rafthttp/testdata/raftpb-fixtures.json');
const fixtures = JSON.parse(readFileSync(fixturesPath, 'utf8')) as Record<string, string>;
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const utf8 = (s: string) => new TextEncoder().encode(s);
const BIG = 0x8e9e05c52164694dn;

const messages: Record<string, Message> = {
  msg_empty: makeMessage({ type: MessageType.MsgHup }),
  msg_heartbeat: makeMessage({ type: MessageType.MsgHeartbeat, to: BIG, from: 2n, term: 7, commit: 42, context: utf8('rctx') }),
  msg_app: makeMessage({
    type: MessageType.MsgApp, to: 2n, from: BIG, term: 5, logTerm: 4, index: 100, commit: 99,
    entries: [
      { term: 5, index: 101, type: EntryType.EntryNormal, data: utf8('hello') },
      { term: 5, index: 102, type: EntryType.EntryConfChange, data: Uint8Array.from([0x08, 0x01, 0x10, 0x00, 0x18, 0x03]) },
      { term: 5, index: 103, type: EntryType.EntryNormal, data: new Uint8Array(0) },
    ],
  }),
  msg_app_resp_reject: makeMessage({ type: MessageType.MsgAppResp, to: BIG, from: 3n, term: 9, index: 50, reject: true, rejectHint: 48 }),
  msg_vote: makeMessage({ type: MessageType.MsgPreVote, to: 1n, from: 2n, term: 2 ** 40, logTerm: 3, index: Number.MAX_SAFE_INTEGER, context: new Uint8Array(0) }),
  msg_snap: makeMessage({
    type: MessageType.MsgSnap, to: 3n, from: 1n, term: 4,
    snapshot: { data: utf8('v2store'), metadata: { confState: { voters: [1n, 2n, BIG], learners: [4n] }, index: 1000, term: 3 } },
  }),
};

test('raftpb: Message bytes equal etcd 3.4 gogoproto Marshal, and decode back', () => {
  for (const [name, m] of Object.entries(messages)) {
    assert.equal(hex(encodeMessage(m)), fixtures[name], name);
    assert.deepEqual(decodeMessage(Buffer.from(fixtures[name]!, 'hex')), m, name);
  }
});

test('raftpb: Entry, HardState, Snapshot, ConfState bytes equal Go and round-trip', () => {
  const e1 = { term: 3, index: 300, type: EntryType.EntryNormal, data: Uint8Array.from([0, 1, 2, 255]) };
  const e2 = { term: 1, index: 1, type: EntryType.EntryNormal, data: new Uint8Array(0) };
  assert.equal(hex(encodeEntry(e1)), fixtures.entry_normal);
  assert.equal(hex(encodeEntry(e2)), fixtures.entry_empty);
  assert.deepEqual(decodeEntry(encodeEntry(e1)), e1);
  assert.deepEqual(decodeEntry(encodeEntry(e2)), e2);
  const hs = { term: 12, vote: BIG, commit: 2 ** 35 };
  assert.equal(hex(encodeHardState(hs)), fixtures.hardstate);
  assert.equal(hex(encodeHardState({ term: 0, vote: 0n, commit: 0 })), fixtures.hardstate_empty);
  assert.deepEqual(decodeHardState(encodeHardState(hs)), hs);
  const snap = { data: utf8('x'), metadata: { confState: { voters: [7n], learners: [] }, index: 5, term: 2 } };
  assert.equal(hex(encodeSnapshot(snap)), fixtures.snapshot);
  assert.deepEqual(decodeSnapshot(encodeSnapshot(snap)), snap);
  const cs = { voters: [1n, 2n, 3n], learners: [BIG] };
  assert.equal(hex(encodeConfState(cs)), fixtures.confstate);
  assert.deepEqual(decodeConfState(encodeConfState(cs)), cs);
});

test('raftpb: decoder accepts packed repeated fields and skips unknown fields', () => {
  // ConfState voters packed: field 1 wire 2, [1,2,300]; unknown field 15 varint; auto_leave=0
  const packed = Uint8Array.from([0x0a, 0x04, 0x01, 0x02, 0xac, 0x02, 0x78, 0x05, 0x28, 0x00]);
  assert.deepEqual(decodeConfState(packed), { voters: [1n, 2n, 300n], learners: [] });
});

test('raftpb: malformed or unrepresentable input is rejected', () => {
  const good = Buffer.from(fixtures.msg_app!, 'hex');
  assert.throws(() => decodeMessage(good.subarray(0, good.length - 3)), RaftpbDecodeError);
  // term = 2^53 (above the core's bound)
  assert.throws(() => decodeMessage(Uint8Array.from([0x20, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10])), /exceeds 2\^53-1/);
  // joint ConfState (voters_outgoing)
  assert.throws(() => decodeConfState(Uint8Array.from([0x18, 0x01])), /joint configuration/);
  // EntryConfChangeV2
  assert.throws(() => decodeEntry(Uint8Array.from([0x08, 0x02])), /unsupported entry type 2/);
  // wrong wire type for Message.Type
  assert.throws(() => decodeMessage(Uint8Array.from([0x0a, 0x00])), /wrong wireType/);
  assert.throws(() => encodeMessage(makeMessage({ type: MessageType.MsgApp, term: -1 })), RangeError);
});

test('raftpb: fixtures equal what etcd 3.4 Go code prints now (skipped without go)', (t) => {
  const gopath = '/usr/share/gocode';
  let go: string | undefined;
  try {
    go = execFileSync('sh', ['-c', 'command -v go'], { encoding: 'utf8' }).trim();
  } catch { /* no go */ }
  if (!go || !existsSync(join(gopath, 'src/go.etcd.io/etcd/raft/raftpb/raft.pb.go'))) {
    t.skip('go or the etcd 3.4 sources are not available');
    return;
  }
  // a build cache shared by test runs (the first compile takes ~30 s)
  const cache = process.env.GOCACHE ?? join(tmpdir(), 'etcdts-raftpb-gocache');
  const out = execFileSync(go, ['run', './test/server/rafthttp/testdata/gen'], {
    cwd: root, encoding: 'utf8', timeout: 300_000,
    env: { ...process.env, GO111MODULE: 'off', GOPATH: gopath, GOCACHE: cache },
  });
  assert.deepEqual(JSON.parse(out), fixtures);
});

test('raftpb: random messages round-trip', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => rnd(256));
  const id = () => (BigInt(rnd(1 << 30)) << 34n) | BigInt(rnd(1 << 30));
  for (let i = 0; i < 500; i++) {
    const entries = Array.from({ length: rnd(4) }, () => ({ term: rnd(1000), index: rnd(1 << 30) * 1000, type: rnd(2) as EntryType, data: bytes(rnd(3) * rnd(50)) }));
    const init: Parameters<typeof makeMessage>[0] = {
      type: rnd(19) as MessageType, to: id(), from: id(), term: rnd(1 << 30), logTerm: rnd(100), index: rnd(1 << 30) * 4096,
      entries, commit: rnd(1 << 20), reject: rnd(2) === 1, rejectHint: rnd(1000),
      ...(rnd(2) ? { context: bytes(rnd(10)) } : {}),
      ...(rnd(3) === 0 ? { snapshot: { data: bytes(1 + rnd(20)), metadata: { confState: { voters: [id(), id()], learners: rnd(2) ? [id()] : [] }, index: 1 + rnd(1000), term: rnd(10) } } } : {}),
    };
    const m = makeMessage(init);
    assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  }
});
