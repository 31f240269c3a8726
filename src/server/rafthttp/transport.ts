/**
 * @module server/rafthttp/transport
 *
 * The peer transport between the members of a Raft cluster, shaped after etcd 3.4's
 * etcdserver/api/rafthttp (transport.go, peer.go, stream.go, pipeline.go,
 * snapshot_sender.go, http.go, util.go). See index.ts for how the server drives it.
 *
 * Per remote peer there are:
 * - two long-lived **stream readers**: this member dials
 *   `GET <peerURL>/raft/stream/msgapp/<localID>` and `.../raft/stream/message/<localID>`;
 *   the remote answers 200 and keeps the response open, writing framed messages to us
 *   (codec.ts). Dial retries every {@link TransportOptions.dialRetryMs}.
 * - two **stream writers**: the responses of the GET requests the remote peer made to
 *   us. MsgApp goes to the msgapp stream, every other message (heartbeats, votes,
 *   responses) to the message stream. Queued messages are written in batches (one
 *   socket write per drain of the queue); idle streams carry a link heartbeat every
 *   connReadTimeoutMs/3, and a reader drops a stream silent for connReadTimeoutMs.
 * - a **pipeline**: `POST <peerURL>/raft` with one raftpb.Message per request, used for
 *   MsgSnap without a database body and whenever no stream writer is attached;
 *   at most 4 requests in flight, 64 queued.
 * - a **snapshot sender**: `POST <peerURL>/raft/snapshot`, body = one framed MsgSnap
 *   then the database bytes streamed from the caller's Readable (never buffered whole).
 *
 * Every request carries X-Server-From, X-Server-Version, X-Min-Cluster-Version,
 * X-Etcd-Cluster-ID and X-PeerURLs (streams also X-Raft-To). The receiving side checks
 * versions and the cluster ID on every connection and answers 412 with
 * `incompatible version` / `cluster ID mismatch` (logging etcd's
 * "request cluster ID mismatch"). IDs are written as etcd's types.ID: lowercase hex
 * without padding.
 *
 * Backpressure: when a stream queue (4096) or the pipeline queue (64) is full the
 * message is dropped and reported unreachable (and a MsgSnap also as a failed
 * snapshot), as etcd's peer.send does. Delivery failures of the pipeline and the
 * snapshot sender are reported the same way. Raft retransmits, so drops are safe.
 *
 * Not implemented (etcd has them): the compact msgappv2 encoding (both streams use
 * the message framing), /raft/probing, pause/resume, metrics, and the version
 * downgrade check of older stream types.
 */

import http from 'node:http';
import https from 'node:https';
import { Readable, type Duplex } from 'node:stream';
import type { SecureContextOptions } from 'node:tls';
import type tls from 'node:tls';
import type net from 'node:net';
import { CheckedPeerAgent, allowedCertCheck } from './peer-tls.js';
import { MessageType, type Message } from '../raft/types.js';
import type { Logger } from '../logger.js';
import { encodeFrames, FrameDecoder, isLinkHeartbeat, LINK_HEARTBEAT, READ_BYTES_LIMIT } from './codec.js';
import { decodeMessage, encodeMessage } from './raftpb.js';

/** The server version sent in X-Server-Version (etcd version.Version). */
export const SERVER_VERSION = '3.4.23';
/** The minimum cluster version sent in X-Min-Cluster-Version (etcd version.MinClusterVersion). */
export const MIN_CLUSTER_VERSION = '3.0.0';

/** etcd RaftPrefix and friends (http.go). */
export const RAFT_PREFIX = '/raft';
export const RAFT_STREAM_PREFIX = '/raft/stream';
export const RAFT_SNAPSHOT_PREFIX = '/raft/snapshot';

/** Stream types (stream.go streamType): the value is the URL segment. */
export type StreamType = 'msgapp' | 'message';
const STREAM_TYPES: readonly StreamType[] = ['msgapp', 'message'];
/** etcd's streamType.String(), used in logs and failure reasons. */
const STREAM_NAME: Record<StreamType, string> = { msgapp: 'stream MsgApp v2', message: 'stream Message' };

/** Per-stream queue bound (etcd streamBufSize). */
export const STREAM_BUF_SIZE = 4096;
/** Pipeline queue bound (etcd pipelineBufSize). */
export const PIPELINE_BUF_SIZE = 64;
/** Concurrent pipeline POSTs per peer (etcd connPerPipeline). */
export const CONN_PER_PIPELINE = 4;

/** etcd's errors, whose texts are the 412 response bodies. */
export const ERR_INCOMPATIBLE_VERSION = 'incompatible version';
export const ERR_CLUSTER_ID_MISMATCH = 'cluster ID mismatch';
export const ERR_MEMBER_REMOVED = 'the member has been permanently removed from the cluster';

/**
 * Peer TLS (etcd --peer-cert-file, --peer-key-file, --peer-trusted-ca-file,
 * --peer-client-cert-auth): Node tls options used both by the peer server
 * ({@link createPeerServer}) and for outgoing https requests (as client cert).
 */
export interface PeerTlsOptions extends Pick<SecureContextOptions, 'cert' | 'key' | 'ca' | 'passphrase'> {
  /** Server side: require and verify a client certificate signed by `ca`. */
  clientCertAuth?: boolean;
  /** Client side: do not verify the peer's server certificate (etcd --peer-skip-... has no equivalent; tests only). */
  insecureSkipVerify?: boolean;
  /** Client side: the TLS server name sent and verified instead of the URL's host (etcd TLSInfo.ServerName; set by --discovery-srv). */
  serverName?: string;
  /**
   * --peer-cert-allowed-cn: the CN the other side's verified certificate must have, checked
   * by the peer listener (client certificates) and by outgoing connections (server
   * certificates), as etcd's TLSInfo.AllowedCN. Exclusive with allowedHostname. See ./peer-tls.ts.
   */
  allowedCn?: string;
  /** --peer-cert-allowed-hostname: a name or IP the other side's verified certificate must be valid for (TLSInfo.AllowedHostname). */
  allowedHostname?: string;
  /** --peer-crl-file: incoming peer connections presenting a revoked certificate are closed (embed/crl.ts). */
  crlFile?: string;
}

