/**
 * @module server/etcdserver/api/v3rpc/key
 * The KV service (etcd 3.4 etcdserver/api/v3rpc/key.go): request checks, then
 * the server's RaftKV call, then header fill. The checks run before the server
 * sees the request, with etcd's order and errors:
 * - {@link checkRangeRequest}, {@link checkPutRequest}, {@link checkDeleteRequest}
 * - {@link checkTxnRequest} (op counts vs --max-txn-ops, empty keys, nested txns;
 *   iterative, on requests decoded by txn-codec.ts's decodeTxnRequest)
 * - {@link checkIntervals} (a key put twice, or put and deleted, in one txn branch)
 */
import type {
  CompactionRequest, CompactionResponse, DeleteRangeRequest, DeleteRangeResponse, PutRequest, PutResponse,
  RangeRequest, RangeResponse, RequestOp, TxnRequest, TxnResponse,
} from '../../../../gen/etcdserverpb/rpc_pb.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { Header } from './header.js';
import * as rpctypes from './rpctypes/error.js';
import { isPrunedTxn } from './txn-codec.js';
import { togRPCError } from './util.js';

/** Empty key → ErrGRPCEmptyKey (key.go checkRangeRequest). */
export function checkRangeRequest(r: RangeRequest): void {
  if (r.key.length === 0) throw rpctypes.ErrGRPCEmptyKey;
}

/**
 * Empty key → ErrGRPCEmptyKey; ignore_value with a value → ErrGRPCValueProvided;
 * ignore_lease with a lease → ErrGRPCLeaseProvided (key.go checkPutRequest).
 */
export function checkPutRequest(r: PutRequest): void {
  if (r.key.length === 0) throw rpctypes.ErrGRPCEmptyKey;
  if (r.ignoreValue && r.value.length !== 0) throw rpctypes.ErrGRPCValueProvided;
  if (r.ignoreLease && r.lease !== 0n) throw rpctypes.ErrGRPCLeaseProvided;
}

/** Empty key → ErrGRPCEmptyKey (key.go checkDeleteRequest). */
export function checkDeleteRequest(r: DeleteRangeRequest): void {
  if (r.key.length === 0) throw rpctypes.ErrGRPCEmptyKey;
}

/**
 * key.go checkTxnRequest: more compares, success ops or failure ops than
 * `maxTxnOps` → ErrGRPCTooManyOps; a compare with an empty key →
 * ErrGRPCEmptyKey; then every op is checked, nested txns against
 * `maxTxnOps - (this level's largest count)`; an op with no request set →
 * ErrGRPCKeyNotFound (etcd's "empty op"). etcd recurses; this walks the ops
 * depth-first with an explicit stack, in the same order (so the same error
 * wins), and cannot run out of call stack however deep the txns nest. A txn
 * that {@link decodeTxnRequest} pruned as too deep fails with
 * ErrGRPCTooManyOps, as it would in etcd (its budget is negative).
 */
export function checkTxnRequest(r: TxnRequest, maxTxnOps: number): void {
  type Work = { readonly txn: TxnRequest; readonly budget: number } | { readonly op: RequestOp; readonly budget: number };
  const stack: Work[] = [{ txn: r, budget: maxTxnOps }];
  while (stack.length > 0) {
    const w = stack.pop()!;
    if ('txn' in w) {
      const t = w.txn;
      const opc = Math.max(t.compare.length, t.success.length, t.failure.length);
      if (opc > w.budget || isPrunedTxn(t)) throw rpctypes.ErrGRPCTooManyOps;
      for (const c of t.compare) if (c.key.length === 0) throw rpctypes.ErrGRPCEmptyKey;
      const budget = w.budget - opc;
      // pushed in reverse: success[0] is checked first, failure ops after all success ops
      for (let i = t.failure.length - 1; i >= 0; i--) stack.push({ op: t.failure[i]!, budget });
      for (let i = t.success.length - 1; i >= 0; i--) stack.push({ op: t.success[i]!, budget });
      continue;
    }
    const req = w.op.request;
    switch (req.case) {
      case 'requestRange':
        checkRangeRequest(req.value);
        break;
      case 'requestPut':
        checkPutRequest(req.value);
        break;
      case 'requestDeleteRange':
        checkDeleteRequest(req.value);
        break;
      case 'requestTxn':
        stack.push({ txn: req.value, budget: w.budget });
        break;
      default:
        throw rpctypes.ErrGRPCKeyNotFound;
    }
  }
}

