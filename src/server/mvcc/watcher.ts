/**
 * @module server/mvcc/watcher
 * Watchers and watch streams (etcd mvcc/watcher.go, the watcher type of
 * watchable_store.go).
 *
 * A {@link WatchStream} is what one gRPC Watch stream uses: it creates and
 * cancels watchers, and all of its watchers deliver {@link WatchResponse}s into
 * one bounded {@link ResponseQueue} (etcd's buffered channel, 128 responses). The
 * store never waits for the queue: when it is full the watcher becomes a
 * "victim" and its responses are retried later (watchable-store.ts), so a slow
 * consumer never blocks writes.
 */

import { create } from '@bufbuild/protobuf';
import { EventSchema, Event_EventType, type Event } from '../../gen/mvccpb/kv_pb.js';
import { compareBytes } from '../backend/backend.js';
import { ErrEmptyWatcherRange, ErrWatcherDuplicateID, ErrWatcherNotExist, MvccError } from './errors.js';
import type { ReadView } from './kv.js';

/** The watch ID that asks the stream to pick one (clientv3.AutoWatchID). */
export const AUTO_WATCH_ID = 0;

/** A response for one watcher (etcd `WatchResponse`). */
export interface WatchResponse {
  /** The watcher it is for; -1 for a stream-wide progress response. */
  readonly watchId: number;
  /**
   * Events in revision order. A response from a live notification holds exactly
   * the events of one write txn; a catch-up response may span several revisions.
   * Empty for progress and compaction responses. The Event objects may be shared
   * between watchers: never mutate them (see {@link withPrevKVs}).
   */
  readonly events: Event[];
  /**
   * The store revision the watcher has seen up to: for a live response the txn
   * revision, for a catch-up or progress response the store revision then (>= the
   * last event's mod_revision).
   */
  readonly revision: number;
  /** Set (> 0) when the watcher was canceled because its start revision was compacted. */
  readonly compactRevision: number;
}

/** Returns true for events the watcher must not get (etcd `FilterFunc`). */
export type FilterFunc = (e: Event) => boolean;

/** WatchCreateRequest.NOPUT: drops PUT events. */
export const filterNoPut: FilterFunc = (e) => e.type === Event_EventType.PUT;
/** WatchCreateRequest.NODELETE: drops DELETE events. */
export const filterNoDelete: FilterFunc = (e) => e.type === Event_EventType.DELETE;

/**
 * A bounded FIFO of watch responses between the store (producer, never waits) and
 * the stream's consumer (awaits). The equivalent of etcd's buffered channel.
 */
export class ResponseQueue implements AsyncIterable<WatchResponse> {
  private readonly buf: WatchResponse[] = [];
  private readonly waiters: ((r: WatchResponse | undefined) => void)[] = [];
  private closedFlag = false;

  /** @param capacity maximum number of buffered responses (etcd chanBufLen, 128) */
  constructor(readonly capacity: number) {}

  /**
   * Enqueues `r` without waiting: false if the queue is full (the caller keeps
   * the response and retries). Responses to a closed queue are dropped (true).
   */
  trySend(r: WatchResponse): boolean {
    if (this.closedFlag) return true;
    const w = this.waiters.shift();
    if (w) {
      w(r);
      return true;
    }
    if (this.buf.length >= this.capacity) return false;
    this.buf.push(r);
    return true;
  }

  /** Takes the next buffered response, if any, without waiting. */
  tryReceive(): WatchResponse | undefined {
    return this.buf.shift();
  }

