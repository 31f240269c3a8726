// The invariant checker of the transcript harness must be able to fail: each test
// breaks one safety property by tampering with a node's internals and expects the
// checker to name it.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryType, StateType } from '../../../src/server/raft/index.js';
import { InteractionEnv } from './interaction/env.js';
import { InvariantViolation } from './interaction/invariants.js';

const enc = new TextEncoder();

/** Three voters with leader 1 elected and entry "a" committed everywhere. */
function cluster(): InteractionEnv {
  const env = new InteractionEnv();
  env.output.level = 4; // none
  env.addNodes(3, { voters: [1n, 2n, 3n], index: 10 });
  env.node(1).rawNode.campaign();
  env.stabilize([]);
  env.propose(1n, 'a');
  env.stabilize([]);
  return env;
}

function violation(f: () => void, re: RegExp): void {
  assert.throws(f, (e: unknown) => e instanceof InvariantViolation && re.test(e.message));
}

describe('transcript invariant checker', () => {
  test('a healthy run passes', () => {
    const env = cluster();
    env.checker.check('healthy');
    assert.ok(env.checker.checks > 10);
  });

  test('Election Safety: two leaders in one term', () => {
    const env = cluster();
    const r2 = env.node(2).rawNode.raft;
    r2.state = StateType.StateLeader;
    violation(() => env.checker.check('tamper'), /Election Safety: nodes 1 and 2 both led term 1/);
  });

  test('State Machine Safety: another entry applied at an index', () => {
    const env = cluster();
    env.propose(1n, 'b');
    env.processReady(1n); // 1 persists 13; nobody applied it yet
    env.stabilize([]);
    const n3 = env.node(3);
    // pretend 3 applies something else at the next index after everyone applied 13
    const fake = { term: 1, index: n3.appliedIndex, type: EntryType.EntryNormal, data: enc.encode('evil') };
    n3.appliedIndex -= 1;
    violation(() => env.checker.applying(n3, fake), /State Machine Safety/);
  });

  test('Log Matching: same index and term, different entry', () => {
    const env = cluster();
    env.propose(1n, 'b');
    env.processReady(1n);
    env.deliverMsgs(2n); // 2 holds 1/13 "b" unstable
    const u = env.node(2).rawNode.raft.raftLog.unstable;
    assert.equal(u.entries.length, 1);
    u.entries[0] = { ...u.entries[0]!, data: enc.encode('x') };
    violation(() => env.checker.check('tamper'), /Log Matching: nodes 1 and 2/);
  });

  test('commit index never decreases', () => {
    const env = cluster();
    env.node(3).rawNode.raft.raftLog.committed -= 1;
    violation(() => env.checker.check('tamper'), /node 3 commit index went back/);
  });

  test('applied ≤ committed', () => {
    const env = cluster();
    env.node(2).appliedIndex += 5;
    violation(() => env.checker.check('tamper'), /state machine at \d+ > committed/);
  });

  test('vote safety: a second vote in one persisted term', () => {
    const env = cluster();
    const n2 = env.node(2);
    violation(() => env.checker.persistedHardState(n2, { term: 1, vote: 3n, commit: 12 }), /Vote safety: node 2 voted for 3 after voting for 1/);
  });

  test('Leader Completeness: a leader without a committed entry', () => {
    const env = new InteractionEnv();
    env.output.level = 4;
    env.addNodes(3, { voters: [1n, 2n, 3n], index: 10 });
    env.node(1).rawNode.campaign();
    env.stabilize([]);
    env.isolate(3n);
    env.propose(1n, 'a');
    env.stabilize([]);
    // 3 never got 1/12; make it a leader of a later term by force
    const r3 = env.node(3).rawNode.raft;
    r3.term = 5;
    r3.state = StateType.StateLeader;
    violation(() => env.checker.check('tamper'), /Leader Completeness: leader 3 of term 5 lacks committed entry 1\/12/);
  });
});
