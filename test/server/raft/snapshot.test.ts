// Snapshots, log compaction and restart from storage (Raft paper §7; reliability.md
// §3.3 "Snapshots and log compaction", "Safety and persistence"), plus MemoryStorage
// and the canonical describe forms.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  EMPTY_BYTES,
  EntryType,
  ErrCompacted,
  ErrSnapOutOfDate,
  ErrUnavailable,
  MemoryStorage,
  MessageType,
  ProgressState,
  StateType,
  describeMessage,
  describeReady,
  makeEntry,
  makeMessage,
} from '../../../src/server/raft/index.js';
import { Network, bytes } from './network.js';

describe('snapshots', () => {
  test('§7: a follower behind the leader\'s compacted log gets a snapshot, then normal appends', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 10; i++) net.propose(1, `v${i}`);
    net.compact(1);
    net.compact(2);
    const snapIndex = net.sim(1).storage.snapshot().metadata.index;
    assert.equal(net.sim(1).storage.firstIndex(), snapIndex + 1);
    net.heal();
    net.tickAll(3);
    assert.ok(net.delivered.some((l) => l.startsWith('1->3 MsgSnap') && l.includes(`Snapshot: Index:${snapIndex} `)));
    assert.equal(net.sim(3).storage.snapshot().metadata.index, snapIndex);
    assert.deepEqual(net.appliedData(3), net.appliedData(1));
    assert.equal(net.node(1).status().progress.get(3n)?.state, ProgressState.StateReplicate);
    net.propose(1, 'after');
    assert.deepEqual(net.appliedData(3).slice(-1), ['after']);
    net.checkLogMatching();
  });

  test('a failed snapshot send puts the follower back to probing, and the snapshot is retried', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    for (let i = 0; i < 5; i++) net.propose(1, `v${i}`);
    net.compact(1);
    net.heal();
    let failures = 0;
    net.dropIf = (m) => m.type === MessageType.MsgSnap && failures++ === 0;
    net.tickAll(3);
    assert.equal(failures >= 2, true, 'first MsgSnap dropped, a later one sent');
    assert.deepEqual(net.appliedData(3), net.appliedData(1));
  });

  test('a stale snapshot (index ≤ commit) is ignored and answered with the commit index', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, 'a');
    const n2 = net.node(2);
    const commit = n2.raft.raftLog.committed;
    n2.step(
      makeMessage({
        type: MessageType.MsgSnap,
        from: 1n,
        to: 2n,
        term: 1,
        snapshot: { data: bytes('[]'), metadata: { index: 1, term: 1, confState: { voters: [1n, 2n, 3n], learners: [] } } },
      }),
    );
    const rd = net.processReady(2n)!;
    assert.equal(rd.snapshot, undefined);
    assert.equal(describeMessage(rd.messages[0]!), `2->1 MsgAppResp Term:1 Log:0/${commit}`);
  });

  test('restart from storage (log only, and snapshot + log) restores term, vote, commit and the state machine', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    for (const d of ['a', 'b']) net.propose(1, d);
    net.crash(2);
    net.restart(2);
    assert.equal(net.node(2).raft.term, 1);
    assert.equal(net.node(2).status().hardState.commit, net.node(1).status().hardState.commit);
    net.stabilize();
    assert.deepEqual(net.appliedData(2), ['a', 'b']);
    net.compact(3);
    net.propose(1, 'c');
    net.crash(3);
    net.restart(3);
    net.tickAll(2);
    assert.deepEqual(net.appliedData(3), ['a', 'b', 'c']);
    assert.ok(net.sim(3).storage.snapshot().metadata.index > 0);
  });

  test('all nodes crash and restart: the commit index never goes back and the cluster goes on', () => {
    const net = new Network({ voters: [1, 2, 3], seed: 4 });
    net.campaign(1);
    for (const d of ['a', 'b', 'c']) net.propose(1, d);
    for (const id of [1, 2, 3]) net.crash(id);
    for (const id of [1, 2, 3]) net.restart(id);
    const leader = net.tickUntilLeader();
    net.propose(leader, 'd');
    for (const id of [1, 2, 3]) assert.deepEqual(net.appliedData(id), ['a', 'b', 'c', 'd']);
  });

  test('a leader never restores a snapshot; it steps down instead (raft.go restore)', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    const r = net.node(1).raft;
    const ok = r.restore({ data: EMPTY_BYTES, metadata: { index: 50, term: 1, confState: { voters: [1n, 2n, 3n], learners: [] } } });
    assert.equal(ok, false);
    assert.equal(r.state, StateType.StateFollower);
  });
});