/** What {@link Transport} needs from its owner. IDs are uint64 as bigint. */
export interface TransportOptions {
  /** This member's ID. */
  id: bigint;
  /** The cluster ID; connections with another X-Etcd-Cluster-ID are rejected. */
  clusterId: bigint;
  /** This member's advertised peer URLs, sent as X-PeerURLs. */
  urls: readonly string[];
  /** Receives every raft message from peers (etcd Raft.Process); must not throw. */
  process: (m: Message) => void;
  /** A message to `id` could not be sent (etcd Raft.ReportUnreachable). */
  reportUnreachable: (id: bigint) => void;
  /** Outcome of a MsgSnap to `id` (etcd Raft.ReportSnapshot: true = SnapshotFinish). */
  reportSnapshot: (id: bigint, ok: boolean) => void;
  /** True when `id` was removed from the cluster (etcd Raft.IsIDRemoved); default: never. */
  isIdRemoved?: (id: bigint) => boolean;
  /**
   * Saves the database of an incoming `/raft/snapshot` (etcd snapshotter.SaveDBFrom):
   * must consume `body` (the bytes after the framed MsgSnap) and resolve once they are
   * durable; the message is then passed to {@link process}. Without it, incoming
   * snapshots are answered 500.
   */
  receiveSnapshot?: (m: Message, body: Readable) => Promise<void>;
  /** Critical errors (this member was removed), as etcd's Transport.ErrorC. */
  onCriticalError?: (err: Error) => void;
  logger: Logger;
  /** Peer TLS for https peer URLs. */
  tls?: PeerTlsOptions;
  /** Local address outgoing sockets bind to (the member's own listen host), so firewall rules per address apply. */
  localAddress?: string;
  /** Stream reader dial retry interval in ms (etcd DialRetryFrequency: 100 ms). */
  dialRetryMs?: number;
  /** Read/write timeout in ms (etcd ConnReadTimeout/ConnWriteTimeout: 5 s); link heartbeats every third of it. */
  connReadTimeoutMs?: number;
}

/** The hex form of an ID (etcd types.ID.String()). */
export function idString(id: bigint): string {
  return id.toString(16);
}

/** Parses etcd's hex ID form; undefined when invalid. */
export function parseId(s: string): bigint | undefined {
  if (!/^[0-9a-fA-F]{1,16}$/.test(s)) return undefined;
  return BigInt('0x' + s);
}

/** Writes an error as Go's http.Error does (text/plain, body + "\n"). */
function httpError(res: http.ServerResponse, status: number, msg: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
  res.end(msg + '\n');
}

function majorMinor(v: string): [number, number] {
  const m = /^(\d+)\.(\d+)/.exec(v);
  return m ? [Number(m[1]), Number(m[2])] : [2, 0];
}

function cmpMajorMinor(a: string, b: string): number {
  const [am, an] = majorMinor(a);
  const [bm, bn] = majorMinor(b);
  return am !== bm ? Math.sign(am - bm) : Math.sign(an - bn);
}

/** Peer activity (etcd peer_status.go): logs the active/inactive transitions. */
class PeerStatus {
  active = false;
  /** ms since the epoch when the peer became active; 0 while inactive (etcd peerStatus.since). */
  since = 0;
  constructor(
    private readonly lg: Logger,
    private readonly id: bigint,
  ) {}
  activate(): void {
    if (!this.active) {
      this.lg.info('peer became active', { 'peer-id': idString(this.id) });
      this.active = true;
      this.since = Date.now();
    }
  }
  /** `source`/`action` as etcd's failureType, e.g. ("pipeline", "write"). */
  deactivate(source: string, action: string, reason: string): void {
    const error = `failed to ${action} ${idString(this.id)} on ${source} (${reason})`;
    if (this.active) {
      this.lg.warn('peer became inactive (message send to peer failed)', { 'peer-id': idString(this.id), error });
      this.active = false;
      this.since = 0;
      return;
    }
    this.lg.debug('peer deactivated again', { 'peer-id': idString(this.id), error });
  }
}

/** Round-robin URL choice, moving on from a URL that failed (etcd urlpick.go). */
class UrlPicker {
  private picked = 0;
  constructor(private urls: string[]) {}
  pick(): string {
    return this.urls[this.picked % this.urls.length]!;
  }
  unreachable(u: string): void {
    if (this.urls[this.picked % this.urls.length] === u) this.picked = (this.picked + 1) % this.urls.length;
  }
  update(urls: string[]): void {
    this.urls = urls;
    this.picked = 0;
  }
}

/**
 * The sending half of one stream to a peer: the open response of the GET that peer
 * made to us (etcd streamWriter).
 */
class StreamWriter {
  private res: http.ServerResponse | undefined;
  private queue: Message[] = [];
  private scheduled = false;
  private waitingDrain = false;
  private heartbeat: NodeJS.Timeout | undefined;
  /** Socket writes of message batches (tests check batching with it). */
  batches = 0;
  messagesWritten = 0;

  constructor(private readonly peer: Peer, readonly type: StreamType) {}

  get working(): boolean {
    return this.res !== undefined;
  }

  private fields(): Record<string, string> {
    return { 'stream-writer-type': STREAM_NAME[this.type], 'local-member-id': idString(this.peer.tr.id), 'remote-peer-id': idString(this.peer.id) };
  }

