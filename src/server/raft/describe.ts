/**
 * @module raft/describe
 *
 * The canonical text forms of messages, entries, states and Ready batches (util.go
 * Describe*), used by logs, error messages and test transcripts, so that a changed
 * line always means changed behaviour. Node ids are printed in hex, as etcd does:
 *
 * ```
 * 1->2 MsgApp Term:1 Log:1/2 Commit:2 Entries:[1/3 EntryNormal "foo"]
 * 2->1 MsgAppResp Term:1 Log:0/3 Rejected (Hint: 2)
 * HardState Term:1 Vote:1 Commit:2
 * ```
 */

import { decodeConfChange } from './confchange/codec.js';
import { StateType, type Ready, type SoftState } from './ready.js';
import type { ProgressStatus, Status } from './status.js';
import { ProgressState } from './tracker/progress.js';
import {
  ConfChangeType,
  EntryType,
  MessageType,
  NONE,
  isEmptySnap,
  type ConfState,
  type Entry,
  type HardState,
  type Message,
  type Snapshot,
} from './types.js';

/** Formats the data of a normal entry; the default quotes it as a string (Go `%q`-like). */
export type EntryFormatter = (data: Uint8Array) => string;

/** Quotes bytes like Go's `%q`: printable ASCII as is, `"` and `\` escaped, other bytes as `\xNN`. */
export function quoteBytes(data: Uint8Array): string {
  let s = '"';
  for (const b of data) {
    if (b === 0x22) s += '\\"';
    else if (b === 0x5c) s += '\\\\';
    else if (b === 0x0a) s += '\\n';
    else if (b === 0x09) s += '\\t';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\x' + b.toString(16).padStart(2, '0');
  }
  return s + '"';
}

/** `Term:1 Vote:1 Commit:2` (Vote omitted when none). */
export function describeHardState(hs: HardState): string {
  let s = `Term:${hs.term}`;
  if (hs.vote !== NONE) s += ` Vote:${hs.vote.toString(16)}`;
  return s + ` Commit:${hs.commit}`;
}

/** `Lead:1 State:StateLeader`. */
export function describeSoftState(ss: SoftState): string {
  return `Lead:${ss.lead.toString(16)} State:${StateType[ss.raftState]}`;
}

/** `Voters:[1 2 3] Learners:[4]`. */
export function describeConfState(cs: ConfState): string {
  return `Voters:[${cs.voters.map((id) => id.toString(16)).join(' ')}] Learners:[${cs.learners.map((id) => id.toString(16)).join(' ')}]`;
}

/** `Index:5 Term:2 ConfState:Voters:[1 2 3] Learners:[]`. */
export function describeSnapshot(s: Snapshot): string {
  const m = s.metadata;
  return `Index:${m.index} Term:${m.term} ConfState:${describeConfState(m.confState)}`;
}

/** `1/3 EntryNormal "foo"`, `1/1 EntryConfChange v2` (term/index type payload). */
export function describeEntry(e: Entry, f: EntryFormatter = quoteBytes): string {
  let formatted: string;
  if (e.type === EntryType.EntryConfChange) {
    try {
      const cc = decodeConfChange(e.data);
      formatted = describeConfChangeShort(cc.type, cc.nodeId);
    } catch (err) {
      formatted = String(err);
    }
  } else {
    formatted = f(e.data);
  }
  return `${e.term}/${e.index} ${EntryType[e.type] ?? `EntryType(${e.type})`}${formatted === '' ? '' : ' ' + formatted}`;
}

/** The raftpb ConfChangesToString form: `v2` add voter, `l2` add learner, `r2` remove, `u2` update. */
export function describeConfChangeShort(type: ConfChangeType, nodeId: bigint): string {
  const prefix =
    type === ConfChangeType.ConfChangeAddNode
      ? 'v'
      : type === ConfChangeType.ConfChangeAddLearnerNode
        ? 'l'
        : type === ConfChangeType.ConfChangeRemoveNode
          ? 'r'
          : type === ConfChangeType.ConfChangeUpdateNode
            ? 'u'
            : 'unknown';
  return `${prefix}${nodeId.toString(16)}`;
}

