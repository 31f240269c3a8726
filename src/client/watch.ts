/**
 * @module client/watch
 * The watch client with clientv3/watch.go's semantics: one gRPC Watch stream per
 * client shared by substreams ({@link Watcher.watch} returns a {@link WatchChan}),
 * creation in order, resumption after retryable stream errors from the last
 * revision seen, and the synthesized final response when a stream ends. Used by
 * `etcdctl watch`, `lock`, `elect` and `make-mirror` (through the client layer only).
 */
import { create, type MessageInitShape } from '@bufbuild/protobuf';
import type { EtcdClient } from './client.js';
import { fromStatus } from './errors.js';
import { WatchRequestSchema, WatchResponseSchema, type WatchRequest, type WatchResponse } from '../gen/etcdserverpb/rpc_pb.js';
/** A watch creation request, as clientv3's watchRequest. */
export interface WatchSpec {
  key: Uint8Array;
  /** empty: a single key */
  end: Uint8Array;
  /** start revision; 0 = from now. Updated as responses arrive, for resuming. */
  rev: bigint;
  prevKv: boolean;
  progressNotify: boolean;
}

/** A response as clientv3 hands it to the user (clientv3.WatchResponse). */
export interface DeliveredResponse {
  /**
   * Header, Events, CompactRevision, Canceled, Created. `header` is undefined only in
   * the response clientv3 synthesizes when a stream error or refused creation ends a
   * watch (its Events is nil, which `-w json` prints as null).
   */
  resp: WatchResponse;
  cancelReason: string;
  /** the error that closed the stream, already in its printed form */
  closeErr?: string;
}

/** clientv3 WatchResponse.Err(), as printed; undefined when there is no error. */
export function responseErr(d: DeliveredResponse): string | undefined {
  if (d.closeErr !== undefined) return d.closeErr;
  if (d.resp.compactRevision !== 0n) return 'etcdserver: mvcc: required revision has been compacted';
  if (d.resp.canceled) {
    if (d.cancelReason !== '') return fromStatus(9 /* FailedPrecondition */, d.cancelReason).message;
    return 'etcdserver: mvcc: required revision is a future revision';
  }
  return undefined;
}

/** clientv3 WatchResponse.IsProgressNotify. */
export function isProgressNotify(r: WatchResponse): boolean {
  return r.events.length === 0 && !r.canceled && !r.created && r.compactRevision === 0n && (r.header?.revision ?? 0n) !== 0n;
}

/** The channel of one watch: a queue of delivered responses, closed at the end. */
export class WatchChan {
  private readonly q: DeliveredResponse[] = [];
  private closed = false;
  private wake: (() => void) | undefined;