  /** Takes over `res` as this stream's connection, closing an older one. */
  attach(res: http.ServerResponse): void {
    if (this.res) {
      const old = this.res;
      this.res = undefined;
      this.peer.tr.lg.warn('closed TCP streaming connection with remote peer', this.fields());
      old.destroy();
    }
    res.writeHead(200, { 'X-Server-Version': SERVER_VERSION, 'X-Etcd-Cluster-ID': idString(this.peer.tr.clusterId) });
    res.flushHeaders();
    this.res = res;
    this.waitingDrain = false;
    this.peer.tr.lg.info('established TCP streaming connection with remote peer', this.fields());
    this.peer.status.activate();
    const onGone = (err?: Error) => {
      if (this.res !== res) return;
      this.lost(err?.message ?? 'connection closed');
    };
    res.on('close', () => onGone());
    res.on('error', onGone);
    if (this.heartbeat === undefined) {
      const every = Math.max(1, Math.floor(this.peer.tr.connReadTimeoutMs / 3));
      this.heartbeat = setInterval(() => this.beat(), every);
    }
    if (this.queue.length > 0) this.schedule();
  }

  private beat(): void {
    if (!this.res || this.waitingDrain || this.queue.length > 0) return;
    this.write(this.res, encodeFrames([LINK_HEARTBEAT]));
  }

  /**
   * Writes to the stream. When the socket buffer is full, further batches wait for
   * 'drain'; if it does not come within the write timeout (etcd ConnWriteTimeout) the
   * peer is considered gone and the connection is closed, so a silently partitioned
   * peer does not absorb messages forever.
   */
  private write(res: http.ServerResponse, buf: Buffer): void {
    if (res.write(buf)) return;
    this.waitingDrain = true;
    const timer = setTimeout(() => {
      if (this.res !== res) return;
      this.lost('i/o timeout');
      res.destroy();
    }, this.peer.tr.connReadTimeoutMs);
    res.once('drain', () => {
      clearTimeout(timer);
      if (this.res !== res) return;
      this.waitingDrain = false;
      this.flush();
    });
    res.once('close', () => clearTimeout(timer));
  }

  private lost(reason: string): void {
    this.res = undefined;
    this.peer.tr.lg.warn('lost TCP streaming connection with remote peer', this.fields());
    this.peer.status.deactivate(STREAM_NAME[this.type], 'write', reason);
    // queued messages are lost with the connection (etcd recreates msgc)
    const dropped = this.queue;
    this.queue = [];
    for (const m of dropped) this.peer.failed(m);
    this.clearHeartbeat();
  }

  private clearHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Queues `m`; false when the queue is full (the caller drops it). */
  enqueue(m: Message): boolean {
    if (this.queue.length >= STREAM_BUF_SIZE) return false;
    this.queue.push(m);
    this.schedule();
    return true;
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    const res = this.res;
    if (!res || this.waitingDrain || this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    this.batches++;
    this.messagesWritten += batch.length;
    this.write(res, encodeFrames(batch));
  }

  stop(): void {
    this.clearHeartbeat();
    const res = this.res;
    this.res = undefined;
    this.queue = [];
    if (res) {
      this.peer.tr.lg.info('stopped TCP streaming connection with remote peer', { 'stream-writer-type': STREAM_NAME[this.type], 'remote-peer-id': idString(this.peer.id) });
      res.destroy();
    }
  }
}

/** The receiving half of one stream: our GET to the peer (etcd streamReader). */
class StreamReader {
  private req: http.ClientRequest | undefined;
  private retry: NodeJS.Timeout | undefined;
  private stopped = false;
  connected = false;

  constructor(private readonly peer: Peer, readonly type: StreamType) {}

  private fields(): Record<string, string> {
    return { 'stream-reader-type': STREAM_NAME[this.type], 'local-member-id': idString(this.peer.tr.id), 'remote-peer-id': idString(this.peer.id) };
  }

