// A deterministic in-memory cluster for Raft core tests (the role of etcd's rafttest
// InteractionEnv and raft_test.go's `network`): RawNodes with MemoryStorage, a message
// queue with partitions and drop rules, crash/restart from storage, and always-on
// safety checks (Raft paper Figure 3):
//
// - Election Safety: at most one leader per term (checked whenever a Ready is processed);
// - State Machine Safety: no two nodes apply different entries at one index (checked on
//   every apply, also across restarts and snapshot restores);
// - Leader Completeness: a leader of term T holds every entry committed in an earlier
//   term (checkLeaderCompleteness);
// - Log Matching: equal (index, term) means equal prefixes (checkLogMatching);
// - commit index never decreases on a node, applied ≤ committed.
//
// Ready handling follows the contract in src/server/raft/ready.ts: persist snapshot,
// entries and hard state into MemoryStorage, then queue messages, then apply committed
// entries (conf changes through applyConfChange), then advance.

import assert from 'node:assert/strict';
import {
  ConfChangeType,
  EntryType,
  MemoryStorage,
  MessageType,
  RawNode,
  SnapshotStatus,
  StateType,
  decodeConfChange,
  describeEntry,
  describeMessage,
  type ConfChange,
  type ConfState,
  type Entry,
  type Logger,
  type Message,
  type RaftConfig,
  type ReadState,
  type Ready,
  type Snapshot,
} from '../../../src/server/raft/index.js';

