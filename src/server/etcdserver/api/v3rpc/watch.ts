/**
 * @module server/etcdserver/api/v3rpc/watch
 * The Watch service (etcd 3.4 etcdserver/api/v3rpc/watch.go): one
 * {@link ServerWatchStream} per gRPC Watch call, holding many watchers of one
 * mvcc WatchStream.
 *
 * Requests are handled in arrival order (a create waits for its permission
 * check). Control responses (created, canceled, progress) are written as soon
 * as they are decided; a created response is always written before any event
 * of its watcher, because the store delivers events only after `watch()`
 * returns. Event responses are pulled one at a time from the mvcc stream's
 * bounded queue and only while the gRPC stream has room: a client that does
 * not read leaves the queue full, and the store then parks the watcher as a
 * victim and retries later, so writes are never blocked (watchable_store.go).
 */
import { create, toBinary } from '@bufbuild/protobuf';
import {
  WatchCreateRequest_FilterType, WatchResponseSchema,
  type WatchCreateRequest, type WatchRequest, type WatchResponse,
} from '../../../../gen/etcdserverpb/rpc_pb.js';
import { EventSchema, Event_EventType, type Event } from '../../../../gen/mvccpb/kv_pb.js';
import { MvccError } from '../../../mvcc/errors.js';
import { filterNoDelete, filterNoPut, type FilterFunc, type WatchResponse as MvccWatchResponse, type WatchStream } from '../../../mvcc/watcher.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { Header } from './header.js';
import * as rpctypes from './rpctypes/error.js';
import { GrpcStatusError } from './rpctypes/error.js';
import type { ServerStream } from './transport/stream.js';
import { encodeEvent, WatchEventsFramer } from './fast-codec.js';

/** Most responses the send loop takes from the queue for one write to the HTTP/2 stream. */
const SEND_BATCH = 256;

/** Smallest progress notify interval, ms (watch.go minWatchProgressInterval). */
export const MIN_WATCH_PROGRESS_INTERVAL_MS = 100;
/** clientv3.InvalidWatchID: the watch ID of stream-wide and failed-create responses. */
export const INVALID_WATCH_ID = -1n;

/** Options of the watch service. */
export interface WatchServerOptions {
  /** Fragment threshold in bytes: --max-request-bytes + 512 KiB grpc overhead (watch.go maxRequestBytes). */
  readonly maxRequestBytes: number;
  /** Logger for unexpected errors (optional). */
  readonly warn?: (msg: string, fields: Record<string, unknown>) => void;
}

/**
 * The mvcc filters for a create request (watch.go FiltersFromRequest): NOPUT
 * drops puts, NODELETE drops deletes; unknown values are ignored.
 */
export function filtersFromRequest(creq: WatchCreateRequest): FilterFunc[] {
  const out: FilterFunc[] = [];
  for (const ft of creq.filters) {
    if (ft === WatchCreateRequest_FilterType.NOPUT) out.push(filterNoPut);
    else if (ft === WatchCreateRequest_FilterType.NODELETE) out.push(filterNoDelete);
  }
  return out;
}

function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    s++;
  }
  return s;
}

/**
 * Splits `wr` as watch.go sendFragments: unchanged when its encoded size is
 * below `maxBytes` or it has fewer than 2 events; else into responses with
 * fragment=true except the last, each taking events while it stays below
 * `maxBytes` (at least one event each).
 */
export function fragmentResponse(wr: WatchResponse, maxBytes: number): WatchResponse[] {
  if (wr.events.length < 2) return [wr];
  const evSizes = wr.events.map((e) => {
    const n = encodeEvent(e).length;
    return 1 + varintSize(n) + n;
  });
  const base = toBinary(WatchResponseSchema, { ...wr, events: [] }).length;
  const total = base + evSizes.reduce((a, b) => a + b, 0);
  if (total < maxBytes) return [wr];
  const fragBase = toBinary(WatchResponseSchema, { ...wr, events: [], fragment: true }).length;
  const out: WatchResponse[] = [];
  let idx = 0;
  for (;;) {
    const events: Event[] = [];
    let size = fragBase;
    while (idx < wr.events.length) {
      const s = evSizes[idx]!;
      if (events.length >= 1 && size + s >= maxBytes) break;
      events.push(wr.events[idx]!);
      size += s;
      idx++;
    }
    const last = idx === wr.events.length;
    out.push(create(WatchResponseSchema, { ...wr, events, fragment: !last }));
    if (last) return out;
  }
}

function isCreateEvent(e: Event): boolean {
  return e.type === Event_EventType.PUT && e.kv !== undefined && e.kv.createRevision === e.kv.modRevision;
}

/** Watch service handlers (etcd watchServer). */
export class WatchServer {
  constructor(
    private readonly s: EtcdServerApi,
    private readonly opts: WatchServerOptions,
  ) {}

