/**
 * @module server/etcdserver/api/v3rpc/grpc
 * The etcd v3 gRPC server (etcd 3.4 etcdserver/api/v3rpc/grpc.go): the KV,
 * Watch, Lease, Cluster, Maintenance and Auth services (and v3lock's Lock and
 * v3election's Election, ./concurrency.ts) of
 * `src/gen/etcdserverpb/rpc_pb.ts` (messages coded with protobuf-es
 * toBinary/fromBinary) plus grpc.health.v1.Health/Check, on the gRPC
 * transport of `./transport/` (our own HTTP/2; neither node:http2 nor grpc-js).
 *
 * Each method runs etcd's interceptors (interceptor.go) around its handler:
 * the `hasleader` check, the request size check of writes, the leader monitor
 * for `hasleader` streams, and the go-grpc-prometheus counters.
 *
 * Options as etcd (embed/serve.go): receive limit = --max-request-bytes + 512 KiB
 * (grpc overhead), unlimited send, a server keepalive ping every
 * --grpc-keepalive-interval (at least 1 s, as grpc-go's KeepaliveParams) answered
 * within --grpc-keepalive-timeout (2 h and 20 s, grpc-go's defaults, unless both are
 * above 0; no answer closes the connection), and client pings at most every
 * --grpc-keepalive-min-time while calls are open (5 s; grpc-go's 5 min when 0) or
 * GOAWAY ENHANCE_YOUR_CALM "too_many_pings".
 *
 * The server is not bound to ports: embed/serve.ts hands it connections
 * (HTTP/2 sniffed on the client port) with {@link V3rpcServer.handleConnection}.
 */
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import type net from 'node:net';
import { Auth, Cluster, DeleteRangeRequestSchema, DeleteRangeResponseSchema, KV, Lease, LeaseGrantResponseSchema, Maintenance, PutRequestSchema, PutResponseSchema, RangeResponseSchema, TxnRequestSchema, TxnResponseSchema, Watch, WatchResponseSchema } from '../../../../gen/etcdserverpb/rpc_pb.js';
import { wireBytes } from '../../proposals.js';
import { decodePutRequest, encodeDeleteRangeResponse, encodeLeaseGrantResponse, encodePutResponse, encodeRangeResponse, encodeTxnResponse, encodeWatchResponse } from './fast-codec.js';
import { decodeTxnRequest } from './txn-codec.js';
import type { EtcdMetrics } from '../../../metrics/metrics.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { AUTH_METHODS, AuthServer, type AuthMethodName } from './auth.js';
import { HEALTH_CHECK_METHOD, HEALTH_SERVICE, healthCheckMethod } from './health.js';
import { callContext, checkLeader, checkLearner, checkRequestSize, LeaderMonitor, requiresLeader } from './interceptor.js';
import { KVServer } from './key.js';
import { LeaseServer } from './lease.js';
import { MaintenanceServer } from './maintenance.js';
import { ClusterServer } from './member.js';
import { GrpcMetrics, type GrpcType, type MethodMetrics } from './metrics.js';
import { togRPCError } from './util.js';
import { Code, type StatusObject } from '../../../../util/grpc/codes.js';
import type { Method, StreamMethod, UnaryMethod } from './transport/method.js';
import { GrpcServer } from './transport/server.js';
import type { ServerStream } from './transport/stream.js';
import type { ServerUnaryCall } from './transport/unary.js';
import { WatchServer } from './watch.js';
import { ElectionServer, LockServer } from './concurrency.js';
import { Election } from '../../../../gen/v3electionpb/v3election_pb.js';
import { Lock } from '../../../../gen/v3lockpb/v3lock_pb.js';

