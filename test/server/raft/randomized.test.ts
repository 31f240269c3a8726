// Seeded randomized runs of the Raft core on the transcript environment
// (interaction/env.ts): random ticks, Ready processing in random node order, random
// delivery order (reordering), drops, partitions, crashes and restarts from storage,
// proposals, read-index requests, leadership transfers, log compaction and the
// promotion/demotion of node 4 between learner and voter. The safety invariants of
// interaction/invariants.ts are checked after every step. Afterwards the network is
// healed and every node must converge: a proposal made at the end is applied by all
// nodes, and all state machines are equal (liveness after faults).
//
// A failure names the seed and step. RAFT_RANDOM_SEEDS=<n> runs n seeds per
// configuration instead of the default (longer fuzzing); RAFT_RANDOM_STEPS=<n> sets
// the steps per run.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, MessageType, RaftError, SnapshotStatus, StateType } from '../../../src/server/raft/index.js';
import { InteractionEnv } from './interaction/env.js';
import { Rng } from './network.js';

interface RunConfig {
  readonly seed: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly steps: number;
}

const enc = new TextEncoder();

/** Runs one seeded scenario; returns counters for the assertion message. */
function run(cfg: RunConfig): { proposals: number; leaders: number; checks: number; committed: number; snapshots: number } {
  const rng = new Rng(cfg.seed);
  const env = new InteractionEnv();
  env.output.level = 4; // none
  env.rand = (n) => rng.int(n);
  env.addNodes(4, {
    voters: [1n, 2n, 3n],
    learners: [4n],
    index: 2,
    config: { preVote: cfg.preVote, checkQuorum: cfg.checkQuorum, maxSizePerMsg: 64, maxInflightMsgs: 4 },
  });
  const ids = env.nodes.map((n) => n.id);
  const pick = <T>(xs: readonly T[]): T => xs[rng.int(xs.length)]!;
  let proposals = 0;
  let dropRate = 0;
  const tryRaft = (f: () => void): void => {
    try {
      f();
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
    }
  };
  /** Delivers (or drops) one message; a MsgSnap outcome is reported to its sender like a transport does. */
  const deliverOne = (i: number): void => {
    const [m] = env.messages.splice(i, 1);
    const ok = env.deliver(m!, rng.next() < dropRate);
    if (m!.type === MessageType.MsgSnap) {
      tryRaft(() => env.node(m!.from).rawNode.reportSnapshot(m!.to, ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure));
    }
    env.checker.check('deliver');
  };

  for (let step = 0; step < cfg.steps; step++) {
    const where = `seed ${cfg.seed} step ${step}`;
    try {
      const r = rng.next();
      if (r < 0.3) {
        for (let k = 1 + rng.int(8); k > 0 && env.messages.length > 0; k--) deliverOne(rng.int(env.messages.length));
      } else if (r < 0.5) {
        env.processReady(pick(ids));
      } else if (r < 0.68) {
        if (rng.next() < 0.5) env.tick(pick(ids), 1);
        else for (const id of ids) env.tick(id, 1);
      } else if (r < 0.8) {
        env.propose(pick(ids), `p${proposals++}`);
      } else if (r < 0.83) {
        tryRaft(() => env.node(pick(ids)).rawNode.readIndex(enc.encode(`r${step}`)));
      } else if (r < 0.86) {
        if (rng.next() < 0.5) {
          env.heal();
        } else {
          const a: bigint[] = [];
          const b: bigint[] = [];
          for (const id of ids) (rng.next() < 0.5 ? a : b).push(id);
          env.partition([a, b]);
        }
      } else if (r < 0.88) {
        dropRate = rng.next() < 0.5 ? 0 : rng.next() * 0.3;
      } else if (r < 0.9) {
        env.restart(pick(ids));
      } else if (r < 0.93) {
        const n = env.node(pick(ids));
        const to = n.appliedIndex - rng.int(3);
        if (to >= n.storage.firstIndex()) env.snapshot(n.id, to);
      } else if (r < 0.95) {
        env.node(pick(ids)).rawNode.transferLeader(pick(ids));
      } else if (r < 0.97) {
        // toggle node 4 between learner and voter (proposed on a random node)
        const type = rng.next() < 0.5 ? ConfChangeType.ConfChangeAddNode : ConfChangeType.ConfChangeAddLearnerNode;
        env.proposeConfChanges(pick(ids), [{ id: 0n, type, nodeId: 4n }]);
      } else {
        env.stabilize([]);
      }
      env.checker.check(where);
    } catch (e) {
      if (e instanceof Error) e.message = `${where}: ${e.message}`;
      throw e;
    }
  }

  // liveness: heal everything and let the cluster converge on a final proposal
  env.heal();
  dropRate = 0;
  const final = `final-${cfg.seed}`;
  let proposed = false;
  for (let round = 0; round < 2000; round++) {
    for (const id of ids) env.tick(id, 1);
    env.stabilize([]);
    const leader = env.nodes.find((n) => n.rawNode.raft.state === StateType.StateLeader);
    if (leader !== undefined && !proposed) {
      try {
        leader.rawNode.propose(enc.encode(final));
        proposed = true;
      } catch (e) {
        if (!(e instanceof RaftError)) throw e;
      }
      env.stabilize([]);
    }
    if (proposed && env.nodes.every((n) => n.state.includes(final))) break;
    // a proposal can be lost (leader deposed before replicating): propose again later
    if (proposed && round % 50 === 49 && !env.nodes.some((n) => n.rawNode.raft.raftLog.allEntries().some((e) => new TextDecoder().decode(e.data) === final))) proposed = false;
  }
  for (const n of env.nodes) {
    assert.ok(n.state.includes(final), `seed ${cfg.seed}: node ${n.id} did not apply ${final} after healing (applied ${n.appliedIndex})`);
  }
  const ref = env.nodes[0]!;
  for (const n of env.nodes) {
    assert.equal(n.appliedIndex, ref.appliedIndex, `seed ${cfg.seed}: node ${n.id} applied ${n.appliedIndex}, node 1 ${ref.appliedIndex}`);
    assert.deepEqual(n.state, ref.state, `seed ${cfg.seed}: state machines of ${n.id} and 1 differ`);
  }
  return { proposals, leaders: env.checker.leaders.size, checks: env.checker.checks, committed: ref.appliedIndex, snapshots: env.nodes.filter((n) => n.storage.snapshot().metadata.index > 2).length };
}

