/**
 * @module server/etcdserver/api/v3rpc/grpc
 * The etcd v3 gRPC server (etcd 3.4 etcdserver/api/v3rpc/grpc.go): a grpc-js
 * Server with the KV, Watch, Lease, Cluster, Maintenance and Auth services of
 * `src/gen/etcdserverpb/rpc_pb.ts` (messages coded with protobuf-es
 * toBinary/fromBinary), plus grpc.health.v1.Health/Check answering SERVING.
 *
 * Options as etcd: receive limit = --max-request-bytes + 512 KiB (grpc
 * overhead), unlimited send, server keepalive ping every 2 h with a 20 s
 * timeout (embed defaults). grpc-js has no keepalive *enforcement* policy
 * (etcd: min client ping interval 5 s), so clients pinging more often are
 * not sent GOAWAY.
 *
 * The server is not bound to ports: embed/serve.ts feeds it connections
 * through `createConnectionInjector` (HTTP/2 sniffed on the client port).
 */
import { fromBinary, toBinary, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { Auth, Cluster, KV, Lease, Maintenance, Watch } from '../../../../gen/etcdserverpb/rpc_pb.js';
import type { EtcdMetrics } from '../../../metrics/metrics.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { AUTH_METHODS, AuthServer, type AuthMethodName } from './auth.js';
import { callContext, checkLeader, checkRequestSize, LeaderMonitor, requiresLeader, TooLargeRequest } from './interceptor.js';
import { KVServer } from './key.js';
import { LeaseServer } from './lease.js';
import { MaintenanceServer } from './maintenance.js';
import { ClusterServer } from './member.js';
import { GrpcMetrics, type GrpcType, type MethodLabels } from './metrics.js';
import { Code, errReceivedTooLarge, GrpcStatusError } from './rpctypes/error.js';
import { togRPCError } from './util.js';
import { WatchServer } from './watch.js';

/** Bytes allowed on top of --max-request-bytes for gRPC framing (grpc.go grpcOverheadBytes). */
export const GRPC_OVERHEAD_BYTES = 512 * 1024;
/** Server keepalive ping interval, ms (embed DefaultGRPCKeepAliveInterval). */
export const GRPC_KEEPALIVE_INTERVAL_MS = 2 * 60 * 60 * 1000;
/** Server keepalive ping timeout, ms (embed DefaultGRPCKeepAliveTimeout). */
export const GRPC_KEEPALIVE_TIMEOUT_MS = 20 * 1000;
/** Past the receive limit, bytes grpc-js still reads so the status can carry grpc-go's message. */
const OVERSIZE_READ_SLACK = 32 * 1024 * 1024;

/** Options of {@link V3rpcServer}. */
export interface V3rpcOptions {
  /** Election timeout, ms: the leader monitor's period (default 1000). */
  readonly electionMs?: number;
  /** Registry to add grpc_server_* metrics to. */
  readonly metrics?: EtcdMetrics;
  /** Warnings (unexpected errors in streams). */
  readonly warn?: (msg: string, fields: Record<string, unknown>) => void;
}

type UnaryFn = (ctx: CallContext, req: never) => Promise<unknown>;
type StreamFn = (call: never, ctx: CallContext) => Promise<void>;

const abortError = () => Object.assign(new Error('context canceled'), { name: 'AbortError' });

/** The v3 gRPC services of one member, on a grpc-js Server. */
export class V3rpcServer {
  /** The grpc-js server; serve.ts injects connections with `createConnectionInjector`. */
  readonly server: grpc.Server;
  private readonly monitor: LeaderMonitor;
  private readonly grpcMetrics?: GrpcMetrics;
  private readonly maxRecvBytes: number;
  private readonly sizes = new WeakMap<object, number>();

  /**
   * @param s the etcd server
   * @throws nothing; limits are read from `s.limits()` once, at construction
   */
  constructor(
    private readonly s: EtcdServerApi,
    opts: V3rpcOptions = {},
  ) {
    const { maxRequestBytes } = s.limits();
    this.maxRecvBytes = maxRequestBytes + GRPC_OVERHEAD_BYTES;
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': this.maxRecvBytes + OVERSIZE_READ_SLACK,
      'grpc.max_send_message_length': -1,
      'grpc.keepalive_time_ms': GRPC_KEEPALIVE_INTERVAL_MS,
      'grpc.keepalive_timeout_ms': GRPC_KEEPALIVE_TIMEOUT_MS,
    });
    this.monitor = new LeaderMonitor(s, opts.electionMs ?? 1000);
    if (opts.metrics) this.grpcMetrics = new GrpcMetrics(opts.metrics);

    const kv = new KVServer(s);
    const watch = new WatchServer(s, { maxRequestBytes: this.maxRecvBytes, warn: opts.warn });
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
    this.addHealthService();
  }

  /** Stops the leader monitor and closes every call and connection at once. */
  close(): void {
    this.monitor.stop();
    this.server.forceShutdown();
  }

  private labels(m: DescMethod): MethodLabels {
    const type: GrpcType =
      m.methodKind === 'unary' ? 'unary'
      : m.methodKind === 'server_streaming' ? 'server_stream'
      : m.methodKind === 'client_streaming' ? 'client_stream'
      : 'bidi_stream';
    return { service: m.parent.typeName, method: m.name, type };
  }

  private deserializer(m: DescMethod, l: MethodLabels): (b: Buffer) => unknown {
    const input: DescMessage = m.input;
    return (b: Buffer) => {
      this.grpcMetrics?.onReceived(l, b.length);
      if (b.length > this.maxRecvBytes) return new TooLargeRequest(b.length);
      const msg = fromBinary(input, b);
      this.sizes.set(msg, b.length);
      return msg;
    };
  }

  private serializer(m: DescMethod, l: MethodLabels): (v: unknown) => Buffer {
    const output: DescMessage = m.output;
    return (v: unknown) => {
      const u = toBinary(output, v as never);
      this.grpcMetrics?.onSent(l, u.length);
      return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
    };
  }

  private addService(svc: DescService, impls: Record<string, UnaryFn | StreamFn>): void {
    const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
    const handlers: grpc.UntypedServiceImplementation = {};
    for (const m of svc.methods) {
      const impl = impls[m.name];
      if (!impl) throw new Error(`v3rpc: no handler for ${svc.typeName}/${m.name}`);
      const l = this.labels(m);
      const path = `/${svc.typeName}/${m.name}`;
      def[m.name] = {
        path,
        requestStream: m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming',
        responseStream: m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming',
        requestSerialize: (v: unknown) => Buffer.from(toBinary(m.input, v as never)),
        requestDeserialize: this.deserializer(m, l),
        responseSerialize: this.serializer(m, l),
        responseDeserialize: (b: Buffer) => fromBinary(m.output, b),
      };
      this.grpcMetrics?.register(l);
      handlers[m.name] = m.methodKind === 'unary' ? this.unaryHandler(path, l, impl as UnaryFn) : this.streamHandler(l, impl as StreamFn);
    }
    this.server.addService(def, handlers);
  }

  /** The unary interceptor chain (interceptor.go newUnaryInterceptor) around `fn`. */
  private unaryHandler(path: string, l: MethodLabels, fn: UnaryFn): grpc.handleUnaryCall<unknown, unknown> {
    return (call, callback) => {
      this.grpcMetrics?.onStarted(l);
      const finish = (err: GrpcStatusError | null, resp?: unknown) => {
        this.grpcMetrics?.onHandled(l, err ? err.code : Code.OK);
        if (err) callback(err);
        else callback(null, resp);
      };
      const req = call.request;
      if (req instanceof TooLargeRequest) return finish(errReceivedTooLarge(req.size, this.maxRecvBytes));
      try {
        checkLeader(this.s, call.metadata);
        checkRequestSize(path, this.sizes.get(req as object) ?? 0, this.s.limits().maxRequestBytes);
      } catch (e) {
        return finish(togRPCError(e));
      }
      const ac = new AbortController();
      call.on('cancelled', () => ac.abort(abortError()));
      let p: Promise<unknown>;
      try {
        p = fn(callContext(call.metadata, ac), req as never);
      } catch (e) {
        return finish(togRPCError(e));
      }
      p.then((resp) => finish(null, resp), (e: unknown) => finish(togRPCError(e)));
    };
  }

  /** The stream interceptor (interceptor.go newStreamInterceptor) around `fn`. */
  private streamHandler(l: MethodLabels, fn: StreamFn): grpc.handleBidiStreamingCall<unknown, unknown> {
    return (call: grpc.ServerDuplexStream<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) => {
      this.grpcMetrics?.onStarted(l);
      let code: number = Code.OK;
      call.on('error', (e: { code?: number }) => { code = typeof e.code === 'number' ? e.code : Code.UNKNOWN; });
      const req = (call as { request?: unknown }).request;
      if (req instanceof TooLargeRequest) {
        call.emit('error', errReceivedTooLarge(req.size, this.maxRecvBytes));
        this.grpcMetrics?.onHandled(l, code);
        return;
      }
      if (l.type === 'bidi_stream') {
        // a too-large message mid-stream ends the stream as grpc-go does
        call.prependListener('data', (m: unknown) => {
          if (m instanceof TooLargeRequest) call.emit('error', errReceivedTooLarge(m.size, this.maxRecvBytes));
        });
      }
      try {
        checkLeader(this.s, call.metadata);
      } catch (e) {
        call.emit('error', togRPCError(e));
        this.grpcMetrics?.onHandled(l, code);
        return;
      }
      const ac = new AbortController();
      call.on('cancelled', () => { code = Code.CANCELLED; ac.abort(abortError()); });
      const tracked = requiresLeader(call.metadata);
      if (tracked) this.monitor.track(ac);
      const run = (async () => fn(call as never, callContext(call.metadata, ac)))();
      run.catch((e: unknown) => call.emit('error', togRPCError(e))).finally(() => {
        if (tracked) this.monitor.untrack(ac);
        this.grpcMetrics?.onHandled(l, code);
      });
    };
  }

  /**
   * grpc.health.v1.Health/Check (grpc.go registers grpc-go's health server with
   * "" SERVING): "" → SERVING, any other service name → NotFound "unknown service".
   * Messages are coded by hand (HealthCheckRequest{string service = 1},
   * HealthCheckResponse{ServingStatus status = 1}, SERVING = 1).
   */
  private addHealthService(): void {
    const def: grpc.ServiceDefinition = {
      Check: {
        path: '/grpc.health.v1.Health/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (v: Buffer) => v,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (v: Buffer) => v,
        responseDeserialize: (b: Buffer) => b,
      },
    };
    const check: grpc.handleUnaryCall<Buffer, Buffer> = (call, callback) => {
      const service = healthCheckService(call.request);
      if (service === undefined) return callback(new GrpcStatusError(Code.INTERNAL, 'grpc: error unmarshalling request'));
      if (service !== '') return callback(new GrpcStatusError(Code.NOT_FOUND, 'unknown service'));
      callback(null, Buffer.from([0x08, 0x01]));
    };
    this.server.addService(def, { Check: check as grpc.UntypedHandleCall });
  }
}

/** The `service` field (1, string) of a HealthCheckRequest; undefined if malformed. */
function healthCheckService(b: Buffer): string | undefined {
  let i = 0;
  let service = '';
  const varint = (): number | undefined => {
    let v = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (i >= b.length) return undefined;
      const x = b[i++]!;
      v += (x & 0x7f) * 2 ** shift;
      if (x < 0x80) return v;
    }
    return undefined;
  };
  while (i < b.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const wire = tag & 7;
    if (wire === 0) { if (varint() === undefined) return undefined; }
    else if (wire === 2) {
      const n = varint();
      if (n === undefined || i + n > b.length) return undefined;
      if (tag >>> 3 === 1) service = b.subarray(i, i + n).toString('utf8');
      i += n;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else return undefined;
  }
  return service;
}