  /** The next response, waiting if needed; undefined once the queue is closed and drained. */
  receive(): Promise<WatchResponse | undefined> {
    const r = this.tryReceive();
    if (r !== undefined) return Promise.resolve(r);
    if (this.closedFlag) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Number of buffered responses. */
  get length(): number {
    return this.buf.length;
  }

  /** True once closed. */
  get closed(): boolean {
    return this.closedFlag;
  }

  /** Closes the queue: waiting receivers get undefined; buffered responses can still be taken. */
  close(): void {
    if (this.closedFlag) return;
    this.closedFlag = true;
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Iterates responses until the queue is closed and drained. */
  async *[Symbol.asyncIterator](): AsyncIterator<WatchResponse> {
    for (;;) {
      const r = await this.receive();
      if (r === undefined) return;
      yield r;
    }
  }
}

/** One watcher: a key or range, the next revision it wants, its filters and its stream's queue. */
export class Watcher {
  /** True while its responses wait in the store's victim list (its queue was full). */
  victim = false;
  /** True once removed because its start revision was compacted. */
  compacted = false;
  /** True when moved from synced to unsynced by a store restore (its minRev may be in the future). */
  restore = false;
  /** True once canceled; it gets nothing more. */
  canceled = false;

  /**
   * @param key the watched key, or the start of the range
   * @param end undefined for a single key; empty for every key >= `key`; else the range end (exclusive)
   * @param minRev the lowest revision of the events it still needs
   */
  constructor(
    readonly key: Uint8Array,
    readonly end: Uint8Array | undefined,
    public minRev: number,
    readonly id: number,
    readonly queue: ResponseQueue,
    readonly filters: readonly FilterFunc[],
  ) {}

  /** True if `k` is the watched key or lies in the watched range. */
  matches(k: Uint8Array): boolean {
    if (this.end === undefined) return compareBytes(k, this.key) === 0;
    if (compareBytes(k, this.key) < 0) return false;
    return this.end.length === 0 || compareBytes(k, this.end) < 0;
  }

  /**
   * Applies the filters and enqueues the response without waiting (etcd
   * `watcher.send`). A response whose events were all filtered out is not sent
   * but counts as sent; a response with no events to begin with (progress) is
   * sent. Returns false if the queue was full.
   */
  send(wr: WatchResponse): boolean {
    const progress = wr.events.length === 0;
    let events = wr.events;
    if (this.filters.length > 0 && !progress) {
      events = events.filter((e) => !this.filters.some((f) => f(e)));
      if (events.length === 0) return true;
      wr = { ...wr, events };
    }
    return this.queue.trySend(wr);
  }
}

/** What a {@link WatchStream} needs from the store (etcd's unexported `watchable`). */
export interface Watchable {
  /** Registers a watcher; see {@link WatchStream.watch}. */
  watch(key: Uint8Array, end: Uint8Array | undefined, startRev: number, id: number, queue: ResponseQueue, filters: readonly FilterFunc[]): Watcher;
  /** Removes a watcher from the store. */
  cancelWatcher(w: Watcher): void;
  /** Sends a progress response to `w` if it is synced. */
  progress(w: Watcher): void;
  /** Sends one progress response (watch ID -1) for all `watchers` if they are all synced; returns whether it did. */
  progressAll(watchers: Iterable<Watcher>, queue: ResponseQueue): boolean;
  /** The current store revision. */
  rev(): number;
  /** The queue capacity for new streams. */
  readonly chanBufLen: number;
}

/** The per-stream watch API (etcd `WatchStream`). */
export interface WatchStream {
  /**
   * Creates a watcher on `key` (with `end` undefined), on `[key, end)`, or on every
   * key >= `key` (empty `end`), receiving events from `startRev` on (`<= 0`:
   * from the next revision). `id` is used unless it is {@link AUTO_WATCH_ID}.
   * Throws {@link ErrEmptyWatcherRange} if `end` is not after `key` or the stream
   * is closed, {@link ErrWatcherDuplicateID} if `id` is taken. Returns the ID.
   */
  watch(id: number, key: Uint8Array, end: Uint8Array | undefined, startRev: number, filters?: readonly FilterFunc[]): number;
  /** The queue all responses of this stream go to. */
  readonly queue: ResponseQueue;
  /** Asks for a progress response for watcher `id` (sent only if it is synced; ignored for unknown IDs). */
  requestProgress(id: number): void;
  /** Asks for one progress response (watch ID -1) if every watcher is synced (etcd 3.5); returns whether it was sent. */
  requestProgressAll(): boolean;
  /** Cancels watcher `id`; throws {@link ErrWatcherNotExist} if there is none. */
  cancel(id: number): void;
  /** Cancels every watcher and closes the queue. */
  close(): void;
  /** The current store revision. */
  rev(): number;
}

/** {@link WatchStream} over a {@link Watchable} store. */
export class WatchStreamImpl implements WatchStream {
  readonly queue: ResponseQueue;
  private nextId = 0;
  private closed = false;
  private readonly watchers = new Map<number, Watcher>();

  /** A stream on `watchable` with a queue of `watchable.chanBufLen` responses. */
  /** @param onClose called once when the stream is closed (stream accounting). */
  constructor(
    private readonly watchable: Watchable,
    private readonly onClose?: () => void,
  ) {
    this.queue = new ResponseQueue(watchable.chanBufLen);
  }

  watch(id: number, key: Uint8Array, end: Uint8Array | undefined, startRev: number, filters: readonly FilterFunc[] = []): number {
    if (end !== undefined && end.length > 0 && compareBytes(key, end) >= 0) throw new ErrEmptyWatcherRange();
    if (this.closed) throw new ErrEmptyWatcherRange();
    if (id === AUTO_WATCH_ID) {
      while (this.watchers.has(this.nextId)) this.nextId++;
      id = this.nextId++;
    } else if (this.watchers.has(id)) {
      throw new ErrWatcherDuplicateID();
    }
    const w = this.watchable.watch(key.slice(), end?.slice(), startRev, id, this.queue, filters);
    this.watchers.set(id, w);
    return id;
  }

  cancel(id: number): void {
    const w = this.watchers.get(id);
    if (!w || this.closed) throw new ErrWatcherNotExist();
    this.watchable.cancelWatcher(w);
    this.watchers.delete(id);
  }

  close(): void {
    if (this.closed) return;
    for (const w of this.watchers.values()) this.watchable.cancelWatcher(w);
    this.watchers.clear();
    this.closed = true;
    this.queue.close();
    this.onClose?.();
  }

  rev(): number {
    return this.watchable.rev();
  }

  requestProgress(id: number): void {
    const w = this.watchers.get(id);
    if (w) this.watchable.progress(w);
  }

  requestProgressAll(): boolean {
    return this.watchable.progressAll(this.watchers.values(), this.queue);
  }
}

/**
 * Copies of `events` with `prevKv` set to the key's value just before each
 * event, read from `view` at `mod_revision - 1` (what etcd's gRPC watch server
 * does for `prev_kv` watchers). Left unset when that revision is compacted or the
 * key did not exist.
 */
export function withPrevKVs(view: ReadView, events: readonly Event[]): Event[] {
  return events.map((ev) => {
    const kv = ev.kv;
    if (!kv) return ev;
    let prevKv;
    try {
      prevKv = view.range(kv.key, undefined, { rev: Number(kv.modRevision) - 1 }).kvs[0];
    } catch (e) {
      if (!(e instanceof MvccError)) throw e;
      prevKv = undefined;
    }
    return create(EventSchema, { type: ev.type, kv, prevKv });
  });
}
