/**
 * @module server/etcdserver/api/v3rpc/interceptor
 * What etcd 3.4's interceptors (v3rpc/interceptor.go) do before a handler runs:
 * - the per-call context: auth token from the `token` (else `authorization`)
 *   metadata, the call's cancellation signal (client cancel / deadline);
 * - `hasleader: true` metadata → ErrGRPCNoLeader when the member has no leader;
 * - for streams with `hasleader`, the leader monitor: after 3 election timeouts
 *   in a row without a leader they are ended with ErrGRPCNoLeader (monitorLeader);
 * - request size: a write whose encoded request exceeds --max-request-bytes gets
 *   ErrGRPCRequestTooLarge (etcd raises it when the raft request is marshalled;
 *   the server checks the exact InternalRaftRequest size too).
 */
import type { TLSSocket } from 'node:tls';
import type { CallContext, CallSignal, EtcdServerApi } from '../../api.js';
import * as rpctypes from './rpctypes/error.js';
import { METADATA_HAS_LEADER, METADATA_REQUIRE_LEADER_KEY, TOKEN_FIELD_NAME_GRPC, TOKEN_FIELD_NAME_SWAGGER } from './rpctypes/md.js';
import type { Metadata } from './transport/metadata.js';

/** Election timeouts without a leader before hasleader streams are canceled (interceptor.go maxNoLeaderCnt). */
export const MAX_NO_LEADER_CNT = 3;

/** The auth token of a call's metadata, if any. */
export function tokenFromMetadata(md: Metadata): string | undefined {
  return md.first(TOKEN_FIELD_NAME_GRPC) ?? md.first(TOKEN_FIELD_NAME_SWAGGER);
}

/** True when the call asks to fail without a leader. */
export function requiresLeader(md: Metadata): boolean {
  return md.first(METADATA_REQUIRE_LEADER_KEY) === METADATA_HAS_LEADER;
}

/** Throws ErrGRPCNoLeader for a `hasleader` call while the member has no leader. */
export function checkLeader(s: EtcdServerApi, md: Metadata): void {
  if (requiresLeader(md) && s.leader() === 0n) throw rpctypes.ErrGRPCNoLeader;
}

/** Unary methods a learner serves (etcd 3.4 v3rpc/util.go isRPCSupportedForLearner). */
const STATUS_PATH = '/etcdserverpb.Maintenance/Status';
const RANGE_PATH = '/etcdserverpb.KV/Range';

/**
 * Throws ErrGPRCNotSupportedForLearner when this member is a learner and the
 * call is not one a learner serves: streams (`req` undefined) never, unary
 * calls only Maintenance.Status and a serializable KV.Range.
 */
export function checkLearner(s: EtcdServerApi, path: string, req: unknown): void {
  if (!s.isLearner()) return;
  if (req !== undefined) {
    if (path === STATUS_PATH) return;
    if (path === RANGE_PATH && (req as { serializable?: boolean }).serializable === true) return;
  }
  throw rpctypes.ErrGPRCNotSupportedForLearner;
}

/** Metadata the gRPC gateway adds to the requests it proxies (etcd auth store AuthInfoFromTLS). */
const GRPC_GATEWAY_ACCEPT = 'grpcgateway-accept';

/**
 * The common name of the verified client certificate of the connection
 * `socket` (the last CN of its subject, as Go's pkix.Name keeps), or undefined
 * for a plain connection, an unverified or absent certificate, or a request
 * proxied by the gRPC gateway (`grpcgateway-accept` metadata: its certificate
 * is the gateway's own, never a user's). etcd 3.4 auth/store.go AuthInfoFromTLS.
 */
export function verifiedCommonName(md: Metadata, socket: unknown): string | undefined {
  const s = socket as Partial<Pick<TLSSocket, 'authorized' | 'getPeerCertificate'>> | undefined;
  if (!s || s.authorized !== true || typeof s.getPeerCertificate !== 'function') return undefined;
  if (md.first(GRPC_GATEWAY_ACCEPT) !== undefined) return undefined;
  const cn = s.getPeerCertificate()?.subject?.CN as string | string[] | undefined;
  if (cn === undefined) return '';
  return Array.isArray(cn) ? (cn[cn.length - 1] ?? '') : cn;
}

/**
 * The CallContext of a call: its token, `signal`, the transport's
 * cancellation signal of the call (client cancel, deadline; a GrpcStatusError
 * reason, e.g. from the leader monitor, ends streams with that status), and
 * the client certificate's common name, looked up on first use from the
 * connection `socket()` gives (see {@link verifiedCommonName}).
 */
export function callContext(md: Metadata, signal: CallSignal, socket?: () => unknown): CallContext {
  let cn: { v: string | undefined } | undefined;
  return {
    token: tokenFromMetadata(md),
    signal,
    tlsCommonName: socket ? () => (cn ??= { v: verifiedCommonName(md, socket()) }).v : undefined,
  };
}

/** A call the leader monitor can abort. */
export interface Abortable {
  abort(reason: unknown): void;
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
  private readonly streams = new Set<Abortable>();
  private noLeaderCnt = 0;
  private readonly timer: NodeJS.Timeout;

  /** @param electionMs the election timeout, ms (--election-timeout) */
  constructor(private readonly s: EtcdServerApi, electionMs: number) {
    this.timer = setInterval(() => this.check(), electionMs);
    this.timer.unref();
  }

  /** Tracks a hasleader stream until `untrack`. */
  track(c: Abortable): void {
    this.streams.add(c);
  }

  untrack(c: Abortable): void {
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