/** Response messages encoded by hand (fast-codec.ts, byte-equal to protobuf-es), by schema. */
const FAST_ENCODERS = new Map<DescMessage, (v: never) => Uint8Array>([
  [PutResponseSchema, encodePutResponse],
  [RangeResponseSchema, encodeRangeResponse],
  [DeleteRangeResponseSchema, encodeDeleteRangeResponse],
  [LeaseGrantResponseSchema, encodeLeaseGrantResponse],
  [TxnResponseSchema, encodeTxnResponse],
  [WatchResponseSchema, encodeWatchResponse],
]);

/** Bytes allowed on top of --max-request-bytes for gRPC framing (grpc.go grpcOverheadBytes). */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;
/** Server keepalive ping interval, ms (embed DefaultGRPCKeepAliveInterval; grpc-go's default too). */
export const GRPC_KEEPALIVE_INTERVAL_MS = 2 * 60 * 60 * 1000;
/** Server keepalive ping timeout, ms (embed DefaultGRPCKeepAliveTimeout). */
export const GRPC_KEEPALIVE_TIMEOUT_MS = 20 * 1000;

/** Options of {@link V3rpcServer}. */
export interface V3rpcOptions {
  /** Election timeout, ms: the leader monitor's period (default 1000). */
  readonly electionMs?: number;
  /** Registry to add grpc_server_* metrics to. */
  readonly metrics?: EtcdMetrics;
  /** --max-concurrent-streams: concurrent calls per client connection (default 2^32-1). */
  readonly maxConcurrentStreams?: number;
  /** --grpc-keepalive-interval and --grpc-keepalive-timeout, ms (used when both are above 0). */
  readonly keepaliveIntervalMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** --grpc-keepalive-min-time, ms (0: grpc-go's default, 5 min). */
  readonly keepaliveMinTimeMs?: number;
  /** Warnings (unexpected errors in streams). */
  readonly warn?: (msg: string, fields: Record<string, unknown>) => void;
}

type UnaryFn = (ctx: CallContext, req: never) => Promise<unknown>;
type StreamFn = (call: never, ctx: CallContext) => Promise<void>;

/** The v3 gRPC services of one member, on the transport of `./transport/`. */
export class V3rpcServer {
  private readonly transport: GrpcServer;
  private readonly monitor: LeaderMonitor;
  private readonly grpcMetrics?: GrpcMetrics;
  /** --max-request-bytes, read once */
  private readonly maxRequestBytes: number;