  /**
   * The progress report interval of a new stream, ms: the server's interval
   * (at least {@link MIN_WATCH_PROGRESS_INTERVAL_MS}) plus up to 10% random
   * jitter (watch.go GetProgressReportInterval).
   */
  progressReportIntervalMs(): number {
    const base = Math.max(MIN_WATCH_PROGRESS_INTERVAL_MS, this.s.watchProgressNotifyIntervalMs());
    return base + Math.floor(Math.random() * (base / 10));
  }

  /**
   * Serves one Watch call until the client cancels it, the stream fails, or
   * `ctx.signal` aborts with a GrpcStatusError reason (e.g. ErrGRPCNoLeader
   * from the leader monitor), which then becomes the call's status.
   */
  watch(call: ServerStream<WatchRequest, WatchResponse>, ctx: CallContext): Promise<void> {
    const sws = new ServerWatchStream(this.s, call, ctx, this.opts, this.progressReportIntervalMs());
    return sws.run();
  }
}

/** One gRPC Watch stream (etcd serverWatchStream). */
class ServerWatchStream {
  private readonly hdr: Header;
  private readonly ws: WatchStream;
  /** watch ID → whether a progress notification is due at the next tick */
  private readonly progress = new Map<number, boolean>();
  private readonly prevKV = new Set<number>();
  private readonly fragment = new Set<number>();
  /** Frames event responses, sharing the header and events bytes of one revision. */
  private readonly framer = new WatchEventsFramer();
  /** watch IDs announced to the client as created and not canceled */
  private readonly ids = new Set<number>();
  private closed = false;
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private resolveDone!: () => void;

  constructor(
    private readonly s: EtcdServerApi,
    private readonly call: ServerStream<WatchRequest, WatchResponse>,
    private readonly ctx: CallContext,
    private readonly opts: WatchServerOptions,
    private readonly progressIntervalMs: number,
  ) {
    this.hdr = new Header(s);
    this.ws = s.watchable().newWatchStream();
  }