/**
 * A delete's key range as etcd's adt "string affine" interval: [begin, end)
 * where an empty `end` is +infinity; a single-key delete is the point [key, key\0).
 * Note: a from-key delete (range_end "\0") becomes [key, "\0"), which contains
 * no key: etcd 3.4 does the same, so such deletes never conflict with puts.
 */
interface AffineInterval {
  readonly begin: string;
  /** undefined: a single point */
  readonly end: string | undefined;
}

/** Affine string compare: '' is larger than everything (adt StringAffineComparable). */
function affineCompare(a: string, b: string): number {
  if (a.length === 0) return b.length === 0 ? 0 : 1;
  if (b.length === 0) return -1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function intervalContains(iv: AffineInterval, k: string): boolean {
  if (iv.end === undefined) return iv.begin === k;
  // point [k, k\0) intersects [begin, end) iff begin <= k and k < end
  return affineCompare(iv.begin, k) <= 0 && affineCompare(k, iv.end) < 0;
}

/** Byte string → a JS string that compares like the bytes (one char per byte). */
function bkey(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/**
 * key.go checkIntervals: in one list of ops (a txn branch), no key may be put
 * twice and no put may fall in a deleted range, counting nested txns (a key put
 * in both branches of one nested txn is fine, since only one runs). Throws
 * ErrGRPCDuplicateKey; returns this level's puts and deletes for the caller.
 */
export function checkIntervals(reqs: readonly RequestOp[]): { puts: Set<string>; dels: AffineInterval[] } {
  const dels: AffineInterval[] = [];
  for (const req of reqs) {
    if (req.request.case !== 'requestDeleteRange') continue;
    const d = req.request.value;
    dels.push(d.rangeEnd.length !== 0 ? { begin: bkey(d.key), end: bkey(d.rangeEnd) } : { begin: bkey(d.key), end: undefined });
  }
  const deleted = (k: string) => dels.some((iv) => intervalContains(iv, k));

  const puts = new Set<string>();
  for (const req of reqs) {
    if (req.request.case !== 'requestTxn') continue;
    const t = req.request.value;
    const then = checkIntervals(t.success);
    const els = checkIntervals(t.failure);
    for (const k of then.puts) {
      if (puts.has(k) || deleted(k)) throw rpctypes.ErrGRPCDuplicateKey;
      puts.add(k);
    }
    for (const k of els.puts) {
      if (puts.has(k) && !then.puts.has(k)) throw rpctypes.ErrGRPCDuplicateKey;
      if (deleted(k)) throw rpctypes.ErrGRPCDuplicateKey;
      puts.add(k);
    }
    dels.push(...then.dels, ...els.dels);
  }

  for (const req of reqs) {
    if (req.request.case !== 'requestPut') continue;
    const k = bkey(req.request.value.key);
    if (puts.has(k) || deleted(k)) throw rpctypes.ErrGRPCDuplicateKey;
    puts.add(k);
  }
  return { puts, dels };
}

/** The KV service handlers (etcd kvServer); each rejects with a GrpcStatusError. */
export class KVServer {
  private readonly hdr: Header;

  constructor(private readonly s: EtcdServerApi) {
    this.hdr = new Header(s);
  }

  async range(ctx: CallContext, r: RangeRequest): Promise<RangeResponse> {
    checkRangeRequest(r);
    const resp = await this.s.range(ctx, r).catch(rethrow);
    this.hdr.fill(resp);
    return resp;
  }

  async put(ctx: CallContext, r: PutRequest): Promise<PutResponse> {
    checkPutRequest(r);
    let resp: PutResponse;
    try {
      resp = await this.s.put(ctx, r);
    } catch (e) {
      rethrow(e);
    }
    this.hdr.fill(resp);
    return resp;
  }

  async deleteRange(ctx: CallContext, r: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    checkDeleteRequest(r);
    const resp = await this.s.deleteRange(ctx, r).catch(rethrow);
    this.hdr.fill(resp);
    return resp;
  }

  async txn(ctx: CallContext, r: TxnRequest): Promise<TxnResponse> {
    checkTxnRequest(r, this.s.limits().maxTxnOps);
    // after the op checks, to avoid a quadratic blowup on huge requests (key.go)
    checkIntervals(r.success);
    checkIntervals(r.failure);
    const resp = await this.s.txn(ctx, r).catch(rethrow);
    this.hdr.fill(resp);
    return resp;
  }

  async compact(ctx: CallContext, r: CompactionRequest): Promise<CompactionResponse> {
    const resp = await this.s.compact(ctx, r).catch(rethrow);
    this.hdr.fill(resp);
    return resp;
  }
}

function rethrow(e: unknown): never {
  throw togRPCError(e);
}
