// Leader election (reliability.md §3.3 "Leader election", "Pre-vote", "Check-quorum").
// Each test names the Raft paper rule (Ongaro & Ousterhout 2014, §5.x, Figure 2) or the
// thesis section it checks.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MemoryStorage,
  MessageType,
  RawNode,
  StateType,
  makeMessage,
  type Message,
} from '../../../src/server/raft/index.js';
import { Network, Rng, bytes } from './network.js';

function stateOf(net: Network, id: number): StateType {
  return net.node(id).raft.state;
}

/** A bare RawNode (no network) for message-level tests. */
function bareNode(id: number, voters: number[], opts: { checkQuorum?: boolean; preVote?: boolean } = {}): RawNode {
  const rng = new Rng(id);
  return new RawNode({
    id: BigInt(id),
    electionTick: 10,
    heartbeatTick: 1,
    storage: new MemoryStorage({ voters: voters.map(BigInt), learners: [] }),
    rand: (n) => rng.int(n),
    ...opts,
  });
}

function drain(n: RawNode): Message[] {
  const rd = n.ready();
  n.advance(rd);
  return [...rd.messages];
}

describe('leader election', () => {
  test('§5.2: servers start as followers at term 0 with no leader', () => {
    const net = new Network({ voters: [1, 2, 3] });
    for (const id of [1, 2, 3]) {
      const st = net.node(id).status();
      assert.equal(st.softState.raftState, StateType.StateFollower);
      assert.equal(st.hardState.term, 0);
      assert.equal(st.softState.lead, 0n);
    }
  });

  test('§5.2: a single voter elects itself on campaign and commits its own proposals', () => {
    const net = new Network({ voters: [1] });
    net.campaign(1);
    assert.equal(stateOf(net, 1), StateType.StateLeader);
    assert.equal(net.node(1).raft.term, 1);
    net.propose(1, 'a');
    net.propose(1, 'b');
    assert.deepEqual(net.appliedData(1), ['a', 'b']);
    // the empty entry of term 1 plus two proposals
    assert.equal(net.node(1).status().hardState.commit, 3);
  });

  test('§5.2: a single voter elects itself after the election timeout', () => {
    const net = new Network({ voters: [1] });
    net.tickAll(20);
    assert.equal(stateOf(net, 1), StateType.StateLeader);
  });

  test('§5.2: a candidate that receives votes from a majority of 3 becomes leader; others follow it', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    assert.equal(stateOf(net, 1), StateType.StateLeader);
    for (const id of [2, 3]) {
      assert.equal(stateOf(net, id), StateType.StateFollower);
      assert.equal(net.node(id).status().softState.lead, 1n);
      assert.equal(net.node(id).raft.term, 1);
    }
  });

  test('§5.2: 5 nodes elect a leader by election timeout alone, and all agree on term and leader', () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5], seed: 7 });
    const leader = net.tickUntilLeader();
    net.tickAll(3);
    const term = net.node(leader).raft.term;
    for (const id of [1, 2, 3, 4, 5]) {
      assert.equal(net.node(id).raft.term, term);
      assert.equal(net.node(id).status().softState.lead, leader);
    }
  });

  test('§5.2: election timeouts are randomized in [electionTick, 2·electionTick)', () => {
    const net = new Network({ voters: [1, 2, 3], seed: 3 });
    const seen = new Set<number>();
    const r = net.node(1).raft;
    for (let i = 0; i < 200; i++) {
      r.becomeFollower(r.term + 1, 0n);
      const t = r.randomizedElectionTimeout;
      assert.ok(t >= 10 && t < 20, `timeout ${t}`);
      seen.add(t);
    }
    assert.ok(seen.size >= 8, `only ${seen.size} distinct timeouts`);
  });

  test('§5.2: split votes are resolved by randomized timeouts, each round in a new term', () => {
    const net = new Network({ voters: [1, 2, 3, 4], seed: 11 });
    // 1 and 2 campaign at once: 3 hears 1 first, 4 hears 2 first → 2 votes each of 4
    net.node(1).campaign();
    net.node(2).campaign();
    net.processAll();
    const reqs = net.queue;
    net.queue = [];
    const order = (m: Message) => (m.to === 3n ? (m.from === 1n ? 0 : 1) : m.to === 4n ? (m.from === 2n ? 0 : 1) : 2);
    for (const m of [...reqs].sort((a, b) => order(a) - order(b))) net.deliver(m);
    net.stabilize();
    assert.equal(net.leader(), undefined, 'a split vote elects nobody');
    assert.equal(net.node(1).raft.term, 1);
    const leader = net.tickUntilLeader();
    assert.ok(net.node(leader).raft.term >= 2, 'the next election runs in a higher term');
  });

  test('Figure 2 RequestVote: at most one vote per term, even for a more up-to-date candidate', () => {
    const n = bareNode(3, [1, 2, 3]);
    n.step(makeMessage({ type: MessageType.MsgVote, from: 1n, to: 3n, term: 1, index: 0, logTerm: 0 }));
    n.step(makeMessage({ type: MessageType.MsgVote, from: 2n, to: 3n, term: 1, index: 5, logTerm: 1 }));
    const rd = n.ready();
    assert.deepEqual(
      rd.messages.map((m) => [m.to, m.type, m.reject]),
      [
        [1n, MessageType.MsgVoteResp, false],
        [2n, MessageType.MsgVoteResp, true],
      ],
    );
    // the vote is part of the hard state to persist before the response is sent
    assert.equal(rd.hardState?.vote, 1n);
    assert.equal(rd.mustSync, true);
    n.advance(rd);
    // a repeated request from the same candidate is granted again
    n.step(makeMessage({ type: MessageType.MsgVote, from: 1n, to: 3n, term: 1, index: 0, logTerm: 0 }));
    assert.equal(drain(n)[0]?.reject, false);
  });

  test('§5.4.1: a vote is granted only to a candidate whose log is at least as up-to-date', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, 'x');
    const n3 = net.node(3);
    const last = n3.raft.raftLog.lastIndex();
    const lastTerm = n3.raft.raftLog.lastTerm();
    // lower last term → rejected; same term, shorter log → rejected; equal → granted
    for (const [index, logTerm, reject] of [
      [last + 5, lastTerm - 1, true],
      [last - 1, lastTerm, true],
      [last, lastTerm, false],
    ] as const) {
      const term = n3.raft.term + 1;
      n3.step(makeMessage({ type: MessageType.MsgVote, from: 2n, to: 3n, term, index, logTerm }));
      const resp = net.processReady(3n)!.messages.find((m) => m.type === MessageType.MsgVoteResp);
      assert.equal(resp?.reject, reject, `index ${index} logTerm ${logTerm}`);
    }
  });

  test('Figure 2 "All servers": a message with a higher term turns any role into a follower of that term', () => {
    // leader
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.node(1).step(makeMessage({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 5, index: 0, logTerm: 0 }));
    assert.equal(stateOf(net, 1), StateType.StateFollower);
    assert.equal(net.node(1).raft.term, 5);
    assert.equal(net.node(1).status().softState.lead, 2n);
    // candidate
    const c = bareNode(1, [1, 2, 3]);
    c.campaign();
    assert.equal(c.raft.state, StateType.StateCandidate);
    c.step(makeMessage({ type: MessageType.MsgHeartbeat, from: 3n, to: 1n, term: 4 }));
    assert.equal(c.raft.state, StateType.StateFollower);
    assert.equal(c.raft.term, 4);
    // a vote request with a higher term bumps the term without a known leader
    const f = bareNode(2, [1, 2, 3]);
    f.step(makeMessage({ type: MessageType.MsgVote, from: 3n, to: 2n, term: 9 }));
    assert.equal(f.raft.term, 9);
    assert.equal(f.raft.lead, 0n);
  });

  test('§5.1: messages with a stale term are ignored', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.campaign(2); // 2 becomes leader of term 2
    const n3 = net.node(3);
    const before = n3.raft.raftLog.lastIndex();
    n3.step(makeMessage({ type: MessageType.MsgApp, from: 1n, to: 3n, term: 1, index: before, logTerm: 1, entries: [{ term: 1, index: before + 1, type: 0, data: bytes('stale') }] }));
    assert.equal(n3.raft.raftLog.lastIndex(), before);
    assert.equal(n3.raft.term, 2);
    assert.equal(n3.status().softState.lead, 2n);
  });

  test('§5.2: a candidate returns to follower on AppendEntries from a leader of its own term', () => {
    const c = bareNode(1, [1, 2, 3]);
    c.campaign(); // term 1
    c.step(makeMessage({ type: MessageType.MsgApp, from: 2n, to: 1n, term: 1, index: 0, logTerm: 0 }));
    assert.equal(c.raft.state, StateType.StateFollower);
    assert.equal(c.raft.lead, 2n);
    assert.equal(c.raft.term, 1);
  });

  test('§5.2: no leader without a quorum; a leader appears once a quorum is back', () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5], seed: 5 });
    net.partition([1, 2], [3], [4], [5]);
    net.tickAll(100);
    assert.equal(net.leader(), undefined);
    net.heal();
    net.tickUntilLeader();
  });

  test('§5.2/§5.3: a partitioned old leader cannot commit, and steps down when it rejoins', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(1);
    net.propose(1, 'lost');
    assert.equal(net.node(1).status().hardState.commit, 1, 'no quorum: not committed');
    net.campaign(2);
    assert.equal(stateOf(net, 2), StateType.StateLeader);
    net.propose(2, 'kept');
    net.heal();
    net.tickAll(3); // heartbeats from 2 reach 1
    assert.equal(stateOf(net, 1), StateType.StateFollower);
    assert.equal(net.node(1).status().softState.lead, 2n);
    // the uncommitted entry of the old leader was overwritten (§5.3)
    assert.deepEqual(net.appliedData(1), ['kept']);
    net.checkLogMatching();
  });
});