  start(): void {
    this.dial();
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.dial();
    }, this.peer.tr.dialRetryMs);
  }

  private dial(): void {
    if (this.stopped) return;
    const tr = this.peer.tr;
    const u = this.peer.picker.pick();
    const url = new URL(`${RAFT_STREAM_PREFIX}/${this.type}/${idString(tr.id)}`, u);
    let settled = false;
    const fail = (action: 'dial' | 'read', reason: string, unreachable: boolean) => {
      if (settled) return;
      settled = true;
      this.req = undefined;
      if (this.stopped) return;
      if (unreachable) this.peer.picker.unreachable(u);
      if (this.connected) {
        this.connected = false;
        tr.lg.warn('lost TCP streaming connection with remote peer', this.fields());
      }
      this.peer.status.deactivate(STREAM_NAME[this.type], action, reason);
      this.scheduleRetry();
    };
    const req = tr.request(url, 'GET', { ...tr.commonHeaders(), 'X-Raft-To': idString(this.peer.id) }, tr.streamAgent(url));
    this.req = req;
    req.setTimeout(tr.connReadTimeoutMs, () => req.destroy(new Error('i/o timeout')));
    req.on('error', (err) => fail(this.connected ? 'read' : 'dial', err.message, true));
    req.on('response', (res) => {
      if (res.statusCode !== 200) {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => fail('dial', err.message, true));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8').replace(/\n$/, '');
          fail('dial', this.dialError(res, body).message, true);
        });
        return;
      }
      this.connected = true;
      tr.lg.info('established TCP streaming connection with remote peer', this.fields());
      this.peer.status.activate();
      const dec = new FrameDecoder(READ_BYTES_LIMIT);
      res.on('data', (chunk: Buffer) => {
        let msgs: Message[];
        try {
          msgs = dec.push(chunk);
        } catch (err) {
          req.destroy(err as Error);
          return;
        }
        for (const m of msgs) {
          if (isLinkHeartbeat(m)) continue;
          if (this.stopped) return;
          tr.deliver(m);
        }
      });
      res.on('error', (err) => fail('read', err.message, true));
      res.on('end', () => fail('read', 'EOF', true));
      res.on('close', () => fail('read', 'connection closed', true));
    });
    req.end();
  }

  /** The error for a non-200 stream response (etcd streamReader.dial). */
  private dialError(res: http.IncomingMessage, body: string): Error {
    const tr = this.peer.tr;
    switch (res.statusCode) {
      case 410:
        tr.critical(new Error(ERR_MEMBER_REMOVED));
        return new Error(ERR_MEMBER_REMOVED);
      case 404:
        return new Error(`peer ${idString(this.peer.id)} failed to find local node ${idString(tr.id)}`);
      case 412:
        if (body === ERR_INCOMPATIBLE_VERSION) {
          tr.lg.warn('request sent was ignored by remote peer due to server version incompatibility', {
            'local-member-id': idString(tr.id), 'remote-peer-id': idString(this.peer.id), error: ERR_INCOMPATIBLE_VERSION,
          });
          return new Error(ERR_INCOMPATIBLE_VERSION);
        }
        if (body === ERR_CLUSTER_ID_MISMATCH) {
          tr.lg.warn('request sent was ignored by remote peer due to cluster ID mismatch', {
            'remote-peer-id': idString(this.peer.id),
            'remote-peer-cluster-id': String(res.headers['x-etcd-cluster-id'] ?? ''),
            'local-member-id': idString(tr.id),
            'local-member-cluster-id': idString(tr.clusterId),
            error: ERR_CLUSTER_ID_MISMATCH,
          });
          return new Error(ERR_CLUSTER_ID_MISMATCH);
        }
        return new Error(`unhandled error ${JSON.stringify(body)} when precondition failed`);
      default:
        return new Error(`unhandled http status ${res.statusCode}`);
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retry !== undefined) clearTimeout(this.retry);
    this.retry = undefined;
    this.req?.destroy();
    this.req = undefined;
    if (this.connected) {
      this.connected = false;
      this.peer.tr.lg.info('stopped stream reader with remote peer', this.fields());
    }
  }
}

/** One remote member (etcd peer.go). */
class Peer {
  readonly status: PeerStatus;
  readonly picker: UrlPicker;
  readonly writers: Record<StreamType, StreamWriter>;
  private readonly readers: StreamReader[];
  private pipelineQueue: Message[] = [];
  private pipelineInflight = new Set<http.ClientRequest>();
  private snapshotInflight = new Set<http.ClientRequest>();
  private stopped = false;

  constructor(
    readonly tr: Transport,
    readonly id: bigint,
    urls: string[],
  ) {
    this.status = new PeerStatus(tr.lg, id);
    this.picker = new UrlPicker(urls);
    this.writers = { msgapp: new StreamWriter(this, 'msgapp'), message: new StreamWriter(this, 'message') };
    this.readers = STREAM_TYPES.map((t) => new StreamReader(this, t));
    for (const r of this.readers) r.start();
  }

  /** Routes `m` like etcd peer.pick and drops it when the chosen queue is full. */
  send(m: Message): void {
    if (this.stopped) return;
    let ok: boolean;
    if (m.type === MessageType.MsgSnap) ok = this.enqueuePipeline(m);
    else if (m.type === MessageType.MsgApp && this.writers.msgapp.working) ok = this.writers.msgapp.enqueue(m);
    else if (this.writers.message.working) ok = this.writers.message.enqueue(m);
    else ok = this.enqueuePipeline(m);
    if (!ok) {
      this.tr.lg.warn('dropped internal Raft message since sending buffer is full (overloaded network)', {
        'message-type': MessageType[m.type],
        'local-member-id': idString(this.tr.id),
        from: idString(m.from),
        'remote-peer-id': idString(this.id),
        'remote-peer-active': this.status.active,
      });
      this.failed(m);
    }
  }

  /** Reports a message that will not be delivered. */
  failed(m: Message): void {
    this.tr.opts.reportUnreachable(m.to);
    if (m.type === MessageType.MsgSnap) this.tr.opts.reportSnapshot(m.to, false);
  }

  private enqueuePipeline(m: Message): boolean {
    if (this.pipelineQueue.length >= PIPELINE_BUF_SIZE) return false;
    this.pipelineQueue.push(m);
    this.pumpPipeline();
    return true;
  }

  private pumpPipeline(): void {
    while (!this.stopped && this.pipelineInflight.size < CONN_PER_PIPELINE && this.pipelineQueue.length > 0) {
      const m = this.pipelineQueue.shift()!;
      this.post(m);
    }
  }

