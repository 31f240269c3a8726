/**
 * @module util/v2store/watcher
 * v2 watches (etcd 3.4 v2store/watcher.go, watcher_hub.go, event_history.go,
 * event_queue.go): the history of the last 1000 events, from which a watch with
 * a past `waitIndex` is answered at once (or refused with 401 once that index
 * has left the window), and the hub of waiting watchers keyed by store path.
 */
import { posix } from 'node:path';
import { V2Action, cloneEvent, eventIndex, type V2Event } from './event.js';
import { V2Code, V2Error } from './errors.js';

/** Events a watcher buffers before it is dropped (etcd's channel of 100). */
const WATCHER_BUFFER = 100;

/**
 * The event history window (EventHistory): a ring of `capacity` events.
 * `startIndex`/`lastIndex` are the indexes of the oldest and newest event kept.
 */
export class EventHistory {
  events: V2Event[] = [];
  startIndex = 0;
  lastIndex = 0;

  constructor(readonly capacity: number) {}

  /** Appends `e`, dropping the oldest event when full. */
  add(e: V2Event): void {
    this.events.push(e);
    if (this.events.length > this.capacity) this.events.shift();
    this.lastIndex = eventIndex(e);
    this.startIndex = eventIndex(this.events[0]!);
  }

  /**
   * The first event at or after `index` that concerns `key` (the key itself, a
   * child when `recursive`, or a deleted/expired directory above it); refresh
   * events are skipped. Undefined when none (yet).
   * @throws V2Error 401 when `index` is older than the window (index 0; the hub sets it)
   */
  scan(key: string, recursive: boolean, index: number): V2Event | undefined {
    if (index < this.startIndex) {
      throw new V2Error(V2Code.EventIndexCleared, `the requested history has been cleared [${this.startIndex}/${index}]`, 0);
    }
    if (index > this.lastIndex) return undefined;
    let prefix = posix.normalize(key);
    if (!prefix.endsWith('/')) prefix += '/';
    for (const e of this.events) {
      if (eventIndex(e) < index || e.refresh) continue;
      const k = e.node?.key ?? '';
      let ok = k === key || (recursive && k.startsWith(prefix));
      if ((e.action === V2Action.Delete || e.action === V2Action.Expire) && e.prevNode?.dir) ok ||= key.startsWith(e.prevNode.key);
      if (ok) return e;
    }
    return undefined;
  }
}

/**
 * A watcher (v2store.Watcher): receives the events of its key (and children
 * when recursive) from `sinceIndex` on; a non-stream watcher receives one.
 */
export class V2Watcher {
  private buffered: V2Event[] = [];
  private listener: ((e: V2Event) => void) | undefined;
  /** Set once the hub no longer delivers to it. */
  removed = false;
  /** Detaches it from the hub (set by the hub). */
  detach: (() => void) | undefined;

  constructor(
    readonly recursive: boolean,
    readonly stream: boolean,
    readonly sinceIndex: number,
    /** The store index when the watch started (X-Etcd-Index of the watch response). */
    readonly startIndex: number,
  ) {}

  /** Delivers buffered events and then every new one to `cb`. */
  onEvent(cb: (e: V2Event) => void): void {
    this.listener = cb;
    const b = this.buffered;
    this.buffered = [];
    for (const e of b) cb(e);
  }

  /** Stops delivery and leaves the hub (Watcher.Remove). */
  remove(): void {
    this.listener = undefined;
    this.detach?.();
  }

  /** Queues `e` for the listener (or buffers it); false when the buffer is full. */
  push(e: V2Event): boolean {
    if (this.listener) {
      this.listener(e);
      return true;
    }
    if (this.buffered.length >= WATCHER_BUFFER) return false;
    this.buffered.push(e);
    return true;
  }

  /** watcher.notify: whether `e` concerns this watcher (and was delivered to it). */
  notify(e: V2Event, originalPath: boolean, deleted: boolean): boolean {
    if ((this.recursive || originalPath || deleted) && eventIndex(e) >= this.sinceIndex) {
      if (!this.push(e)) this.detach?.();
      return true;
    }
    return false;
  }
}

/** True when `keyPath` below `watchPath` passes through a hidden (`_`) node (watcher_hub isHidden). */
function isHidden(watchPath: string, keyPath: string): boolean {
  if (watchPath.length > keyPath.length) return false;
  const after = posix.join('/', keyPath.slice(watchPath.length));
  return after.includes('/_');
}

/** The watcher hub (watcherHub): waiting watchers by path and the event history. */
export class WatcherHub {
  private readonly watchers = new Map<string, V2Watcher[]>();
  count = 0;
  history: EventHistory;

  constructor(capacity: number) {
    this.history = new EventHistory(capacity);
  }

  /**
   * A watcher of `key` from `index` on; answered at once from the history when a
   * matching event is there.
   * @throws V2Error 401 (index = `storeIndex`) when `index` has left the history
   */
  watch(key: string, recursive: boolean, stream: boolean, index: number, storeIndex: number): V2Watcher {
    let hit: V2Event | undefined;
    try {
      hit = this.history.scan(key, recursive, index);
    } catch (e) {
      if (e instanceof V2Error) e.index = storeIndex;
      throw e;
    }
    const w = new V2Watcher(recursive, stream, index, storeIndex);
    if (hit) {
      const ne = cloneEvent(hit);
      ne.etcdIndex = storeIndex;
      w.push(ne);
      return w;
    }
    let l = this.watchers.get(key);
    if (!l) {
      l = [];
      this.watchers.set(key, l);
    }
    l.push(w);
    this.count++;
    w.detach = () => {
      if (w.removed) return;
      w.removed = true;
      const list = this.watchers.get(key);
      if (list) {
        const i = list.indexOf(w);
        if (i >= 0) list.splice(i, 1);
        if (list.length === 0) this.watchers.delete(key);
      }
      this.count--;
    };
    return w;
  }

  /** Records `e` in the history without notifying (refresh events). */
  add(e: V2Event): void {
    this.history.add(e);
  }

  /** Records `e` and notifies the watchers of its key and of every directory above it. */
  notify(e: V2Event): void {
    this.history.add(e);
    const key = e.node?.key ?? '/';
    let curr = '/';
    for (const seg of key.split('/')) {
      curr = posix.join(curr, seg);
      this.notifyWatchers(e, curr, false);
    }
  }

  /** Notifies the watchers registered at `nodePath` (notifyWatchers); non-stream ones are removed. */
  notifyWatchers(e: V2Event, nodePath: string, deleted: boolean): void {
    const l = this.watchers.get(nodePath);
    if (!l) return;
    const originalPath = e.node?.key === nodePath;
    for (const w of [...l]) {
      if (w.removed) continue;
      if ((originalPath || !isHidden(nodePath, e.node?.key ?? '')) && w.notify(e, originalPath, deleted)) {
        if (!w.stream) w.detach?.();
      }
    }
  }
}
