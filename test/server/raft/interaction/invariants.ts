// Raft's safety properties (Raft paper Figure 3, plus persistence rules), checked over
// all nodes of an InteractionEnv after every step. A violation throws
// InvariantViolation naming the step and the property:
//
// - Election Safety: at most one leader per term (over the whole run).
// - Vote safety: a node's persisted term never decreases and, within a term, its
//   persisted vote never changes once cast (at most one vote per term).
// - Log Matching: if two logs hold an entry with the same index and term, they are
//   identical up to that index (checked on every pair, unstable entries included).
// - Committed agreement / State Machine Safety: every node that considers index i
//   committed has the same entry at i, and no two nodes apply different entries at
//   one index; entries are applied in order and only once committed and persisted.
// - Leader Completeness: a leader of term T holds every entry known committed by a
//   node whose term was ≤ T at the time (a conservative bound on the commit term).
// - The commit index of a node never decreases; applied ≤ committed ≤ last index.

import { EntryType, StateType, describeEntry, type Entry, type HardState, type Snapshot } from '../../../../src/server/raft/index.js';
import type { EnvNode, InteractionEnv } from './env.js';

/** A broken safety property. */
export class InvariantViolation extends Error {
  override name = 'InvariantViolation';
}

interface CommittedRecord {
  readonly desc: string;
  readonly term: number;
  /** The lowest term of a node when it saw the entry committed (≥ the real commit term). */
  commitTerm: number;
}

/** Per-node memory of the checker. */
interface NodeMemory {
  /** Highest commit index seen on the live node (reset on restart). */
  commit: number;
  /** Highest commit index ever persisted. */
  persistedCommit: number;
  persistedTerm: number;
  persistedVote: bigint;
  /** In-memory term and vote (reset on restart: unpersisted state is lost on a crash). */
  term: number;
  vote: bigint;
}

/** Checks the safety invariants of an environment; see the module comment. */
export class Checker {
  /** term → leader id, over the whole run. */
  readonly leaders = new Map<number, bigint>();
  /** index → committed entry. */
  readonly committed = new Map<number, CommittedRecord>();
  /** index → applied entry (describeEntry). */
  readonly applied = new Map<number, string>();
  /** index → data of an applied non-empty normal entry, or null for other entries. */
  private readonly appliedData = new Map<number, string | null>();
  private readonly mem = new Map<bigint, NodeMemory>();
  /** Number of full checks run (the randomized runner reports it). */
  checks = 0;

  constructor(private readonly env: InteractionEnv) {}

  private fail(step: string, msg: string): never {
    throw new InvariantViolation(`after ${step}: ${msg}`);
  }

  private memory(n: EnvNode): NodeMemory {
    let m = this.mem.get(n.id);
    if (m === undefined) {
      const r = n.rawNode.raft;
      m = { commit: r.raftLog.committed, persistedCommit: 0, persistedTerm: 0, persistedVote: 0n, term: r.term, vote: r.vote };
      this.mem.set(n.id, m);
    }
    return m;
  }

  /** Called before a hard state is persisted. */
  persistedHardState(n: EnvNode, hs: HardState): void {
    const m = this.memory(n);
    const step = `persisting the hard state of ${n.id}`;
    if (hs.term < m.persistedTerm) this.fail(step, `Vote safety: node ${n.id} persisted term ${hs.term} after term ${m.persistedTerm}`);
    if (hs.term === m.persistedTerm && m.persistedVote !== 0n && hs.vote !== m.persistedVote) {
      this.fail(step, `Vote safety: node ${n.id} voted for ${hs.vote} after voting for ${m.persistedVote} in term ${hs.term}`);
    }
    if (hs.commit < m.persistedCommit) this.fail(step, `node ${n.id} persisted commit ${hs.commit} after ${m.persistedCommit}`);
    m.persistedTerm = hs.term;
    m.persistedVote = hs.vote;
    m.persistedCommit = hs.commit;
  }

  /** Called for every committed entry a node applies, before applying it. */
  applying(n: EnvNode, e: Entry): void {
    const step = `node ${n.id} applying ${describeEntry(e)}`;
    if (e.index !== n.appliedIndex + 1) this.fail(step, `entries applied out of order: ${e.index} after ${n.appliedIndex}`);
    const r = n.rawNode.raft;
    if (e.index > r.raftLog.committed) this.fail(step, `applying index ${e.index} above commit ${r.raftLog.committed}`);
    if (e.index > n.storage.lastIndex()) this.fail(step, `applying index ${e.index} before it is persisted (stable last index ${n.storage.lastIndex()})`);
    const desc = describeEntry(e);
    const prev = this.applied.get(e.index);
    if (prev === undefined) {
      this.applied.set(e.index, desc);
      this.appliedData.set(e.index, e.type === EntryType.EntryNormal && e.data.length > 0 ? new TextDecoder().decode(e.data) : null);
    }
    else if (prev !== desc) this.fail(step, `State Machine Safety: index ${e.index} was applied as ${prev} elsewhere`);
  }

