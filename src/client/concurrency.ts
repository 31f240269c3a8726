/**
 * @module client/concurrency
 * The lock and election recipes of the Go client (clientv3/concurrency in etcd 3.4:
 * session.go, mutex.go, election.go, key.go), with the same keys, leases, revisions
 * and RPC sequence, so our `lock`/`elect` interoperate with real etcdctl's:
 *
 * - a Session is a lease (default TTL 60 s) kept alive on a LeaseKeepAlive stream;
 * - a Mutex or Election on prefix `name` writes `name/<lease id in lower-case hex>`
 *   (attached to the session lease) with a txn guarded by `create_revision == 0`;
 * - the holder/leader is the key with the lowest create revision under `name/`;
 *   a waiter watches, one after the other, the newest key created before its own
 *   (waitDeletes) until none is left.
 *
 * Cancellation (Go's context) is an AbortSignal; a cancelled wait fails with
 * `context canceled`. Calls made with context.TODO() in Go get no deadline here.
 */

import { create } from '@bufbuild/protobuf';
import type { EtcdClient } from './client.js';
import { CanceledError, EtcdError } from './errors.js';
import { bytes, prefixEnd } from './range.js';
import {
  Compare_CompareResult,
  Compare_CompareTarget,
  LeaseKeepAliveRequestSchema,
  RangeRequest_SortOrder,
  RangeRequest_SortTarget,
  type LeaseKeepAliveResponse,
  type RangeResponse,
  type ResponseHeader,
  type TxnResponse,
} from '../gen/etcdserverpb/rpc_pb.js';
import { Event_EventType, type KeyValue } from '../gen/mvccpb/kv_pb.js';
import { Watcher, responseErr, type WatchChan } from './watch.js';

/** concurrency.defaultSessionTTL, seconds. */
export const DEFAULT_SESSION_TTL = 60;
/** clientv3 lessor: pause between keep-alive send checks and stream attempts (ms). */
const KEEPALIVE_CHECK_MS = 500;
/** clientv3 lessor deadlineLoop period (ms). */
const DEADLINE_CHECK_MS = 1000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const EMPTY = new Uint8Array(0);

/** Throws `context canceled` if `signal` is aborted. */
function checkAbort(signal?: AbortSignal): void {
  if (signal?.aborted) throw new CanceledError();
}

/** Resolves with `p`, or rejects with `context canceled` when `signal` aborts first. */
function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new CanceledError());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new CanceledError());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

/** Lease id as `%x` (lower-case hex, no padding), as mutex/election keys use it. */
export function leaseHex(id: bigint): string {
  return BigInt.asUintN(64, id).toString(16);
}

/**
 * concurrency.Session: a lease granted with `ttl` seconds and kept alive like
 * clientv3's lessor does it (a keep-alive every TTL/3 after each reply, on a stream
 * opened with `hasleader=true`, reopened after failures). `done` resolves when the
 * lease is gone: a reply with TTL <= 0, or no reply before the deadline (the last TTL;
 * before the first reply: dial timeout + 1 s, 5 s with a zero dial timeout).
 */
export class Session {
  /** resolves when the lease is no longer being refreshed (Go's Session.Done()) */
  readonly done: Promise<void>;
  private finished = false;
  private finish!: () => void;
  private call: Awaited<ReturnType<EtcdClient['leaseKeepAliveStream']>> | undefined;
  private timers: NodeJS.Timeout[] = [];
  private nextKeepAlive = Date.now();
  private deadline: number;

  private constructor(readonly client: EtcdClient, readonly lease: bigint, readonly ttl: number, firstTimeoutMs: number) {
    this.deadline = Date.now() + firstTimeoutMs;
    this.done = new Promise<void>((r) => (this.finish = r));
  }

  /**
   * concurrency.NewSession: grants the lease (no deadline, as with client.Ctx()) and
   * starts keeping it alive.
   * @param ttl seconds; <= 0 means DEFAULT_SESSION_TTL (concurrency.WithTTL)
   * @throws EtcdError from LeaseGrant
   */
  static async create(client: EtcdClient, ttl = DEFAULT_SESSION_TTL): Promise<Session> {
    if (ttl <= 0) ttl = DEFAULT_SESSION_TTL;
    const resp = await client.leaseGrant({ TTL: BigInt(ttl), ID: 0n }, { timeoutMs: 0 });
    const dial = client.config.dialTimeoutMs;
    const s = new Session(client, resp.ID, ttl, dial > 0 ? dial + 1000 : 5000);
    s.start();
    return s;
  }