  /** One pipeline POST (etcd pipeline.post + handle). */
  private post(m: Message): void {
    const tr = this.tr;
    const u = this.picker.pick();
    const url = new URL(RAFT_PREFIX, u);
    const body = encodeMessage(m);
    const req = tr.request(url, 'POST', { ...tr.commonHeaders(), 'Content-Type': 'application/protobuf', 'Content-Length': String(body.length) }, tr.pipelineAgent(url));
    this.pipelineInflight.add(req);
    let settled = false;
    const done = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      this.pipelineInflight.delete(req);
      if (this.stopped) return;
      if (err) {
        this.picker.unreachable(u);
        this.status.deactivate('pipeline', 'write', err.message);
        this.failed(m);
      } else {
        this.status.activate();
        if (m.type === MessageType.MsgSnap) tr.opts.reportSnapshot(m.to, true);
      }
      this.pumpPipeline();
    };
    req.setTimeout(tr.connReadTimeoutMs, () => req.destroy(new Error('i/o timeout')));
    req.on('error', (err) => done(err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => done(err));
      res.on('end', () => done(tr.checkPostResponse(res, Buffer.concat(chunks).toString('utf8'), url, this.id)));
    });
    req.end(body);
  }

  /**
   * Sends a MsgSnap with its database body over `/raft/snapshot` (etcd
   * snapshotSender.send). `body` is consumed with backpressure and destroyed on failure.
   */
  sendSnapshot(m: Message, body: Readable, totalSize?: number): void {
    const tr = this.tr;
    if (this.stopped) {
      body.destroy();
      return;
    }
    const u = this.picker.pick();
    const url = new URL(RAFT_SNAPSHOT_PREFIX, u);
    const fields = {
      'remote-peer-id': idString(this.id),
      'size-bytes': totalSize ?? -1,
      'snapshot-index': m.snapshot?.metadata.index ?? 0,
    };
    tr.lg.info('sending database snapshot', fields);
    const req = tr.request(url, 'POST', { ...tr.commonHeaders(), 'Content-Type': 'application/octet-stream' }, tr.pipelineAgent(url));
    this.snapshotInflight.add(req);
    let settled = false;
    const done = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      this.snapshotInflight.delete(req);
      if (err) {
        body.destroy();
        req.destroy();
      }
      if (this.stopped) return;
      if (err) {
        tr.lg.warn('failed to send database snapshot', { ...fields, error: err.message });
        this.picker.unreachable(u);
        this.status.deactivate('sendMsgSnap', 'post', err.message);
        tr.opts.reportUnreachable(m.to);
        tr.opts.reportSnapshot(m.to, false);
        return;
      }
      this.status.activate();
      tr.opts.reportSnapshot(m.to, true);
      tr.lg.info('sent database snapshot', fields);
    };
    req.on('error', (err) => done(err));
    body.on('error', (err) => done(err));
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => done(err));
      res.on('end', () => done(tr.checkPostResponse(res, Buffer.concat(chunks).toString('utf8'), url, this.id)));
    });
    // the framed message first, then the database bytes with backpressure
    req.write(encodeFrames([m]));
    body.pipe(req);
  }

  update(urls: string[]): void {
    this.picker.update(urls);
  }

  stop(): void {
    this.stopped = true;
    for (const r of this.readers) r.stop();
    for (const t of STREAM_TYPES) this.writers[t].stop();
    this.pipelineQueue = [];
    for (const req of this.pipelineInflight) req.destroy();
    this.pipelineInflight.clear();
    for (const req of this.snapshotInflight) req.destroy();
    this.snapshotInflight.clear();
    this.tr.lg.info('stopped remote peer', { 'remote-peer-id': idString(this.id) });
  }
}

/**
 * The peer transport of one member (etcd rafthttp.Transport).
 *
 * Usage: construct, mount {@link handle} (or {@link requestListener}) on the member's
 * peer listener (see {@link createPeerServer}), {@link addPeer} every other member,
 * then {@link send} raft messages. Received messages go to `opts.process`.
 * {@link stop} closes every connection, timer and agent it created; the HTTP server
 * stays the caller's to close.
 */
export class Transport {
  readonly id: bigint;
  readonly clusterId: bigint;
  readonly lg: Logger;
  readonly dialRetryMs: number;
  readonly connReadTimeoutMs: number;
  private urls: readonly string[];
  private readonly peers = new Map<bigint, Peer>();
  private readonly agents = new Map<string, http.Agent>();
  private stopped = false;

  constructor(readonly opts: TransportOptions) {
    this.id = opts.id;
    this.clusterId = opts.clusterId;
    this.urls = opts.urls;
    this.lg = opts.logger;
    this.dialRetryMs = opts.dialRetryMs ?? 100;
    this.connReadTimeoutMs = opts.connReadTimeoutMs ?? 5000;
  }

  // ---------------------------------------------------------------- peers

  /** Adds a remote member (etcd AddPeer); a no-op when present. Throws on an empty or bad URL list. */
  addPeer(id: bigint, urls: readonly string[]): void {
    if (this.stopped) throw new Error('rafthttp: transport is stopped');
    if (this.peers.has(id)) return;
    const checked = checkUrls(urls);
    this.peers.set(id, new Peer(this, id, checked));
    this.lg.info('added remote peer', { 'local-member-id': idString(this.id), 'remote-peer-id': idString(id), 'remote-peer-urls': checked });
  }

  /** Removes a remote member and closes its connections (etcd RemovePeer). */
  removePeer(id: bigint): void {
    const p = this.peers.get(id);
    if (!p) return;
    this.peers.delete(id);
    p.stop();
    this.lg.info('removed remote peer', { 'local-member-id': idString(this.id), 'removed-remote-peer-id': idString(id) });
  }

  /** Replaces a member's peer URLs (etcd UpdatePeer). */
  updatePeer(id: bigint, urls: readonly string[]): void {
    const p = this.peers.get(id);
    if (!p) return;
    const checked = checkUrls(urls);
    p.update(checked);
    this.lg.info('updated remote peer', { 'local-member-id': idString(this.id), 'updated-remote-peer-id': idString(id), 'updated-remote-peer-urls': checked });
  }

  /** Changes this member's advertised URLs (X-PeerURLs). */
  setUrls(urls: readonly string[]): void {
    this.urls = checkUrls(urls);
  }

  /** True when the last exchange with `id` succeeded (etcd peerStatus.isActive). */
  isActive(id: bigint): boolean {
    return this.peers.get(id)?.status.active ?? false;
  }

  /**
   * When `id` became active, in ms since the epoch; 0 when inactive or unknown
   * (etcd Transport.ActiveSince, used by the strict reconfiguration checks).
   */
  activeSince(id: bigint): number {
    return this.peers.get(id)?.status.since ?? 0;
  }

  /** How many remote peers are active now (etcd Transport.ActivePeers). */
  activePeers(): number {
    let n = 0;
    for (const p of this.peers.values()) if (p.status.since !== 0) n++;
    return n;
  }

