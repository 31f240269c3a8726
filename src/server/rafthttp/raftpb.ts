/**
 * @module server/rafthttp/raftpb
 *
 * The protobuf wire codec of etcd 3.4's raft/raftpb/raft.proto for the Raft core's
 * types (src/server/raft/types.ts): Message, Entry, Snapshot (+SnapshotMetadata,
 * ConfState) and HardState. Output is byte-for-byte what gogoproto's generated
 * `Marshal` writes (raft.pb.go):
 *
 * - fields in field-number order (so Entry writes Type(1) before Term(2), Index(3));
 * - non-nullable scalars always written, even when zero (`(gogoproto.nullable) = false`);
 * - non-nullable sub-messages always written (a Message always carries field 9, the
 *   Snapshot, whose metadata and conf_state are always written too);
 * - nullable `bytes` (Entry.Data, Snapshot.data, Message.context) written only when
 *   present: Go's nil vs. non-nil. The core's `Entry.data`/`Snapshot.data` are never
 *   undefined, so an empty array is treated as Go's nil (not written), which is what Go
 *   writes for entries/snapshots built without data; `Message.context` keeps the
 *   distinction (undefined = nil, empty array = written as an empty field);
 * - repeated uint64 unpacked (proto2 default); the decoder accepts packed too.
 *
 * Decoding skips unknown fields. It throws {@link RaftpbDecodeError} on truncated or
 * malformed input, on terms/indexes above 2^53−1 (the core's number bound, see
 * raft/types.ts), on EntryConfChangeV2 entries and on joint ConfStates
 * (voters_outgoing / learners_next / auto_leave), which the core does not implement.
 *
 * No Node imports: this file would also compile inside the pure core.
 */

import type { ConfState, Entry, HardState, Message, Snapshot, SnapshotMetadata } from '../raft/types.js';
import { putUvarint, readUvarint } from '../../util/protowire.js';