/** One line per entry, each ending in a newline. */
export function describeEntries(ents: readonly Entry[], f?: EntryFormatter): string {
  return ents.map((e) => describeEntry(e, f) + '\n').join('');
}

/** `1->2 MsgApp Term:1 Log:1/2 Commit:2 Entries:[...]` (util.go DescribeMessage). */
export function describeMessage(m: Message, f?: EntryFormatter): string {
  let s = `${m.from.toString(16)}->${m.to.toString(16)} ${MessageType[m.type] ?? `MessageType(${m.type})`} Term:${m.term} Log:${m.logTerm}/${m.index}`;
  if (m.reject) s += ` Rejected (Hint: ${m.rejectHint})`;
  if (m.commit !== 0) s += ` Commit:${m.commit}`;
  if (m.entries.length > 0) s += ` Entries:[${m.entries.map((e) => describeEntry(e, f)).join(', ')}]`;
  if (!isEmptySnap(m.snapshot)) s += ` Snapshot: ${describeSnapshot(m.snapshot!)}`;
  return s;
}

/** A multi-line dump of a Ready, or `<empty Ready>` (util.go DescribeReady). */
export function describeReady(rd: Ready, f?: EntryFormatter): string {
  let s = '';
  if (rd.softState) s += describeSoftState(rd.softState) + '\n';
  if (rd.hardState) s += `HardState ${describeHardState(rd.hardState)}\n`;
  if (rd.readStates.length > 0) {
    s += `ReadStates ${rd.readStates.map((r) => `{Index:${r.index} RequestCtx:${quoteBytes(r.requestCtx)}}`).join(' ')}\n`;
  }
  if (rd.entries.length > 0) s += 'Entries:\n' + describeEntries(rd.entries, f);
  if (!isEmptySnap(rd.snapshot)) s += `Snapshot ${describeSnapshot(rd.snapshot!)}\n`;
  if (rd.committedEntries.length > 0) s += 'CommittedEntries:\n' + describeEntries(rd.committedEntries, f);
  if (rd.messages.length > 0) s += 'Messages:\n' + rd.messages.map((m) => describeMessage(m, f) + '\n').join('');
  return s.length > 0 ? `Ready MustSync=${rd.mustSync}:\n${s}` : '<empty Ready>';
}

/**
 * `StateReplicate match=5 next=6 learner paused inflight=2[full]` (tracker/progress.go
 * Progress.String, from a Status copy): flags appear only when set; `inactive` means
 * not heard from since the last check-quorum round; `[full]` marks a full inflights window.
 */
export function describeProgress(p: ProgressStatus): string {
  let s = `${ProgressState[p.state]} match=${p.match} next=${p.next}`;
  if (p.isLearner) s += ' learner';
  if (p.paused) s += ' paused';
  if (p.pendingSnapshot > 0) s += ` pendingSnap=${p.pendingSnapshot}`;
  if (!p.recentActive) s += ' inactive';
  if (p.inflight > 0) s += ` inflight=${p.inflight}${p.paused && p.state === ProgressState.StateReplicate ? '[full]' : ''}`;
  return s;
}

/**
 * A multi-line dump of a node's Status: hard and soft state, applied index, transferee,
 * configuration, then (on a leader) one line per peer in ascending id order:
 *
 * ```
 * Term:2 Vote:1 Commit:12 Lead:1 State:StateLeader Applied:12 LeadTransferee:0
 * Voters:[1 2 3] Learners:[4]
 * 1: StateReplicate match=12 next=13
 * 4: StateProbe match=0 next=12 learner paused
 * ```
 */
export function describeStatus(st: Status): string {
  let s =
    `${describeHardState(st.hardState)} ${describeSoftState(st.softState)} Applied:${st.applied} ` +
    `LeadTransferee:${st.leadTransferee.toString(16)}\n${describeConfState(st.config)}\n`;
  const ids = [...st.progress.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const id of ids) s += `${id.toString(16)}: ${describeProgress(st.progress.get(id)!)}\n`;
  return s;
}