  /** Queues a response (ignored once the channel is closed). */
  push(d: DeliveredResponse): void {
    if (this.closed) return;
    this.q.push(d);
    this.notify();
  }
  /** Closes the channel: `next()` returns what is queued, then undefined. */
  close(): void {
    this.closed = true;
    this.notify();
  }
  private notify(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
  /** The next response, or undefined once the channel is closed and drained. */
  async next(): Promise<DeliveredResponse | undefined> {
    for (;;) {
      const d = this.q.shift();
      if (d) return d;
      if (this.closed) return undefined;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}

/** One registered (or registering) watch on the stream: clientv3's watcherStream. */
class Substream {
  id = -1n;
  /** the first `created` response arrived (clientv3: retc consumed) */
  created = false;
  ended = false;
  readonly chan = new WatchChan();
  readonly ready: Promise<void>;
  resolveReady!: () => void;
  constructor(readonly spec: WatchSpec) {
    this.ready = new Promise((r) => (this.resolveReady = r));
  }
}

type WatchCall = Awaited<ReturnType<EtcdClient['watchStream']>>;

/**
 * Cancel reasons after which clientv3 reopens the stream instead of failing the watch
 * (watch.go shouldRetryWatch). The server puts the whole gRPC status text of
 * rpctypes.ErrGRPCInvalidAuthToken / ErrGRPCAuthOldRevision into cancel_reason.
 */
const RETRY_REASONS = new Set([
  'rpc error: code = Unauthenticated desc = etcdserver: invalid auth token',
  'rpc error: code = InvalidArgument desc = etcdserver: revision of auth store is old',
]);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One gRPC Watch stream and the watches on it (clientv3's watchGrpcStream). */
class WatchGrpcStream {
  private call: WatchCall | undefined;
  /**
   * Streams left open by an auth retry: clientv3's newWatchClient opens a new stream
   * without closing the old one, whose responses keep arriving and are dispatched by
   * watch id like the new stream's (so an event can be printed twice, as by etcdctl).
   */
  private readonly leftOpen = new Set<WatchCall>();
  private readonly substreams = new Map<bigint, Substream>();
  /** watches waiting for their `created` response, in order; null = abandoned slot */
  private resuming: Array<Substream | null> = [];
  private cancelSet = new Set<bigint>();
  private cur: WatchResponse | undefined;
  /** a creation refusal or stream error; reported by watches that end afterwards */
  private closeErr: string | undefined;
  private pendingProgress = 0;
  done = false;

  constructor(private readonly client: EtcdClient, private readonly onDone: () => void) {
    void this.reconnect();
  }

  /** Queues a watch; its creation request goes out when it reaches the head of the queue. */
  watch(spec: WatchSpec): Substream {
    const ws = new Substream(spec);
    this.resuming.push(ws);
    if (this.resuming.length === 1 && this.call) this.sendCreate(ws);
    return ws;
  }

  /** Asks the server for a progress notify on every watch of the stream. */
  requestProgress(): void {
    if (this.call) this.write({ requestUnion: { case: 'progressRequest', value: {} } });
    else this.pendingProgress++;
  }

  private write(req: MessageInitShape<typeof WatchRequestSchema>): void {
    try {
      this.call?.write(create(WatchRequestSchema, req) as WatchRequest);
    } catch {
      // a broken stream reports itself through its status
    }
  }

  private sendCreate(ws: Substream): void {
    const s = ws.spec;
    this.write({
      requestUnion: {
        case: 'createRequest',
        value: { key: s.key, rangeEnd: s.end, startRevision: s.rev, progressNotify: s.progressNotify, prevKv: s.prevKv, fragment: false },
      },
    });
  }

  private sendCancel(id: bigint): void {
    this.write({ requestUnion: { case: 'cancelRequest', value: { watchId: id } } });
  }

  private nextResume(): Substream | undefined {
    while (this.resuming.length > 0) {
      if (this.resuming[0]) return this.resuming[0];
      this.resuming.shift();
    }
    return undefined;
  }

  /** (Re)opens the gRPC stream, retrying until it opens, and registers the watches again. */
  private async reconnect(): Promise<void> {
    for (const ws of this.substreams.values()) {
      ws.id = -1n;
      this.resuming.push(ws);
    }
    this.substreams.clear();
    this.resuming = this.resuming.filter((ws) => ws !== null);
    this.cur = undefined;
    let call: WatchCall | undefined;
    while (!this.done) {
      try {
        call = await this.client.watchStream(true);
        break;
      } catch {
        // no endpoint ready yet: clientv3 keeps waiting for the connection
        await sleep(100);
      }
    }
    if (this.done || !call) {
      call?.cancel();
      return;
    }
    this.call = call;
    call.on('data', (r: WatchResponse) => {
      if (this.call === call || this.leftOpen.has(call)) this.onResponse(r);
    });
    call.on('error', () => {
      // reported through 'status'
    });
    call.on('status', (st: { code: number; details: string }) => {
      this.leftOpen.delete(call);
      if (this.call === call) void this.onStreamEnd(st.code, st.details);
    });
    const next = this.nextResume();
    if (next) this.sendCreate(next);
    this.cancelSet = new Set();
    for (; this.pendingProgress > 0; this.pendingProgress--) this.requestProgress();
  }

  /**
   * The stream ended. Unavailable and Internal are retried (reopen and resume); so are
   * the codes grpc-js gives a stream killed with its connection where grpc-go says
   * Unavailable: Cancelled, and ResourceExhausted for a GOAWAY/RST ENHANCE_YOUR_CALM.
   * Anything else (and `etcdserver: no leader`) ends every watch. A clean end (OK
   * status) is Go's io.EOF.
   */
  private async onStreamEnd(code: number, details: string): Promise<void> {
    this.call = undefined;
    if (this.done) return;
    const transport = code === 1 || (code === 8 && details === 'Bandwidth exhausted or memory limit exceeded');
    const retry = (code === 14 || code === 13 || transport) && details !== 'etcdserver: no leader';
    if (!retry) {
      this.shutdown(code === 0 ? 'EOF' : fromStatus(code, details).message);
      return;
    }
    if (code === 14) await sleep(50);
    if (!this.done) await this.reconnect();
  }

  /**
   * A watch refused for a stale or unknown token: clientv3 opens a new stream (the
   * client authenticates again before a stream opens) and registers the watches again;
   * the old stream stays open (see `leftOpen`).
   */
  private async retryAuth(): Promise<void> {
    const old = this.call;
    this.call = undefined;
    if (old) this.leftOpen.add(old);
    if (!this.done) await this.reconnect();
  }

  /** One message from the server (clientv3 watchGrpcStream.run, `respc` case). */
  private onResponse(r: WatchResponse): void {
    if (!this.cur || r.created || r.canceled) {
      this.cur = r;
    } else if (this.cur.watchId === r.watchId) {
      this.cur.events.push(...r.events);
      this.cur.fragment = r.fragment;
    }
    const cur = this.cur;

    if (r.created) {
      this.cur = undefined;
      if (RETRY_REASONS.has(r.cancelReason)) {
        void this.retryAuth();
        return;
      }
      const head = this.resuming[0];
      let refused: Substream | undefined;
      if (head) {
        if (r.watchId === -1n || (r.canceled && r.cancelReason !== '')) {
          this.closeErr = r.cancelReason;
          refused = head;
        } else {
          head.id = r.watchId;
          this.substreams.set(r.watchId, head);
        }
        this.dispatch(r);
        this.resuming[0] = null;
      }
      const next = this.nextResume();
      if (next) this.sendCreate(next);
      if (refused) this.endSubstream(refused);
      return;
    }
    if (r.canceled && r.compactRevision === 0n) {
      this.cur = undefined;
      this.cancelSet.delete(r.watchId);
      const ws = this.substreams.get(r.watchId);
      if (ws) this.endSubstream(ws);
      return;
    }
    if (cur.fragment) return;
    this.cur = undefined;
    if (this.dispatch(cur) || this.cancelSet.has(r.watchId)) return;
    // events for a watch we do not know: cancel it on the server, once
    this.cancelSet.add(r.watchId);
    this.sendCancel(r.watchId);
  }

  /** Hands a server response to its watch, or to all for a requested progress notify. */
  private dispatch(r: WatchResponse): boolean {
    const d: DeliveredResponse = {
      resp: create(WatchResponseSchema, {
        header: r.header,
        events: r.events,
        compactRevision: r.compactRevision,
        created: r.created,
        canceled: r.canceled,
      }) as WatchResponse,
      cancelReason: r.cancelReason,
    };
    if (isProgressNotify(d.resp) && r.watchId === -1n) {
      for (const ws of [...this.substreams.values()]) this.receive(ws, d);
      return true;
    }
    const ws = this.substreams.get(r.watchId);
    if (!ws) return false;
    this.receive(ws, d);
    return true;
  }

  /** clientv3 serveSubstream: tracks the resume revision and queues the response. */
  private receive(ws: Substream, d: DeliveredResponse): void {
    if (ws.ended) return;
    const r = d.resp;
    let next = ws.spec.rev;
    if (r.created) {
      if (!ws.created) {
        ws.created = true;
        ws.resolveReady();
        if (ws.spec.rev === 0n) next = r.header?.revision ?? 0n;
      }
    } else {
      next = r.header?.revision ?? 0n;
    }
    if (r.events.length > 0) next = (r.events[r.events.length - 1]!.kv?.modRevision ?? 0n) + 1n;
    ws.spec.rev = next;
    if (r.created) return;
    ws.chan.push(d);
    if (responseErr(d) !== undefined) this.endSubstream(ws);
  }

  /** A watch ends (clientv3 `closingc`): tell the server, close the channel, maybe stop. */
  private endSubstream(ws: Substream): void {
    if (ws.ended) return;
    ws.ended = true;
    if (ws.id !== -1n) {
      this.cancelSet.add(ws.id);
      this.sendCancel(ws.id);
    }
    this.closeSubstream(ws);
    if (this.substreams.size + this.resuming.length === 0) this.shutdown(undefined);
  }

  private closeSubstream(ws: Substream): void {
    ws.resolveReady();
    if (this.closeErr !== undefined) {
      ws.chan.push({ resp: create(WatchResponseSchema, { canceled: true }) as WatchResponse, cancelReason: '', closeErr: this.closeErr });
    }
    ws.chan.close();
    if (ws.id !== -1n) {
      this.substreams.delete(ws.id);
      return;
    }
    const i = this.resuming.indexOf(ws);
    if (i >= 0) this.resuming[i] = null;
  }

  /**
   * Stops the stream: every remaining watch ends (with a canceled response carrying
   * `closeErr` when given), and the gRPC call is cancelled.
   */
  shutdown(closeErr: string | undefined): void {
    if (this.done) return;
    this.done = true;
    this.closeErr = closeErr;
    for (const ws of [...this.substreams.values(), ...this.resuming]) {
      if (!ws || ws.ended) continue;
      ws.ended = true;
      this.closeSubstream(ws);
    }
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    for (const c of this.leftOpen) c.cancel();
    this.leftOpen.clear();
    this.onDone();
  }
}

/** clientv3's Watcher for one context: owns the current stream, opening a new one when needed. */
export class Watcher {
  private stream: WatchGrpcStream | undefined;
  constructor(private readonly client: EtcdClient) {}

  private current(): WatchGrpcStream {
    if (!this.stream || this.stream.done) {
      const s: WatchGrpcStream = new WatchGrpcStream(this.client, () => {
        if (this.stream === s) this.stream = undefined;
      });
      this.stream = s;
    }
    return this.stream;
  }

  /** Starts a watch; resolves once the server created it (or refused it: the channel then carries the reason). */
  async watch(spec: WatchSpec): Promise<WatchChan> {
    const ws = this.current().watch(spec);
    await ws.ready;
    return ws.chan;
  }

  /** clientv3 RequestProgress. */
  requestProgress(): void {
    this.current().requestProgress();
  }

  /** Ends every watch (without a canceled response) and the stream (clientv3 Watcher.Close). */
  close(): void {
    this.stream?.shutdown(undefined);
  }
}