  private start(): void {
    this.timers.push(setInterval(() => {
      if (Date.now() > this.deadline) this.orphan();
    }, DEADLINE_CHECK_MS));
    void this.streamLoop();
  }

  private async streamLoop(): Promise<void> {
    while (!this.finished) {
      let call;
      try {
        call = await this.client.leaseKeepAliveStream(true);
      } catch {
        await sleep(KEEPALIVE_CHECK_MS);
        continue;
      }
      if (this.finished) {
        call.cancel();
        return;
      }
      this.call = call;
      const ended = new Promise<void>((resolve) => {
        call.on('data', (r: LeaseKeepAliveResponse) => this.onReply(r));
        call.on('error', () => { /* reported through 'status' */ });
        call.on('status', () => resolve());
      });
      const send = () => {
        if (this.finished || Date.now() < this.nextKeepAlive) return;
        try {
          call.write(create(LeaseKeepAliveRequestSchema, { ID: this.lease }));
        } catch {
          // a broken stream reports itself through its status
        }
      };
      send();
      const sender = setInterval(send, KEEPALIVE_CHECK_MS);
      this.timers.push(sender);
      await ended;
      clearInterval(sender);
      this.call = undefined;
      if (!this.finished) await sleep(KEEPALIVE_CHECK_MS);
    }
  }

  private onReply(r: LeaseKeepAliveResponse): void {
    if (this.finished || r.ID !== this.lease) return;
    if (r.TTL <= 0n) {
      this.orphan();
      return;
    }
    const now = Date.now();
    this.nextKeepAlive = now + (Number(r.TTL) * 1000) / 3;
    this.deadline = now + Number(r.TTL) * 1000;
  }

  /** Session.Orphan: stops refreshing the lease (it expires after its TTL). */
  orphan(): void {
    if (this.finished) return;
    this.finished = true;
    for (const t of this.timers) clearInterval(t);
    this.call?.cancel();
    this.call = undefined;
    this.finish();
  }

  /** Session.Close: orphans the session and revokes its lease (deadline: the TTL). */
  async close(): Promise<void> {
    this.orphan();
    await this.client.leaseRevoke({ ID: this.lease }, { timeoutMs: this.ttl * 1000 });
  }
}

/** clientv3.Compare(CreateRevision(key), "=", rev). */
function createRevIs(key: Uint8Array, rev: bigint) {
  return { key, result: Compare_CompareResult.EQUAL, target: Compare_CompareTarget.CREATE, targetUnion: { case: 'createRevision' as const, value: rev } };
}

/** clientv3.OpGet(prefix, WithFirstCreate()...): the oldest key under `prefix`. */
function firstCreateOp(prefix: Uint8Array) {
  return {
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    limit: 1n,
    sortTarget: RangeRequest_SortTarget.CREATE,
    sortOrder: RangeRequest_SortOrder.ASCEND,
  };
}

/** The RangeResponse of the txn's `i`th operation (a get). */
function rangeAt(resp: TxnResponse, i: number): RangeResponse {
  const op = resp.responses[i]?.response;
  if (op?.case !== 'responseRange') throw new Error(`unexpected txn response ${i}`);
  return op.value;
}

/**
 * key.go waitDelete: watches `key` from revision `rev` until a DELETE event.
 * @throws the watch's error (compaction...), `context canceled` if `signal` aborts,
 *   else `lost watcher waiting for delete` when the watch ends without a delete
 */
async function waitDelete(client: EtcdClient, key: Uint8Array, rev: bigint, signal?: AbortSignal): Promise<void> {
  const w = new Watcher(client);
  try {
    const ch = await abortable(w.watch({ key, end: EMPTY, rev, prevKv: false, progressNotify: false }), signal);
    let lastErr: string | undefined;
    for (;;) {
      const d = await abortable(ch.next(), signal);
      if (!d) break;
      if (d.resp.events.some((e) => e.type === Event_EventType.DELETE)) return;
      lastErr = responseErr(d);
    }
    if (lastErr !== undefined) throw new EtcdError(lastErr, 2, lastErr);
    checkAbort(signal);
    throw new Error('lost watcher waiting for delete');
  } finally {
    w.close();
  }
}

/**
 * key.go waitDeletes: waits until no key under `prefix` has a create revision
 * <= `maxCreateRev`, watching the newest such key each time.
 * @returns the header of the final (empty) range response
 */