  /**
   * @param s the etcd server
   * @throws nothing; limits are read from `s.limits()` once, at construction
   */
  constructor(
    private readonly s: EtcdServerApi,
    opts: V3rpcOptions = {},
  ) {
    const { maxRequestBytes } = s.limits();
    this.maxRequestBytes = maxRequestBytes;
    const maxRecvBytes = maxRequestBytes + GRPC_OVERHEAD_BYTES;
    // embed/serve.go: the keepalive parameters only when both are set, the policy only when its min time is
    const ka = (opts.keepaliveIntervalMs ?? 0) > 0 && (opts.keepaliveTimeoutMs ?? 0) > 0;
    this.transport = new GrpcServer({
      maxRecvBytes,
      // grpc-go's KeepaliveParams raises an interval under 1 s to 1 s
      keepaliveIntervalMs: ka ? Math.max(opts.keepaliveIntervalMs!, 1000) : GRPC_KEEPALIVE_INTERVAL_MS,
      keepaliveTimeoutMs: ka ? opts.keepaliveTimeoutMs : GRPC_KEEPALIVE_TIMEOUT_MS,
      keepaliveMinTimeMs: (opts.keepaliveMinTimeMs ?? 0) > 0 ? opts.keepaliveMinTimeMs : undefined,
      maxConcurrentStreams: opts.maxConcurrentStreams,
    });
    this.monitor = new LeaderMonitor(s, opts.electionMs ?? 1000);
    if (opts.metrics) this.grpcMetrics = new GrpcMetrics(opts.metrics);

    const kv = new KVServer(s);
    const watch = new WatchServer(s, { maxRequestBytes: maxRecvBytes, warn: opts.warn });
    const lease = new LeaseServer(s);
    const cluster = new ClusterServer(s);
    const maint = new MaintenanceServer(s);
    const auth = new AuthServer(s);

    this.addService(KV, {
      Range: kv.range.bind(kv),
      Put: kv.put.bind(kv),
      DeleteRange: kv.deleteRange.bind(kv),
      Txn: kv.txn.bind(kv),
      Compact: kv.compact.bind(kv),
    });
    this.addService(Watch, { Watch: watch.watch.bind(watch) });
    this.addService(Lease, {
      LeaseGrant: lease.leaseGrant.bind(lease),
      LeaseRevoke: lease.leaseRevoke.bind(lease),
      LeaseKeepAlive: lease.keepAlive.bind(lease),
      LeaseTimeToLive: lease.leaseTimeToLive.bind(lease),
      LeaseLeases: lease.leaseLeases.bind(lease),
    });
    this.addService(Cluster, {
      MemberAdd: cluster.memberAdd.bind(cluster),
      MemberRemove: cluster.memberRemove.bind(cluster),
      MemberUpdate: cluster.memberUpdate.bind(cluster),
      MemberList: cluster.memberList.bind(cluster),
      MemberPromote: cluster.memberPromote.bind(cluster),
    });
    this.addService(Maintenance, {
      Alarm: maint.alarm.bind(maint),
      Status: maint.status.bind(maint),
      Defragment: maint.defragment.bind(maint),
      Hash: maint.hash.bind(maint),
      HashKV: maint.hashKV.bind(maint),
      Snapshot: maint.snapshot.bind(maint),
      MoveLeader: maint.moveLeader.bind(maint),
    });
    const authImpls: Record<string, UnaryFn> = {};
    for (const name of Object.keys(AUTH_METHODS) as AuthMethodName[]) authImpls[name] = (ctx, r) => auth.call(name, ctx, r);
    this.addService(Auth, authImpls);
    // v3lock and v3election (embed/serve.go registers them on every client gRPC server)
    const lock = new LockServer(s);
    this.addService(Lock, { Lock: lock.lock.bind(lock), Unlock: lock.unlock.bind(lock) });
    const election = new ElectionServer(s);
    this.addService(Election, {
      Campaign: election.campaign.bind(election),
      Proclaim: election.proclaimCall.bind(election),
      Leader: election.leader.bind(election),
      Observe: election.observe.bind(election),
      Resign: election.resignCall.bind(election),
    });
    this.transport.addMethod(HEALTH_SERVICE, HEALTH_CHECK_METHOD, healthCheckMethod() as unknown as Method);
  }

  /**
   * Serves gRPC on an accepted connection (plain or TLS) whose first bytes may
   * have been read and unshifted; the socket must not be resumed afterwards.
   */
  handleConnection(socket: net.Socket): void {
    this.transport.handleConnection(socket);
  }

  /** Stops the leader monitor and closes every call and connection at once. */
  close(): void {
    this.monitor.stop();
    this.transport.close();
  }

  private addService(svc: DescService, impls: Record<string, UnaryFn | StreamFn>): void {
    for (const m of svc.methods) {
      const impl = impls[m.name];
      if (!impl) throw new Error(`v3rpc: no handler for ${svc.typeName}/${m.name}`);
      const type: GrpcType =
        m.methodKind === 'unary' ? 'unary'
        : m.methodKind === 'server_streaming' ? 'server_stream'
        : m.methodKind === 'client_streaming' ? 'client_stream'
        : 'bidi_stream';
      const mm = this.grpcMetrics?.register({ service: svc.typeName, method: m.name, type });
      const method = m.methodKind === 'unary'
        ? this.unaryMethod(m, `/${svc.typeName}/${m.name}`, mm, impl as UnaryFn)
        : this.streamMethod(m, mm, impl as StreamFn);
      this.transport.addMethod(svc.typeName, m.name, method as Method);
    }
  }

