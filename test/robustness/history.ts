// The records of a robustness run: every client operation with its invoke and return
// times and its outcome, and every watch response. The checkers (linearizability.ts,
// watch-check.ts, check.ts) read only these records, so a history can be written by
// hand (the known-bad corpus in checker.test.ts) or recorded by traffic.ts.
//
// Times are microseconds on one monotonic clock (process.hrtime of the recording
// process). Revisions and lease IDs are numbers (etcd's int64s, far below 2^53 here).

/** A key-value pair as etcd's mvccpb.KeyValue (value as a string: traffic writes text). */
export interface KV {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
  /** Lease ID, 0 when none. */
  lease: number;
}

/** Equality compare of a txn (etcd's Compare with result EQUAL). */
export interface Compare {
  key: string;
  /** MOD: the key's mod_revision (0 when absent); VALUE: its value (never equal when absent). */
  target: 'mod' | 'value';
  value: number | string;
}

/** One operation of a txn branch. */
export type TxnOp =
  | { type: 'put'; key: string; value: string; lease?: number }
  | { type: 'delete'; key: string }
  | { type: 'range'; key: string };

/** One result of a txn branch (ResponseOp), in the branch's order. */
export type TxnOpResult =
  | { type: 'put' }
  | { type: 'delete'; deleted: number }
  | { type: 'range'; kvs: KV[] };

/** What a client asked for. Keys are single keys, or `key` + `end` (etcd's range_end). */
export type Request =
  | { type: 'put'; key: string; value: string; lease?: number; prevKv?: boolean }
  | { type: 'delete'; key: string; prevKv?: boolean }
  | { type: 'txn'; compare: Compare[]; success: TxnOp[]; failure: TxnOp[] }
  | { type: 'range'; key: string; end?: string; revision?: number; serializable?: boolean }
  | { type: 'leaseGrant'; id: number; ttl: number }
  | { type: 'leaseRevoke'; id: number };

/** The answer to a request that succeeded; `revision` is the response header's revision. */
export type Response =
  | { type: 'put'; revision: number; prevKv?: KV | null }
  | { type: 'delete'; revision: number; deleted: number; prevKvs?: KV[] }
  | { type: 'txn'; revision: number; succeeded: boolean; results: TxnOpResult[] }
  | { type: 'range'; revision: number; kvs: KV[]; count: number }
  | { type: 'leaseGrant'; revision: number }
  | { type: 'leaseRevoke'; revision: number };

/**
 * Failures that say definitely what happened (the request had no effect): etcd's
 * errors, and 'not sent' (the client had no connection to send it on).
 */
export type DefiniteError = 'lease not found' | 'lease exists' | 'future revision' | 'compacted' | 'not sent';

/**
 * One client operation.
 * - `ok`: acknowledged; `response` is what the server answered.
 * - `error`: a definite failure (`error` is one of DefiniteError): the request had no effect.
 * - `ambiguous`: timeout, unavailable, connection lost: a write may or may not have
 *   been applied (at any time after `invoke`); a read is dropped by the checkers.
 *   `response` may be filled in later from the committed history (check.ts resolves a
 *   put whose unique value the watch saw).
 */
export interface Operation {
  id: number;
  client: number;
  /** Which member (name) served the request. */
  member?: string;
  invoke: number;
  /** Return time; Infinity for an ambiguous operation. */
  return: number;
  request: Request;
  status: 'ok' | 'error' | 'ambiguous';
  response?: Response;
  error?: DefiniteError;
  /**
   * For an ambiguous write, what the committed history says about it (check.ts):
   * the one revision it must have made, or 'none' when it made no revision.
   */
  revisionHint?: number | 'none';
  /** The transport error text of an ambiguous operation (for reports). */
  detail?: string;
}

/** One watch event as delivered (mvccpb.Event). */
export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KV;
  prevKv?: KV;
}

/** One WatchResponse of a watch. */
export interface WatchResponse {
  time: number;
  headerRevision: number;
  events: WatchEvent[];
  /** True for a response with no events that answers a progress request (bookmark). */
  progress?: boolean;
  compactRevision?: number;
}

/** One stream of a logical watch: opened from `startRevision`, until it broke or was closed. */
export interface WatchSegment {
  member: string;
  startRevision: number;
  responses: WatchResponse[];
  /** Why the segment ended ('closed' at the end of the run, else the error). */
  end: string;
}