const seedsPerConfig = Number(process.env['RAFT_RANDOM_SEEDS'] ?? 4);
const steps = Number(process.env['RAFT_RANDOM_STEPS'] ?? 2000);
const variants = [
  { preVote: false, checkQuorum: false },
  { preVote: true, checkQuorum: false },
  { preVote: false, checkQuorum: true },
  { preVote: true, checkQuorum: true },
];

for (const v of variants) {
  test(`randomized runs keep the safety invariants and converge (prevote=${v.preVote} checkquorum=${v.checkQuorum})`, (t) => {
    let leaders = 0;
    for (let s = 1; s <= seedsPerConfig; s++) {
      const seed = s * 7919 + (v.preVote ? 1 : 0) * 31 + (v.checkQuorum ? 1 : 0) * 17;
      const res = run({ seed, steps, ...v });
      leaders += res.leaders;
      t.diagnostic(`seed ${seed}: ${res.proposals} proposals, ${res.leaders} leaders, applied index ${res.committed}, ${res.snapshots} nodes compacted, ${res.checks} checks`);
      assert.ok(res.checks > steps, `seed ${seed}: only ${res.checks} invariant checks`);
    }
    // the faults must actually cause elections, or the run tests little
    assert.ok(leaders > seedsPerConfig * 2, `only ${leaders} leaders over ${seedsPerConfig} seeds`);
  });
}
