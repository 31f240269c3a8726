/**
 * Decoding a TxnRequest of any nesting depth without recursion.
 *
 * A txn can nest txns (RequestOp.request_txn), and the gRPC message limit
 * (--max-request-bytes + 512 KiB) leaves room for hundreds of thousands of
 * levels (a level costs about 6 bytes). etcd decodes them all (Go's stack
 * grows) and then refuses the request in checkTxnRequest: each level's largest
 * op count is taken from the budget of the levels below it, starting at
 * --max-txn-ops, so at nesting level L (0 = the request itself) the budget is
 * at most `maxTxnOps - L`, and a txn at level `maxTxnOps + 1` always fails
 * with ErrGRPCTooManyOps as soon as it is checked, whatever it holds.
 * protobuf-es's generated decoder stops at 100 message levels (50 txn levels)
 * with an error etcd never gives.
 *
 * {@link decodeTxnRequest} walks TxnRequest and RequestOp with an explicit
 * stack and decodes the leaf messages (Compare, RangeRequest, PutRequest,
 * DeleteRangeRequest: none holds a message) with the generated code. A txn at
 * level `maxTxnOps + 1` or deeper is not decoded: it becomes an empty
 * TxnRequest listed in {@link isPrunedTxn}, which {@link checkTxnRequest}
 * (key.ts) refuses like etcd refuses the whole one, in the same depth-first
 * order, so every error etcd reports for such a request is reported here too.
 *
 * Field numbers (rpc.proto): TxnRequest compare 1, success 2, failure 3;
 * RequestOp request_range 1, request_put 2, request_delete_range 3,
 * request_txn 4. As in etcd's generated Unmarshal (gogoproto), a oneof field
 * seen twice replaces the earlier value. Anything unusual (group wire types,
 * a known field with the wrong wire type, truncated bytes) is left to the
 * generated decoder, which gives its error.
 */
import { create, fromBinary } from '@bufbuild/protobuf';
import {
  CompareSchema,
  DeleteRangeRequestSchema,
  RangeRequestSchema,
  RequestOpSchema,
  TxnRequestSchema,
  type RequestOp,
  type TxnRequest,
} from '../../../../gen/etcdserverpb/rpc_pb.js';
import { readLength, readUvarint, type WireCursor } from '../../../../util/protowire.js';
import { decodePutRequest } from './fast-codec.js';

/**
 * The deepest txn nesting this server takes, in levels (the request itself is
 * level 0): a txn at this level is pruned whatever --max-txn-ops says, so the
 * request fails with ErrGRPCTooManyOps. Past the checks, a txn is encoded into
 * the raft entry, applied and decoded again on replay by recursive code
 * (protobuf-es, the applier), which overflows Node's call stack somewhere past
 * 600 levels; this bound keeps a wide margin. It only differs from etcd when
 * --max-txn-ops is raised above 255 (the default, 128, accepts at most 129
 * levels); etcd 3.4 then accepts deeper txns, and takes about 10 s to apply
 * 5000 levels.
 */
export const MAX_TXN_NESTING_LEVELS = 256;

/** Txns replaced by an empty one because they lie deeper than any request accepted. */
const pruned = new WeakSet<TxnRequest>();

/** True for a txn {@link decodeTxnRequest} did not decode (too deep for any accepted request). */
export function isPrunedTxn(t: TxnRequest): boolean {
  return pruned.has(t);
}

/** Thrown inside the walk when the bytes need the generated decoder. */
class Unusual extends Error {}

type Frame =
  | { readonly kind: 'txn'; readonly msg: TxnRequest; pos: number; readonly end: number; readonly level: number }
  | { readonly kind: 'op'; readonly msg: RequestOp; pos: number; readonly end: number; readonly level: number };

/** Reads one tag at `c.pos`: [field number, wire type]. */
function readTag(b: Uint8Array, c: WireCursor, end: number): [number, number] {
  const t = readUvarint(b, c);
  if (t < 0n || c.pos > end || t > 0xffffffffn) throw new Unusual();
  const n = Number(t);
  const field = n >>> 3;
  if (field === 0) throw new Unusual();
  return [field, n & 7];
}

