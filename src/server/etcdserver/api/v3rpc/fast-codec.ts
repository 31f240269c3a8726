/**
 * Hand-written codecs for the messages of the hottest RPCs, without protobuf-es
 * reflection (which costs more per call than the rest of the gRPC layer):
 * decoding PutRequest, encoding PutResponse, RangeResponse, DeleteRangeResponse,
 * LeaseGrantResponse, TxnResponse and WatchResponse (whose events are encoded once however many
 * watchers they go to). The bytes are protobuf's (rpc.proto: PutRequest key 1,
 * value 2, lease 3, prev_kv 4, ignore_value 5, ignore_lease 6; PutResponse
 * header 1, prev_kv 2; RangeResponse header 1, kvs 2, more 3, count 4;
 * DeleteRangeResponse header 1, deleted 2, prev_kvs 3; LeaseGrantResponse header 1,
 * ID 2, TTL 3, error 4; TxnResponse header 1,
 * succeeded 2, responses 3; ResponseOp response_range 1, response_put 2,
 * response_delete_range 3, response_txn 4; WatchResponse header 1,
 * watch_id 2, created 3, canceled 4, compact_revision 5, cancel_reason 6,
 * fragment 7, events 11; kv.proto Event type 1, kv 2, prev_kv 3;
 * ResponseHeader cluster_id 1, member_id 2, revision 3, raft_term 4), fields
 * in number order as protobuf-es writes them; the tests compare them with the
 * generated code. Anything unusual (unknown or repeated fields, malformed
 * bytes) goes to the generated code, which also produces its error.
 */
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  DeleteRangeResponseSchema,
  LeaseGrantResponseSchema,
  PutRequestSchema,
  PutResponseSchema,
  RangeResponseSchema,
  TxnResponseSchema,
  WatchResponseSchema,
  type DeleteRangeResponse,
  type LeaseGrantResponse,
  type PutRequest,
  type PutResponse,
  type RangeResponse,
  type ResponseHeader,
  type TxnResponse,
  type WatchResponse,
} from '../../../../gen/etcdserverpb/rpc_pb.js';
import { EventSchema, type Event, type KeyValue } from '../../../../gen/mvccpb/kv_pb.js';
import { encodeKeyValue, keyValueSize, putKeyValue } from '../../../mvcc/kv-codec.js';
import { putUvarint, putVarintField, readLength, readUvarint, uvarintSize, varintFieldSize, type WireCursor } from '../../../../util/protowire.js';

const EMPTY: Uint8Array = new Uint8Array(0);

/**
 * Decodes a PutRequest; byte fields are views into `b`. Same result as
 * `fromBinary(PutRequestSchema, b)`, which it falls back to for anything
 * but a plain encoding (and which throws on malformed bytes).
 */
export function decodePutRequest(b: Uint8Array): PutRequest {
  let key = EMPTY;
  let value = EMPTY;
  let lease = 0n;
  let prevKv = false;
  let ignoreValue = false;
  let ignoreLease = false;
  const c: WireCursor = { pos: 0 };
  let last = 0;
  while (c.pos < b.length) {
    const t = b[c.pos++]!;
    // fields must come once and in order, else use the generated decoder
    if (t <= last) return fromBinary(PutRequestSchema, b);
    last = t;
    if (t === 0x0a || t === 0x12) {
      const len = readLength(b, c);
      if (len < 0) return fromBinary(PutRequestSchema, b);
      const f = b.subarray(c.pos, c.pos + len);
      c.pos += len;
      if (t === 0x0a) key = f;
      else value = f;
    } else if (t === 0x18 || t === 0x20 || t === 0x28 || t === 0x30) {
      const v = readUvarint(b, c);
      if (v < 0n) return fromBinary(PutRequestSchema, b);
      if (t === 0x18) lease = BigInt.asIntN(64, v);
      else if (t === 0x20) prevKv = v !== 0n;
      else if (t === 0x28) ignoreValue = v !== 0n;
      else ignoreLease = v !== 0n;
    } else {
      return fromBinary(PutRequestSchema, b);
    }
  }
  return { $typeName: 'etcdserverpb.PutRequest', key, value, lease, prevKv, ignoreValue, ignoreLease } as PutRequest;
}

/** The header fields encoded (a ResponseHeader or the same values). */
type HeaderFields = Pick<ResponseHeader, 'clusterId' | 'memberId' | 'revision' | 'raftTerm'>;

function headerSize(h: HeaderFields): number {
  return varintFieldSize(h.clusterId) + varintFieldSize(h.memberId) + varintFieldSize(h.revision) + varintFieldSize(h.raftTerm);
}