describe('check quorum (thesis §6.2)', () => {
  test('a leader steps down after an election timeout without hearing from a quorum', () => {
    const net = new Network({ voters: [1, 2, 3], checkQuorum: true });
    net.campaign(1);
    net.isolate(1);
    net.tickAll(10); // first check-quorum round: the peers were active before
    net.tickAll(10);
    assert.equal(stateOf(net, 1), StateType.StateFollower);
  });

  test('a leader with a quorum keeps leading', () => {
    const net = new Network({ voters: [1, 2, 3], checkQuorum: true });
    net.campaign(1);
    net.isolate(3);
    net.tickAll(50);
    assert.equal(stateOf(net, 1), StateType.StateLeader);
  });

  test('followers ignore vote requests while they heard from a leader within the election timeout (leader lease)', () => {
    const net = new Network({ voters: [1, 2, 3], checkQuorum: true });
    net.campaign(1);
    net.isolate(3);
    net.node(3).campaign(); // 3 cannot be heard; now let its request through directly
    net.processAll();
    const req = net.queue.find((m) => m.type === MessageType.MsgVote && m.to === 2n)!;
    net.queue = [];
    net.heal();
    net.deliver(req);
    assert.equal(net.node(2).raft.term, 1, 'the vote request did not bump the term');
    assert.equal(net.node(2).status().softState.lead, 1n);
  });
});