async function waitDeletes(client: EtcdClient, prefix: Uint8Array, maxCreateRev: bigint, signal?: AbortSignal): Promise<ResponseHeader | undefined> {
  for (;;) {
    const resp = await client.range(
      {
        key: prefix,
        rangeEnd: prefixEnd(prefix),
        limit: 1n,
        sortTarget: RangeRequest_SortTarget.CREATE,
        sortOrder: RangeRequest_SortOrder.DESCEND,
        maxCreateRevision: maxCreateRev,
      },
      { timeoutMs: 0, signal },
    );
    if (resp.kvs.length === 0) return resp.header;
    await waitDelete(client, resp.kvs[0]!.key, resp.header?.revision ?? 0n, signal);
  }
}

/**
 * concurrency.Mutex on prefix `name/`. `lock()` enqueues `name/<lease hex>` and waits
 * for every older key to go; `unlock()` deletes the key.
 */
export class Mutex {
  private readonly pfx: Uint8Array;
  /** the lock key (`name/<lease hex>`), set by lock() */
  key = '';
  private myRev = -1n;
  /** the header from acquiring the lock (Go's Mutex.Header()) */
  header: ResponseHeader | undefined;

  constructor(readonly session: Session, name: string) {
    this.pfx = bytes(name + '/');
  }

  /**
   * Mutex.Lock. When the wait fails (cancelled, watch error), the own key is deleted.
   * @throws EtcdError from the RPCs, `context canceled` when `signal` aborts
   */
  async lock(signal?: AbortSignal): Promise<void> {
    const client = this.session.client;
    this.key = new TextDecoder().decode(this.pfx) + leaseHex(this.session.lease);
    const k = bytes(this.key);
    const resp = await client.txn(
      {
        compare: [createRevIs(k, 0n)],
        success: [
          { request: { case: 'requestPut', value: { key: k, value: EMPTY, lease: this.session.lease } } },
          { request: { case: 'requestRange', value: firstCreateOp(this.pfx) } },
        ],
        failure: [
          { request: { case: 'requestRange', value: { key: k } } },
          { request: { case: 'requestRange', value: firstCreateOp(this.pfx) } },
        ],
      },
      { timeoutMs: 0, signal },
    );
    this.myRev = resp.header?.revision ?? 0n;
    if (!resp.succeeded) this.myRev = rangeAt(resp, 0).kvs[0]?.createRevision ?? 0n;
    const owner = rangeAt(resp, 1).kvs;
    if (owner.length === 0 || owner[0]!.createRevision === this.myRev) {
      this.header = resp.header;
      return;
    }
    try {
      this.header = await waitDeletes(client, this.pfx, this.myRev - 1n, signal);
    } catch (e) {
      await this.unlock().catch(() => undefined);
      throw e;
    }
  }

  /** Mutex.Unlock: deletes the lock key (no deadline, as with context.TODO()). */
  async unlock(timeoutMs = 0): Promise<void> {
    await this.session.client.deleteRange({ key: bytes(this.key) }, { timeoutMs });
    this.key = '\x00';
    this.myRev = -1n;
  }
}

/** Go's concurrency.ErrElectionNotLeader. */
export const ERR_ELECTION_NOT_LEADER = 'election: not leader';

/** concurrency.Election on prefix `name/`. */
export class Election {
  readonly prefix: Uint8Array;
  /** the leader key once campaigning (`name/<lease hex>`) */
  key = '';
  private leaderRev = 0n;
  private isLeaderSession = false;
  header: ResponseHeader | undefined;

  constructor(readonly session: Session, name: string) {
    this.prefix = bytes(name + '/');
  }

  /**
   * Election.Campaign: puts `value` on `name/<lease hex>` (or proclaims it on an existing
   * key of this lease), then waits until all older candidates are gone. A cancelled
   * campaign resigns.
   * @throws EtcdError from the RPCs, `context canceled` when `signal` aborts
   */
  async campaign(value: string, signal?: AbortSignal): Promise<void> {
    const client = this.session.client;
    const keyStr = new TextDecoder().decode(this.prefix) + leaseHex(this.session.lease);
    const k = bytes(keyStr);
    const v = bytes(value);
    const resp = await client.txn(
      {
        compare: [createRevIs(k, 0n)],
        success: [{ request: { case: 'requestPut', value: { key: k, value: v, lease: this.session.lease } } }],
        failure: [{ request: { case: 'requestRange', value: { key: k } } }],
      },
      { timeoutMs: 0, signal },
    );
    this.key = keyStr;
    this.leaderRev = resp.header?.revision ?? 0n;
    this.isLeaderSession = true;
    if (!resp.succeeded) {
      const kv = rangeAt(resp, 0).kvs[0]!;
      this.leaderRev = kv.createRevision;
      if (Buffer.compare(Buffer.from(kv.value), Buffer.from(v)) !== 0) {
        try {
          await this.proclaim(value, signal);
        } catch (e) {
          await this.resign().catch(() => undefined);
          throw e;
        }
      }
    }
    try {
      await waitDeletes(client, this.prefix, this.leaderRev - 1n, signal);
    } catch (e) {
      if (signal?.aborted) await this.resign().catch(() => undefined);
      else this.isLeaderSession = false;
      throw e;
    }
    this.header = resp.header;
  }