function putHeader(b: Uint8Array, p: number, h: HeaderFields): number {
  p = putVarintField(b, p, 0x08, h.clusterId);
  p = putVarintField(b, p, 0x10, h.memberId);
  p = putVarintField(b, p, 0x18, h.revision);
  p = putVarintField(b, p, 0x20, h.raftTerm);
  return p;
}

const hasUnknown = (m: object): boolean => ((m as { $unknown?: unknown[] }).$unknown?.length ?? 0) > 0;
const utf8 = new TextEncoder();

/** Bytes of a length-delimited field holding `n` bytes (tag of one byte). */
const fieldSize = (n: number): number => 1 + uvarintSize(n) + n;

/** Writes the length-delimited field `tag` holding `body` at `p`; returns the position after it. */
function putBytesField(b: Uint8Array, p: number, tag: number, body: Uint8Array): number {
  b[p++] = tag;
  p = putUvarint(b, p, body.length);
  b.set(body, p);
  return p + body.length;
}

/** Writes the ResponseHeader field (tag 0x0a) of `h`, whose body is `hs` = headerSize(h) bytes, at `p`; returns the position after it. */
function putHeaderField(b: Uint8Array, p: number, h: HeaderFields, hs: number): number {
  b[p++] = 0x0a;
  p = putUvarint(b, p, hs);
  return putHeader(b, p, h);
}

/** Encodes a PutResponse (same bytes as `toBinary(PutResponseSchema, r)`); unknown fields go through the generated encoder. */
export function encodePutResponse(r: PutResponse): Uint8Array {
  if (hasUnknown(r)) return toBinary(PutResponseSchema, r);
  const h = r.header;
  const hs = h ? headerSize(h) : 0;
  const kv = r.prevKv ? encodeKeyValue(r.prevKv) : undefined;
  const b = new Uint8Array((h ? fieldSize(hs) : 0) + (kv ? fieldSize(kv.length) : 0));
  let p = 0;
  if (h) p = putHeaderField(b, p, h, hs);
  if (kv) putBytesField(b, p, 0x12, kv);
  return b;
}

/** Encodes a LeaseGrantResponse (same bytes as `toBinary(LeaseGrantResponseSchema, r)`); unknown fields go through the generated encoder. */
export function encodeLeaseGrantResponse(r: LeaseGrantResponse): Uint8Array {
  if (hasUnknown(r) || (r.header && hasUnknown(r.header))) return toBinary(LeaseGrantResponseSchema, r);
  const h = r.header;
  const hs = h ? headerSize(h) : 0;
  const err = r.error === '' ? undefined : utf8.encode(r.error);
  const b = new Uint8Array((h ? fieldSize(hs) : 0) + varintFieldSize(r.ID) + varintFieldSize(r.TTL) + (err ? fieldSize(err.length) : 0));
  let p = 0;
  if (h) p = putHeaderField(b, p, h, hs);
  p = putVarintField(b, p, 0x10, r.ID);
  p = putVarintField(b, p, 0x18, r.TTL);
  if (err) putBytesField(b, p, 0x22, err);
  return b;
}

/**
 * Encodes a RangeResponse (same bytes as `toBinary(RangeResponseSchema, r)`);
 * unknown fields anywhere go through the generated encoder.
 */
export function encodeRangeResponse(r: RangeResponse): Uint8Array {
  if (hasUnknown(r) || (r.header && hasUnknown(r.header)) || r.kvs.some(hasUnknown)) return toBinary(RangeResponseSchema, r);
  const h = r.header;
  const hs = h ? headerSize(h) : 0;
  // each KeyValue is written straight into the response: its size first, then its bytes
  const n = r.kvs.length;
  const kvSizes = new Array<number>(n);
  let size = h ? fieldSize(hs) : 0;
  for (let i = 0; i < n; i++) {
    const ks = keyValueSize(r.kvs[i]!);
    kvSizes[i] = ks;
    size += fieldSize(ks);
  }
  if (r.more) size += 2;
  size += varintFieldSize(r.count);
  const b = new Uint8Array(size);
  let p = 0;
  if (h) p = putHeaderField(b, p, h, hs);
  for (let i = 0; i < n; i++) {
    b[p++] = 0x12;
    p = putUvarint(b, p, kvSizes[i]!);
    p = putKeyValue(b, p, r.kvs[i]!);
  }
  if (r.more) {
    b[p++] = 0x18;
    b[p++] = 1;
  }
  p = putVarintField(b, p, 0x20, r.count);
  return b;
}