  /** Message coding of `m`, counting messages and bytes (v3rpc/metrics.go, go-grpc-prometheus). */
  private codec(m: DescMethod, mm: MethodMetrics | undefined) {
    const encode: (v: unknown) => Uint8Array =
      (FAST_ENCODERS.get(m.output) as ((v: unknown) => Uint8Array) | undefined) ?? ((v) => toBinary(m.output, v as never));
    return {
      decode: (b: Uint8Array): unknown => {
        mm?.onReceived(b.length);
        if (m.input === PutRequestSchema) {
          const r = decodePutRequest(b);
          // proposed as received: the server reuses the bytes instead of encoding the request again
          wireBytes.set(r, b);
          return r;
        }
        // nested txns of any depth, without protobuf-es's 100-level limit or recursion (txn-codec.ts);
        // proposed as received too (the handlers check a txn but never change it)
        if (m.input === TxnRequestSchema) {
          const r = decodeTxnRequest(b, this.s.limits().maxTxnOps);
          wireBytes.set(r, b);
          return r;
        }
        const r = fromBinary(m.input, b);
        if (m.input === DeleteRangeRequestSchema) wireBytes.set(r, b);
        return r;
      },
      encode: (v: unknown): Uint8Array => {
        const u = encode(v);
        mm?.onSent(u.length);
        return u;
      },
      onSentEncoded: (n: number): void => mm?.onSent(n),
    };
  }

  /** The unary interceptor chain (interceptor.go newUnaryInterceptor) around `fn`. */
  private unaryMethod(m: DescMethod, path: string, mm: MethodMetrics | undefined, fn: UnaryFn): UnaryMethod<unknown, unknown> {
    const s = this.s;
    const maxRequestBytes = this.maxRequestBytes;
    const fail = (call: ServerUnaryCall<unknown, unknown>, e: unknown) => {
      const st = togRPCError(e);
      mm?.onHandled(call.cancelled ? Code.CANCELLED : st.code);
      call.sendError(st);
    };
    return {
      kind: 'unary',
      ...this.codec(m, mm),
      handler: (call, req, size) => {
        mm?.onStarted();
        let p: Promise<unknown>;
        try {
          const md = call.metadata;
          checkLearner(s, path, req);
          checkLeader(s, md);
          checkRequestSize(path, size, maxRequestBytes);
          p = fn(callContext(md, call.signal, () => call.stream.socket), req as never);
        } catch (e) {
          fail(call, e);
          return;
        }
        p.then(
          (resp) => {
            mm?.onHandled(call.cancelled ? Code.CANCELLED : Code.OK);
            call.sendResponse(resp);
          },
          (e: unknown) => fail(call, e),
        );
      },
    };
  }

  /** The stream interceptor (interceptor.go newStreamInterceptor) around `fn`. */
  private streamMethod(m: DescMethod, mm: MethodMetrics | undefined, fn: StreamFn): StreamMethod<unknown, unknown> {
    return {
      kind: m.methodKind as StreamMethod<unknown, unknown>['kind'],
      ...this.codec(m, mm),
      handler: (call: ServerStream<unknown, unknown>) => {
        mm?.onStarted();
        let code: number = Code.OK;
        call.on('error', (e: StatusObject) => { code = e.code; });
        call.on('cancelled', () => { code = Code.CANCELLED; });
        const md = call.metadata;
        try {
          checkLearner(this.s, '', undefined);
          checkLeader(this.s, md);
        } catch (e) {
          call.emit('error', togRPCError(e));
          mm?.onHandled(code);
          return;
        }
        const signal = call.signal;
        const tracked = requiresLeader(md);
        if (tracked) this.monitor.track(signal);
        const run = (async () => fn(call as never, callContext(md, signal, () => call.transportCall.stream.socket)))();
        run.catch((e: unknown) => call.emit('error', togRPCError(e))).finally(() => {
          if (tracked) this.monitor.untrack(signal);
          mm?.onHandled(code);
        });
      },
    };
  }
}
