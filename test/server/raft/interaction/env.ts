// The interaction environment behind the Raft transcript tests (the role of
// etcd-io/raft's rafttest.InteractionEnv, written for our core): a set of RawNodes
// with MemoryStorage, one global message queue, and commands that tick, campaign,
// propose, process Ready batches and deliver messages one explicit step at a time.
// Everything a step does is printed with the core's describe* formatters and its log
// lines, so a transcript shows the exact protocol exchange.
//
// Ready handling is synchronous, in the order of the contract in
// src/server/raft/ready.ts: persist snapshot, entries and hard state; queue the
// messages; apply the committed entries (conf changes through applyConfChange);
// advance.
//
// After every step (each Ready processed, each batch of messages delivered, each
// command) the Checker (invariants.ts) verifies Raft's safety properties across all
// nodes; a violation throws InvariantViolation.
//
// Commands (node ids are 1, 2, ... in creation order; `(a,b)` lists ids):
//
//   add-nodes N [voters=(..)] [learners=(..)] [index=I] [prevote=B] [checkquorum=B]
//             [inflight=N] [max-msg-size=N] [max-committed-size-per-ready=N]
//             [max-uncommitted-size=N] [read-only=safe|lease-based]
//             [disable-proposal-forwarding=B] [election-tick=N] [heartbeat-tick=N]
//       N nodes whose storage holds a snapshot at index I (term 1) with the given
//       configuration; electionTick 3, heartbeatTick 1, no message size limit.
//   campaign ID | propose ID DATA | propose-conf-change ID v2 l3 r4 u5 ...
//       (each change is its own single-node ConfChange proposal, in order)
//   tick ID N | tick-election ID | tick-heartbeat ID
//   set-randomized-election-timeout ID timeout=N   (rand() is 0 otherwise: the
//       election timeout is exactly electionTick)
//   process-ready ID...            persist, send, apply, advance (prints the Ready)
//   deliver-msgs ID... [drop=(..)] [type=MsgApp] [from=ID] [reverse=true]
//   duplicate-msgs ID              queue a copy of every message queued for ID
//   stabilize [ID...] [log-level=L]   Ready processing and delivery to a fixed point
//   partition (1,2) (3) | isolate ID | heal   messages across a cut are lost, also
//       those sent while the cut existed and delivered after healing
//   transfer-leadership from=ID to=ID | read-index ID CTX
//   report-snapshot ID TO [status=finish|failure] | report-unreachable ID TO
//   snapshot ID | compact ID INDEX | restart ID
//   status ID | raft-log ID | raft-state | log-level debug|info|warn|error|none

import {
  ConfChangeType,
  EntryType,
  MemoryStorage,
  MessageType,
  RaftError,
  RawNode,
  ReadOnlyOption,
  SnapshotStatus,
  StateType,
  decodeConfChange,
  describeEntries,
  describeMessage,
  describeReady,
  describeStatus,
  type ConfChange,
  type ConfState,
  type Entry,
  type Logger,
  type Message,
  type RaftConfig,
} from '../../../../src/server/raft/index.js';
import { Checker } from './invariants.js';
import type { CmdArg, CmdLine } from './datadriven.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

/** Log levels of the transcript output; `none` also silences the harness's own output. */
export const LEVELS = ['debug', 'info', 'warn', 'error', 'none'] as const;
export type Level = (typeof LEVELS)[number];

/** Collects a command's output lines, with the current indentation. */
export class Output {
  private lines: string[] = [];
  indent = 0;
  level = 1; // info

  /** False at level none: callers may skip formatting output nobody reads. */
  enabled(): boolean {
    return this.level < LEVELS.indexOf('none');
  }

  /** Harness output (suppressed only at level none). */
  write(text: string): void {
    if (!this.enabled()) return;
    for (const l of text.replace(/\n$/, '').split('\n')) this.lines.push(' '.repeat(this.indent) + l);
  }

  /** A log line of the given level, if the level is enabled. */
  log(level: number, line: string): void {
    if (level < this.level) return;
    this.lines.push(' '.repeat(this.indent) + `${LEVELS[level]!.toUpperCase()} ${line}`);
  }