/**
 * Encodes a DeleteRangeResponse (same bytes as `toBinary(DeleteRangeResponseSchema, r)`);
 * unknown fields anywhere go through the generated encoder.
 */
export function encodeDeleteRangeResponse(r: DeleteRangeResponse): Uint8Array {
  if (hasUnknown(r) || (r.header && hasUnknown(r.header)) || r.prevKvs.some(hasUnknown)) return toBinary(DeleteRangeResponseSchema, r);
  const h = r.header;
  const hs = h ? headerSize(h) : 0;
  const kvs = r.prevKvs.map((kv: KeyValue) => encodeKeyValue(kv));
  let size = h ? fieldSize(hs) : 0;
  size += varintFieldSize(r.deleted);
  for (const kv of kvs) size += fieldSize(kv.length);
  const b = new Uint8Array(size);
  let p = 0;
  if (h) p = putHeaderField(b, p, h, hs);
  p = putVarintField(b, p, 0x10, r.deleted);
  for (const kv of kvs) p = putBytesField(b, p, 0x1a, kv);
  return b;
}

/**
 * Encodes a TxnResponse (same bytes as `toBinary(TxnResponseSchema, r)`): each
 * ResponseOp's response through the encoders above, nested txns recursively (their
 * depth is bounded by --max-txn-ops, checked before the txn was applied). Unknown
 * fields in the txn or its ops go through the generated encoder.
 */
export function encodeTxnResponse(r: TxnResponse): Uint8Array {
  if (hasUnknown(r) || (r.header && hasUnknown(r.header)) || r.responses.some(hasUnknown)) return toBinary(TxnResponseSchema, r);
  const h = r.header;
  const hs = h ? headerSize(h) : 0;
  const ops: Uint8Array[] = [];
  const tags: number[] = [];
  for (const op of r.responses) {
    const res = op.response;
    switch (res.case) {
      case 'responseRange':
        ops.push(encodeRangeResponse(res.value));
        tags.push(0x0a);
        break;
      case 'responsePut':
        ops.push(encodePutResponse(res.value));
        tags.push(0x12);
        break;
      case 'responseDeleteRange':
        ops.push(encodeDeleteRangeResponse(res.value));
        tags.push(0x1a);
        break;
      case 'responseTxn':
        ops.push(encodeTxnResponse(res.value));
        tags.push(0x22);
        break;
      default:
        ops.push(EMPTY); // a ResponseOp with no response: an empty message
        tags.push(0);
    }
  }
  let size = h ? fieldSize(hs) : 0;
  if (r.succeeded) size += 2;
  for (let i = 0; i < ops.length; i++) size += fieldSize(tags[i] === 0 ? 0 : fieldSize(ops[i]!.length));
  const b = new Uint8Array(size);
  let p = 0;
  if (h) p = putHeaderField(b, p, h, hs);
  if (r.succeeded) {
    b[p++] = 0x10;
    b[p++] = 1;
  }
  for (let i = 0; i < ops.length; i++) {
    const body = ops[i]!;
    b[p++] = 0x1a;
    if (tags[i] === 0) {
      b[p++] = 0;
      continue;
    }
    p = putUvarint(b, p, fieldSize(body.length));
    p = putBytesField(b, p, tags[i]!, body);
  }
  return b;
}

/**
 * Encoded mvccpb.Event bytes, once per Event object: the watch fan-out sends the same
 * Event objects to every watcher of a key, and events are never changed once made (a
 * watcher that wants prev_kv gets a copy, mvcc/watcher.ts and v3rpc/watch.ts).
 */
const eventBytes = new WeakMap<Event, Uint8Array>();

/** The protobuf bytes of `e` (same as `toBinary(EventSchema, e)`), cached per object. */
export function encodeEvent(e: Event): Uint8Array {
  let b = eventBytes.get(e);
  if (b) return b;
  if (hasUnknown(e) || (e.kv && hasUnknown(e.kv)) || (e.prevKv && hasUnknown(e.prevKv))) {
    b = toBinary(EventSchema, e);
  } else {
    const kv = e.kv ? encodeKeyValue(e.kv) : undefined;
    const prev = e.prevKv ? encodeKeyValue(e.prevKv) : undefined;
    const size = (e.type !== 0 ? 1 + uvarintSize(e.type) : 0) + (kv ? fieldSize(kv.length) : 0) + (prev ? fieldSize(prev.length) : 0);
    b = new Uint8Array(size);
    let p = 0;
    if (e.type !== 0) {
      b[p++] = 0x08;
      p = putUvarint(b, p, e.type);
    }
    if (kv) p = putBytesField(b, p, 0x12, kv);
    if (prev) putBytesField(b, p, 0x1a, prev);
  }
  eventBytes.set(e, b);
  return b;
}