  run(): Promise<void> {
    const done = new Promise<void>((r) => { this.resolveDone = r; });
    const call = this.call;
    call.on('data', (req: WatchRequest) => {
      this.chain = this.chain.then(() => this.handleRequest(req)).catch((e) => this.fail(e));
    });
    // A half-closed stream stays open for events, as etcd's (recvLoop returns nil on EOF).
    call.on('end', () => {});
    call.on('cancelled', () => this.close());
    call.on('close', () => this.close());
    call.on('error', () => this.close());
    const signal = this.ctx.signal;
    if (signal) {
      const onAbort = () => {
        const reason: unknown = signal.reason;
        if (reason instanceof GrpcStatusError) this.fail(reason);
        else this.close();
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
    this.timer = setInterval(() => this.onProgressTick(), this.progressIntervalMs);
    this.timer.unref();
    void this.sendLoop();
    return done;
  }

  /** Ends the call with `err`'s status (watch canceled for a client cancel). */
  private fail(err: unknown): void {
    if (this.closed) return;
    const st = err instanceof GrpcStatusError ? err : new GrpcStatusError(rpctypes.Code.UNKNOWN, err instanceof Error ? err.message : String(err));
    this.close();
    this.call.emit('error', st);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.ws.close();
    this.resolveDone();
  }

  private write(wr: WatchResponse): boolean {
    if (this.closed) return false;
    return this.call.write(wr);
  }

  private async handleRequest(req: WatchRequest): Promise<void> {
    if (this.closed) return;
    const u = req.requestUnion;
    switch (u.case) {
      case 'createRequest':
        return this.handleCreate(u.value);
      case 'cancelRequest': {
        const id = u.value.watchId;
        try {
          this.ws.cancel(Number(id));
        } catch (e) {
          if (e instanceof MvccError) return; // unknown ID: ignored, as etcd
          throw e;
        }
        this.write(create(WatchResponseSchema, { header: this.hdr.make(BigInt(this.ws.rev())), watchId: id, canceled: true }));
        this.forget(Number(id));
        return;
      }
      case 'progressRequest':
        // 3.4: answered at once with the current revision, for all watchers (ID -1)
        this.write(create(WatchResponseSchema, { header: this.hdr.make(BigInt(this.ws.rev())), watchId: INVALID_WATCH_ID }));
        return;
      default:
        return; // unknown request kinds are ignored (etcd does not end the stream)
    }
  }

  private forget(id: number): void {
    this.ids.delete(id);
    this.progress.delete(id);
    this.prevKV.delete(id);
    this.fragment.delete(id);
  }

  private async handleCreate(creq: WatchCreateRequest): Promise<void> {
    // \x00 is the smallest key; an empty range end is a single key; "\x00" means >= key
    const key = creq.key.length === 0 ? new Uint8Array([0]) : creq.key;
    let end: Uint8Array | undefined = creq.rangeEnd.length === 0 ? undefined : creq.rangeEnd;
    if (end !== undefined && end.length === 1 && end[0] === 0) end = new Uint8Array(0);

    try {
      await this.s.checkWatchPermission(this.ctx, key, end === undefined ? new Uint8Array(0) : end.length === 0 ? new Uint8Array([0]) : end);
    } catch (e) {
      if (this.closed) return;
      const name = e instanceof Error ? e.name : '';
      const reason =
        name === 'ErrInvalidAuthToken' ? rpctypes.ErrGRPCInvalidAuthToken
        : name === 'ErrAuthOldRevision' ? rpctypes.ErrGRPCAuthOldRevision
        : name === 'ErrUserEmpty' ? rpctypes.ErrGRPCUserEmpty
        : rpctypes.ErrGRPCPermissionDenied;
      if (reason === rpctypes.ErrGRPCPermissionDenied && name !== 'ErrPermissionDenied') {
        this.opts.warn?.('unexpected error code', { error: e instanceof Error ? e.message : String(e) });
      }
      this.write(create(WatchResponseSchema, {
        header: this.hdr.make(BigInt(this.ws.rev())),
        watchId: INVALID_WATCH_ID,
        canceled: true,
        created: true,
        cancelReason: reason.goString(),
      }));
      return;
    }
    if (this.closed) return;

    const wsrev = this.ws.rev();
    let rev = Number(creq.startRevision);
    if (rev === 0) rev = wsrev + 1;
    let id: number;
    let err: unknown;
    try {
      id = this.ws.watch(Number(creq.watchId), key, end, rev, filtersFromRequest(creq));
    } catch (e) {
      if (!(e instanceof MvccError)) throw e;
      err = e;
      id = -1;
    }
    if (err === undefined) {
      if (creq.progressNotify) this.progress.set(id, true);
      if (creq.prevKv) this.prevKV.add(id);
      if (creq.fragment) this.fragment.add(id);
      this.ids.add(id);
    }
    this.write(create(WatchResponseSchema, {
      header: this.hdr.make(BigInt(wsrev)),
      watchId: BigInt(id),
      created: true,
      canceled: err !== undefined,
      cancelReason: err instanceof Error ? err.message : '',
    }));
  }

  private onProgressTick(): void {
    for (const [id, due] of this.progress) {
      if (due) this.ws.requestProgress(id);
      this.progress.set(id, true);
    }
  }

  /** Moves responses from the mvcc queue to the gRPC stream while it has room. */
  private async sendLoop(): Promise<void> {
    while (!this.closed) {
      if (this.call.writableNeedDrain) {
        await new Promise<void>((r) => {
          const done = () => { this.call.off('drain', done); this.call.off('close', done); r(); };
          this.call.on('drain', done);
          this.call.on('close', done);
        });
        continue;
      }
      const r = await this.ws.queue.receive();
      if (r === undefined || this.closed) return;
      // what else is queued goes out with it (the transport sends one turn's frames in one write)
      try {
        this.sendWatchResponse(r);
        for (let n = 1; n < SEND_BATCH && !this.closed && !this.call.writableNeedDrain; n++) {
          const more = this.ws.queue.tryReceive();
          if (more === undefined) break;
          this.sendWatchResponse(more);
        }
      } catch (e) {
        this.fail(e);
        return;
      }
    }
  }

  private sendWatchResponse(r: MvccWatchResponse): void {
    const id = r.watchId;
    if (id !== -1 && !this.ids.has(id)) return; // canceled: its late events are dropped
    let events = r.events;
    if (this.prevKV.has(id) && events.length > 0) events = this.withPrevKV(events);
    const canceled = r.compactRevision !== 0;
    if (!canceled && events.length > 0 && !this.fragment.has(id)) {
      // the common response: events for one watcher, framed with the bytes shared by its revision
      this.call.writeFramed(this.framer.frame(this.hdr.fields(BigInt(r.revision)), BigInt(id), events));
    } else {
      const wr = create(WatchResponseSchema, {
        header: this.hdr.make(BigInt(r.revision)),
        watchId: BigInt(id),
        events,
        compactRevision: BigInt(r.compactRevision),
        canceled,
      });
      if (this.fragment.has(id)) {
        for (const part of fragmentResponse(wr, this.opts.maxRequestBytes)) this.write(part);
      } else {
        this.write(wr);
      }
    }
    if (events.length > 0 && this.progress.get(id)) this.progress.set(id, false);
    if (canceled) this.forget(id);
  }

  /** prev_kv: the key's value at mod_revision-1, except for create events (watch.go sendLoop). */
  private withPrevKV(events: readonly Event[]): Event[] {
    const store = this.s.watchable();
    return events.map((ev) => {
      if (!ev.kv || isCreateEvent(ev)) return ev;
      let prevKv;
      try {
        prevKv = store.range(ev.kv.key, undefined, { rev: Number(ev.kv.modRevision) - 1 }).kvs[0];
      } catch (e) {
        if (!(e instanceof MvccError)) throw e;
      }
      return prevKv ? create(EventSchema, { type: ev.type, kv: ev.kv, prevKv }) : ev;
    });
  }
}