  /** Election.Proclaim: a new value on the leader key, if it is still ours. */
  async proclaim(value: string, signal?: AbortSignal): Promise<void> {
    if (!this.isLeaderSession) throw new Error(ERR_ELECTION_NOT_LEADER);
    const k = bytes(this.key);
    const resp = await this.session.client.txn(
      {
        compare: [createRevIs(k, this.leaderRev)],
        success: [{ request: { case: 'requestPut', value: { key: k, value: bytes(value), lease: this.session.lease } } }],
      },
      { timeoutMs: 0, signal },
    );
    if (!resp.succeeded) {
      this.key = '';
      throw new Error(ERR_ELECTION_NOT_LEADER);
    }
    this.header = resp.header;
  }

  /** Election.Resign: deletes the leader key if it is still the one we created. */
  async resign(): Promise<void> {
    if (!this.isLeaderSession) return;
    const k = bytes(this.key);
    try {
      const resp = await this.session.client.txn(
        {
          compare: [createRevIs(k, this.leaderRev)],
          success: [{ request: { case: 'requestDeleteRange', value: { key: k } } }],
        },
        { timeoutMs: 0 },
      );
      this.header = resp.header;
    } finally {
      this.key = '';
      this.isLeaderSession = false;
    }
  }

  /**
   * Election.Observe: calls `onLeader` with the current leader, then with every new
   * value of the leader key, and again whenever leadership moves. Resolves when
   * `signal` aborts or the observation breaks (a failed get or watch), like the Go
   * channel closing. `onLeader` gets what Go sends: the leader's get response (header,
   * that one kv, the count of candidates at that time), or, for changes seen by a watch,
   * the watch response header with the changed kv.
   */
  async observe(onLeader: (r: RangeResponse) => void, signal?: AbortSignal): Promise<void> {
    const client = this.session.client;
    for (;;) {
      let resp: RangeResponse;
      try {
        resp = await client.range(firstCreateOp(this.prefix), { timeoutMs: 0, signal });
      } catch {
        return;
      }
      let kv: KeyValue | undefined;
      let hdr: ResponseHeader | undefined;
      if (resp.kvs.length === 0) {
        // no leader yet: wait for the first put under the prefix
        const w = new Watcher(client);
        try {
          const ch = await abortable(w.watch({ key: this.prefix, end: prefixEnd(this.prefix), rev: resp.header?.revision ?? 0n, prevKv: false, progressNotify: false }), signal);
          while (!kv) {
            const d = await abortable(ch.next(), signal);
            if (!d || responseErr(d) !== undefined) return;
            const put = d.resp.events.find((e) => e.type === Event_EventType.PUT);
            if (put?.kv) {
              kv = put.kv;
              hdr = { ...d.resp.header!, revision: kv.modRevision } as ResponseHeader;
            }
          }
        } catch {
          return;
        } finally {
          w.close();
        }
      } else {
        hdr = resp.header;
        kv = resp.kvs[0]!;
      }
      if (signal?.aborted) return;
      onLeader({ ...resp, header: hdr, kvs: [kv], more: false, count: 0n } as RangeResponse);

      // follow the leader key until it is deleted
      const w = new Watcher(client);
      try {
        let ch: WatchChan;
        try {
          ch = await abortable(w.watch({ key: kv.key, end: EMPTY, rev: (hdr?.revision ?? 0n) + 1n, prevKv: false, progressNotify: false }), signal);
        } catch {
          return;
        }
        let deleted = false;
        while (!deleted) {
          let d;
          try {
            d = await abortable(ch.next(), signal);
          } catch {
            return;
          }
          if (!d) return;
          for (const ev of d.resp.events) {
            if (ev.type === Event_EventType.DELETE) {
              deleted = true;
              break;
            }
            resp = { ...resp, header: d.resp.header, kvs: [ev.kv!] } as RangeResponse;
            if (signal?.aborted) return;
            onLeader(resp);
          }
        }
      } finally {
        w.close();
      }
    }
  }
}
