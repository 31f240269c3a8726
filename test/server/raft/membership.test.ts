// Learners and single-node membership changes (reliability.md §3.3 "Membership change"
// and "Learners"; Raft thesis §4.1 single-server changes, §4.2.1 catching up new servers
// as non-voting members).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  StateType,
  decodeConfChange,
  describeEntry,
  encodeConfChange,
  makeMessage,
} from '../../../src/server/raft/index.js';
import { AddLearner, AddNode, Network, RemoveNode } from './network.js';

describe('learners', () => {
  test('a learner receives and applies the log but does not count for the commit quorum', () => {
    const net = new Network({ voters: [1, 2, 3], learners: [4] });
    net.campaign(1);
    net.propose(1, 'a');
    assert.deepEqual(net.appliedData(4), ['a']);
    // with 2 and 3 gone, leader + learner are not a quorum
    net.partition([1, 4], [2, 3]);
    net.propose(1, 'b');
    assert.equal(net.node(1).status().hardState.commit, 2);
    assert.ok(net.log(4).some((e) => e.index === 3), 'the learner has the entry');
    assert.deepEqual(net.appliedData(1), ['a']);
  });

  test('a learner never campaigns on election timeout and does not count as a vote', () => {
    const net = new Network({ voters: [1, 2, 3], learners: [4] });
    net.tickAll(300);
    assert.notEqual(net.node(4).raft.state, StateType.StateLeader);
    assert.equal(net.node(4).raft.state, StateType.StateFollower);
    assert.ok(!net.delivered.some((l) => l.startsWith('4->') && l.includes('MsgVote ')), 'no vote request from the learner');
    // explicit campaign is ignored too
    const term = net.node(4).raft.term;
    net.campaign(4);
    assert.equal(net.node(4).raft.term, term);
  });

  test('campaign_learner_must_vote: a learner still answers a vote request (it may be a voter in the candidate\'s newer config)', () => {
    const net = new Network({ voters: [1, 2, 3], learners: [4] });
    const n4 = net.node(4);
    n4.step(makeMessage({ type: MessageType.MsgVote, from: 2n, to: 4n, term: 1, index: 0, logTerm: 0 }));
    const resp = net.processReady(4n)!.messages[0]!;
    assert.equal(resp.type, MessageType.MsgVoteResp);
    assert.equal(resp.reject, false);
  });
});