  /** The IDs of the remote peers (etcd's peers map). */
  peerIds(): bigint[] {
    return [...this.peers.keys()];
  }

  /** True when an inbound stream of `type` from `id` is attached (we can write to it). */
  isStreamWriting(id: bigint, type: StreamType): boolean {
    return this.peers.get(id)?.writers[type].working ?? false;
  }

  /** Batches written on the streams to `id` (socket writes) and messages in them; for tests and metrics. */
  streamStats(id: bigint): { batches: number; messages: number } {
    const p = this.peers.get(id);
    if (!p) return { batches: 0, messages: 0 };
    return {
      batches: p.writers.msgapp.batches + p.writers.message.batches,
      messages: p.writers.msgapp.messagesWritten + p.writers.message.messagesWritten,
    };
  }

  // ---------------------------------------------------------------- sending

  /**
   * Sends raft messages (etcd Transport.Send). Messages to 0 or to unknown members are
   * ignored; full queues drop and report (see module doc). Never throws for
   * delivery problems: they come back through reportUnreachable/reportSnapshot.
   */
  send(msgs: readonly Message[]): void {
    if (this.stopped) return;
    for (const m of msgs) {
      if (m.to === 0n) continue;
      const p = this.peers.get(m.to);
      if (!p) {
        this.lg.debug('ignored message send request; unknown remote peer target', { type: MessageType[m.type], 'unknown-target-peer-id': idString(m.to) });
        continue;
      }
      p.send(m);
    }
  }

  /**
   * Sends a MsgSnap together with the database bytes read from `body` (etcd
   * Transport.SendSnapshot). The outcome is reported through reportSnapshot (and
   * reportUnreachable on failure). `totalSize` (bytes) is only logged.
   */
  sendSnapshot(m: Message, body: Readable, totalSize?: number): void {
    if (m.type !== MessageType.MsgSnap) throw new TypeError(`rafthttp: sendSnapshot needs a MsgSnap, got ${MessageType[m.type]}`);
    const p = this.peers.get(m.to);
    if (!p || this.stopped) {
      body.destroy();
      this.opts.reportSnapshot(m.to, false);
      return;
    }
    p.sendSnapshot(m, body, totalSize);
  }

  /** Closes every peer connection, timer and agent (etcd Transport.Stop). Idempotent. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    for (const p of this.peers.values()) p.stop();
    this.peers.clear();
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
  }

  // ---------------------------------------------------------------- internals used by peers

  /** @internal */
  deliver(m: Message): void {
    try {
      this.opts.process(m);
    } catch (err) {
      this.lg.warn('failed to process Raft message', { 'local-member-id': idString(this.id), error: (err as Error).message });
    }
  }

  /** @internal */
  critical(err: Error): void {
    this.opts.onCriticalError?.(err);
  }

  /** @internal Headers of every outgoing request (etcd createPostRequest / streamReader.dial). */
  commonHeaders(): Record<string, string> {
    const h: Record<string, string> = {
      'X-Server-From': idString(this.id),
      'X-Server-Version': SERVER_VERSION,
      'X-Min-Cluster-Version': MIN_CLUSTER_VERSION,
      'X-Etcd-Cluster-ID': idString(this.clusterId),
    };
    if (this.urls.length > 0) h['X-PeerURLs'] = this.urls.join(',');
    return h;
  }

  private agent(url: URL, kind: 'stream' | 'pipeline'): http.Agent {
    const key = `${kind}:${url.protocol}`;
    let a = this.agents.get(key);
    if (!a) {
      const base = { keepAlive: kind === 'pipeline', maxSockets: Infinity };
      if (url.protocol === 'https:') {
        const t = this.opts.tls ?? {};
        const o: https.AgentOptions = { ...base, cert: t.cert, key: t.key, ca: t.ca, passphrase: t.passphrase, rejectUnauthorized: !t.insecureSkipVerify, ...(t.serverName ? { servername: t.serverName } : {}) };
        const check = allowedCertCheck(t);
        a = check ? new CheckedPeerAgent(o, check) : new https.Agent(o);
      } else {
        a = new http.Agent(base);
      }
      this.agents.set(key, a);
    }
    return a;
  }

  /** @internal */
  streamAgent(url: URL): http.Agent {
    return this.agent(url, 'stream');
  }

  /** @internal */
  pipelineAgent(url: URL): http.Agent {
    return this.agent(url, 'pipeline');
  }

  /** @internal An outgoing request bound to localAddress. */
  request(url: URL, method: string, headers: Record<string, string>, agent: http.Agent): http.ClientRequest {
    const o: http.RequestOptions = { method, headers, agent };
    if (this.opts.localAddress !== undefined) o.localAddress = this.opts.localAddress;
    return url.protocol === 'https:' ? https.request(url, o) : http.request(url, o);
  }

  /** @internal etcd checkPostResponse: undefined on 204, else the error. */
  checkPostResponse(res: http.IncomingMessage, body: string, url: URL, to: bigint): Error | undefined {
    const text = body.replace(/\n$/, '');
    switch (res.statusCode) {
      case 412:
        if (text === ERR_INCOMPATIBLE_VERSION) {
          this.lg.warn('request sent was ignored by remote peer due to server version incompatibility', { 'local-member-id': idString(this.id), 'remote-peer-id': idString(to) });
          return new Error(ERR_INCOMPATIBLE_VERSION);
        }
        if (text === ERR_CLUSTER_ID_MISMATCH) {
          this.lg.warn('request sent was ignored by remote peer due to cluster ID mismatch', {
            'remote-peer-id': idString(to), 'remote-peer-cluster-id': String(res.headers['x-etcd-cluster-id'] ?? ''),
            'local-member-id': idString(this.id), 'local-member-cluster-id': idString(this.clusterId),
          });
          return new Error(ERR_CLUSTER_ID_MISMATCH);
        }
        return new Error(`unhandled error ${JSON.stringify(body)} when precondition failed`);
      case 403: {
        const err = new Error(ERR_MEMBER_REMOVED);
        this.critical(err);
        return err;
      }
      case 204:
        return undefined;
      default:
        return new Error(`unexpected http status ${res.statusCode} ${http.STATUS_CODES[res.statusCode ?? 0] ?? ''} while posting to "${url.href}"`);
    }
  }