/** Reads a length-delimited field's length; returns [start, end] of its bytes. */
function readBytes(b: Uint8Array, c: WireCursor, end: number): [number, number] {
  const len = readLength(b, c);
  if (len < 0 || c.pos + len > end) throw new Unusual();
  const start = c.pos;
  c.pos += len;
  return [start, start + len];
}

/** Skips a field of wire type varint, fixed64, length-delimited or fixed32. */
function skipField(b: Uint8Array, c: WireCursor, end: number, wireType: number): void {
  switch (wireType) {
    case 0:
      if (readUvarint(b, c) < 0n) throw new Unusual();
      break;
    case 1:
      c.pos += 8;
      break;
    case 2:
      readBytes(b, c, end);
      break;
    case 5:
      c.pos += 4;
      break;
    default:
      throw new Unusual(); // groups
  }
  if (c.pos > end) throw new Unusual();
}

/**
 * Decodes a TxnRequest (see the module comment). `maxTxnOps` is the server's
 * --max-txn-ops: txns at nesting level `maxTxnOps + 1` (or
 * {@link MAX_TXN_NESTING_LEVELS}, if lower) and deeper are pruned.
 * Byte fields of the leaves may be views into `b`. Throws the generated
 * decoder's error for malformed bytes.
 */
export function decodeTxnRequest(b: Uint8Array, maxTxnOps: number): TxnRequest {
  const pruneLevel = Math.min(Math.max(0, maxTxnOps) + 1, MAX_TXN_NESTING_LEVELS);
  const root = create(TxnRequestSchema);
  const stack: Frame[] = [{ kind: 'txn', msg: root, pos: 0, end: b.length, level: 0 }];
  const c: WireCursor = { pos: 0 };
  try {
    while (stack.length > 0) {
      const f = stack[stack.length - 1]!;
      if (f.pos >= f.end) {
        stack.pop();
        continue;
      }
      c.pos = f.pos;
      const [field, wt] = readTag(b, c, f.end);
      if (f.kind === 'txn') {
        if (field >= 1 && field <= 3) {
          if (wt !== 2) throw new Unusual();
          const [s, e] = readBytes(b, c, f.end);
          f.pos = c.pos;
          if (field === 1) {
            f.msg.compare.push(fromBinary(CompareSchema, b.subarray(s, e)));
          } else {
            const op = create(RequestOpSchema);
            (field === 2 ? f.msg.success : f.msg.failure).push(op);
            stack.push({ kind: 'op', msg: op, pos: s, end: e, level: f.level });
          }
        } else {
          skipField(b, c, f.end, wt);
          f.pos = c.pos;
        }
        continue;
      }
      // a RequestOp
      if (field >= 1 && field <= 4) {
        if (wt !== 2) throw new Unusual();
        const [s, e] = readBytes(b, c, f.end);
        f.pos = c.pos;
        const body = b.subarray(s, e);
        switch (field) {
          case 1:
            f.msg.request = { case: 'requestRange', value: fromBinary(RangeRequestSchema, body) };
            break;
          case 2:
            f.msg.request = { case: 'requestPut', value: decodePutRequest(body) };
            break;
          case 3:
            f.msg.request = { case: 'requestDeleteRange', value: fromBinary(DeleteRangeRequestSchema, body) };
            break;
          default: {
            const t = create(TxnRequestSchema);
            f.msg.request = { case: 'requestTxn', value: t };
            if (f.level + 1 >= pruneLevel) pruned.add(t);
            else stack.push({ kind: 'txn', msg: t, pos: s, end: e, level: f.level + 1 });
          }
        }
      } else {
        skipField(b, c, f.end, wt);
        f.pos = c.pos;
      }
    }
  } catch (e) {
    if (!(e instanceof Unusual)) throw e;
    return fromBinary(TxnRequestSchema, b);
  }
  return root;
}