  /** Called after a node installed a snapshot: its state must equal what others applied. */
  restoredSnapshot(n: EnvNode, s: Snapshot): void {
    const expected: string[] = [];
    for (let i = 1; i <= s.metadata.index; i++) {
      const d = this.appliedData.get(i);
      if (d !== undefined && d !== null) expected.push(d);
    }
    const first = [...this.applied.keys()].reduce((a, b) => Math.min(a, b), Infinity);
    // only comparable when every index after the initial snapshot was seen applied somewhere
    let complete = first !== Infinity;
    for (let i = first; complete && i <= s.metadata.index; i++) if (!this.applied.has(i)) complete = false;
    if (complete && JSON.stringify(expected) !== JSON.stringify(n.state)) {
      this.fail(`node ${n.id} restoring snapshot ${s.metadata.index}`, `State Machine Safety: snapshot state ${JSON.stringify(n.state)} differs from applied ${JSON.stringify(expected)}`);
    }
  }

  /** Called after a restart: the in-memory state restarts from the persisted one. */
  restarted(n: EnvNode): void {
    const m = this.memory(n);
    const r = n.rawNode.raft;
    if (r.raftLog.committed < m.persistedCommit) this.fail(`restart ${n.id}`, `commit ${r.raftLog.committed} below persisted ${m.persistedCommit}`);
    m.commit = r.raftLog.committed;
    m.term = r.term;
    m.vote = r.vote;
  }

  /** Checks every invariant over all nodes; `step` names what just happened. */
  check(step: string): void {
    this.checks++;
    const nodes = this.env.nodes;
    for (const n of nodes) {
      const r = n.rawNode.raft;
      const m = this.memory(n);
      const log = r.raftLog;
      // commit and applied bounds
      if (log.committed < m.commit) this.fail(step, `node ${n.id} commit index went back from ${m.commit} to ${log.committed}`);
      if (log.applied > log.committed) this.fail(step, `node ${n.id} applied ${log.applied} > committed ${log.committed}`);
      if (n.appliedIndex > log.committed) this.fail(step, `node ${n.id} state machine at ${n.appliedIndex} > committed ${log.committed}`);
      if (log.committed > log.lastIndex()) this.fail(step, `node ${n.id} committed ${log.committed} > last index ${log.lastIndex()}`);
      // in-memory term/vote
      if (r.term < m.term) this.fail(step, `node ${n.id} term went back from ${m.term} to ${r.term}`);
      if (r.term === m.term && m.vote !== 0n && r.vote !== m.vote) {
        this.fail(step, `Vote safety: node ${n.id} changed its vote in term ${r.term} from ${m.vote} to ${r.vote}`);
      }
      m.term = r.term;
      m.vote = r.vote;
      // committed entries agree everywhere
      const first = log.firstIndex();
      for (let i = Math.max(m.commit + 1, first); i <= log.committed; i++) {
        const e = log.slice(i, i + 1, Infinity)[0]!;
        const desc = describeEntry(e);
        const rec = this.committed.get(i);
        if (rec === undefined) this.committed.set(i, { desc, term: e.term, commitTerm: r.term });
        else if (rec.desc !== desc) this.fail(step, `committed entries differ at ${i}: node ${n.id} has ${desc}, another node committed ${rec.desc}`);
        else rec.commitTerm = Math.min(rec.commitTerm, r.term);
      }
      m.commit = log.committed;
      // election safety
      if (r.state === StateType.StateLeader) {
        const prev = this.leaders.get(r.term);
        if (prev !== undefined && prev !== n.id) this.fail(step, `Election Safety: nodes ${prev} and ${n.id} both led term ${r.term}`);
        this.leaders.set(r.term, n.id);
      }
    }
    // leader completeness
    for (const n of nodes) {
      const r = n.rawNode.raft;
      if (r.state !== StateType.StateLeader) continue;
      const first = r.raftLog.firstIndex();
      for (const [i, rec] of this.committed) {
        if (rec.commitTerm > r.term || i < first) continue;
        if (i > r.raftLog.lastIndex() || r.raftLog.term(i) !== rec.term) {
          this.fail(step, `Leader Completeness: leader ${n.id} of term ${r.term} lacks committed entry ${rec.desc}`);
        }
      }
    }
    // log matching, pairwise
    for (let a = 0; a < nodes.length; a++) {
      for (let b = a + 1; b < nodes.length; b++) this.checkLogMatching(step, nodes[a]!, nodes[b]!);
    }
  }

  private checkLogMatching(step: string, A: EnvNode, B: EnvNode): void {
    const la = A.rawNode.raft.raftLog;
    const lb = B.rawNode.raft.raftLog;
    const lo = Math.max(la.firstIndex(), lb.firstIndex());
    const hi = Math.min(la.lastIndex(), lb.lastIndex());
    if (hi < lo) return;
    const ea = la.slice(lo, hi + 1, Infinity);
    const eb = lb.slice(lo, hi + 1, Infinity);
    let top = -1;
    for (let k = ea.length - 1; k >= 0; k--) {
      if (ea[k]!.term === eb[k]!.term) {
        top = k;
        break;
      }
    }
    for (let k = 0; k <= top; k++) {
      if (!sameEntry(ea[k]!, eb[k]!)) {
        this.fail(
          step,
          `Log Matching: nodes ${A.id} and ${B.id} agree on index ${lo + top} but differ at ${lo + k} (${describeEntry(ea[k]!)} vs ${describeEntry(eb[k]!)})`,
        );
      }
    }
  }
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  if (a.term !== b.term || a.index !== b.index || a.type !== b.type || a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