  /** Runs `f` with output indented by two more spaces. */
  indented(f: () => void): void {
    this.indent += 2;
    try {
      f();
    } finally {
      this.indent -= 2;
    }
  }

  /** Takes the collected lines (and clears them). */
  take(): string {
    const s = this.lines.join('\n');
    this.lines = [];
    return s;
  }
}

/** One simulated server. */
export interface EnvNode {
  readonly id: bigint;
  rawNode: RawNode;
  readonly storage: MemoryStorage;
  /** The config the node was created with (restarts reuse it). */
  readonly config: RaftConfig;
  /** The state machine: data of the applied non-empty normal entries, in order. */
  state: string[];
  /** Highest index applied to `state` (or restored from a snapshot). */
  appliedIndex: number;
  /** Membership after the last applied conf change or restored snapshot. */
  confState: ConfState;
}

/** Thrown for malformed commands (a test-script error, not a Raft outcome). */
export class CommandError extends Error {
  override name = 'CommandError';
}

/** Snapshot data: the state machine as JSON. */
export function snapshotData(state: readonly string[]): Uint8Array {
  return enc.encode(JSON.stringify(state));
}

function parseSnapshotData(data: Uint8Array): string[] {
  if (data.length === 0) return [];
  return JSON.parse(dec.decode(data)) as string[];
}