describe('configuration changes (single node, applied on commit)', () => {
  test('add a voter: the new node catches up and then counts for the quorum', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, 'a');
    net.addNode(4n, { voters: [1n, 2n, 3n], learners: [] });
    net.proposeConfChange(1, AddNode, 4);
    net.tickAll(2);
    for (const id of [1, 2, 3, 4]) assert.deepEqual(net.sim(id).confState.voters, [1n, 2n, 3n, 4n], `node ${id}`);
    assert.deepEqual(net.appliedData(4), ['a']);
    // 4 voters: a quorum is 3; with 3 and 4 cut off nothing commits
    net.partition([1, 2], [3], [4]);
    const commit = net.node(1).status().hardState.commit;
    net.propose(1, 'b');
    assert.equal(net.node(1).status().hardState.commit, commit);
    net.heal();
    net.tickAll(2);
    assert.deepEqual(net.appliedData(4), ['a', 'b']);
  });

  test('remove a voter: the quorum shrinks and the removed node cannot campaign', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.proposeConfChange(1, RemoveNode, 3);
    assert.deepEqual(net.sim(1).confState.voters, [1n, 2n]);
    assert.deepEqual(net.sim(3).confState.voters, [1n, 2n]);
    net.isolate(3);
    net.propose(1, 'a');
    assert.deepEqual(net.appliedData(2), ['a'], '1 and 2 form the quorum');
    net.tickAll(100);
    assert.equal(net.node(3).raft.state, StateType.StateFollower, 'a removed node is not promotable');
    assert.equal(net.node(1).raft.state, StateType.StateLeader);
  });

  test('add a learner, then promote it to voter', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.addNode(4n, { voters: [1n, 2n, 3n], learners: [] });
    net.proposeConfChange(1, AddLearner, 4);
    net.tickAll(2);
    assert.deepEqual(net.sim(1).confState, { voters: [1n, 2n, 3n], learners: [4n] });
    assert.equal(net.node(4).raft.isLearner, true);
    net.proposeConfChange(1, AddNode, 4);
    net.tickAll(2);
    assert.deepEqual(net.sim(4).confState, { voters: [1n, 2n, 3n, 4n], learners: [] });
    assert.equal(net.node(4).raft.isLearner, false);
    assert.equal(net.node(4).raft.promotable(), true);
    // the promoted node can now be elected
    net.campaign(4);
    assert.equal(net.node(4).raft.state, StateType.StateLeader);
  });

  test('demote a voter to learner (AddLearnerNode on a voter)', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.proposeConfChange(1, AddLearner, 3);
    assert.deepEqual(net.sim(2).confState, { voters: [1n, 2n], learners: [3n] });
    assert.equal(net.node(3).raft.promotable(), false);
  });

  test('only one conf change may be pending: a second one before the first is applied becomes an empty entry', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.addNode(4n, { voters: [1n, 2n, 3n], learners: [] });
    net.addNode(5n, { voters: [1n, 2n, 3n], learners: [] });
    net.node(1).proposeConfChange({ id: 1n, type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 4n });
    net.node(1).proposeConfChange({ id: 2n, type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 5n });
    net.stabilize();
    const tail = net.log(1).slice(-2);
    assert.deepEqual(
      tail.map((e) => describeEntry(e)),
      ['1/2 EntryConfChange l4', '1/3 EntryNormal ""'],
    );
    assert.deepEqual(net.sim(1).confState.learners, [4n]);
  });

  test('a conf change with node id 0 is ignored (etcd zeroes changes it decided not to apply)', () => {
    const net = new Network({ voters: [1, 2, 3] });
    const cs = net.node(1).applyConfChange({ id: 0n, type: ConfChangeType.ConfChangeRemoveNode, nodeId: 0n });
    assert.deepEqual(cs, { voters: [1n, 2n, 3n], learners: [] });
  });

  test('removing the last voter is refused', () => {
    const net = new Network({ voters: [1] });
    assert.throws(() => net.node(1).applyConfChange({ id: 0n, type: ConfChangeType.ConfChangeRemoveNode, nodeId: 1n }), /removed all voters/);
  });

  test('a node does not campaign while committed conf changes are unapplied (ConfChangeCheckBeforeCampaign)', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.addNode(4n, { voters: [1n, 2n, 3n], learners: [] });
    // 2 receives and commits the conf change but does not apply it yet
    net.node(1).proposeConfChange({ id: 0n, type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 4n });
    net.processReady(1n);
    net.deliverAll();
    net.processAll();
    net.deliverAll();
    net.node(1).tick(); // heartbeat carries the new commit index
    net.processReady(1n);
    net.deliverAll();
    const n2 = net.node(2);
    assert.ok(n2.raft.raftLog.committed > n2.raft.raftLog.applied);
    const term = n2.raft.term;
    n2.campaign();
    assert.equal(n2.raft.term, term, 'no election with an unapplied conf change');
    net.stabilize();
    n2.campaign();
    assert.equal(n2.raft.term, term + 1);
  });

  test('bootstrap: a new cluster starts from committed AddNode entries at term 1 (bootstrap.go)', () => {
    const net = new Network({ voters: [] });
    const sim = net.addNode(1n, { voters: [], learners: [] });
    sim.node!.bootstrap([{ id: 1n }, { id: 2n }, { id: 3n }]);
    const rd = sim.node!.ready();
    assert.deepEqual(rd.hardState, { term: 1, vote: 0n, commit: 3 });
    assert.deepEqual(
      rd.entries.map((e) => [e.type, decodeConfChange(e.data).nodeId]),
      [
        [EntryType.EntryConfChange, 1n],
        [EntryType.EntryConfChange, 2n],
        [EntryType.EntryConfChange, 3n],
      ],
    );
    assert.equal(rd.committedEntries.length, 3);
    assert.deepEqual(sim.node!.status().config.voters, [1n, 2n, 3n]);
  });

  test('the ConfChange entry bytes are raftpb.ConfChange wire bytes', () => {
    const cc = { id: 7n, type: ConfChangeType.ConfChangeAddLearnerNode, nodeId: 0x8e9e05c52164694dn, context: Uint8Array.from([0x61]) };
    const data = encodeConfChange(cc);
    // 08 07 | 10 03 | 18 <varint of the id> | 22 01 61
    assert.deepEqual([...data.slice(0, 5)], [0x08, 0x07, 0x10, 0x03, 0x18]);
    assert.deepEqual([...data.slice(-3)], [0x22, 0x01, 0x61]);
    assert.deepEqual(decodeConfChange(data), cc);
    assert.deepEqual(decodeConfChange(encodeConfChange({ id: 0n, type: ConfChangeType.ConfChangeAddNode, nodeId: 1n })), {
      id: 0n,
      type: ConfChangeType.ConfChangeAddNode,
      nodeId: 1n,
    });
  });
});