describe('pre-vote (thesis §9.6)', () => {
  test('a partitioned node does not inflate its term, and does not disrupt the leader when it rejoins', () => {
    const net = new Network({ voters: [1, 2, 3], preVote: true });
    net.campaign(1);
    const term = net.node(1).raft.term;
    net.isolate(3);
    net.tickAll(200);
    assert.equal(net.node(3).raft.term, term, 'pre-candidate keeps its term');
    assert.equal(stateOf(net, 3), StateType.StatePreCandidate);
    net.heal();
    net.tickAll(5);
    assert.equal(stateOf(net, 1), StateType.StateLeader);
    assert.equal(net.node(1).raft.term, term);
    assert.equal(stateOf(net, 3), StateType.StateFollower);
  });

  test('without pre-vote the same partition inflates the term and forces a new election', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    net.tickAll(200);
    assert.ok(net.node(3).raft.term > 5);
    net.heal();
    net.tickAll(5);
    assert.ok(net.node(1).raft.term > 1, 'the old leader was deposed by the higher term');
  });

  test('a node with a stale log cannot win the pre-vote, so it does not bump anyone\'s term', () => {
    const net = new Network({ voters: [1, 2, 3], preVote: true });
    net.campaign(1);
    net.isolate(3);
    net.propose(1, 'a');
    net.heal();
    net.isolate(1);
    // 3 is behind 2: its pre-vote is rejected and terms stay put
    net.node(3).campaign();
    net.stabilize();
    // 2 rejected, 1 is unreachable: the pre-vote round is still pending, at the old term
    assert.equal(stateOf(net, 3), StateType.StatePreCandidate);
    assert.ok(net.delivered.includes('2->3 MsgPreVoteResp Term:1 Log:0/0 Rejected (Hint: 0)'));
    assert.equal(net.node(2).raft.term, 1);
    assert.equal(net.node(3).raft.term, 1);
    // 2 is up to date and wins
    net.campaign(2);
    assert.equal(stateOf(net, 2), StateType.StateLeader);
    assert.equal(net.node(2).raft.term, 2);
  });
});
