// Log replication and commitment (reliability.md §3.3 "Log replication"; Raft paper
// §5.3, §5.4.2 and Figures 7–8).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ErrProposalDropped,
  MessageType,
  ProgressState,
  StateType,
  makeMessage,
  type Message,
} from '../../../src/server/raft/index.js';
import { Network, bytes } from './network.js';

/** Campaigns `id` until it is leader (a candidate may need more than one round). */
function campaignUntilLeader(net: Network, id: number, rounds = 5): void {
  for (let i = 0; i < rounds; i++) {
    net.campaign(id);
    if (net.node(id).raft.state === StateType.StateLeader) return;
  }
  assert.fail(`${id} did not become leader`);
}

function termAt(net: Network, id: number, index: number): number | undefined {
  return net.log(id).find((e) => e.index === index)?.term;
}

describe('log replication', () => {
  test('§5.3: the leader appends a proposal, replicates it, commits it on a majority and every node applies it', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(1, 'a');
    for (const id of [1, 2, 3]) {
      assert.deepEqual(net.appliedData(id), ['a']);
      assert.equal(net.node(id).status().hardState.commit, 2);
    }
    net.checkLogMatching();
  });

  test('§5.3: proposals on a follower are forwarded to the leader', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.propose(3, 'from-follower');
    assert.ok(net.delivered.some((l) => l.startsWith('3->1 MsgProp Term:0')));
    assert.deepEqual(net.appliedData(1), ['from-follower']);
  });

  test('proposals are dropped (ErrProposalDropped) without a leader, on a candidate, and with forwarding disabled', () => {
    const net = new Network({ voters: [1, 2, 3] });
    assert.throws(() => net.node(1).propose(bytes('x')), ErrProposalDropped);
    net.isolate(1);
    net.node(1).campaign();
    assert.equal(net.node(1).raft.state, StateType.StateCandidate);
    assert.throws(() => net.node(1).propose(bytes('x')), ErrProposalDropped);

    const nf = new Network({ voters: [1, 2, 3], config: { disableProposalForwarding: true } });
    nf.campaign(1);
    assert.throws(() => nf.node(2).propose(bytes('x')), ErrProposalDropped);
    nf.propose(1, 'ok');
    assert.deepEqual(nf.appliedData(2), ['ok']);
  });

  test('§5.3: committing an index commits all preceding entries; followers learn the commit index', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    net.isolate(3);
    for (const d of ['a', 'b', 'c']) net.propose(1, d);
    assert.deepEqual(net.appliedData(2), ['a', 'b', 'c']);
    assert.deepEqual(net.appliedData(3), []);
    net.heal();
    net.tickAll(2);
    assert.deepEqual(net.appliedData(3), ['a', 'b', 'c']);
  });

  test('Figure 2 AppendEntries 2–3: a follower rejects a mismatching prev entry and truncates a conflicting suffix', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    const f = net.node(2);
    // prev (5, 1) does not exist: rejected with the follower's last index as hint
    f.step(makeMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, index: 5, logTerm: 1 }));
    const resp = net.processReady(2n)!.messages[0]!;
    assert.equal(resp.type, MessageType.MsgAppResp);
    assert.equal(resp.reject, true);
    assert.equal(resp.rejectHint, 1);
    // a new leader of term 2 overwrites an uncommitted entry at index 2
    f.step(makeMessage({ type: MessageType.MsgApp, from: 1n, to: 2n, term: 1, index: 1, logTerm: 1, entries: [{ term: 1, index: 2, type: 0, data: bytes('old') }] }));
    net.processReady(2n);
    f.step(makeMessage({ type: MessageType.MsgApp, from: 3n, to: 2n, term: 2, index: 1, logTerm: 1, entries: [{ term: 2, index: 2, type: 0, data: bytes('new') }] }));
    net.processReady(2n);
    assert.equal(termAt(net, 2, 2), 2);
    assert.equal(net.log(2).length, 2);
  });

  test('Figure 7: a new leader repairs followers with missing and extra uncommitted entries', () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5] });
    net.campaign(1);
    net.propose(1, 'c1');
    // 1 writes entries only 2 receives; 3..5 go on without them
    net.partition([1, 2], [3, 4, 5]);
    for (const d of ['x1', 'x2', 'x3']) net.propose(1, d);
    net.partition([1], [2], [3, 4, 5]);
    campaignUntilLeader(net, 3);
    net.propose(3, 'y1');
    net.partition([1], [2], [3, 4], [5]);
    net.propose(3, 'y2'); // on 3 and 4 only, uncommitted
    net.heal();
    campaignUntilLeader(net, 4);
    net.propose(4, 'z');
    net.tickAll(3);
    for (const id of [1, 2, 3, 4, 5]) assert.deepEqual(net.appliedData(id), ['c1', 'y1', 'y2', 'z'], `node ${id}`);
    net.checkLogMatching();
  });

  test('§5.4.2 / Figure 8: a leader does not commit an entry of an older term by counting replicas', () => {
    // one entry per MsgApp, so replication can be cut between two entries
    const net = new Network({ voters: [1, 2, 3, 4, 5], config: { maxSizePerMsg: 1 } });
    net.campaign(1); // term 1, index 1 committed everywhere
    // (a) 1 appends "a" at index 2 (term 1) and reaches only 2
    net.partition([1, 2], [3, 4, 5]);
    net.propose(1, 'a');
    assert.equal(termAt(net, 2, 2), 1);
    // (b) 5 becomes leader of term 2 with votes from 3 and 4; its empty entry at index 2
    // stays local
    net.partition([1, 2], [3, 4, 5]);
    net.dropIf = (m) => m.from === 5n && m.type === MessageType.MsgApp;
    campaignUntilLeader(net, 5);
    const t5 = net.node(5).raft.term;
    assert.equal(termAt(net, 5, 2), t5);
    // (c) 1 restarts and becomes leader again (term 3 or later) with 2 and 3, and replicates index 2
    // to 3, but its own term's entry (index 3) reaches only 2
    net.crash(1);
    net.restart(1);
    net.partition([1, 2, 3], [4], [5]);
    net.dropIf = (m) => m.type === MessageType.MsgApp && m.to === 3n && m.entries.some((e) => e.index === 3) && termAt(net, 3, 2) === 1;
    campaignUntilLeader(net, 1);
    const t1 = net.node(1).raft.term;
    assert.ok(t1 > t5);
    for (const id of [1, 2, 3]) assert.equal(termAt(net, id, 2), 1, `node ${id} holds "a" at index 2`);
    const pr = net.node(1).status().progress;
    assert.equal(pr.get(3n)?.match, 2);
    // index 2 is on a majority (1, 2, 3) but is from term 1: not committed
    assert.equal(net.node(1).status().hardState.commit, 1);
    // (d) indeed 5 (restarted) can still win (its last term is higher) and overwrite index 2
    net.dropIf = undefined;
    net.crash(5);
    net.restart(5);
    net.partition([1], [2], [3, 4, 5]);
    campaignUntilLeader(net, 5);
    net.heal();
    net.tickAll(3);
    assert.equal(net.leader(), 5n);
    for (const id of [1, 2, 3, 4, 5]) {
      assert.equal(termAt(net, id, 2), t5, `node ${id}`);
      assert.deepEqual(net.appliedData(id), [], '"a" was never applied');
    }
    net.checkLogMatching();
  });

  test('§5.4.2 / Figure 8 (e): once an entry of the current term is committed, the older entries before it commit too', () => {
    const net = new Network({ voters: [1, 2, 3, 4, 5] });
    net.campaign(1);
    net.partition([1, 2], [3, 4, 5]);
    net.propose(1, 'a');
    net.crash(1);
    net.restart(1);
    net.partition([1, 2, 3], [4, 5]);
    campaignUntilLeader(net, 1);
    // the empty entry of the new term reached 2 and 3: indexes 2 and 3 commit together
    const commit = net.node(1).status().hardState.commit;
    assert.equal(commit, net.node(1).raft.raftLog.lastIndex());
    assert.deepEqual(net.appliedData(3), ['a']);
  });

  test('probe → replicate: a follower in probe state gets one MsgApp until it acknowledges, then the leader streams', () => {
    const net = new Network({ voters: [1, 2], config: { maxSizePerMsg: 1, maxInflightMsgs: 2 } });
    net.campaign(1);
    net.isolate(2);
    for (const d of ['a', 'b', 'c', 'd']) net.node(1).propose(bytes(d));
    net.processAll();
    net.queue = [];
    net.node(1).reportUnreachable(2n);
    assert.equal(net.node(1).status().progress.get(2n)?.state, ProgressState.StateProbe);
    net.heal();
    net.tickAll(1); // heartbeat → response → one probe MsgApp
    net.stabilize();
    const pr = net.node(1).status().progress.get(2n)!;
    assert.equal(pr.state, ProgressState.StateReplicate);
    assert.equal(pr.match, net.node(1).raft.raftLog.lastIndex());
    assert.deepEqual(net.appliedData(2), ['a', 'b', 'c', 'd']);
  });

  test('replicate state: the inflight window limits unacknowledged MsgApps', () => {
    const net = new Network({ voters: [1, 2], config: { maxSizePerMsg: 1, maxInflightMsgs: 2 } });
    net.campaign(1);
    const sent: Message[] = [];
    net.dropIf = (m) => {
      if (m.type === MessageType.MsgApp) sent.push(m);
      return true;
    };
    for (const d of ['a', 'b', 'c', 'd']) net.node(1).propose(bytes(d));
    net.stabilize();
    assert.equal(sent.length, 2, 'two in flight, then paused');
    assert.equal(net.node(1).status().progress.get(2n)?.inflight, 2);
  });

  test('duplicated and reordered MsgApp are harmless', () => {
    const net = new Network({ voters: [1, 2, 3] });
    net.campaign(1);
    const apps: Message[] = [];
    net.dropIf = (m) => {
      if (m.type === MessageType.MsgApp && m.to === 2n) apps.push(m);
      return false;
    };
    for (const d of ['a', 'b', 'c']) net.propose(1, d);
    net.dropIf = undefined;
    for (const m of [...apps].reverse()) net.deliver(m);
    for (const m of apps) net.deliver(m);
    net.stabilize();
    assert.deepEqual(net.appliedData(2), ['a', 'b', 'c']);
    net.checkLogMatching();
  });

  test('the uncommitted-size limit drops proposals on a leader without a quorum', () => {
    const net = new Network({ voters: [1, 2, 3], config: { maxUncommittedEntriesSize: 10 } });
    net.campaign(1);
    net.isolate(1);
    net.propose(1, '12345678');
    assert.throws(() => net.node(1).propose(bytes('12345678')), ErrProposalDropped);
  });
});