/**
 * A logical watch: one key range and options, resumed on a new stream (possibly another
 * member) from the revision after the last one it saw each time a stream breaks.
 */
export interface WatchRecord {
  id: number;
  key: string;
  /** etcd's range_end; absent for a single key. */
  end?: string;
  prevKv: boolean;
  filters: Array<'noput' | 'nodelete'>;
  /** The revision of the first stream. */
  startRevision: number;
  segments: WatchSegment[];
}

/** One member's state at the end of a run (Convergence). */
export interface MemberFinal {
  member: string;
  revision: number;
  hashRevision: number;
  hash: number;
  compactRevision: number;
}

/** Everything a run recorded. */
export interface History {
  operations: Operation[];
  watches: WatchRecord[];
  /** The lowest revision whose events the watches must show (1 for a fresh cluster). */
  firstRevision: number;
  finals?: MemberFinal[];
}

/** True if `key` is in [from, end) (etcd range semantics; `end` absent = the key alone, '\0' = from-key). */
export function inRange(key: string, from: string, end?: string): boolean {
  if (end === undefined || end === '') return key === from;
  if (end === '\0') return key >= from;
  return key >= from && key < end;
}

/** etcd's prefix range end for `prefix` (last byte + 1; text keys only). */
export function prefixEnd(prefix: string): string {
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** A short one-line description of an operation (reports, violation sub-histories). */
export function describeOp(op: Operation): string {
  const t = (x: number) => (Number.isFinite(x) ? (x / 1000).toFixed(1) : '∞');
  const r = op.request;
  let req: string;
  switch (r.type) {
    case 'put': req = `put(${r.key}=${r.value}${r.lease ? `, lease=${r.lease.toString(16)}` : ''})`; break;
    case 'delete': req = `delete(${r.key})`; break;
    case 'range': req = `range(${r.key}${r.end ? `..${r.end === '\0' ? '∞' : r.end}` : ''}${r.revision ? `@${r.revision}` : ''}${r.serializable ? ', serializable' : ''})`; break;
    case 'txn': req = `txn(if ${r.compare.map((c) => `${c.target}(${c.key})==${c.value}`).join(' && ')} then ${r.success.map(txnOpText).join('; ')} else ${r.failure.map(txnOpText).join('; ')})`; break;
    case 'leaseGrant': req = `leaseGrant(${r.id.toString(16)}, ttl=${r.ttl})`; break;
    case 'leaseRevoke': req = `leaseRevoke(${r.id.toString(16)})`; break;
  }
  let res: string;
  if (op.status === 'error') res = `error: ${op.error}`;
  else if (op.status === 'ambiguous' && !op.response) res = `ambiguous (${op.detail ?? 'unknown'})`;
  else res = responseText(op.response!) + (op.status === 'ambiguous' ? ' (ambiguous, resolved from the watch)' : '');
  return `#${op.id} c${op.client}${op.member ? `@${op.member}` : ''} [${t(op.invoke)}ms, ${t(op.return)}ms] ${req} -> ${res}`;
}

function txnOpText(o: TxnOp): string {
  return o.type === 'put' ? `put(${o.key}=${o.value})` : `${o.type}(${o.key})`;
}

/** A short text of a KV (reports). */
export function kvText(kv: KV | undefined | null): string {
  if (!kv) return '-';
  return `${kv.key}=${kv.value}(c${kv.createRevision},m${kv.modRevision},v${kv.version}${kv.lease ? `,l${kv.lease.toString(16)}` : ''})`;
}

function responseText(r: Response): string {
  switch (r.type) {
    case 'put': return `ok rev=${r.revision}${r.prevKv !== undefined ? ` prev=${kvText(r.prevKv)}` : ''}`;
    case 'delete': return `deleted=${r.deleted} rev=${r.revision}`;
    case 'range': return `rev=${r.revision} [${r.kvs.map(kvText).join(', ')}]`;
    case 'txn': return `${r.succeeded ? 'succeeded' : 'failed'} rev=${r.revision}${r.results.some((x) => x.type === 'range') ? ` [${r.results.map((x) => (x.type === 'range' ? x.kvs.map(kvText).join(',') : x.type)).join('; ')}]` : ''}`;
    case 'leaseGrant': return `granted rev=${r.revision}`;
    case 'leaseRevoke': return `revoked rev=${r.revision}`;
  }
}