function sortIds(ids: Iterable<bigint>): bigint[] {
  return [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** Options for {@link InteractionEnv.addNodes}; ids are consecutive from the number of existing nodes + 1. */
export interface AddNodesOptions {
  readonly voters?: readonly bigint[];
  readonly learners?: readonly bigint[];
  /** Index (> 1) of the initial snapshot (term 1) holding the configuration; required with voters/learners. */
  readonly index?: number;
  readonly config?: Partial<RaftConfig>;
}

/** The environment: nodes, the message queue, connectivity, output and the invariant checker. */
export class InteractionEnv {
  readonly nodes: EnvNode[] = [];
  /** Messages sent and not yet delivered, in send order. */
  messages: Message[] = [];
  readonly output = new Output();
  readonly checker = new Checker(this);
  /** Unordered pairs `a-b` that cannot exchange messages. */
  private readonly cut = new Set<string>();
  /** Messages sent while their link was cut: lost even if the link heals before delivery. */
  private readonly lost = new WeakSet<Message>();
  /**
   * The randomness of election timeouts: `rand(n)` in [0, n). Transcripts use 0 (the
   * timeout is exactly electionTick, so `tick-election` fires deterministically);
   * the randomized runner injects a seeded generator.
   */
  rand: (n: number) => number = () => 0;

  /** The node with `id` (throws CommandError if unknown). */
  node(id: bigint | number): EnvNode {
    const n = this.nodes[Number(id) - 1];
    if (n === undefined) throw new CommandError(`unknown node ${id}`);
    return n;
  }

  private logger(id: bigint): Logger {
    void id;
    return {
      debug: (m) => this.output.log(0, m),
      info: (m) => this.output.log(1, m),
      warn: (m) => this.output.log(2, m),
      error: (m) => this.output.log(3, m),
    };
  }

  // -----------------------------------------------------------------------------------
  // Setup

  /** Adds `n` nodes, each with its own storage holding an initial snapshot of the configuration. */
  addNodes(n: number, opts: AddNodesOptions): void {
    const voters = opts.voters ?? [];
    const learners = opts.learners ?? [];
    const bootstrap = voters.length > 0 || learners.length > 0 || opts.index !== undefined;
    if (bootstrap && (opts.index === undefined || opts.index <= 1)) {
      throw new CommandError('index must be specified as > 1 with voters or learners');
    }
    for (let i = 0; i < n; i++) {
      const id = BigInt(this.nodes.length + 1);
      const storage = new MemoryStorage();
      const confState: ConfState = { voters: sortIds(voters), learners: sortIds(learners) };
      if (bootstrap) {
        storage.applySnapshot({ data: snapshotData([]), metadata: { index: opts.index!, term: 1, confState } });
      }
      const config: RaftConfig = {
        id,
        electionTick: 3,
        heartbeatTick: 1,
        storage,
        rand: (k) => this.rand(k),
        applied: bootstrap ? opts.index! : 0,
        maxSizePerMsg: Infinity,
        maxInflightMsgs: 256,
        logger: this.logger(id),
        ...opts.config,
      };
      const rawNode = new RawNode(config);
      this.nodes.push({
        id,
        rawNode,
        storage,
        config,
        state: [],
        appliedIndex: bootstrap ? opts.index! : 0,
        confState: bootstrap ? confState : { voters: [], learners: [] },
      });
    }
    this.checker.check('add-nodes');
  }

  // -----------------------------------------------------------------------------------
  // Connectivity

  private pair(a: bigint, b: bigint): string {
    return a < b ? `${a}-${b}` : `${b}-${a}`;
  }

  /** Splits the nodes into groups; nodes not listed are each cut off from everyone. */
  partition(groups: ReadonlyArray<readonly bigint[]>): void {
    this.cut.clear();
    const groupOf = new Map<bigint, number>();
    groups.forEach((g, i) => g.forEach((id) => groupOf.set(id, i)));
    for (const a of this.nodes) {
      for (const b of this.nodes) {
        if (a.id < b.id && (groupOf.get(a.id) === undefined || groupOf.get(a.id) !== groupOf.get(b.id))) {
          this.cut.add(this.pair(a.id, b.id));
        }
      }
    }
  }

  /** Cuts `id` off from every other node. */
  isolate(id: bigint): void {
    for (const n of this.nodes) if (n.id !== id) this.cut.add(this.pair(id, n.id));
  }

  /** Restores full connectivity. */
  heal(): void {
    this.cut.clear();
  }

  /** True if messages between `a` and `b` are delivered. */
  connected(a: bigint, b: bigint): boolean {
    return !this.cut.has(this.pair(a, b));
  }

  // -----------------------------------------------------------------------------------
  // Ready processing and delivery

  /** Processes one Ready of `id` (printing it); returns false if there was none. */
  processReady(id: bigint): boolean {
    const n = this.node(id);
    const rn = n.rawNode;
    if (!rn.hasReady()) return false;
    const rd = rn.ready();
    if (this.output.enabled()) this.output.write(describeReady(rd));
    // 1. persist
    if (rd.snapshot !== undefined) n.storage.applySnapshot(rd.snapshot);
    n.storage.append(rd.entries);
    if (rd.hardState !== undefined) {
      this.checker.persistedHardState(n, rd.hardState);
      n.storage.setHardState(rd.hardState);
    }
    // 2. send
    for (const m of rd.messages) {
      if (!this.connected(m.from, m.to)) this.lost.add(m);
      this.messages.push(m);
    }
    // 3. apply (committed entries are durable now)
    if (rd.snapshot !== undefined) {
      n.state = parseSnapshotData(rd.snapshot.data);
      n.appliedIndex = rd.snapshot.metadata.index;
      n.confState = rd.snapshot.metadata.confState;
      this.checker.restoredSnapshot(n, rd.snapshot);
    }
    for (const e of rd.committedEntries) this.apply(n, e);
    // 4. advance
    rn.advance(rd);
    this.checker.check(`process-ready ${id}`);
    return true;
  }

  private apply(n: EnvNode, e: Entry): void {
    this.checker.applying(n, e);
    n.appliedIndex = e.index;
    if (e.type === EntryType.EntryConfChange) {
      const cc = decodeConfChange(e.data);
      n.confState = n.rawNode.applyConfChange(cc);
    } else if (e.data.length > 0) {
      n.state.push(dec.decode(e.data));
    }
  }

  /**
   * Delivers (or drops) the queued messages addressed to `to` that match `type`, in
   * order, and prints them. Messages across a partition are dropped. Returns the
   * number of messages taken from the queue.
   */
  deliverMsgs(to: bigint, opts: { type?: MessageType; from?: bigint; drop?: boolean; reverse?: boolean } = {}): number {
    const mine: Message[] = [];
    const rest: Message[] = [];
    for (const m of this.messages) {
      if (m.to === to && (opts.type === undefined || m.type === opts.type) && (opts.from === undefined || m.from === opts.from)) mine.push(m);
      else rest.push(m);
    }
    this.messages = rest;
    if (opts.reverse === true) mine.reverse();
    for (const m of mine) this.deliver(m, opts.drop ?? false);
    if (mine.length > 0) this.checker.check(`deliver-msgs ${to}`);
    return mine.length;
  }

  /** Delivers one message (printing it), unless dropped or the link is cut; returns true if delivered. */
  deliver(m: Message, drop = false): boolean {
    const on = this.output.enabled();
    if (drop || this.lost.has(m) || !this.connected(m.from, m.to)) {
      if (on) this.output.write(`dropped: ${describeMessage(m)}`);
      return false;
    }
    const target = this.nodes[Number(m.to) - 1];
    if (target === undefined) {
      if (on) this.output.write(`dropped (no such node): ${describeMessage(m)}`);
      return false;
    }
    if (on) this.output.write(describeMessage(m));
    try {
      target.rawNode.step(m);
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      this.output.write(e.message);
    }
    return true;
  }

  /** Ready processing and delivery on `ids` (all nodes if empty) until nothing moves. */
  stabilize(ids: readonly bigint[]): void {
    const set = ids.length > 0 ? ids : this.nodes.map((n) => n.id);
    for (let round = 0; ; round++) {
      if (round > 1000) throw new Error('stabilize: no fixed point after 1000 rounds');
      let done = true;
      for (const id of set) {
        if (this.node(id).rawNode.hasReady()) {
          this.output.write(`> ${id} handling Ready`);
          this.output.indented(() => this.processReady(id));
          done = false;
        }
      }
      for (const id of set) {
        if (this.messages.some((m) => m.to === id)) {
          this.output.write(`> ${id} receiving messages`);
          this.output.indented(() => this.deliverMsgs(id));
          done = false;
        }
      }
      if (done) return;
    }
  }

  // -----------------------------------------------------------------------------------
  // Node operations

  /** Ticks `id` `n` times. */
  tick(id: bigint, n: number): void {
    const rn = this.node(id).rawNode;
    for (let i = 0; i < n; i++) {
      rn.tick();
      this.checker.check(`tick ${id}`);
    }
  }

  /** Proposes `data` on `id`; prints the error if the proposal is dropped. */
  propose(id: bigint, data: string): void {
    this.catchRaftError(() => this.node(id).rawNode.propose(enc.encode(data)));
  }

  /** Proposes each change as its own ConfChange entry, in order. */
  proposeConfChanges(id: bigint, ccs: readonly ConfChange[]): void {
    for (const cc of ccs) this.catchRaftError(() => this.node(id).rawNode.proposeConfChange(cc));
  }

  /** Runs `f`, printing an expected Raft error instead of throwing it. */
  catchRaftError(f: () => void): void {
    try {
      f();
    } catch (e) {
      if (!(e instanceof RaftError)) throw e;
      this.output.write(e.message);
    }
  }

  /**
   * Takes a snapshot of `id`'s state machine at its applied index (if newer than the
   * stored one) and, if `compactTo` is given, discards the stored log up to and
   * including `compactTo` (≤ applied index).
   */
  snapshot(id: bigint, compactTo?: number): void {
    const n = this.node(id);
    if (n.appliedIndex > n.storage.snapshot().metadata.index) {
      n.storage.createSnapshot(n.appliedIndex, n.confState, snapshotData(n.state));
    }
    if (compactTo !== undefined) {
      if (compactTo > n.appliedIndex) throw new CommandError(`cannot compact ${id} to ${compactTo} beyond its applied index ${n.appliedIndex}`);
      n.storage.compact(compactTo);
    }
  }

  /**
   * Restarts `id` from its storage: the pending (not yet persisted) state is lost and
   * the state machine restarts from the stored snapshot (committed entries after it
   * are applied again).
   */
  restart(id: bigint): void {
    const n = this.node(id);
    const snap = n.storage.snapshot();
    n.state = parseSnapshotData(snap.data);
    n.appliedIndex = snap.metadata.index;
    n.confState = snap.metadata.confState;
    n.rawNode = new RawNode({ ...n.config, applied: snap.metadata.index });
    this.checker.restarted(n);
    this.checker.check(`restart ${id}`);
  }

  /** The stored log of `id` (one line per entry). */
  raftLog(id: bigint): string {
    const s = this.node(id).storage;
    if (s.lastIndex() < s.firstIndex()) return `log is empty: first index=${s.firstIndex()}, last index=${s.lastIndex()}`;
    return describeEntries(s.entries(s.firstIndex(), s.lastIndex() + 1, Infinity)).replace(/\n$/, '');
  }

  /** One line per node: role, whether it is a voter in its own view, term and leader. */
  raftState(): string {
    return this.nodes
      .map((n) => {
        const st = n.rawNode.status();
        const voter = st.config.voters.includes(n.id) ? '(Voter)' : '(Non-Voter)';
        return `${n.id}: ${StateType[st.softState.raftState]} ${voter} Term:${st.hardState.term} Lead:${st.softState.lead.toString(16)}`;
      })
      .join('\n');
  }

  /** The status of `id` with the applied state machine. */
  status(id: bigint): string {
    const n = this.node(id);
    return describeStatus(n.rawNode.status()).replace(/\n$/, '') + `\napplied state: [${n.state.join(' ')}]`;
  }

  // -----------------------------------------------------------------------------------
  // The command interpreter

  /** Runs one command line; output is collected in `this.output`. Throws CommandError on bad input. */
  handle(c: CmdLine): void {
    const a = new Args(c);
    switch (c.cmd) {
      case 'add-nodes': {
        const cfg: { -readonly [K in keyof RaftConfig]?: RaftConfig[K] } = {};
        for (const arg of c.args.slice(1)) {
          switch (arg.key) {
            case 'voters':
            case 'learners':
            case 'index':
              break;
            case 'prevote':
              cfg.preVote = a.bool(arg);
              break;
            case 'checkquorum':
              cfg.checkQuorum = a.bool(arg);
              break;
            case 'inflight':
              cfg.maxInflightMsgs = a.int(arg);
              break;
            case 'inflight-bytes':
              cfg.maxInflightBytes = a.int(arg);
              break;
            case 'max-msg-size':
              cfg.maxSizePerMsg = a.int(arg);
              break;
            case 'max-committed-size-per-ready':
              cfg.maxCommittedSizePerReady = a.int(arg);
              break;
            case 'max-uncommitted-size':
              cfg.maxUncommittedEntriesSize = a.int(arg);
              break;
            case 'disable-proposal-forwarding':
              cfg.disableProposalForwarding = a.bool(arg);
              break;
            case 'read-only':
              if (arg.vals[0] === 'safe') cfg.readOnlyOption = ReadOnlyOption.ReadOnlySafe;
              else if (arg.vals[0] === 'lease-based') cfg.readOnlyOption = ReadOnlyOption.ReadOnlyLeaseBased;
              else throw new CommandError(`invalid read-only option ${arg.vals[0]}`);
              break;
            case 'election-tick':
              cfg.electionTick = a.int(arg);
              break;
            case 'heartbeat-tick':
              cfg.heartbeatTick = a.int(arg);
              break;
            default:
              throw new CommandError(`add-nodes: unknown argument ${arg.key}`);
          }
        }
        const index = a.optional('index');
        // an invalid config (ErrInvalidConfig) is printed, not thrown
        this.catchRaftError(() => this.addNodes(a.posInt(0), {
          voters: a.ids('voters'),
          learners: a.ids('learners'),
          ...(index === undefined ? {} : { index: Number(index) }),
          config: cfg,
        }));
        return;
      }
      case 'campaign':
        this.node(a.id(0)).rawNode.campaign();
        return;
      case 'tick-election': {
        const n = this.node(a.id(0));
        this.tick(n.id, n.rawNode.raft.electionTimeout);
        return;
      }
      case 'tick-heartbeat': {
        const n = this.node(a.id(0));
        this.tick(n.id, n.rawNode.raft.heartbeatTimeout);
        return;
      }
      case 'tick':
        this.tick(a.id(0), a.posInt(1));
        return;
      case 'set-randomized-election-timeout': {
        const n = this.node(a.id(0));
        const t = Number(a.required('timeout'));
        if (!Number.isInteger(t) || t < n.rawNode.raft.electionTimeout) {
          throw new CommandError(`timeout must be an integer ≥ electionTick (${n.rawNode.raft.electionTimeout})`);
        }
        n.rawNode.raft.randomizedElectionTimeout = t;
        return;
      }
      case 'propose':
        this.propose(a.id(0), a.positional(1));
        return;
      case 'propose-conf-change': {
        const ccs = c.args.slice(1).map((arg) => parseConfChange(arg.key));
        if (ccs.length === 0) throw new CommandError('propose-conf-change: no changes given');
        this.proposeConfChanges(a.id(0), ccs);
        return;
      }
      case 'process-ready': {
        const ids = a.allIds();
        for (const id of ids) {
          if (ids.length > 1) {
            this.output.write(`> ${id} handling Ready`);
            this.output.indented(() => {
              if (!this.processReady(id)) this.output.write('<empty Ready>');
            });
          } else if (!this.processReady(id)) {
            this.output.write('<empty Ready>');
          }
        }
        return;
      }
      case 'deliver-msgs': {
        const typeName = a.optional('type');
        let type: MessageType | undefined;
        if (typeName !== undefined) {
          type = (MessageType as unknown as Record<string, MessageType>)[typeName];
          if (type === undefined) throw new CommandError(`unknown message type ${typeName}`);
        }
        const fromArg = a.optional('from');
        const filter = {
          ...(type === undefined ? {} : { type }),
          ...(fromArg === undefined ? {} : { from: BigInt(fromArg) }),
          reverse: a.optional('reverse') === 'true',
        };
        const targets: Array<[bigint, boolean]> = [...a.allIds().map((id): [bigint, boolean] => [id, false]), ...a.ids('drop').map((id): [bigint, boolean] => [id, true])];
        if (targets.length === 0) throw new CommandError('deliver-msgs: no recipients given');
        for (const [id, drop] of targets) {
          if (!this.messages.some((m) => m.to === id)) continue;
          if (targets.length > 1) {
            this.output.write(`> ${id} ${drop ? 'dropping' : 'receiving'} messages`);
            this.output.indented(() => this.deliverMsgs(id, { ...filter, drop }));
          } else {
            this.deliverMsgs(id, { ...filter, drop });
          }
        }
        return;
      }
      case 'stabilize': {
        // stabilize [ids...] [log-level=L]: the level applies to this command only
        const lvl = a.optional('log-level');
        const saved = this.output.level;
        if (lvl !== undefined) {
          const l = LEVELS.indexOf(lvl.toLowerCase() as Level);
          if (l < 0) throw new CommandError(`unknown log level ${lvl}`);
          this.output.level = l;
        }
        try {
          this.stabilize(a.allIds());
        } finally {
          this.output.level = saved;
        }
        return;
      }
      case 'duplicate-msgs': {
        // queue a copy of every message now queued for the given recipient (a network
        // that duplicates; delivery order is then original..., copies...)
        const to = a.id(0);
        const copies = this.messages.filter((m) => m.to === to);
        for (const m of copies) this.output.write(`duplicated: ${describeMessage(m)}`);
        this.messages.push(...copies);
        return;
      }
      case 'partition': {
        const groups = c.args.map((arg) => {
          if (!arg.key.startsWith('(') || !arg.key.endsWith(')') || arg.vals.length > 0) {
            throw new CommandError('partition: groups are written (1,2) (3)');
          }
          return arg.key
            .slice(1, -1)
            .split(/[\s,]+/)
            .filter((s) => s !== '')
            .map((s) => this.node(BigInt(s)).id);
        });
        this.partition(groups);
        return;
      }
      case 'isolate':
        this.isolate(this.node(a.id(0)).id);
        return;
      case 'heal':
        this.heal();
        return;
      case 'transfer-leadership': {
        const from = this.node(BigInt(a.required('from')));
        from.rawNode.transferLeader(BigInt(a.required('to')));
        return;
      }
      case 'read-index':
        this.catchRaftError(() => this.node(a.id(0)).rawNode.readIndex(enc.encode(a.positional(1))));
        return;
      case 'compact':
        this.snapshot(a.id(0), a.posInt(1));
        this.output.write(this.raftLog(a.id(0)));
        return;
      case 'snapshot': {
        const n = this.node(a.id(0));
        this.snapshot(n.id);
        const m = n.storage.snapshot().metadata;
        this.output.write(`snapshot at Index:${m.index} Term:${m.term}`);
        return;
      }
      case 'report-snapshot': {
        const status = a.optional('status') ?? 'finish';
        if (status !== 'finish' && status !== 'failure') throw new CommandError('status must be finish or failure');
        this.node(a.id(0)).rawNode.reportSnapshot(a.id(1), status === 'finish' ? SnapshotStatus.SnapshotFinish : SnapshotStatus.SnapshotFailure);
        return;
      }
      case 'report-unreachable':
        this.node(a.id(0)).rawNode.reportUnreachable(a.id(1));
        return;
      case 'restart':
        this.restart(a.id(0));
        return;
      case 'status':
        this.output.write(this.status(a.id(0)));
        return;
      case 'raft-log':
        this.output.write(this.raftLog(a.id(0)));
        return;
      case 'raft-state':
        this.output.write(this.raftState());
        return;
      case 'log-level': {
        const l = LEVELS.indexOf(a.positional(0).toLowerCase() as Level);
        if (l < 0) throw new CommandError(`unknown log level ${a.positional(0)}`);
        this.output.level = l;
        return;
      }
      default:
        throw new CommandError(`unknown command ${c.cmd}`);
    }
  }
}

/** `v2` add voter, `l2` add learner, `r2` remove, `u2` update (raftpb ConfChangesFromString). */
export function parseConfChange(tok: string): ConfChange {
  const m = /^([vlru])([0-9]+)$/.exec(tok);
  if (m === null) throw new CommandError(`bad conf change ${tok} (want v<id>, l<id>, r<id> or u<id>)`);
  const type = {
    v: ConfChangeType.ConfChangeAddNode,
    l: ConfChangeType.ConfChangeAddLearnerNode,
    r: ConfChangeType.ConfChangeRemoveNode,
    u: ConfChangeType.ConfChangeUpdateNode,
  }[m[1] as 'v' | 'l' | 'r' | 'u'];
  return { id: 0n, type, nodeId: BigInt(m[2]!) };
}

/** Argument accessors with clear errors. */
class Args {
  constructor(private readonly c: CmdLine) {}

  private get(key: string): CmdArg | undefined {
    return this.c.args.find((x) => x.key === key && x.vals.length > 0);
  }

  /** The i-th bare (key-only) argument. */
  positional(i: number): string {
    const bare = this.c.args.filter((x) => x.vals.length === 0);
    const v = bare[i];
    if (v === undefined) throw new CommandError(`${this.c.cmd}: missing argument ${i + 1}`);
    return v.key;
  }

  posInt(i: number): number {
    const s = this.positional(i);
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new CommandError(`${this.c.cmd}: ${s} is not a non-negative integer`);
    return n;
  }

  id(i: number): bigint {
    return BigInt(this.posInt(i));
  }

  /** All bare numeric arguments as ids. */
  allIds(): bigint[] {
    return this.c.args
      .filter((x) => x.vals.length === 0)
      .map((x) => {
        if (!/^[0-9]+$/.test(x.key)) throw new CommandError(`${this.c.cmd}: ${x.key} is not a node id`);
        return BigInt(x.key);
      });
  }

  ids(key: string): bigint[] {
    return (this.get(key)?.vals ?? []).map((v) => {
      if (!/^[0-9]+$/.test(v)) throw new CommandError(`${this.c.cmd}: ${key}: ${v} is not a node id`);
      return BigInt(v);
    });
  }

  optional(key: string): string | undefined {
    return this.get(key)?.vals[0];
  }

  required(key: string): string {
    const v = this.optional(key);
    if (v === undefined) throw new CommandError(`${this.c.cmd}: missing ${key}=`);
    return v;
  }

  bool(arg: CmdArg): boolean {
    if (arg.vals[0] === 'true') return true;
    if (arg.vals[0] === 'false') return false;
    throw new CommandError(`${this.c.cmd}: ${arg.key} must be true or false`);
  }

  int(arg: CmdArg): number {
    const n = Number(arg.vals[0]);
    if (!Number.isInteger(n) || n < 0) throw new CommandError(`${this.c.cmd}: ${arg.key} must be a non-negative integer`);
    return n;
  }
}