/** Malformed raftpb bytes, or values the Raft core cannot represent. */
export class RaftpbDecodeError extends Error {
  override name = 'RaftpbDecodeError';
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const EMPTY = new Uint8Array(0);

// ---------------------------------------------------------------------------------
// Writer

/** A growable byte buffer for protobuf output. */
class Writer {
  buf: Uint8Array;
  len = 0;
  constructor(size = 64) {
    this.buf = new Uint8Array(size);
  }
  private ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  /** Unsigned varint of a non-negative safe integer. */
  uvarint(n: number): void {
    this.ensure(10);
    this.len = putUvarint(this.buf, this.len, n);
  }
  /** Unsigned varint of a uint64 bigint. */
  uvarint64(v: bigint): void {
    if (v < 0n || v > 0xffffffffffffffffn) throw new RangeError(`raftpb: ${v} does not fit in uint64`);
    this.ensure(10);
    this.len = putUvarint(this.buf, this.len, v);
  }
  bytes(b: Uint8Array): void {
    this.uvarint(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  /** Writes a length-delimited sub-message produced by `fn`. */
  sub(fn: (w: Writer) => void): void {
    const inner = new Writer(32);
    fn(inner);
    this.bytes(inner.finish());
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

function checkNum(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`raftpb: ${what} ${n} is not a non-negative safe integer`);
  return n;
}

function writeEntry(w: Writer, e: Entry): void {
  w.byte(0x08);
  w.uvarint(checkNum(e.type, 'entry type'));
  w.byte(0x10);
  w.uvarint(checkNum(e.term, 'entry term'));
  w.byte(0x18);
  w.uvarint(checkNum(e.index, 'entry index'));
  if (e.data.length > 0) {
    w.byte(0x22);
    w.bytes(e.data);
  }
}

function writeConfState(w: Writer, cs: ConfState): void {
  for (const v of cs.voters) {
    w.byte(0x08);
    w.uvarint64(v);
  }
  for (const l of cs.learners) {
    w.byte(0x10);
    w.uvarint64(l);
  }
  // auto_leave (5) is non-nullable: always written; joint configs are not supported
  w.byte(0x28);
  w.byte(0);
}

function writeSnapshotMetadata(w: Writer, md: SnapshotMetadata): void {
  w.byte(0x0a);
  w.sub((x) => writeConfState(x, md.confState));
  w.byte(0x10);
  w.uvarint(checkNum(md.index, 'snapshot index'));
  w.byte(0x18);
  w.uvarint(checkNum(md.term, 'snapshot term'));
}

function writeSnapshot(w: Writer, s: Snapshot): void {
  if (s.data.length > 0) {
    w.byte(0x0a);
    w.bytes(s.data);
  }
  w.byte(0x12);
  w.sub((x) => writeSnapshotMetadata(x, s.metadata));
}

const EMPTY_SNAPSHOT_VALUE: Snapshot = { data: EMPTY, metadata: { confState: { voters: [], learners: [] }, index: 0, term: 0 } };

/** Encodes a raftpb.Entry. Throws RangeError for negative/unsafe numbers. */
export function encodeEntry(e: Entry): Uint8Array {
  const w = new Writer(16 + e.data.length);
  writeEntry(w, e);
  return w.finish();
}

/** Encodes a raftpb.ConfState (voters, learners, auto_leave=false). */
export function encodeConfState(cs: ConfState): Uint8Array {
  const w = new Writer();
  writeConfState(w, cs);
  return w.finish();
}

/** Encodes a raftpb.Snapshot (data, metadata). */
export function encodeSnapshot(s: Snapshot): Uint8Array {
  const w = new Writer(32 + s.data.length);
  writeSnapshot(w, s);
  return w.finish();
}

/** Encodes a raftpb.HardState (term, vote, commit; all always written). */
export function encodeHardState(hs: HardState): Uint8Array {
  const w = new Writer(32);
  w.byte(0x08);
  w.uvarint(checkNum(hs.term, 'term'));
  w.byte(0x10);
  w.uvarint64(hs.vote);
  w.byte(0x18);
  w.uvarint(checkNum(hs.commit, 'commit'));
  return w.finish();
}

/**
 * Encodes a raftpb.Message as gogoproto does. Throws RangeError for numbers that are
 * negative or unsafe and ids outside uint64.
 */
export function encodeMessage(m: Message): Uint8Array {
  let hint = 64;
  for (const e of m.entries) hint += e.data.length + 24;
  if (m.snapshot) hint += m.snapshot.data.length + 32;
  const w = new Writer(hint);
  w.byte(0x08);
  w.uvarint(checkNum(m.type, 'message type'));
  w.byte(0x10);
  w.uvarint64(m.to);
  w.byte(0x18);
  w.uvarint64(m.from);
  w.byte(0x20);
  w.uvarint(checkNum(m.term, 'term'));
  w.byte(0x28);
  w.uvarint(checkNum(m.logTerm, 'logTerm'));
  w.byte(0x30);
  w.uvarint(checkNum(m.index, 'index'));
  for (const e of m.entries) {
    w.byte(0x3a);
    w.sub((x) => writeEntry(x, e));
  }
  w.byte(0x40);
  w.uvarint(checkNum(m.commit, 'commit'));
  w.byte(0x4a);
  w.sub((x) => writeSnapshot(x, m.snapshot ?? EMPTY_SNAPSHOT_VALUE));
  w.byte(0x50);
  w.byte(m.reject ? 1 : 0);
  w.byte(0x58);
  w.uvarint(checkNum(m.rejectHint, 'rejectHint'));
  if (m.context !== undefined) {
    w.byte(0x62);
    w.bytes(m.context);
  }
  return w.finish();
}

// ---------------------------------------------------------------------------------
// Reader

class Reader {
  pos: number;
  /** `buf` up to `end`: varints are read from it, so none runs past this message. */
  private readonly view: Uint8Array;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
    this.view = buf.subarray(0, end);
  }
  done(): boolean {
    return this.pos >= this.end;
  }
  uvarint64(): bigint {
    const v = readUvarint(this.view, this);
    if (v >= 0n) return v;
    // readUvarint fails on 10 bytes that all continue, or on bytes that end first
    throw new RaftpbDecodeError(this.end - this.pos >= 10 ? 'raftpb: integer overflow in varint' : 'raftpb: unexpected EOF in varint');
  }
  /** A varint that must fit the core's number bound. */
  num(what: string): number {
    const v = this.uvarint64();
    if (v > MAX_SAFE) throw new RaftpbDecodeError(`raftpb: ${what} ${v} exceeds 2^53-1`);
    return Number(v);
  }
  /** Length prefix of a length-delimited field; returns [start, end). */
  span(): [number, number] {
    const n = this.num('length');
    const start = this.pos;
    if (start + n > this.end) throw new RaftpbDecodeError('raftpb: unexpected EOF in length-delimited field');
    this.pos += n;
    return [start, start + n];
  }
  bytes(): Uint8Array {
    const [s, e] = this.span();
    // a copy, as a plain Uint8Array even when decoding from a Buffer
    return new Uint8Array(this.buf.subarray(s, e));
  }
  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.uvarint64();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.span();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw new RaftpbDecodeError(`raftpb: illegal wireType ${wire}`);
    }
    if (this.pos > this.end) throw new RaftpbDecodeError('raftpb: unexpected EOF');
  }
  key(): [number, number] {
    const k = this.num('field key');
    const field = Math.floor(k / 8);
    if (field === 0) throw new RaftpbDecodeError('raftpb: illegal tag 0');
    return [field, k & 7];
  }
  expect(wire: number, want: number, what: string): void {
    if (wire !== want) throw new RaftpbDecodeError(`raftpb: wrong wireType ${wire} for field ${what}`);
  }
}

function readUint64s(r: Reader, wire: number, out: bigint[], what: string): void {
  if (wire === 0) {
    out.push(r.uvarint64());
  } else if (wire === 2) {
    const [s, e] = r.span();
    const inner = new Reader(r.buf, s, e);
    while (!inner.done()) out.push(inner.uvarint64());
  } else {
    throw new RaftpbDecodeError(`raftpb: wrong wireType ${wire} for field ${what}`);
  }
}

function readEntry(r: Reader): Entry {
  let type = 0;
  let term = 0;
  let index = 0;
  let data: Uint8Array = EMPTY;
  while (!r.done()) {
    const [f, wire] = r.key();
    if (f === 1) {
      r.expect(wire, 0, 'Entry.Type');
      type = r.num('entry type');
    } else if (f === 2) {
      r.expect(wire, 0, 'Entry.Term');
      term = r.num('entry term');
    } else if (f === 3) {
      r.expect(wire, 0, 'Entry.Index');
      index = r.num('entry index');
    } else if (f === 4) {
      r.expect(wire, 2, 'Entry.Data');
      data = r.bytes();
    } else r.skip(wire);
  }
  if (type !== 0 && type !== 1) throw new RaftpbDecodeError(`raftpb: unsupported entry type ${type}`);
  return { term, index, type, data };
}

function readConfState(r: Reader): ConfState {
  const voters: bigint[] = [];
  const learners: bigint[] = [];
  const outgoing: bigint[] = [];
  const next: bigint[] = [];
  let autoLeave = false;
  while (!r.done()) {
    const [f, wire] = r.key();
    if (f === 1) readUint64s(r, wire, voters, 'ConfState.Voters');
    else if (f === 2) readUint64s(r, wire, learners, 'ConfState.Learners');
    else if (f === 3) readUint64s(r, wire, outgoing, 'ConfState.VotersOutgoing');
    else if (f === 4) readUint64s(r, wire, next, 'ConfState.LearnersNext');
    else if (f === 5) {
      r.expect(wire, 0, 'ConfState.AutoLeave');
      autoLeave = r.uvarint64() !== 0n;
    } else r.skip(wire);
  }
  if (outgoing.length > 0 || next.length > 0 || autoLeave) {
    throw new RaftpbDecodeError('raftpb: joint configuration (voters_outgoing/learners_next/auto_leave) is not supported');
  }
  return { voters, learners };
}

function readSnapshotMetadata(r: Reader): SnapshotMetadata {
  let confState: ConfState = { voters: [], learners: [] };
  let index = 0;
  let term = 0;
  while (!r.done()) {
    const [f, wire] = r.key();
    if (f === 1) {
      r.expect(wire, 2, 'SnapshotMetadata.ConfState');
      const [s, e] = r.span();
      confState = readConfState(new Reader(r.buf, s, e));
    } else if (f === 2) {
      r.expect(wire, 0, 'SnapshotMetadata.Index');
      index = r.num('snapshot index');
    } else if (f === 3) {
      r.expect(wire, 0, 'SnapshotMetadata.Term');
      term = r.num('snapshot term');
    } else r.skip(wire);
  }
  return { confState, index, term };
}

function readSnapshot(r: Reader): Snapshot {
  let data: Uint8Array = EMPTY;
  let metadata: SnapshotMetadata = EMPTY_SNAPSHOT_VALUE.metadata;
  while (!r.done()) {
    const [f, wire] = r.key();
    if (f === 1) {
      r.expect(wire, 2, 'Snapshot.Data');
      data = r.bytes();
    } else if (f === 2) {
      r.expect(wire, 2, 'Snapshot.Metadata');
      const [s, e] = r.span();
      metadata = readSnapshotMetadata(new Reader(r.buf, s, e));
    } else r.skip(wire);
  }
  return { data, metadata };
}

/** Decodes a raftpb.Entry; throws RaftpbDecodeError. */
export function decodeEntry(b: Uint8Array): Entry {
  return readEntry(new Reader(b));
}

/** Decodes a raftpb.ConfState; throws RaftpbDecodeError (also for joint configs). */
export function decodeConfState(b: Uint8Array): ConfState {
  return readConfState(new Reader(b));
}

/** Decodes a raftpb.Snapshot; throws RaftpbDecodeError. */
export function decodeSnapshot(b: Uint8Array): Snapshot {
  return readSnapshot(new Reader(b));
}

/** Decodes a raftpb.HardState; throws RaftpbDecodeError. */
export function decodeHardState(b: Uint8Array): HardState {
  const r = new Reader(b);
  let term = 0;
  let vote = 0n;
  let commit = 0;
  while (!r.done()) {
    const [f, wire] = r.key();
    if (f === 1) {
      r.expect(wire, 0, 'HardState.Term');
      term = r.num('term');
    } else if (f === 2) {
      r.expect(wire, 0, 'HardState.Vote');
      vote = r.uvarint64();
    } else if (f === 3) {
      r.expect(wire, 0, 'HardState.Commit');
      commit = r.num('commit');
    } else r.skip(wire);
  }
  return { term, vote, commit };
}

/**
 * Decodes a raftpb.Message. `snapshot` is set only when the decoded snapshot is
 * non-empty (index > 0 or data present), so a decoded non-MsgSnap message looks like
 * one built with makeMessage. Throws RaftpbDecodeError.
 */
export function decodeMessage(b: Uint8Array): Message {
  const r = new Reader(b);
  let type = 0;
  let to = 0n;
  let from = 0n;
  let term = 0;
  let logTerm = 0;
  let index = 0;
  const entries: Entry[] = [];
  let commit = 0;
  let snapshot: Snapshot | undefined;
  let reject = false;
  let rejectHint = 0;
  let context: Uint8Array | undefined;
  while (!r.done()) {
    const [f, wire] = r.key();
    switch (f) {
      case 1:
        r.expect(wire, 0, 'Message.Type');
        type = r.num('message type');
        break;
      case 2:
        r.expect(wire, 0, 'Message.To');
        to = r.uvarint64();
        break;
      case 3:
        r.expect(wire, 0, 'Message.From');
        from = r.uvarint64();
        break;
      case 4:
        r.expect(wire, 0, 'Message.Term');
        term = r.num('term');
        break;
      case 5:
        r.expect(wire, 0, 'Message.LogTerm');
        logTerm = r.num('logTerm');
        break;
      case 6:
        r.expect(wire, 0, 'Message.Index');
        index = r.num('index');
        break;
      case 7: {
        r.expect(wire, 2, 'Message.Entries');
        const [s, e] = r.span();
        entries.push(readEntry(new Reader(r.buf, s, e)));
        break;
      }
      case 8:
        r.expect(wire, 0, 'Message.Commit');
        commit = r.num('commit');
        break;
      case 9: {
        r.expect(wire, 2, 'Message.Snapshot');
        const [s, e] = r.span();
        snapshot = readSnapshot(new Reader(r.buf, s, e));
        break;
      }
      case 10:
        r.expect(wire, 0, 'Message.Reject');
        reject = r.uvarint64() !== 0n;
        break;
      case 11:
        r.expect(wire, 0, 'Message.RejectHint');
        rejectHint = r.num('rejectHint');
        break;
      case 12:
        r.expect(wire, 2, 'Message.Context');
        context = r.bytes();
        break;
      default:
        r.skip(wire);
    }
  }
  if (type > 18) throw new RaftpbDecodeError(`raftpb: unknown message type ${type}`);
  const m: { -readonly [K in keyof Message]: Message[K] } = { type, to, from, term, logTerm, index, entries, commit, reject, rejectHint };
  if (snapshot !== undefined && (snapshot.metadata.index > 0 || snapshot.data.length > 0)) m.snapshot = snapshot;
  if (context !== undefined) m.context = context;
  return m;
}