/**
 * Encodes a WatchResponse (same bytes as `toBinary(WatchResponseSchema, r)`), each event
 * through {@link encodeEvent}; unknown fields go through the generated encoder.
 */
export function encodeWatchResponse(r: WatchResponse): Uint8Array {
  if (hasUnknown(r) || (r.header && hasUnknown(r.header))) return toBinary(WatchResponseSchema, r);
  const h = r.header;
  const hs = h ? headerSize(h) : 0;
  const reason = r.cancelReason.length > 0 ? utf8.encode(r.cancelReason) : undefined;
  const events = r.events.map(encodeEvent);
  let size = h ? fieldSize(hs) : 0;
  size += varintFieldSize(r.watchId);
  if (r.created) size += 2;
  if (r.canceled) size += 2;
  size += varintFieldSize(r.compactRevision);
  if (reason) size += fieldSize(reason.length);
  if (r.fragment) size += 2;
  for (const e of events) size += fieldSize(e.length);
  const b = new Uint8Array(size);
  let p = 0;
  if (h) p = putHeaderField(b, p, h, hs);
  p = putVarintField(b, p, 0x10, r.watchId);
  if (r.created) {
    b[p++] = 0x18;
    b[p++] = 1;
  }
  if (r.canceled) {
    b[p++] = 0x20;
    b[p++] = 1;
  }
  p = putVarintField(b, p, 0x28, r.compactRevision);
  if (reason) p = putBytesField(b, p, 0x32, reason);
  if (r.fragment) {
    b[p++] = 0x38;
    b[p++] = 1;
  }
  // events: field 11, wire type 2 -> tag 0x5a
  for (const e of events) p = putBytesField(b, p, 0x5a, e);
  return b;
}

/**
 * Frames the responses that carry events to watchers: the bytes of
 * `encodeMessage(encodeWatchResponse(create(WatchResponseSchema, { header, watchId,
 * events })))`, the gRPC message prefix (uncompressed flag, big-endian length)
 * included. The responses of one revision to many watchers share their header and
 * events, so the last call's header and events bytes are kept and reused while the
 * header values and the Event objects are the same. One per watch stream.
 */
export class WatchEventsFramer {
  private header: HeaderFields | undefined;
  private headerBytes: Uint8Array = new Uint8Array(0);
  private events: readonly Event[] = [];
  private eventBytes: Uint8Array = new Uint8Array(0);

  /**
   * The framed response for watch `watchId` (0 is omitted, as protobuf does) with header
   * `h` and `events` (not empty, not fragmented, not canceled: other responses go
   * through `encodeWatchResponse`). A new Buffer of 5 + message bytes.
   */
  frame(h: HeaderFields, watchId: bigint, events: readonly Event[]): Uint8Array {
    const hb = this.headerField(h);
    const eb = this.eventFields(events);
    const idSize = varintFieldSize(watchId);
    const n = hb.length + idSize + eb.length;
    const b = Buffer.allocUnsafe(5 + n);
    b[0] = 0;
    b.writeUInt32BE(n, 1);
    b.set(hb, 5);
    let p = 5 + hb.length;
    p = putVarintField(b, p, 0x10, watchId);
    b.set(eb, p);
    return b;
  }

  private headerField(h: HeaderFields): Uint8Array {
    const c = this.header;
    if (c && c.revision === h.revision && c.clusterId === h.clusterId && c.memberId === h.memberId && c.raftTerm === h.raftTerm) return this.headerBytes;
    const hs = headerSize(h);
    const b = new Uint8Array(fieldSize(hs));
    putHeaderField(b, 0, h, hs);
    this.header = { clusterId: h.clusterId, memberId: h.memberId, revision: h.revision, raftTerm: h.raftTerm };
    this.headerBytes = b;
    return b;
  }

  private eventFields(events: readonly Event[]): Uint8Array {
    const c = this.events;
    if (c.length === events.length && events.every((e, i) => e === c[i])) return this.eventBytes;
    const enc = events.map(encodeEvent);
    let size = 0;
    for (const e of enc) size += fieldSize(e.length);
    const b = new Uint8Array(size);
    let p = 0;
    // events: field 11, wire type 2 -> tag 0x5a
    for (const e of enc) p = putBytesField(b, p, 0x5a, e);
    this.events = events.slice();
    this.eventBytes = b;
    return b;
  }
}