describe('MemoryStorage', () => {
  test('entries, term, compaction and snapshot errors follow storage.go', () => {
    const s = new MemoryStorage();
    s.append([makeEntry(1, 1), makeEntry(1, 2), makeEntry(2, 3), makeEntry(2, 4)]);
    assert.equal(s.firstIndex(), 1);
    assert.equal(s.lastIndex(), 4);
    assert.equal(s.term(0), 0);
    assert.equal(s.term(3), 2);
    assert.throws(() => s.term(5), ErrUnavailable);
    // maxSize: at least one entry
    assert.equal(s.entries(1, 5, 0).length, 1);
    assert.equal(s.entries(1, 5, Infinity).length, 4);
    s.compact(2);
    assert.equal(s.firstIndex(), 3);
    assert.equal(s.term(2), 1, 'the compaction point keeps its term');
    assert.throws(() => s.term(1), ErrCompacted);
    assert.throws(() => s.entries(2, 4, Infinity), ErrCompacted);
    assert.throws(() => s.compact(2), ErrCompacted);
    // overlapping append truncates the conflicting suffix
    s.append([makeEntry(3, 4, bytes('x'))]);
    assert.equal(s.lastIndex(), 4);
    assert.equal(s.term(4), 3);
    const snap = s.createSnapshot(4, { voters: [1n], learners: [] }, bytes('d'));
    assert.equal(snap.metadata.term, 3);
    assert.throws(() => s.createSnapshot(3, undefined, EMPTY_BYTES), ErrSnapOutOfDate);
    assert.throws(() => s.applySnapshot(snap), ErrSnapOutOfDate);
    s.applySnapshot({ data: EMPTY_BYTES, metadata: { index: 10, term: 4, confState: { voters: [1n], learners: [] } } });
    assert.equal(s.firstIndex(), 11);
    assert.equal(s.lastIndex(), 10);
    assert.throws(() => s.entries(11, 11, Infinity), ErrUnavailable);
  });
});

describe('describe', () => {
  test('canonical forms of messages and Ready', () => {
    const m = makeMessage({
      type: MessageType.MsgApp,
      from: 1n,
      to: 0x1fn,
      term: 2,
      logTerm: 1,
      index: 3,
      commit: 3,
      entries: [makeEntry(2, 4, bytes('foo')), makeEntry(2, 5, Uint8Array.from([0x22, 0x01]))],
    });
    assert.equal(describeMessage(m), '1->1f MsgApp Term:2 Log:1/3 Commit:3 Entries:[2/4 EntryNormal "foo", 2/5 EntryNormal "\\"\\x01"]');
    const rej = makeMessage({ type: MessageType.MsgAppResp, from: 2n, to: 1n, term: 2, index: 3, reject: true, rejectHint: 1 });
    assert.equal(describeMessage(rej), '2->1 MsgAppResp Term:2 Log:0/3 Rejected (Hint: 1)');
    const net = new Network({ voters: [1] });
    net.node(1).campaign();
    const rd = net.node(1).ready();
    assert.equal(
      describeReady(rd),
      ['Ready MustSync=true:', 'Lead:1 State:StateLeader', 'HardState Term:1 Vote:1 Commit:1', 'Entries:', '1/1 EntryNormal ""', 'CommittedEntries:', '1/1 EntryNormal ""', ''].join('\n'),
    );
    assert.equal(EntryType[rd.entries[0]!.type], 'EntryNormal');
  });
});