  // ---------------------------------------------------------------- receiving

  /** A request listener for the peer server: {@link handle}, else 404. */
  readonly requestListener = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    if (!this.handle(req, res)) httpError(res, 404, '404 page not found');
  };

  /**
   * Serves `/raft`, `/raft/stream/*` and `/raft/snapshot` (etcd Transport.Handler);
   * returns false for other paths so the caller can route them.
   */
  handle(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === RAFT_PREFIX) this.servePipeline(req, res);
    else if (path === RAFT_SNAPSHOT_PREFIX) void this.serveSnapshot(req, res);
    else if (path.startsWith(RAFT_STREAM_PREFIX + '/')) this.serveStream(req, res, path);
    else return false;
    return true;
  }

  /** etcd checkClusterCompatibilityFromHeader: undefined when compatible, else the 412 text. */
  private checkCompatibility(req: http.IncomingMessage): string | undefined {
    const h = req.headers;
    const remoteName = String(h['x-server-from'] ?? '');
    const remoteVs = String(h['x-server-version'] || '2.0.0');
    const remoteMin = String(h['x-min-cluster-version'] || '2.0.0');
    const base = {
      'local-member-id': idString(this.id),
      'local-member-cluster-id': idString(this.clusterId),
      'local-member-server-version': SERVER_VERSION,
      'local-member-server-minimum-cluster-version': MIN_CLUSTER_VERSION,
      'remote-peer-server-name': remoteName,
      'remote-peer-server-version': remoteVs,
      'remote-peer-server-minimum-cluster-version': remoteMin,
    };
    let verr: string | undefined;
    if (cmpMajorMinor(remoteVs, MIN_CLUSTER_VERSION) < 0) verr = `remote version is too low: remote[${remoteName}]=${remoteVs}, local=${SERVER_VERSION}`;
    else if (cmpMajorMinor(remoteMin, SERVER_VERSION) > 0) verr = `local version is too low: remote[${remoteName}]=${remoteVs}, local=${SERVER_VERSION}`;
    if (verr !== undefined) {
      this.lg.warn('failed to check version compatibility', { ...base, error: verr });
      return ERR_INCOMPATIBLE_VERSION;
    }
    const gcid = String(h['x-etcd-cluster-id'] ?? '');
    if (gcid !== idString(this.clusterId)) {
      this.lg.warn('request cluster ID mismatch', { ...base, 'remote-peer-cluster-id': gcid });
      return ERR_CLUSTER_ID_MISMATCH;
    }
    return undefined;
  }

  /** etcd addRemoteFromRequest: learn an unknown sender's URLs. Peers are added explicitly here, so this only logs. */
  private noteUnknownSender(req: http.IncomingMessage): void {
    const from = parseId(String(req.headers['x-server-from'] ?? ''));
    if (from !== undefined && from !== this.id && !this.peers.has(from)) {
      this.lg.debug('request from a member that is not a peer yet', { 'remote-peer-id': idString(from), 'remote-peer-urls': String(req.headers['x-peerurls'] ?? '') });
    }
  }

  /**
   * The checks every POST endpoint (/raft, /raft/snapshot) makes first, as etcd's
   * pipelineHandler and snapshotHandler: the method (405 with Allow: POST), then the
   * sender's cluster ID and versions (412); answers and drains `req` when one fails.
   * @returns true when the request may be served
   */
  private acceptPost(req: http.IncomingMessage, res: http.ServerResponse): boolean {
    if (req.method !== 'POST') {
      res.setHeader('Allow', 'POST');
      httpError(res, 405, 'Method Not Allowed');
      req.resume();
      return false;
    }
    res.setHeader('X-Etcd-Cluster-ID', idString(this.clusterId));
    const bad = this.checkCompatibility(req);
    if (bad !== undefined) {
      httpError(res, 412, bad);
      req.resume();
      return false;
    }
    this.noteUnknownSender(req);
    return true;
  }

  private servePipeline(req: http.IncomingMessage, res: http.ServerResponse): void {
    if (!this.acceptPost(req, res)) return;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > READ_BYTES_LIMIT) {
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => {
      if (!res.headersSent) httpError(res, 400, 'error reading raft message');
    });
    req.on('end', () => {
      let m: Message;
      try {
        m = decodeMessage(Buffer.concat(chunks, size));
      } catch (err) {
        this.lg.warn('failed to unmarshal Raft message', { 'local-member-id': idString(this.id), error: (err as Error).message });
        httpError(res, 400, 'error unmarshalling raft message');
        return;
      }
      if (this.processOrReject(m, res)) res.writeHead(204).end();
    });
  }

  /** Rejects messages from removed members with 403 (etcd EtcdServer.Process); else delivers. */
  private processOrReject(m: Message, res: http.ServerResponse): boolean {
    if (this.opts.isIdRemoved?.(m.from)) {
      this.lg.warn('rejected Raft message from removed member', { 'local-member-id': idString(this.id), 'removed-member-id': idString(m.from) });
      res.writeHead(403, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ message: 'cannot process message from removed member' }));
      return false;
    }
    this.deliver(m);
    return true;
  }

  private serveStream(req: http.IncomingMessage, res: http.ServerResponse, path: string): void {
    req.resume();
    if (req.method !== 'GET') {
      res.setHeader('Allow', 'GET');
      httpError(res, 405, 'Method Not Allowed');
      return;
    }
    res.setHeader('X-Server-Version', SERVER_VERSION);
    res.setHeader('X-Etcd-Cluster-ID', idString(this.clusterId));
    const bad = this.checkCompatibility(req);
    if (bad !== undefined) {
      httpError(res, 412, bad);
      return;
    }
    const rest = path.slice(RAFT_STREAM_PREFIX.length + 1).split('/');
    const type = rest[0] as StreamType;
    if (rest.length !== 2 || !STREAM_TYPES.includes(type)) {
      this.lg.debug('ignored unexpected streaming request path', { 'local-member-id': idString(this.id), path });
      httpError(res, 404, 'invalid path');
      return;
    }
    const from = parseId(rest[1]!);
    if (from === undefined) {
      this.lg.warn('failed to parse path into ID', { 'local-member-id': idString(this.id), path: rest[1] });
      httpError(res, 404, 'invalid from');
      return;
    }
    if (this.opts.isIdRemoved?.(from)) {
      this.lg.warn('rejected stream from remote peer because it was removed', { 'local-member-id': idString(this.id), 'remote-peer-id-from': idString(from) });
      httpError(res, 410, 'removed member');
      return;
    }
    const p = this.peers.get(from);
    if (!p) {
      this.lg.warn('failed to find remote peer in cluster', { 'local-member-id': idString(this.id), 'remote-peer-id-from': idString(from), 'cluster-id': idString(this.clusterId) });
      httpError(res, 404, 'error sender not found');
      return;
    }
    const gto = String(req.headers['x-raft-to'] ?? '');
    if (gto !== idString(this.id)) {
      this.lg.warn('ignored streaming request; ID mismatch', { 'local-member-id': idString(this.id), 'remote-peer-id-header': gto, 'remote-peer-id-from': idString(from) });
      httpError(res, 412, 'to field mismatch');
      return;
    }
    // no Nagle delay for small heartbeat batches
    (req.socket as Duplex & { setNoDelay?: (v: boolean) => void }).setNoDelay?.(true);
    p.writers[type].attach(res);
  }

  private async serveSnapshot(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.acceptPost(req, res)) return;
    const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    const dec = new FrameDecoder(Number.MAX_SAFE_INTEGER);
    let m: Message | undefined;
    try {
      while (m === undefined) {
        const r = await it.next();
        if (r.done) throw new Error('unexpected EOF');
        const msgs = dec.push(r.value);
        if (msgs.length > 0) m = msgs[0];
      }
    } catch (err) {
      const msg = `failed to decode raft message (${(err as Error).message})`;
      this.lg.warn('failed to decode Raft message', { 'local-member-id': idString(this.id), error: (err as Error).message });
      if (!res.headersSent) httpError(res, 400, msg);
      req.destroy();
      return;
    }
    const from = idString(m.from);
    if (m.type !== MessageType.MsgSnap) {
      this.lg.warn('unexpected Raft message type', { 'local-member-id': idString(this.id), 'remote-snapshot-sender-id': from, 'message-type': MessageType[m.type] });
      httpError(res, 400, 'wrong raft message type');
      req.destroy();
      return;
    }
    const index = m.snapshot?.metadata.index ?? 0;
    this.lg.info('receiving database snapshot', { 'local-member-id': idString(this.id), 'remote-snapshot-sender-id': from, 'incoming-snapshot-index': index });
    // the bytes after the frame: what the decoder holds, then the rest of the request, pulled on demand
    const leftover = dec.drain();
    let received = 0;
    const body = Readable.from(
      (async function* () {
        if (leftover.length > 0) {
          received += leftover.length;
          yield leftover;
        }
        for (;;) {
          const r = await it.next();
          if (r.done) return;
          received += r.value.length;
          yield r.value;
        }
      })(),
      { objectMode: false, highWaterMark: 64 * 1024 },
    );
    try {
      if (!this.opts.receiveSnapshot) throw new Error('no snapshot receiver configured');
      await this.opts.receiveSnapshot(m, body);
    } catch (err) {
      this.lg.warn('failed to save incoming database snapshot', { 'local-member-id': idString(this.id), 'remote-snapshot-sender-id': from, 'incoming-snapshot-index': index, error: (err as Error).message });
      httpError(res, 500, `failed to save KV snapshot (${(err as Error).message})`);
      req.destroy();
      return;
    }
    this.lg.info('received and saved database snapshot', { 'local-member-id': idString(this.id), 'remote-snapshot-sender-id': from, 'incoming-snapshot-index': index, 'incoming-snapshot-size-bytes': received });
    if (this.processOrReject(m, res)) res.writeHead(204).end();
  }
}

function checkUrls(urls: readonly string[]): string[] {
  if (urls.length === 0) throw new Error('rafthttp: a peer needs at least one URL');
  return urls.map((u) => {
    let p: URL;
    try {
      p = new URL(u);
    } catch {
      throw new Error(`rafthttp: invalid peer URL ${JSON.stringify(u)}`);
    }
    if (p.protocol !== 'http:' && p.protocol !== 'https:') throw new Error(`rafthttp: URL scheme must be http or https: ${u}`);
    return u;
  });
}

/**
 * Creates the peer listener's server: https with `tls` (client certificates required
 * and verified against `tls.ca` when `clientCertAuth`), else plain http. The request
 * timeout is off so long snapshot uploads are not cut (etcd's peer server has none).
 * The caller listens and closes it.
 */
export function createPeerServer(handler: http.RequestListener, tls?: PeerTlsOptions): http.Server {
  const base = { requestTimeout: 0 };
  if (tls) {
    return https.createServer(
      { ...base, cert: tls.cert, key: tls.key, ca: tls.ca, passphrase: tls.passphrase, requestCert: !!tls.clientCertAuth, rejectUnauthorized: !!tls.clientCertAuth },
      handler,
    );
  }
  return http.createServer(base, handler);
}
