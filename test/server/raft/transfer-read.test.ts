// Leadership transfer (Raft thesis §3.10) and ReadIndex (thesis §6.4; reliability.md §3.3
// "Leadership transfer" and "Read-index and lease reads").

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrProposalDropped, MessageType, ReadOnlyOption, StateType } from '../../../src/server/raft/index.js';
import { Network, bytes, str } from './network.js';

describe('leadership transfer', () => {
  test('to an up-to-date follower: MsgTimeoutNow at once, the transferee wins at term + 1', () => {
    const net = new Network({ voters: [1, 2, 3], preVote: true, checkQuorum: true });
    net.campaign(1);
    net.propose(1, 'a');
    net.node(1).transferLeader(2n);
    net.stabilize();
    assert.ok(net.delivered.includes('1->2 MsgTimeoutNow Term:1 Log:0/0'));
    assert.equal(net.node(2).raft.state, StateType.StateLeader);
    assert.equal(net.node(2).raft.term, 2, 'no pre-vote round, leases are overridden');
    assert.equal(net.node(1).raft.state, StateType.StateFollower);
  });

  test('to a lagging follower: the leader first catches it up, then sends MsgTimeoutNow', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    for (const d of ['a', 'b', 'c']) net.propose(1, d);
    net.heal();
    net.node(1).transferLeader(3n);
    net.stabilize();
    assert.equal(net.node(3).raft.state, StateType.StateLeader);
    assert.deepEqual(net.appliedData(3), ['a', 'b', 'c']);
  });

  test('proposals are dropped while a transfer is in progress; a timeout aborts the transfer', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    net.propose(1, 'a');
    net.node(1).transferLeader(3n);
    net.stabilize();
    assert.equal(net.node(1).status().leadTransferee, 3n);
    assert.throws(() => net.node(1).propose(bytes('b')), ErrProposalDropped);
    net.tickAll(10); // one election timeout
    assert.equal(net.node(1).status().leadTransferee, 0n);
    assert.equal(net.node(1).raft.state, StateType.StateLeader);
    net.propose(1, 'b');
    assert.deepEqual(net.appliedData(2), ['a', 'b']);
  });

  test('transfer to self, to a learner or to an unknown node is ignored', () => {
    const net = new Network({ voters: [1, 2, 3], learners: [4] });
    net.campaign(1);
    for (const target of [1n, 4n, 9n]) {
      net.node(1).transferLeader(target);
      net.stabilize();
      assert.equal(net.node(1).status().leadTransferee, 0n, `target ${target}`);
      assert.equal(net.node(1).raft.state, StateType.StateLeader);
    }
  });

  test('a transfer requested on a follower is forwarded to the leader', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.node(2).transferLeader(2n);
    net.stabilize();
    assert.equal(net.leader(), 2n);
  });
});

describe('ReadIndex (safe mode)', () => {
  test('the leader answers with its commit index only after a heartbeat quorum acknowledged this request', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, 'a');
    const commit = net.node(1).status().hardState.commit;
    net.node(1).readIndex(bytes('req-1'));
    const rd = net.processReady(1n)!;
    assert.deepEqual(rd.readStates, []);
    const hbs = rd.messages.filter((m) => m.type === MessageType.MsgHeartbeat);
    assert.equal(hbs.length, 2);
    assert.ok(hbs.every((m) => m.context !== undefined && str(m.context) === 'req-1'));
    net.queue = [];
    // one follower's ack + the leader itself = 2 of 3
    net.deliver(hbs[0]!);
    net.processReady(hbs[0]!.to);
    assert.equal(net.queue.length, 1);
    net.deliverAll();
    const rd2 = net.processReady(1n)!;
    assert.deepEqual(
      rd2.readStates.map((r) => [r.index, str(r.requestCtx)]),
      [[commit, 'req-1']],
    );
  });

  test('a partitioned (stale) leader never answers a read', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(1);
    net.node(1).readIndex(bytes('stale'));
    net.tickAll(30);
    assert.deepEqual(net.sim(1).readStates, []);
  });

  test('a follower\'s read is forwarded to the leader and answered with MsgReadIndexResp', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, 'a');
    net.node(3).readIndex(bytes('f'));
    net.stabilize();
    assert.deepEqual(
      net.sim(3).readStates.map((r) => [r.index, str(r.requestCtx)]),
      [[net.node(1).status().hardState.commit, 'f']],
    );
    assert.ok(net.delivered.some((l) => l.startsWith('1->3 MsgReadIndexResp')));
  });

  test('a new leader serves reads only after committing an entry of its own term', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.dropIf = (m) => m.type === MessageType.MsgAppResp;
    net.campaign(1);
    net.node(1).readIndex(bytes('early'));
    net.tickAll(3);
    assert.deepEqual(net.sim(1).readStates, [], 'held back: the empty entry of this term is not committed');
    net.dropIf = undefined;
    net.tickAll(3);
    const rs = net.sim(1).readStates;
    assert.equal(rs.length, 1);
    assert.equal(rs[0]!.index, net.node(1).raft.raftLog.lastIndex());
  });

  test('a single voter answers at once', () => {
    const net = new Network({ voters: [1] });
    net.campaign(1);
    net.node(1).readIndex(bytes('x'));
    net.stabilize();
    assert.equal(net.sim(1).readStates.length, 1);
  });

  test('lease-based mode answers immediately on a leader (requires CheckQuorum)', () => {
    assert.throws(() => new Network({ voters: [1], config: { readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased } }), /CheckQuorum/);
    const net = new Network({ voters: [1, 2, 3], checkQuorum: true, config: { readOnlyOption: ReadOnlyOption.ReadOnlyLeaseBased } });
    net.campaign(1);
    net.node(1).readIndex(bytes('lease'));
    const rd = net.processReady(1n)!;
    assert.equal(rd.readStates.length, 1);
  });
});
