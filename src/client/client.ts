/**
 * @module client/client
 * A typed etcd v3 client over @grpc/grpc-js, with messages from our own protos
 * (src/gen, protobuf-es). It chooses among `endpoints` in order, moving on when one
 * cannot be connected to; applies a per-call deadline (etcdctl's --command-timeout);
 * keeps connections alive; speaks TLS with optional client certificates; and, given a
 * user and password, authenticates once and sends the token with every call.
 *
 * Retry rule: a call is retried on another endpoint only when it never reached a
 * server (no connection could be made) or when it is idempotent (reads) and failed
 * with Unavailable. A write whose outcome is unknown is never sent twice.
 */

import type * as grpcNs from '@grpc/grpc-js';
import { fromBinary, toBinary, create, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { readFileSync } from 'node:fs';
import {
  Auth,
  Cluster,
  KV,
  Lease,
  Maintenance,
  Watch,
} from '../gen/etcdserverpb/rpc_pb.js';
import type { ResponseHeader } from '../gen/etcdserverpb/rpc_pb.js';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { CanceledError, DeadlineExceededError, EtcdError, fromStatus } from './errors.js';

/** etcd 3.5's AuthStatusResponse (not in our 3.4 protos). */
export interface AuthStatusResponse {
  header?: ResponseHeader;
  enabled: boolean;
  authRevision: bigint;
}

type Grpc = typeof grpcNs;
let grpcModule: Grpc | undefined;
/** Loads @grpc/grpc-js (the heaviest module the CLI uses) on first connect. */
export async function loadGrpc(): Promise<Grpc> {
  if (!grpcModule) {
    const m = (await import('@grpc/grpc-js')) as Grpc & { default?: Grpc };
    grpcModule = m.credentials ? m : m.default!;
  }
  return grpcModule;
}
function grpc(): Grpc {
  if (!grpcModule) throw new Error('grpc not loaded: call loadGrpc() first');
  return grpcModule;
}

/** TLS material and options for client connections. */
export interface TlsConfig {
  /** PEM CA bundle used to verify servers; system roots when absent */
  ca?: Buffer;
  /** PEM client certificate and key */
  cert?: Buffer;
  key?: Buffer;
  /** skip server certificate verification */
  insecureSkipVerify?: boolean;
  /** name to verify the server certificate against, instead of the endpoint host */
  serverName?: string;
}

/** How to reach and authenticate to a cluster. Times in milliseconds. */
export interface ClientConfig {
  /** `host:port`, `http://host:port`, `https://host:port`, `unix://path`, `unixs://path` */
  endpoints: string[];
  /** how long to wait for a connection before a call fails (ms) */
  dialTimeoutMs: number;
  /** default per-call deadline (ms); 0 means none */
  commandTimeoutMs: number;
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
  /** TLS for all endpoints; `https://`/`unixs://` endpoints use TLS even without it */
  tls?: TlsConfig;
  username?: string;
  password?: string;
  /** largest request this client sends, bytes (etcdctl: 2 MiB) */
  maxSendBytes?: number;
}

/** Per-call options. */
export interface CallOptions {
  /** deadline in ms from now; defaults to the config's commandTimeoutMs; 0 = none */
  timeoutMs?: number;
  /** safe to send again after an ambiguous failure (reads) */
  idempotent?: boolean;
  /** aborts the call with `context canceled` */
  signal?: AbortSignal;
}

interface Endpoint {
  target: string;
  secure: boolean;
  host: string;
  client?: grpcNs.Client;
}

/** Parses one etcdctl endpoint into a grpc target. */
export function parseEndpoint(ep: string): { target: string; secure: boolean; host: string } {
  const m = /^(https?|unixs?):\/\/(.*)$/.exec(ep);
  if (!m) return { target: ep, secure: false, host: ep.replace(/:\d+$/, '') };
  const [, scheme, rest] = m as unknown as [string, string, string];
  if (scheme.startsWith('unix')) return { target: `unix:${rest}`, secure: scheme === 'unixs', host: 'localhost' };
  const hostport = rest.replace(/\/.*$/, '');
  return { target: hostport, secure: scheme === 'https', host: hostport.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') };
}

const DEFAULT_MAX_SEND = 2 * 1024 * 1024;
/** grpc-go's minimum client keepalive ping interval (internal.KeepaliveMinPingTime), ms. */
const MIN_KEEPALIVE_TIME_MS = 10_000;

/**
 * A connection to an etcd cluster. Create with `EtcdClient.connect`, release with `close`.
 */
export class EtcdClient {
  private readonly endpoints: Endpoint[];
  private current = 0;
  private token: string | undefined;
  private closed = false;

  private constructor(readonly config: ClientConfig) {
    this.endpoints = config.endpoints.map((e) => ({ ...parseEndpoint(e) }));
  }

  /**
   * Creates a client; with a username and a non-empty password, authenticates first
   * (as clientv3.New: with an empty password, requests are sent unauthenticated).
   * @throws EtcdError when authentication fails (etcdctl exits 2 then)
   */
  static async connect(config: ClientConfig): Promise<EtcdClient> {
    await loadGrpc();
    const c = new EtcdClient(config);
    if (config.username && config.password) {
      try {
        await c.authenticate();
      } catch (e) {
        // clientv3 carries on without a token when the server has auth disabled
        if (!(e instanceof EtcdError && e.is('etcdserver: authentication is not enabled'))) throw e;
      }
    }
    return c;
  }

  /** Calls Auth.Authenticate and keeps the token for later calls. */
  async authenticate(): Promise<void> {
    const resp = await this.unary(Auth.method.authenticate, { name: this.config.username!, password: this.config.password ?? '' }, { idempotent: true, timeoutMs: this.config.dialTimeoutMs + this.config.commandTimeoutMs }, false);
    this.token = resp.token;
  }

  /** The endpoints as given. */
  get endpointList(): string[] {
    return [...this.config.endpoints];
  }

  private grpcClient(ep: Endpoint): grpcNs.Client {
    if (ep.client) return ep.client;
    const g = grpc();
    const tls = this.config.tls;
    let creds: grpcNs.ChannelCredentials;
    const options: grpcNs.ChannelOptions = {
      // grpc-go raises any client keepalive time below 10 s to 10 s (WithKeepaliveParams),
      // so etcdctl's default 2 s really pings every 10 s. etcd enforces a 5 s minimum
      // between pings (--grpc-keepalive-min-time) and answers faster pings on an idle
      // stream with GOAWAY too_many_pings, which would break long idle watches.
      'grpc.keepalive_time_ms': Math.max(this.config.keepaliveTimeMs, MIN_KEEPALIVE_TIME_MS),
      'grpc.keepalive_timeout_ms': this.config.keepaliveTimeoutMs,
      'grpc.max_receive_message_length': -1,
      'grpc.max_send_message_length': -1,
      'grpc.enable_retries': 0,
      'grpc.initial_reconnect_backoff_ms': 100,
      'grpc.max_reconnect_backoff_ms': 1000,
    };
    if (tls || ep.secure) {
      const verify: grpcNs.VerifyOptions = {};
      if (tls?.insecureSkipVerify) {
        verify.rejectUnauthorized = false;
        verify.checkServerIdentity = () => undefined;
      }
      creds = g.credentials.createSsl(tls?.ca ?? null, tls?.key ?? null, tls?.cert ?? null, verify);
      if (tls?.serverName) options['grpc.ssl_target_name_override'] = tls.serverName;
    } else {
      creds = g.credentials.createInsecure();
    }
    ep.client = new g.Client(ep.target, creds, options);
    return ep.client;
  }

  /**
   * Waits until some endpoint is connected, trying them in order from the current one.
   * @returns the endpoint, or undefined if none connected before `deadline`
   */
  private async readyEndpoint(deadline: number): Promise<Endpoint | undefined> {
    const g = grpc();
    const n = this.endpoints.length;
    for (;;) {
      for (let k = 0; k < n; k++) {
        const idx = (this.current + k) % n;
        const ep = this.endpoints[idx]!;
        const ch = this.grpcClient(ep).getChannel();
        let state = ch.getConnectivityState(true);
        const perTry = Math.min(deadline, Date.now() + Math.max(this.config.dialTimeoutMs, 100));
        while (state !== g.connectivityState.READY && state !== g.connectivityState.TRANSIENT_FAILURE && state !== g.connectivityState.SHUTDOWN) {
          const changed = await new Promise<boolean>((resolve) => {
            ch.watchConnectivityState(state, perTry, (err) => resolve(!err));
          });
          if (!changed) break;
          state = ch.getConnectivityState(true);
        }
        if (state === g.connectivityState.READY) {
          this.current = idx;
          return ep;
        }
        if (Date.now() >= deadline) return undefined;
      }
      if (n === 1) {
        // one endpoint: keep waiting for it until the deadline (grpc reconnects with backoff)
        const wait = Math.min(100, deadline - Date.now());
        if (wait <= 0) return undefined;
        await new Promise((r) => setTimeout(r, wait));
      }
      if (Date.now() >= deadline) return undefined;
    }
  }

  /**
   * Probes every endpoint to explain a failed connection (refused, TLS problems...).
   * @returns one line per endpoint with a known problem, or undefined
   */
  async whyUnreachable(): Promise<string | undefined> {
    const { diagnoseEndpoint } = await import('./diagnose.js');
    const lines = await Promise.all(
      this.endpoints.map((ep) => {
        const m = /^(.*):(\d+)$/.exec(ep.target);
        if (!m || ep.target.startsWith('unix:')) return Promise.resolve(undefined);
        const host = m[1]!.replace(/^\[|\]$/g, '');
        return diagnoseEndpoint({ endpoint: ep.target, host, port: Number(m[2]), secure: !!this.config.tls || ep.secure, tls: this.config.tls }, 700);
      }),
    );
    const found = lines.filter((l): l is string => !!l);
    return found.length ? found.map((l) => `Reason: ${l}`).join('\n') : undefined;
  }

  private metadata(): grpcNs.Metadata {
    const md = new (grpc().Metadata)();
    if (this.token) md.set('token', this.token);
    return md;
  }

  private methodPath(method: DescMethod): string {
    return `/${method.parent.typeName}/${method.name}`;
  }

  /**
   * Sends one unary RPC.
   * @throws EtcdError (server status, as clientv3 reports it), DeadlineExceededError,
   *   CanceledError
   */
  async unary<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    req: MessageInitShape<I>,
    opts: CallOptions = {},
    retryAuth = true,
  ): Promise<MessageShape<O>> {
    const timeoutMs = opts.timeoutMs ?? this.config.commandTimeoutMs;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.MAX_SAFE_INTEGER;
    const bytes = toBinary(method.input, create(method.input, req));
    const maxSend = this.config.maxSendBytes ?? DEFAULT_MAX_SEND;
    if (bytes.length > maxSend) {
      throw fromStatus(8, `trying to send message larger than max (${bytes.length} vs. ${maxSend})`);
    }
    const tried = new Set<number>();
    for (;;) {
      if (this.closed) throw new CanceledError();
      const ep = await this.readyEndpoint(deadline);
      if (!ep) throw new DeadlineExceededError(await this.whyUnreachable());
      tried.add(this.current);
      try {
        return await this.sendUnary(ep, method, bytes, deadline, opts.signal);
      } catch (e) {
        if (e instanceof EtcdError) {
          if (retryAuth && this.token && e.is('etcdserver: invalid auth token')) {
            await this.authenticate();
            return this.unary(method, req, opts, false);
          }
          // Unavailable before/while sending: only reads may be retried elsewhere.
          if (e.code === 14 && opts.idempotent && tried.size < this.endpoints.length) {
            this.current = (this.current + 1) % this.endpoints.length;
            continue;
          }
        }
        throw e;
      }
    }
  }

  private sendUnary<O extends DescMessage>(
    ep: Endpoint,
    method: DescMethod & { output: O },
    bytes: Uint8Array,
    deadline: number,
    signal?: AbortSignal,
  ): Promise<MessageShape<O>> {
    return new Promise((resolve, reject) => {
      const call = this.grpcClient(ep).makeUnaryRequest(
        this.methodPath(method),
        (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength),
        (b: Buffer) => fromBinary(method.output, b),
        bytes,
        this.metadata(),
        { deadline: deadline === Number.MAX_SAFE_INTEGER ? Infinity : deadline },
        (err, value) => {
          signal?.removeEventListener('abort', onAbort);
          if (err) reject(this.convertError(err, deadline, signal));
          else resolve(value as MessageShape<O>);
        },
      );
      const onAbort = () => call.cancel();
      signal?.addEventListener('abort', onAbort);
    });
  }

  /** Maps a grpc-js error to the error clientv3 would return. */
  convertError(err: grpcNs.ServiceError, deadline?: number, signal?: AbortSignal): EtcdError {
    if (signal?.aborted) return new CanceledError();
    if (err.code === 4 && deadline !== undefined && Date.now() >= deadline - 5) return new DeadlineExceededError();
    if (err.code === 1) return new CanceledError();
    return fromStatus(err.code, err.details);
  }

  /**
   * Opens a bidirectional stream (Watch, LeaseKeepAlive) on a connected endpoint.
   * Streams have no deadline unless `timeoutMs` is given.
   * @throws DeadlineExceededError if no endpoint connects within the dial/command timeout
   */
  async bidi<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    opts: { timeoutMs?: number; metadata?: Record<string, string> } = {},
  ): Promise<grpcNs.ClientDuplexStream<MessageShape<I>, MessageShape<O>>> {
    const wait = Math.max(this.config.dialTimeoutMs, this.config.commandTimeoutMs);
    const ep = await this.readyEndpoint(Date.now() + wait);
    if (!ep) throw new DeadlineExceededError();
    const md = this.metadata();
    for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
    return this.grpcClient(ep).makeBidiStreamRequest(
      this.methodPath(method),
      (m: MessageShape<I>) => Buffer.from(toBinary(method.input, m)),
      (b: Buffer) => fromBinary(method.output, b),
      md,
      opts.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {},
    );
  }

  /** Opens a server-streaming call (Maintenance.Snapshot). */
  async serverStream<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    req: MessageInitShape<I>,
    opts: { timeoutMs?: number } = {},
  ): Promise<grpcNs.ClientReadableStream<MessageShape<O>>> {
    const wait = Math.max(this.config.dialTimeoutMs, this.config.commandTimeoutMs);
    const ep = await this.readyEndpoint(Date.now() + wait);
    if (!ep) throw new DeadlineExceededError();
    return this.grpcClient(ep).makeServerStreamRequest(
      this.methodPath(method),
      (m: MessageShape<I>) => Buffer.from(toBinary(method.input, m)),
      (b: Buffer) => fromBinary(method.output, b),
      create(method.input, req),
      this.metadata(),
      opts.timeoutMs ? { deadline: Date.now() + opts.timeoutMs } : {},
    );
  }

  // ---- KV ----
  range(req: MessageInitShape<typeof KV.method.range.input>, opts: CallOptions = {}) {
    return this.unary(KV.method.range, req, { idempotent: true, ...opts });
  }
  put(req: MessageInitShape<typeof KV.method.put.input>, opts: CallOptions = {}) {
    return this.unary(KV.method.put, req, opts);
  }
  deleteRange(req: MessageInitShape<typeof KV.method.deleteRange.input>, opts: CallOptions = {}) {
    return this.unary(KV.method.deleteRange, req, opts);
  }
  txn(req: MessageInitShape<typeof KV.method.txn.input>, opts: CallOptions = {}) {
    return this.unary(KV.method.txn, req, opts);
  }
  compact(req: MessageInitShape<typeof KV.method.compact.input>, opts: CallOptions = {}) {
    return this.unary(KV.method.compact, req, opts);
  }

  // ---- Lease ----
  leaseGrant(req: MessageInitShape<typeof Lease.method.leaseGrant.input>, opts: CallOptions = {}) {
    return this.unary(Lease.method.leaseGrant, req, opts);
  }
  leaseRevoke(req: MessageInitShape<typeof Lease.method.leaseRevoke.input>, opts: CallOptions = {}) {
    return this.unary(Lease.method.leaseRevoke, req, opts);
  }
  leaseTimeToLive(req: MessageInitShape<typeof Lease.method.leaseTimeToLive.input>, opts: CallOptions = {}) {
    return this.unary(Lease.method.leaseTimeToLive, req, { idempotent: true, ...opts });
  }
  leaseLeases(opts: CallOptions = {}) {
    return this.unary(Lease.method.leaseLeases, {}, { idempotent: true, ...opts });
  }
  /**
   * Opens a LeaseKeepAlive stream. clientv3's long-lived keep-alive stream requires a
   * leader (metadata hasleader=true); its KeepAliveOnce stream does not.
   */
  leaseKeepAliveStream(requireLeader = false) {
    return this.bidi(Lease.method.leaseKeepAlive, requireLeader ? { metadata: { hasleader: 'true' } } : {});
  }

  // ---- Watch ----
  /** Opens a Watch stream; etcdctl requires a leader (metadata hasleader=true). */
  watchStream(requireLeader = true) {
    return this.bidi(Watch.method.watch, requireLeader ? { metadata: { hasleader: 'true' } } : {});
  }

  // ---- Cluster / Maintenance (used by status and health checks) ----
  memberList(opts: CallOptions = {}) {
    return this.unary(Cluster.method.memberList, {}, { idempotent: true, ...opts });
  }
  status(opts: CallOptions = {}) {
    return this.unary(Maintenance.method.status, {}, { idempotent: true, ...opts });
  }
  /** Maintenance.HashKV up to `revision` (0 = all revisions). */
  hashKV(revision: bigint, opts: CallOptions = {}) {
    return this.unary(Maintenance.method.hashKV, { revision }, { idempotent: true, ...opts });
  }
  /** Maintenance.Defragment of the member this client is connected to. */
  defragment(opts: CallOptions = {}) {
    return this.unary(Maintenance.method.defragment, {}, opts);
  }
  /** Maintenance.Alarm (GET, ACTIVATE or DEACTIVATE). The server leaves the header unset. */
  alarm(req: MessageInitShape<typeof Maintenance.method.alarm.input>, opts: CallOptions = {}) {
    return this.unary(Maintenance.method.alarm, req, opts);
  }
  /**
   * Maintenance.Snapshot: the member's backend database followed by its sha256 (32
   * bytes), as a sequence of chunks (`remainingBytes` counts what is still to come).
   * As clientv3's Snapshot under etcdctl: without `timeoutMs` there is no deadline at
   * all, and the call waits for the endpoint to become reachable; with it, connecting
   * and the whole transfer must finish in time (`context deadline exceeded`).
   * @throws EtcdError (converted as clientv3 does), DeadlineExceededError
   */
  async *snapshot(opts: { timeoutMs?: number } = {}): AsyncGenerator<{ blob: Uint8Array; remainingBytes: bigint }> {
    const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Number.MAX_SAFE_INTEGER;
    const ep = await this.readyEndpoint(deadline);
    if (!ep) throw new DeadlineExceededError();
    const method = Maintenance.method.snapshot;
    const call = this.grpcClient(ep).makeServerStreamRequest(
      this.methodPath(method),
      (m: MessageShape<typeof method.input>) => Buffer.from(toBinary(method.input, m)),
      (b: Buffer) => fromBinary(method.output, b),
      create(method.input, {}),
      this.metadata(),
      deadline === Number.MAX_SAFE_INTEGER ? {} : { deadline },
    );
    try {
      for await (const resp of call as AsyncIterable<MessageShape<typeof method.output>>) {
        yield { blob: resp.blob, remainingBytes: resp.remainingBytes };
      }
    } catch (e) {
      if (e && typeof e === 'object' && 'code' in e && typeof (e as grpcNs.ServiceError).code === 'number') {
        throw this.convertError(e as grpcNs.ServiceError, deadline);
      }
      throw e;
    } finally {
      call.cancel();
    }
  }
  /** Maintenance.MoveLeader; must be sent to the current leader. */
  moveLeader(targetID: bigint, opts: CallOptions = {}) {
    return this.unary(Maintenance.method.moveLeader, { targetID }, opts);
  }
  memberAdd(req: MessageInitShape<typeof Cluster.method.memberAdd.input>, opts: CallOptions = {}) {
    return this.unary(Cluster.method.memberAdd, req, opts);
  }
  memberRemove(ID: bigint, opts: CallOptions = {}) {
    return this.unary(Cluster.method.memberRemove, { ID }, opts);
  }
  memberUpdate(ID: bigint, peerURLs: string[], opts: CallOptions = {}) {
    return this.unary(Cluster.method.memberUpdate, { ID, peerURLs }, opts);
  }
  memberPromote(ID: bigint, opts: CallOptions = {}) {
    return this.unary(Cluster.method.memberPromote, { ID }, opts);
  }

  /**
   * A client for exactly one endpoint with this client's settings and auth token
   * (clientv3's maintenance dial(endpoint) used by Status/HashKV/Defragment).
   * Close it with `close()`.
   */
  forEndpoint(endpoint: string): EtcdClient {
    const c = new EtcdClient({ ...this.config, endpoints: [endpoint] });
    c.token = this.token;
    return c;
  }

  // ---- Auth (clientv3/auth.go; reads are repeatable, mutations are not) ----
  authEnable(opts: CallOptions = {}) {
    return this.unary(Auth.method.authEnable, {}, opts);
  }
  authDisable(opts: CallOptions = {}) {
    return this.unary(Auth.method.authDisable, {}, opts);
  }
  /**
   * Auth.AuthStatus, an RPC of etcd 3.5+ that our 3.4 protos lack. The request is
   * empty; the response (header = 1, enabled = 2, authRevision = 3) is decoded as an
   * AuthEnableResponse whose unknown fields 2 and 3 carry the status.
   * @throws EtcdError `rpc error: code = Unimplemented ...` from a 3.4 server
   */
  async authStatus(opts: CallOptions = {}): Promise<AuthStatusResponse> {
    const method = { ...Auth.method.authEnable, name: 'AuthStatus' } as typeof Auth.method.authEnable;
    const r = await this.unary(method, {}, { idempotent: true, ...opts });
    let enabled = false;
    let authRevision = 0n;
    for (const u of r.$unknown ?? []) {
      if (u.wireType !== 0) continue;
      const v = new BinaryReader(u.data).uint64();
      if (u.no === 2) enabled = BigInt(v) !== 0n;
      if (u.no === 3) authRevision = BigInt.asUintN(64, BigInt(v));
    }
    return { header: r.header, enabled, authRevision };
  }
  userAdd(name: string, password: string, noPassword = false, opts: CallOptions = {}) {
    return this.unary(Auth.method.userAdd, { name, password, options: { noPassword } }, opts);
  }
  userDelete(name: string, opts: CallOptions = {}) {
    return this.unary(Auth.method.userDelete, { name }, opts);
  }
  userChangePassword(name: string, password: string, opts: CallOptions = {}) {
    return this.unary(Auth.method.userChangePassword, { name, password }, opts);
  }
  userGrantRole(user: string, role: string, opts: CallOptions = {}) {
    return this.unary(Auth.method.userGrantRole, { user, role }, opts);
  }
  userRevokeRole(name: string, role: string, opts: CallOptions = {}) {
    return this.unary(Auth.method.userRevokeRole, { name, role }, opts);
  }
  userGet(name: string, opts: CallOptions = {}) {
    return this.unary(Auth.method.userGet, { name }, { idempotent: true, ...opts });
  }
  userList(opts: CallOptions = {}) {
    return this.unary(Auth.method.userList, {}, { idempotent: true, ...opts });
  }
  roleAdd(name: string, opts: CallOptions = {}) {
    return this.unary(Auth.method.roleAdd, { name }, opts);
  }
  roleDelete(role: string, opts: CallOptions = {}) {
    return this.unary(Auth.method.roleDelete, { role }, opts);
  }
  roleGet(role: string, opts: CallOptions = {}) {
    return this.unary(Auth.method.roleGet, { role }, { idempotent: true, ...opts });
  }
  roleList(opts: CallOptions = {}) {
    return this.unary(Auth.method.roleList, {}, { idempotent: true, ...opts });
  }
  /** @param permType authpb.Permission.Type (0 READ, 1 WRITE, 2 READWRITE) */
  roleGrantPermission(name: string, key: Uint8Array, rangeEnd: Uint8Array, permType: number, opts: CallOptions = {}) {
    return this.unary(Auth.method.roleGrantPermission, { name, perm: { key, rangeEnd, permType } }, opts);
  }
  roleRevokePermission(role: string, key: Uint8Array, rangeEnd: Uint8Array, opts: CallOptions = {}) {
    return this.unary(Auth.method.roleRevokePermission, { role, key, rangeEnd }, opts);
  }

  /** Closes every connection. Pending calls fail with `context canceled`. */
  close(): void {
    this.closed = true;
    for (const ep of this.endpoints) ep.client?.close();
  }
}

/** Reads a file for TLS; errors carry Go's `open <path>: no such file or directory` text. */
export function readTlsFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file or directory' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'is a directory' : err.message;
    throw new Error(`open ${path}: ${why}`);
  }
}
