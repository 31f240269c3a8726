/**
 * @module server/etcdserver/api/v3rpc/interceptor
 * What etcd 3.4's interceptors (v3rpc/interceptor.go) do before a handler runs:
 * - the per-call context: auth token from the `token` (else `authorization`)
 *   metadata, an AbortSignal for client cancel / deadline;
 * - `hasleader: true` metadata → ErrGRPCNoLeader when the member has no leader;
 * - for streams with `hasleader`, the leader monitor: after 3 election timeouts
 *   in a row without a leader they are ended with ErrGRPCNoLeader (monitorLeader);
 * - request size: a write whose encoded request exceeds --max-request-bytes gets
 *   ErrGRPCRequestTooLarge (etcd raises it when the raft request is marshalled;
 *   the server checks the exact InternalRaftRequest size too).
 */
import type { Metadata } from '@grpc/grpc-js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import * as rpctypes from './rpctypes/error.js';
import { METADATA_HAS_LEADER, METADATA_REQUIRE_LEADER_KEY, TOKEN_FIELD_NAME_GRPC, TOKEN_FIELD_NAME_SWAGGER } from './rpctypes/md.js';

/** Election timeouts without a leader before hasleader streams are canceled (interceptor.go maxNoLeaderCnt). */
export const MAX_NO_LEADER_CNT = 3;

/** The auth token of a call's metadata, if any. */
export function tokenFromMetadata(md: Metadata): string | undefined {
  for (const k of [TOKEN_FIELD_NAME_GRPC, TOKEN_FIELD_NAME_SWAGGER]) {
    const v = md.get(k)[0];
    if (v !== undefined) return typeof v === 'string' ? v : v.toString('utf8');
  }
  return undefined;
}

/** True when the call asks to fail without a leader. */
export function requiresLeader(md: Metadata): boolean {
  return md.get(METADATA_REQUIRE_LEADER_KEY)[0] === METADATA_HAS_LEADER;
}

/** Throws ErrGRPCNoLeader for a `hasleader` call while the member has no leader. */
export function checkLeader(s: EtcdServerApi, md: Metadata): void {
  if (requiresLeader(md) && s.leader() === 0n) throw rpctypes.ErrGRPCNoLeader;
}

/**
 * Builds the CallContext of a call; `controller` aborts it (the caller wires
 * client cancellation to it). Aborting with a GrpcStatusError reason ends
 * streams with that status.
 */
export function callContext(md: Metadata, controller: AbortController): CallContext {
  return { token: tokenFromMetadata(md), signal: controller.signal };
}

/** Methods whose requests become raft proposals carrying user data. */
const SIZE_CHECKED = new Set(['/etcdserverpb.KV/Put', '/etcdserverpb.KV/DeleteRange', '/etcdserverpb.KV/Txn']);

/**
 * ErrGRPCRequestTooLarge when a write request of `bytes` encoded bytes is above
 * `maxRequestBytes` (never stricter than etcd, whose raft request adds a header).
 */
export function checkRequestSize(path: string, bytes: number, maxRequestBytes: number): void {
  if (SIZE_CHECKED.has(path) && bytes > maxRequestBytes) throw rpctypes.ErrGRPCRequestTooLarge;
}

/**
 * Streams that asked for a leader, and the timer that cancels them after
 * {@link MAX_NO_LEADER_CNT} election timeouts in a row without one
 * (interceptor.go monitorLeader).
 */
export class LeaderMonitor {
  private readonly streams = new Set<AbortController>();
  private noLeaderCnt = 0;
  private readonly timer: NodeJS.Timeout;

  /** @param electionMs the election timeout, ms (--election-timeout) */
  constructor(private readonly s: EtcdServerApi, electionMs: number) {
    this.timer = setInterval(() => this.check(), electionMs);
    this.timer.unref();
  }

  /** Tracks a hasleader stream until `untrack`. */
  track(c: AbortController): void {
    this.streams.add(c);
  }

  untrack(c: AbortController): void {
    this.streams.delete(c);
  }

  /** One monitor period: count, and cancel the tracked streams at the limit. */
  check(): void {
    if (this.s.leader() === 0n) this.noLeaderCnt++;
    else this.noLeaderCnt = 0;
    if (this.noLeaderCnt >= MAX_NO_LEADER_CNT) {
      for (const c of this.streams) c.abort(rpctypes.ErrGRPCNoLeader);
      this.streams.clear();
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.streams.clear();
  }
}

/**
 * A request above the server's receive limit, put in place of the decoded
 * message by the deserializer so the handler can answer with grpc-go's
 * ResourceExhausted status ({@link rpctypes.errReceivedTooLarge}).
 */
export class TooLargeRequest {
  /** @param size the message's encoded size, bytes */
  constructor(readonly size: number) {}
}