/** A small seeded PRNG (mulberry32): reproducible runs from one number. */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0;
  }
  /** A float in [0, 1). */
  next(): number {
    this.s = (this.s + 0x6d2b79f5) >>> 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** UTF-8 bytes of a string. */
export function bytes(s: string): Uint8Array {
  return enc.encode(s);
}

/** The string in UTF-8 bytes. */
export function str(b: Uint8Array): string {
  return dec.decode(b);
}

/** One simulated server: its RawNode, durable storage and state machine. */
export interface SimNode {
  readonly id: bigint;
  /** undefined while crashed. */
  node: RawNode | undefined;
  readonly storage: MemoryStorage;
  /** The state machine: index → data of every applied normal entry (non-empty ones). */
  applied: Map<number, string>;
  /** Highest applied index. */
  appliedIndex: number;
  /** Membership after the last applied conf change (or restored snapshot). */
  confState: ConfState;
  /** Read states received, in order. */
  readStates: ReadState[];
  /** Highest commit index seen in this node's hard state (must never decrease). */
  maxCommit: number;
}

export interface NetworkOptions {
  readonly voters: readonly number[];
  readonly learners?: readonly number[];
  readonly preVote?: boolean;
  readonly checkQuorum?: boolean;
  readonly electionTick?: number;
  readonly heartbeatTick?: number;
  /** Seed of the per-network RNG used for election timeouts and random drops. */
  readonly seed?: number;
  /** Overrides of the RawNode config. */
  readonly config?: Partial<RaftConfig>;
  /** Prints every log line (debugging). */
  readonly verbose?: boolean;
}

/** A committed entry as first seen applied: its description and the lowest term at which it was known committed. */
interface CommittedRecord {
  readonly desc: string;
  readonly term: number;
  commitTerm: number;
}

/** A simulated network of RawNodes. */
export class Network {
  readonly nodes = new Map<bigint, SimNode>();
  /** Messages sent and not yet delivered, FIFO. */
  queue: Message[] = [];
  /** Messages delivered so far (for assertions), as describeMessage lines. */
  readonly delivered: string[] = [];
  readonly rng: Rng;
  /** Extra drop rule: return true to drop a message at delivery. */
  dropIf: ((m: Message) => boolean) | undefined;
  /** Probability of dropping any message (churn tests). */
  dropRate = 0;
  /** Connectivity: unordered pairs "a-b" that cannot talk. */
  private readonly cut = new Set<string>();
  /** term → leader id observed (Election Safety). */
  readonly leaders = new Map<number, bigint>();
  /** index → first applied entry anywhere (State Machine Safety, Leader Completeness). */
  readonly committed = new Map<number, CommittedRecord>();
  private readonly opts: NetworkOptions;
  private readonly electionTick: number;
  private readonly heartbeatTick: number;
  readonly logs: string[] = [];

  constructor(opts: NetworkOptions) {
    this.opts = opts;
    this.rng = new Rng(opts.seed ?? 1);
    this.electionTick = opts.electionTick ?? 10;
    this.heartbeatTick = opts.heartbeatTick ?? 1;
    const confState: ConfState = {
      voters: opts.voters.map(BigInt),
      learners: (opts.learners ?? []).map(BigInt),
    };
    for (const id of [...confState.voters, ...confState.learners]) this.addNode(id, confState);
  }

  /** Creates a node with an empty storage that knows `confState` (a new member). */
  addNode(id: bigint, confState: ConfState): SimNode {
    const sim: SimNode = {
      id,
      node: undefined,
      storage: new MemoryStorage(confState),
      applied: new Map(),
      appliedIndex: 0,
      confState,
      readStates: [],
      maxCommit: 0,
    };
    this.nodes.set(id, sim);
    sim.node = this.newRawNode(sim, 0);
    return sim;
  }

  private logger(id: bigint): Logger {
    const out = (level: string) => (msg: string) => {
      const line = `${id} ${level} ${msg}`;
      if (this.opts.verbose) console.log(line);
    };
    return { debug: out('DEBUG'), info: out('INFO'), warn: out('WARN'), error: out('ERROR') };
  }

  private newRawNode(sim: SimNode, applied: number): RawNode {
    return new RawNode({
      id: sim.id,
      electionTick: this.electionTick,
      heartbeatTick: this.heartbeatTick,
      storage: sim.storage,
      rand: (n) => this.rng.int(n),
      applied,
      preVote: this.opts.preVote ?? false,
      checkQuorum: this.opts.checkQuorum ?? false,
      logger: this.logger(sim.id),
      ...this.opts.config,
    });
  }

  /** The SimNode `id` (throws if unknown). */
  sim(id: number | bigint): SimNode {
    const s = this.nodes.get(BigInt(id));
    assert.ok(s, `no node ${id}`);
    return s;
  }

  /** The RawNode of `id` (throws if unknown or crashed). */
  node(id: number | bigint): RawNode {
    const n = this.sim(id).node;
    assert.ok(n, `node ${id} is down`);
    return n;
  }

  // ---------------------------------------------------------------------------------
  // Connectivity

  private pair(a: bigint, b: bigint): string {
    return a < b ? `${a}-${b}` : `${b}-${a}`;
  }

  /** Splits the nodes into groups that cannot talk to each other. */
  partition(...groups: ReadonlyArray<readonly number[]>): void {
    this.cut.clear();
    const groupOf = new Map<bigint, number>();
    groups.forEach((g, i) => g.forEach((id) => groupOf.set(BigInt(id), i)));
    const ids = [...this.nodes.keys()];
    for (const a of ids) {
      for (const b of ids) {
        if (a < b && groupOf.get(a) !== groupOf.get(b)) this.cut.add(this.pair(a, b));
      }
    }
  }

  /** Cuts `id` off from everyone. */
  isolate(id: number | bigint): void {
    for (const other of this.nodes.keys()) if (other !== BigInt(id)) this.cut.add(this.pair(BigInt(id), other));
  }

  /** Restores full connectivity. */
  heal(): void {
    this.cut.clear();
  }

  /** True if `a` and `b` can exchange messages. */
  connected(a: bigint, b: bigint): boolean {
    return !this.cut.has(this.pair(a, b));
  }

  // ---------------------------------------------------------------------------------
  // Ready processing and delivery

  /** Processes one Ready of `id` in the contract order; returns it (undefined if none). */
  processReady(id: bigint): Ready | undefined {
    const sim = this.sim(id);
    const node = sim.node;
    if (!node || !node.hasReady()) return undefined;
    const rd = node.ready();
    // 1. persist: snapshot, entries, hard state
    if (rd.snapshot) {
      sim.storage.applySnapshot(rd.snapshot);
    }
    sim.storage.append(rd.entries);
    if (rd.hardState) {
      assert.ok(rd.hardState.commit >= sim.maxCommit, `node ${id}: commit went back from ${sim.maxCommit} to ${rd.hardState.commit}`);
      sim.maxCommit = rd.hardState.commit;
      sim.storage.setHardState(rd.hardState);
    }
    // 2. send (after persisting, valid for every role)
    for (const m of rd.messages) this.queue.push(m);
    // 3. apply
    if (rd.snapshot) this.restoreStateMachine(sim, rd.snapshot);
    const term = node.raft.term;
    for (const e of rd.committedEntries) this.apply(sim, e, term);
    sim.readStates.push(...rd.readStates);
    // 4. advance
    node.advance(rd);
    assert.ok(sim.appliedIndex <= node.raft.raftLog.committed, `node ${id}: applied ${sim.appliedIndex} > committed`);
    this.observeLeader(sim);
    return rd;
  }

  private observeLeader(sim: SimNode): void {
    const r = sim.node?.raft;
    if (!r || r.state !== StateType.StateLeader) return;
    const prev = this.leaders.get(r.term);
    assert.ok(prev === undefined || prev === sim.id, `Election Safety: term ${r.term} has leaders ${prev} and ${sim.id}`);
    if (prev === undefined) {
      this.leaders.set(r.term, sim.id);
      this.checkLeaderCompleteness(sim);
    }
  }

  private apply(sim: SimNode, e: Entry, term: number): void {
    assert.equal(e.index, sim.appliedIndex + 1, `node ${sim.id}: applied out of order (${e.index} after ${sim.appliedIndex})`);
    const desc = describeEntry(e);
    const rec = this.committed.get(e.index);
    if (rec === undefined) {
      this.committed.set(e.index, { desc, term: e.term, commitTerm: term });
    } else {
      assert.equal(desc, rec.desc, `State Machine Safety: node ${sim.id} applied a different entry at index ${e.index}`);
      rec.commitTerm = Math.min(rec.commitTerm, term);
    }
    sim.appliedIndex = e.index;
    if (e.type === EntryType.EntryConfChange) {
      const cc = decodeConfChange(e.data);
      sim.confState = sim.node!.applyConfChange(cc);
    } else if (e.data.length > 0) {
      sim.applied.set(e.index, str(e.data));
    }
  }

  /** Replaces the state machine with a snapshot's content (see snapshotData). */
  private restoreStateMachine(sim: SimNode, snap: Snapshot): void {
    const data = JSON.parse(str(snap.data)) as Array<[number, string]>;
    sim.applied = new Map(data);
    for (const [i, v] of sim.applied) {
      const rec = this.committed.get(i);
      if (rec) assert.ok(rec.desc.endsWith(JSON.stringify(v)), `State Machine Safety: snapshot of ${sim.id} differs at ${i}`);
    }
    sim.appliedIndex = snap.metadata.index;
    sim.confState = snap.metadata.confState;
  }

  /** Serializes a state machine as snapshot data. */
  private snapshotData(sim: SimNode): Uint8Array {
    return bytes(JSON.stringify([...sim.applied]));
  }

  /**
   * Delivers one message (if the link is up, both ends are up and no drop rule
   * matches). A MsgSnap is reported back to the sender as finished or failed.
   */
  deliver(m: Message): boolean {
    const from = this.nodes.get(m.from);
    const to = this.nodes.get(m.to);
    const ok =
      to?.node !== undefined &&
      this.connected(m.from, m.to) &&
      !(this.dropIf?.(m) ?? false) &&
      !(this.dropRate > 0 && this.rng.next() < this.dropRate);
    if (ok) {
      this.delivered.push(describeMessage(m));
      try {
        to.node!.step(m);
      } catch (e) {
        // a forwarded proposal may be dropped by the receiver; that is not an error here
        if (!(e instanceof Error && e.name === 'ErrProposalDropped') && !(e instanceof Error && e.name === 'ErrStepPeerNotFound')) throw e;
      }
    }
    if (m.type === MessageType.MsgSnap && from?.node) {
      from.node.reportSnapshot(m.to, ok ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure);
    }
    return ok;
  }

  /** Delivers every message queued now (not ones they cause); returns how many were sent. */
  deliverAll(): number {
    const batch = this.queue;
    this.queue = [];
    for (const m of batch) this.deliver(m);
    return batch.length;
  }

  /** Processes Ready of every live node (ascending id). */
  processAll(): number {
    let n = 0;
    for (const id of [...this.nodes.keys()].sort((a, b) => (a < b ? -1 : 1))) {
      while (this.processReady(id)) n++;
    }
    return n;
  }

  /** Repeats Ready processing and delivery until nothing moves (bounded). */
  stabilize(maxRounds = 1000): void {
    for (let i = 0; i < maxRounds; i++) {
      const work = this.processAll() + this.deliverAll();
      if (work === 0) return;
    }
    assert.fail('network did not stabilize');
  }

  /** Ticks every live node `n` times, stabilizing after each round. */
  tickAll(n = 1): void {
    for (let i = 0; i < n; i++) {
      for (const s of this.nodes.values()) s.node?.tick();
      this.stabilize();
    }
  }

  /** Ticks until some node is leader in term > `afterTerm` (or fails after `max` rounds). */
  tickUntilLeader(max = 200): bigint {
    for (let i = 0; i < max; i++) {
      const l = this.leader();
      if (l !== undefined) return l;
      this.tickAll(1);
    }
    assert.fail('no leader elected');
  }

  // ---------------------------------------------------------------------------------
  // Commands

  /** campaign() on `id`, then stabilize. */
  campaign(id: number | bigint): void {
    this.node(id).campaign();
    this.stabilize();
  }

  /** propose() on `id` then stabilize; rethrows ErrProposalDropped. */
  propose(id: number | bigint, data: string): void {
    this.node(id).propose(bytes(data));
    this.stabilize();
  }

  /** proposeConfChange() on `id` then stabilize. */
  proposeConfChange(id: number | bigint, type: ConfChangeType, nodeId: number): void {
    const cc: ConfChange = { id: 0n, type, nodeId: BigInt(nodeId) };
    this.node(id).proposeConfChange(cc);
    this.stabilize();
  }

  /** The unique live node that believes it is leader of the highest term, if any. */
  leader(): bigint | undefined {
    let best: bigint | undefined;
    let bestTerm = -1;
    for (const s of this.nodes.values()) {
      const r = s.node?.raft;
      if (r && r.state === StateType.StateLeader && r.term > bestTerm) {
        best = s.id;
        bestTerm = r.term;
      }
    }
    return best;
  }

  /** Crashes `id`: everything not yet persisted (pending Ready) is lost. */
  crash(id: number | bigint): void {
    this.sim(id).node = undefined;
  }

  /**
   * Restarts `id` from its storage. The state machine restarts from the storage's
   * snapshot and re-applies committed entries after it (applied is not persisted).
   */
  restart(id: number | bigint): void {
    const sim = this.sim(id);
    const snap = sim.storage.snapshot();
    if (snap.metadata.index > 0) {
      this.restoreStateMachine(sim, snap);
    } else {
      sim.applied = new Map();
      sim.appliedIndex = 0;
      sim.confState = sim.storage.initialState().confState;
    }
    sim.node = this.newRawNode(sim, sim.appliedIndex);
  }

  /**
   * Takes a snapshot of `id`'s state machine at its applied index and compacts its
   * log up to `compactTo` (default: the applied index).
   */
  compact(id: number | bigint, compactTo?: number): void {
    const sim = this.sim(id);
    const at = sim.appliedIndex;
    if (at > sim.storage.snapshot().metadata.index) sim.storage.createSnapshot(at, sim.confState, this.snapshotData(sim));
    const to = Math.min(compactTo ?? at, at);
    if (to >= sim.storage.firstIndex()) sim.storage.compact(to);
  }

  /** The stored log of `id` (firstIndex..lastIndex). */
  log(id: number | bigint): readonly Entry[] {
    const s = this.sim(id).storage;
    if (s.lastIndex() < s.firstIndex()) return [];
    return s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity);
  }

  /** Applied data of `id` in index order. */
  appliedData(id: number | bigint): string[] {
    return [...this.sim(id).applied.entries()].sort((a, b) => a[0] - b[0]).map(([, v]) => v);
  }

  // ---------------------------------------------------------------------------------
  // Invariants

  /** Log Matching (Raft §5.3): entries with equal index and term have identical prefixes, on every pair of nodes. */
  checkLogMatching(): void {
    const logs = [...this.nodes.keys()].map((id) => ({ id, log: this.log(id), first: this.sim(id).storage.firstIndex() }));
    for (let a = 0; a < logs.length; a++) {
      for (let b = a + 1; b < logs.length; b++) {
        const A = logs[a]!;
        const B = logs[b]!;
        const lo = Math.max(A.first, B.first);
        const hi = Math.min(A.first + A.log.length, B.first + B.log.length) - 1;
        let top = -1;
        for (let i = hi; i >= lo; i--) {
          if (A.log[i - A.first]!.term === B.log[i - B.first]!.term) {
            top = i;
            break;
          }
        }
        for (let i = lo; i <= top; i++) {
          const ea = A.log[i - A.first]!;
          const eb = B.log[i - B.first]!;
          assert.equal(describeEntry(ea), describeEntry(eb), `Log Matching: nodes ${A.id} and ${B.id} differ at ${i} below matching ${top}`);
        }
      }
    }
  }

  /** Leader Completeness (Raft §5.4): a leader of term T holds every entry committed in a term < T. */
  checkLeaderCompleteness(sim: SimNode): void {
    const r = sim.node!.raft;
    const first = r.raftLog.firstIndex();
    for (const [i, rec] of this.committed) {
      if (rec.commitTerm >= r.term || i < first) continue;
      assert.ok(i <= r.raftLog.lastIndex(), `Leader Completeness: leader ${sim.id} (term ${r.term}) lacks committed index ${i}`);
      assert.equal(r.raftLog.term(i), rec.term, `Leader Completeness: leader ${sim.id} (term ${r.term}) has another entry at ${i}`);
    }
  }
}

/** ConfChange helpers for readability. */
export const AddNode = ConfChangeType.ConfChangeAddNode;
export const RemoveNode = ConfChangeType.ConfChangeRemoveNode;
export const AddLearner = ConfChangeType.ConfChangeAddLearnerNode;
