/**
 * @module client/client
 * A typed etcd v3 client over our own gRPC/HTTP/2 transport (client/transport:
 * a plain socket, no node:http2 or grpc-js, for a fast CLI start), with
 * messages from our own protos (src/gen, protobuf-es). It chooses among `endpoints` in order, moving on when one
 * cannot be connected to; applies a per-call deadline (etcdctl's --command-timeout);
 * keeps connections alive; speaks TLS with optional client certificates; and, given a
 * user and password, authenticates and sends the token with every call.
 *
 * Unary calls follow clientv3 3.4's retry interceptor (clientv3/retry_interceptor.go):
 * up to 100 attempts; every failed attempt is logged (`retrying of unary invoker
 * failed`); `etcdserver: invalid auth token` and `etcdserver: revision of auth store is
 * old` make the client authenticate again (when it has a user and password) and retry,
 * whatever the call; `etcdserver: user name is empty` does so when it has credentials;
 * reads (idempotent calls) are retried on another endpoint after Unavailable; a write
 * whose outcome is unknown is never sent twice. Streams authenticate again before they
 * open, as clientv3's stream interceptor does.
 */

import { Channel, type CallStatus, type ChannelState } from './transport/channel.js';
import { StreamError, TypedStream, unmarshalFailure } from './transport/stream.js';
import { fromBinary, toBinary, create, type DescMessage, type DescMethod, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { readFileSync } from 'node:fs';
import type * as cryptoNs from 'node:crypto';
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
import { CanceledError, DeadlineExceededError, EtcdError, fromStatus, goStatusString, isContextError } from './errors.js';
import { NOP_LOGGER, type ClientLogger } from './log.js';
import { goPathError } from '../util/go-errors.js';
import { ALARM_RPC, PUT_RPC, RANGE_RPC, type UnaryRpc } from './fast-kv.js';

/** etcd 3.5's AuthStatusResponse (not in our 3.4 protos). */
export interface AuthStatusResponse {
  header?: ResponseHeader;
  enabled: boolean;
  authRevision: bigint;
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
  /** where clientv3's log lines go (etcdctl: zap JSON on stderr); none when absent */
  logger?: ClientLogger;
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
  channel?: Channel;
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
/** clientv3's defaultUnaryMaxRetries (options.go): attempts per unary call. */
const UNARY_MAX_ATTEMPTS = 100;
/** clientv3's defaultBackoffWaitBetween (ms) and defaultBackoffJitterFraction (options.go). */
const BACKOFF_WAIT_MS = 25;
const BACKOFF_JITTER = 0.1;
const AUTH_NOT_ENABLED = 'etcdserver: authentication is not enabled';
/** Errors after which clientv3 gets a new token (if it can) and sends the call again. */
const AUTH_RETRY_ERRORS: ReadonlySet<string> = new Set(['etcdserver: invalid auth token', 'etcdserver: revision of auth store is old']);

/**
 * The host part of an endpoint as clientv3's endpoint.ParseEndpoint gives it (used in
 * grpc target names): `host:port` as is; for `http(s)://` the URL host; for
 * `unix(s)://` host and path; other schemes give ''.
 */
export function goEndpointHost(ep: string): string {
  if (!ep.includes('://')) return ep;
  let url: URL;
  try {
    url = new URL(ep);
  } catch {
    return ep;
  }
  switch (url.protocol) {
    case 'http:':
    case 'https:':
      return url.host;
    case 'unix:':
    case 'unixs:':
      return url.host + decodeURIComponent(url.pathname);
    default:
      return '';
  }
}

/** What `unary` sends: a protobuf-es method, or a UnaryRpc with its own codec (client/fast-kv). */
export type UnaryMethod<I extends DescMessage, O extends DescMessage> = (DescMethod & { input: I; output: O }) | UnaryRpc<I, O>;

/** protobuf-es methods as UnaryRpcs, made once per method */
const genericRpcs = new WeakMap<DescMethod, UnaryRpc<DescMessage, DescMessage>>();

/** How one unary call is sent (clientv3 interceptor options and context). */
interface InvokeOptions {
  /** epoch ms; Number.MAX_SAFE_INTEGER = none */
  deadline: number;
  /** retry policy `repeatable` (reads) rather than `nonRepeatable` */
  idempotent: boolean;
  signal?: AbortSignal;
  /** grpc target name for log lines (computed only when one is written) */
  target: () => string;
  /** send the auth token (not for Authenticate itself) */
  withToken: boolean;
}

/**
 * A connection to an etcd cluster. Create with `EtcdClient.connect`, release with `close`.
 */
export class EtcdClient {
  private readonly endpoints: Endpoint[];
  private current = 0;
  private token: string | undefined;
  /**
   * Whether calls carry the token: as clientv3's dial, only when authentication at
   * connect time succeeded (with auth disabled on the server, never).
   */
  private sendToken = false;
  private closed = false;
  /** clientv3's resolver group id, `client-<uuid>` (made on first use: node:crypto costs a cold start ~5 ms) */
  private groupId: string | undefined;
  private readonly logger: ClientLogger;
  /** the client whose endpoints authenticate (forEndpoint clients: their parent's) */
  private readonly root: EtcdClient;
  /** the grpc target log lines name: `endpoint://<id>/<first host>` or `passthrough:///<endpoint>` */
  private get target(): string {
    return this.root !== this ? `passthrough:///${this.config.endpoints[0] ?? ''}` : `endpoint://${this.id}/${goEndpointHost(this.config.endpoints[0] ?? '')}`;
  }

  /** clientv3's resolver group id; forEndpoint clients share their parent's. */
  private get id(): string {
    const root = this.root;
    root.groupId ??= `client-${(process.getBuiltinModule('node:crypto') as typeof cryptoNs).randomUUID()}`;
    return root.groupId;
  }
  /** a forEndpoint client authenticates before its first call (clientv3's Dial) */
  private dialAuthPending = false;
  /** endpoints seen in TRANSIENT_FAILURE while waiting for a connection */
  private readonly failedEndpoints = new Set<number>();

  private constructor(readonly config: ClientConfig, parent?: EtcdClient) {
    this.endpoints = config.endpoints.map((e) => ({ ...parseEndpoint(e) }));
    this.root = parent ? parent.root : this;
    this.logger = config.logger ?? NOP_LOGGER;
  }

  /** clientv3 authenticates only with a user name and a non-empty password. */
  private get hasCredentials(): boolean {
    return !!(this.config.username && this.config.password);
  }

  /**
   * Creates a client; with a username and a non-empty password, authenticates first
   * within the dial timeout (as clientv3.New: with an empty password, requests are sent
   * unauthenticated; with auth disabled on the server, without a token).
   * @throws EtcdError when authentication fails (etcdctl exits 2 then)
   */
  static async connect(config: ClientConfig): Promise<EtcdClient> {
    const c = new EtcdClient(config);
    if (c.hasCredentials) await c.dialAuth();
    return c;
  }

  /**
   * clientv3's dial-time getToken: authenticates within the dial timeout; success makes
   * calls carry the token, `authentication is not enabled` makes them go without.
   */
  private async dialAuth(): Promise<void> {
    const t = this.config.dialTimeoutMs;
    try {
      this.token = await this.root.getToken(t > 0 ? Date.now() + t : Number.MAX_SAFE_INTEGER);
      this.sendToken = true;
    } catch (e) {
      if (!(e instanceof EtcdError && e.is(AUTH_NOT_ENABLED))) throw e;
      this.sendToken = false;
    }
  }

  private async ensureDialed(): Promise<void> {
    if (!this.dialAuthPending) return;
    this.dialAuthPending = false;
    await this.dialAuth();
  }

  /**
   * clientv3's getToken: Auth.Authenticate through each endpoint's target in turn until
   * one answers; `authentication is not enabled` ends the search at once. Each attempt
   * goes through the retry loop (and is logged when it fails).
   * @returns the token
   * @throws EtcdError, converted as clientv3's toErr does (the last endpoint's error)
   */
  private async getToken(deadline: number, signal?: AbortSignal): Promise<string> {
    let last: EtcdError | undefined;
    for (let i = 0; i < this.endpoints.length; i++) {
      const target = () => `endpoint://${this.id}/${goEndpointHost(this.config.endpoints[i]!)}`;
      try {
        const resp = await this.invoke(
          Auth.method.authenticate,
          { name: this.config.username!, password: this.config.password ?? '' },
          { deadline, idempotent: false, signal, target, withToken: false },
          false,
        );
        return resp.token;
      } catch (e) {
        if (!(e instanceof EtcdError)) throw e;
        if (e.is(AUTH_NOT_ENABLED)) throw e;
        last = e;
      }
    }
    throw last ?? new DeadlineExceededError();
  }

  /**
   * clientv3's shouldRefreshToken: a stale or unknown token, or (with credentials) a
   * request the server saw without a user.
   */
  private shouldRefreshToken(e: EtcdError): boolean {
    if (e.is('etcdserver: user name is empty')) return this.root.hasCredentials;
    return AUTH_RETRY_ERRORS.has(e.details);
  }

  /**
   * clientv3's refreshToken: without credentials (e.g. TLS common-name auth) there is
   * nothing to refresh and the call is simply sent again; otherwise the token is
   * dropped and fetched anew.
   */
  private async refreshToken(deadline: number, signal?: AbortSignal): Promise<void> {
    if (!this.root.hasCredentials) return;
    this.token = undefined;
    this.token = await this.root.getToken(deadline, signal);
  }

  /**
   * The stream interceptor's getToken: with credentials, a stream opens only after a
   * fresh Authenticate (`authentication is not enabled` is ignored; other failures are
   * logged and fail the stream).
   */
  private async streamGetToken(deadline: number): Promise<void> {
    await this.ensureDialed();
    if (!this.root.hasCredentials) return;
    try {
      this.token = await this.root.getToken(deadline);
    } catch (e) {
      if (e instanceof EtcdError && e.is(AUTH_NOT_ENABLED)) return;
      if (e instanceof EtcdError) {
        this.logger.log('error', 'clientv3/retry_interceptor.go:114', 'clientv3/retry_interceptor: getToken failed', [['error', e.message]]);
      }
      throw e;
    }
  }

  /** The endpoints as given. */
  get endpointList(): string[] {
    return [...this.config.endpoints];
  }

  private channel(ep: Endpoint): Channel {
    if (ep.channel) return ep.channel;
    const tls = this.config.tls;
    ep.channel = new Channel({
      target: ep.target,
      tls: tls || ep.secure ? { ...tls } : undefined,
      authority: ep.target.startsWith('unix:') ? 'localhost' : ep.target,
      // grpc-go raises any client keepalive time below 10 s to 10 s (WithKeepaliveParams),
      // so etcdctl's default 2 s really pings every 10 s. etcd enforces a 5 s minimum
      // between pings (--grpc-keepalive-min-time) and answers faster pings on an idle
      // stream with GOAWAY too_many_pings, which would break long idle watches.
      keepaliveTimeMs: Math.max(this.config.keepaliveTimeMs, MIN_KEEPALIVE_TIME_MS),
      keepaliveTimeoutMs: this.config.keepaliveTimeoutMs,
    });
    return ep.channel;
  }

  /**
   * Waits until some endpoint is connected, trying them in order from the current one.
   * @returns the endpoint, or undefined if none connected before `deadline`
   */
  private async readyEndpoint(deadline: number): Promise<Endpoint | undefined> {
    const n = this.endpoints.length;
    for (;;) {
      for (let k = 0; k < n; k++) {
        const idx = (this.current + k) % n;
        const ep = this.endpoints[idx]!;
        const ch = this.channel(ep);
        let state: ChannelState = ch.getState(true);
        const perTry = Math.min(deadline, Date.now() + Math.max(this.config.dialTimeoutMs, 100));
        while (state !== 'ready' && state !== 'transient_failure' && state !== 'shutdown') {
          if (!(await ch.waitForStateChange(state, perTry))) break;
          state = ch.getState(true);
        }
        if (state === 'ready') {
          this.failedEndpoints.delete(idx);
          this.current = idx;
          return ep;
        }
        if (state === 'transient_failure') this.failedEndpoints.add(idx);
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

  private metadata(withToken = true): [string, string][] {
    return withToken && this.sendToken && this.token ? [['token', this.token]] : [];
  }

  private methodPath(method: DescMethod): string {
    return `/${method.parent.typeName}/${method.name}`;
  }

  /** `method` as a UnaryRpc: its own if it is one (client/fast-kv), else protobuf-es's codec of a DescMethod. */
  private rpcOf<I extends DescMessage, O extends DescMessage>(method: UnaryMethod<I, O>): UnaryRpc<I, O> {
    if ('encode' in method) return method;
    let rpc = genericRpcs.get(method) as UnaryRpc<I, O> | undefined;
    if (!rpc) {
      rpc = {
        path: this.methodPath(method),
        encode: (req) => toBinary(method.input, create(method.input, req)),
        decode: (b) => fromBinary(method.output, b),
      };
      genericRpcs.set(method, rpc);
    }
    return rpc;
  }

  /**
   * Sends one unary RPC as clientv3's retry interceptor does (see the module comment).
   * @throws EtcdError (server status, as clientv3 reports it), DeadlineExceededError,
   *   CanceledError
   */
  async unary<I extends DescMessage, O extends DescMessage>(
    method: UnaryMethod<I, O>,
    req: MessageInitShape<I>,
    opts: CallOptions = {},
  ): Promise<MessageShape<O>> {
    const timeoutMs = opts.timeoutMs ?? this.config.commandTimeoutMs;
    const deadline = timeoutMs > 0 ? Date.now() + timeoutMs : Number.MAX_SAFE_INTEGER;
    await this.ensureDialed();
    return this.invoke(method, req, { deadline, idempotent: !!opts.idempotent, signal: opts.signal, target: () => this.target, withToken: true }, true);
  }

  /**
   * clientv3's unaryClientInterceptor: up to 100 attempts, each failure logged; context
   * errors end the call once the deadline passed or the call was canceled; auth errors
   * refresh the token (`authRetry`) and try again; otherwise only reads after
   * Unavailable are tried again (on the next endpoint), after the round-robin quorum
   * backoff.
   */
  private async invoke<I extends DescMessage, O extends DescMessage>(
    method: UnaryMethod<I, O>,
    req: MessageInitShape<I>,
    o: InvokeOptions,
    authRetry: boolean,
  ): Promise<MessageShape<O>> {
    const rpc = this.rpcOf(method);
    const bytes = rpc.encode(req);
    let lastErr: EtcdError | undefined;
    for (let attempt = 0; attempt < UNARY_MAX_ATTEMPTS; attempt++) {
      if (attempt > 0) await this.waitRetryBackoff(attempt, o.deadline, o.signal);
      try {
        return await this.attempt(rpc, bytes, o);
      } catch (e) {
        if (!(e instanceof EtcdError)) throw e;
        lastErr = e;
        this.logger.log('warn', 'clientv3/retry_interceptor.go:62', 'retrying of unary invoker failed', [
          ['target', o.target()],
          ['attempt', attempt],
          ['error', goStatusString(e)],
        ]);
        if (isContextError(e)) {
          if (this.closed || o.signal?.aborted || Date.now() >= o.deadline) throw e;
          // a server's DeadlineExceeded is retried
          if (e.code === 4) continue;
          if (!o.idempotent) throw e;
          this.current = (this.current + 1) % this.endpoints.length;
          continue;
        }
        if (authRetry && this.shouldRefreshToken(e)) {
          try {
            await this.refreshToken(o.deadline, o.signal);
          } catch (g) {
            if (g instanceof EtcdError) {
              this.logger.log('warn', 'clientv3/retry_interceptor.go:79', 'retrying of unary invoker failed to fetch new auth token', [
                ['target', o.target()],
                ['error', g.message],
              ]);
            }
            throw g;
          }
          continue;
        }
        // clientv3's isSafeRetry: reads after Unavailable; writes only when grpc-go
        // says no connection was picked, which here means waiting for one (above)
        if (!(o.idempotent && e.code === 14)) throw e;
        this.current = (this.current + 1) % this.endpoints.length;
      }
    }
    throw lastErr!;
  }

  /** One attempt: wait for a connected endpoint, then send. */
  private async attempt<O extends DescMessage>(rpc: UnaryRpc<DescMessage, O>, bytes: Uint8Array, o: InvokeOptions): Promise<MessageShape<O>> {
    if (this.closed) throw new CanceledError();
    if (o.signal?.aborted) throw new CanceledError();
    const ep = await this.readyEndpoint(o.deadline);
    if (!ep) throw new DeadlineExceededError(await this.whyUnreachable(), this.balancerErrorDesc());
    const maxSend = this.config.maxSendBytes ?? DEFAULT_MAX_SEND;
    if (bytes.length > maxSend) {
      throw fromStatus(8, `trying to send message larger than max (${bytes.length} vs. ${maxSend})`);
    }
    return this.sendUnary(ep, rpc, bytes, o.deadline, o.signal, this.metadata(o.withToken));
  }

  /**
   * What grpc-go's DeadlineExceeded status says when no connection came up: the round
   * robin balancer of clientv3's main connection reports `all SubConns are in
   * TransientFailure` once every endpoint failed to connect.
   */
  private balancerErrorDesc(): string {
    const balanced = this.root === this;
    if (balanced && this.endpoints.length > 0 && this.failedEndpoints.size === this.endpoints.length) {
      return 'latest balancer error: all SubConns are in TransientFailure';
    }
    return 'context deadline exceeded';
  }

  /**
   * clientv3's roundRobinQuorumBackoff: after every `quorum` attempts (quorum of the
   * endpoint count) wait 25 ms ± 10 %.
   * @throws DeadlineExceededError / CanceledError when the call ends while waiting
   */
  private async waitRetryBackoff(attempt: number, deadline: number, signal?: AbortSignal): Promise<void> {
    const quorum = Math.floor(this.root.endpoints.length / 2) + 1;
    if (attempt % quorum !== 0) return;
    const wait = BACKOFF_WAIT_MS * (1 + BACKOFF_JITTER * (Math.random() * 2 - 1));
    const left = deadline - Date.now();
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(wait, left))));
    if (signal?.aborted || this.closed) throw new CanceledError();
    if (left <= wait) throw new DeadlineExceededError();
  }

  private sendUnary<O extends DescMessage>(
    ep: Endpoint,
    rpc: UnaryRpc<DescMessage, O>,
    bytes: Uint8Array,
    deadline: number,
    signal: AbortSignal | undefined,
    md: [string, string][],
  ): Promise<MessageShape<O>> {
    return new Promise((resolve, reject) => {
      const call = this.channel(ep).startCall(rpc.path, md, deadline === Number.MAX_SAFE_INTEGER ? undefined : deadline);
      let reply: Uint8Array | undefined;
      call.on('message', (b: Uint8Array) => {
        reply ??= b;
      });
      call.on('status', (st: CallStatus) => {
        signal?.removeEventListener('abort', onAbort);
        if (st.code !== 0) {
          reject(this.convertError(st, deadline, signal));
          return;
        }
        if (!reply) {
          reject(fromStatus(13, 'grpc: the server ended the call without a response'));
          return;
        }
        try {
          resolve(rpc.decode(reply));
        } catch (e) {
          const st = unmarshalFailure(e);
          reject(fromStatus(st.code, st.details));
        }
      });
      const onAbort = () => call.cancel();
      signal?.addEventListener('abort', onAbort);
      call.write(bytes);
      call.end();
    });
  }

  /** Maps a call's status to the error clientv3 would return. */
  convertError(err: CallStatus, deadline?: number, signal?: AbortSignal): EtcdError {
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
  ): Promise<TypedStream<MessageShape<I>, MessageShape<O>>> {
    const wait = Math.max(this.config.dialTimeoutMs, this.config.commandTimeoutMs);
    await this.streamGetToken(Date.now() + wait);
    const ep = await this.readyEndpoint(Date.now() + wait);
    if (!ep) throw new DeadlineExceededError();
    const md = [...this.metadata(), ...Object.entries(opts.metadata ?? {})];
    const call = this.channel(ep).startCall(this.methodPath(method), md, opts.timeoutMs ? Date.now() + opts.timeoutMs : undefined);
    return new TypedStream(call, (m: MessageShape<I>) => toBinary(method.input, m), (b) => fromBinary(method.output, b));
  }

  /** Opens a server-streaming call (Maintenance.Snapshot). */
  async serverStream<I extends DescMessage, O extends DescMessage>(
    method: DescMethod & { input: I; output: O },
    req: MessageInitShape<I>,
    opts: { timeoutMs?: number } = {},
  ): Promise<TypedStream<MessageShape<I>, MessageShape<O>>> {
    const wait = Math.max(this.config.dialTimeoutMs, this.config.commandTimeoutMs);
    await this.streamGetToken(Date.now() + wait);
    const ep = await this.readyEndpoint(Date.now() + wait);
    if (!ep) throw new DeadlineExceededError();
    return this.openServerStream(ep, method, req, opts.timeoutMs ? Date.now() + opts.timeoutMs : undefined);
  }

  /** Starts a server-streaming call on `ep`: the request is sent and the request side closed. */
  private openServerStream<I extends DescMessage, O extends DescMessage>(
    ep: Endpoint,
    method: DescMethod & { input: I; output: O },
    req: MessageInitShape<I>,
    deadline: number | undefined,
  ): TypedStream<MessageShape<I>, MessageShape<O>> {
    const call = this.channel(ep).startCall(this.methodPath(method), this.metadata(), deadline);
    const stream = new TypedStream(call, (m: MessageShape<I>) => toBinary(method.input, m), (b) => fromBinary(method.output, b));
    stream.write(create(method.input, req));
    stream.end();
    return stream;
  }

  // ---- KV ----
  range(req: MessageInitShape<typeof KV.method.range.input>, opts: CallOptions = {}) {
    return this.unary(RANGE_RPC, req, { idempotent: true, ...opts });
  }
  put(req: MessageInitShape<typeof KV.method.put.input>, opts: CallOptions = {}) {
    return this.unary(PUT_RPC, req, opts);
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
    return this.unary(ALARM_RPC, req, opts);
  }
  /**
   * Maintenance.Snapshot: the member's backend database followed by its sha256 (32
   * bytes), as a sequence of chunks (`remainingBytes` counts what is still to come).
   * As clientv3's Snapshot under etcdctl: without `timeoutMs` there is no deadline at
   * all, and the call waits for the endpoint to become reachable; with it, connecting
   * and the whole transfer must finish in time (`context deadline exceeded`).
   * Logs as clientv3 does (`opened snapshot stream; downloading`, then `completed
   * snapshot read; closing` or a warning); `onOpen` runs once the stream is open.
   * @throws EtcdError (converted as clientv3 does), DeadlineExceededError
   */
  async *snapshot(opts: { timeoutMs?: number; onOpen?: () => void } = {}): AsyncGenerator<{ blob: Uint8Array; remainingBytes: bigint }> {
    const deadline = opts.timeoutMs ? Date.now() + opts.timeoutMs : Number.MAX_SAFE_INTEGER;
    await this.streamGetToken(deadline);
    const ep = await this.readyEndpoint(deadline);
    if (!ep) throw new DeadlineExceededError();
    const method = Maintenance.method.snapshot;
    const call = this.openServerStream(ep, method, {}, deadline === Number.MAX_SAFE_INTEGER ? undefined : deadline);
    this.logger.log('info', 'clientv3/maintenance.go:200', 'opened snapshot stream; downloading');
    opts.onOpen?.();
    try {
      for await (const resp of call) {
        yield { blob: resp.blob, remainingBytes: resp.remainingBytes };
      }
      this.logger.log('info', 'clientv3/maintenance.go:208', 'completed snapshot read; closing');
    } catch (e) {
      if (e instanceof StreamError) {
        const err = this.convertError(e, deadline);
        this.logger.log('warn', 'clientv3/maintenance.go:210', 'failed to receive from snapshot stream; closing', [['error', goStatusString(err)]]);
        throw err;
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
   * A client for exactly one endpoint with this client's settings (clientv3's
   * Dial(endpoint), used by Status/HashKV/Defragment): with credentials it
   * authenticates again before its first call, through this client's endpoints, as
   * Dial does. Close it with `close()`.
   */
  forEndpoint(endpoint: string): EtcdClient {
    const c = new EtcdClient({ ...this.config, endpoints: [endpoint] }, this);
    c.token = this.token;
    c.sendToken = this.sendToken;
    c.dialAuthPending = this.root.hasCredentials;
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
    for (const ep of this.endpoints) ep.channel?.close();
  }
}

/** Reads a file for TLS; errors carry Go's `open <path>: no such file or directory` text. */
export function readTlsFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(goPathError('open', path, e));
  }
}
