/**
 * @module util/v2store/store
 * The v2 store (etcd 3.4 etcdserver/api/v2store: store.go, node.go, stats.go,
 * ttl_key_heap.go): a tree of directories and keys with created/modified
 * indexes, TTLs, compare-and-swap/-delete, in-order keys, hidden (`_`) nodes,
 * the event history and watches (./watcher.ts). Behaviour follows etcd's,
 * including which failures its statistics count.
 *
 * Time: expiry times are nanoseconds since the Unix epoch (bigint, 0n for a
 * permanent node), fixed by the proposer (etcd's pb.Request Expiration); keys
 * only expire through {@link V2Store.deleteExpiredKeys}, which the server calls
 * when it applies a SYNC request from the Raft log, so every member expires the
 * same keys at the same index. `nowNs` (the TTLs shown) is the only local time.
 *
 * Paths are cleaned like Go's path.Clean(path.Join("/", p)). The server's store
 * has the namespaces /0 (membership) and /1 (the keys of /v2/keys), which are
 * read-only like the root.
 */
import { posix } from 'node:path';
import { V2Action, eventJson, rfc3339Nano, type NodeExtern, type V2Event } from './event.js';
import { V2Code, V2Error } from './errors.js';
import { WatcherHub, type V2Watcher } from './watcher.js';

/** Events kept for watches with a past waitIndex (newWatchHub(1000)). */
export const EVENT_HISTORY_SIZE = 1000;
/** Expiry times before 2000-01-01T00:00:00Z mean "permanent" (minExpireTime), in ns. */
const MIN_EXPIRE_NS = 946684800n * 1_000_000_000n;

/** TTL options of a write (TTLOptionSet): absolute expiry in ns (0n: none) and refresh. */
export interface TtlOptions {
  readonly expireTime: bigint;
  readonly refresh?: boolean;
}

/** The store statistics of /v2/stats/store (v2store.Stats), in etcd's JSON order. */
export interface V2StoreStats {
  getsSuccess: number;
  getsFail: number;
  setsSuccess: number;
  setsFail: number;
  deleteSuccess: number;
  deleteFail: number;
  updateSuccess: number;
  updateFail: number;
  createSuccess: number;
  createFail: number;
  compareAndSwapSuccess: number;
  compareAndSwapFail: number;
  compareAndDeleteSuccess: number;
  compareAndDeleteFail: number;
  expireCount: number;
  watchers: number;
}

function newStats(): V2StoreStats {
  return {
    getsSuccess: 0, getsFail: 0, setsSuccess: 0, setsFail: 0, deleteSuccess: 0, deleteFail: 0,
    updateSuccess: 0, updateFail: 0, createSuccess: 0, createFail: 0, compareAndSwapSuccess: 0,
    compareAndSwapFail: 0, compareAndDeleteSuccess: 0, compareAndDeleteFail: 0, expireCount: 0, watchers: 0,
  };
}

/** A node of the tree (v2store node): a directory when `children` is set. */
class V2Node {
  modifiedIndex: number;
  constructor(
    readonly path: string,
    readonly createdIndex: number,
    public parent: V2Node | undefined,
    public expireTime: bigint,
    public value: string,
    public children: Map<string, V2Node> | undefined,
  ) {
    this.modifiedIndex = createdIndex;
  }

  isDir(): boolean {
    return this.children !== undefined;
  }

  isHidden(): boolean {
    return posix.basename(this.path).startsWith('_');
  }

  isPermanent(): boolean {
    return this.expireTime === 0n;
  }

  name(): string {
    return this.path.slice(this.path.lastIndexOf('/') + 1);
  }
}

/** Go path.Clean(path.Join("/", p)). */
export function cleanPath(p: string): string {
  const j = posix.join('/', p);
  return j.length > 1 && j.endsWith('/') ? j.slice(0, -1) : j;
}

/** Go path.Split: the part up to and including the last '/', and the rest. */
function splitPath(p: string): [string, string] {
  const i = p.lastIndexOf('/');
  return [p.slice(0, i + 1), p.slice(i + 1)];
}

/** The v2 store (v2store.store). */
export class V2Store {
  private root: V2Node;
  /** The store index: incremented by every successful write and expiry. */
  currentIndex = 0;
  private stats: V2StoreStats = newStats();
  private hub = new WatcherHub(EVENT_HISTORY_SIZE);
  private readonly ttlNodes = new Set<V2Node>();
  private readonly readonly: Set<string>;

  /**
   * @param namespaces top-level directories created at start and kept read-only (etcd: "/0", "/1")
   * @param nowNs wall-clock time in ns since the epoch, for the TTLs shown
   */
  constructor(
    private readonly namespaces: readonly string[] = [],
    private readonly nowNs: () => bigint = () => BigInt(Date.now()) * 1_000_000n,
  ) {
    this.root = this.newTree();
    this.readonly = new Set(['/', ...namespaces]);
  }

  private newTree(): V2Node {
    const root = new V2Node('/', 0, undefined, 0n, '', new Map());
    for (const ns of this.namespaces) root.children!.set(ns.replace(/^\//, ''), new V2Node(ns, 0, root, 0n, '', new Map()));
    return root;
  }

  /** The store index (Store.Index). */
  index(): number {
    return this.currentIndex;
  }

  /** Whether any node has a TTL (HasTTLKeys: the leader then proposes SYNCs). */
  hasTTLKeys(): boolean {
    return this.ttlNodes.size > 0;
  }

  /** Number of waiting watchers. */
  watcherCount(): number {
    return this.hub.count;
  }

  /** /v2/stats/store's JSON (Store.JsonStats). */
  statsJson(): string {
    this.stats.watchers = this.hub.count;
    return JSON.stringify(this.stats);
  }

  private inc(k: keyof V2StoreStats): void {
    this.stats[k]++;
  }

  // ---- reads ----

  /**
   * Store.Get: the node at `nodePath` (a directory with its children, all levels
   * when `recursive`, by key when `sorted`; hidden nodes left out).
   * @throws V2Error 100 key not found, 104 not a directory (a path component is a key)
   */
  get(nodePath: string, recursive: boolean, sorted: boolean): V2Event {
    let n: V2Node;
    try {
      n = this.internalGet(nodePath);
    } catch (e) {
      this.inc('getsFail');
      throw e;
    }
    this.inc('getsSuccess');
    const node: NodeExtern = { key: nodePath, modifiedIndex: n.modifiedIndex, createdIndex: n.createdIndex };
    if (n.isDir()) {
      node.dir = true;
      node.nodes = this.listChildren(n, recursive, sorted);
    } else {
      node.value = n.value;
    }
    this.setTtl(node, n);
    return { action: V2Action.Get, node, etcdIndex: this.currentIndex };
  }

  /** Whether a node exists at `nodePath` (not counted in the statistics). */
  exists(nodePath: string): boolean {
    try {
      this.internalGet(nodePath);
      return true;
    } catch {
      return false;
    }
  }

  private listChildren(n: V2Node, recursive: boolean, sorted: boolean): NodeExtern[] {
    const out: NodeExtern[] = [];
    for (const c of n.children!.values()) {
      if (!c.isHidden()) out.push(this.repr(c, recursive, sorted));
    }
    if (sorted) out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return out;
  }

  /** node.Repr: the external form of `n` (children only when `recursive`). */
  private repr(n: V2Node, recursive: boolean, sorted: boolean): NodeExtern {
    const e: NodeExtern = { key: n.path, modifiedIndex: n.modifiedIndex, createdIndex: n.createdIndex };
    if (n.isDir()) {
      e.dir = true;
      this.setTtl(e, n);
      if (recursive) e.nodes = this.listChildren(n, recursive, sorted);
      return e;
    }
    e.value = n.value;
    this.setTtl(e, n);
    return e;
  }

  /** expirationAndTTL: expiration and the seconds left, rounded up. */
  private setTtl(e: NodeExtern, n: V2Node): void {
    if (n.isPermanent()) {
      delete e.expiration;
      delete e.ttl;
      return;
    }
    const left = n.expireTime - this.nowNs();
    let ttl = left / 1_000_000_000n;
    if (left % 1_000_000_000n > 0n) ttl++;
    e.expiration = rfc3339Nano(n.expireTime);
    e.ttl = Number(ttl);
  }

  private internalGet(nodePath: string): V2Node {
    const p = cleanPath(nodePath);
    let curr = this.root;
    for (const comp of p.split('/').slice(1)) {
      if (comp === '') break;
      if (!curr.isDir()) throw new V2Error(V2Code.NotDir, curr.path, this.currentIndex);
      const child = curr.children!.get(comp);
      if (!child) throw new V2Error(V2Code.KeyNotFound, posix.join(curr.path, comp), this.currentIndex);
      curr = child;
    }
    return curr;
  }

  // ---- writes ----

  /**
   * Store.Create: a new key (or directory when `dir`) at `nodePath`, or, when
   * `unique`, at `nodePath/<next index as 20 digits>` (in-order keys, POST).
   * Missing parent directories are created.
   * @throws V2Error 105 key already exists, 104 not a directory, 107 root is read only
   */
  create(nodePath: string, dir: boolean, value: string, unique: boolean, opts: TtlOptions): V2Event {
    try {
      const e = this.internalCreate(nodePath, dir, value, unique, false, opts.expireTime, V2Action.Create);
      this.inc('createSuccess');
      e.etcdIndex = this.currentIndex;
      this.hub.notify(e);
      return e;
    } catch (err) {
      this.inc('createFail');
      throw err;
    }
  }

  /**
   * Store.Set: creates or replaces the key (or creates the directory) at
   * `nodePath`; with `opts.refresh` only the TTL of an existing key changes and
   * watchers are not notified.
   * @throws V2Error 102 not a file (replacing a directory), 100 (refresh of a missing key), 104, 107
   */
  set(nodePath: string, dir: boolean, value: string, opts: TtlOptions): V2Event {
    let n: V2Node | undefined;
    try {
      try {
        n = this.internalGet(nodePath);
      } catch (e) {
        if (!(e instanceof V2Error) || e.errorCode !== V2Code.KeyNotFound || opts.refresh) throw e;
      }
      if (opts.refresh) value = n!.value;
    } catch (e) {
      this.inc('setsFail');
      throw e;
    }
    let e: V2Event;
    try {
      e = this.internalCreate(nodePath, dir, value, false, true, opts.expireTime, V2Action.Set);
    } catch (err) {
      this.inc('setsFail');
      throw err;
    }
    this.inc('setsSuccess');
    e.etcdIndex = this.currentIndex;
    if (n) e.prevNode = this.repr(n, false, false);
    if (!opts.refresh) this.hub.notify(e);
    else {
      e.refresh = true;
      this.hub.add(e);
    }
    return e;
  }

  /**
   * Store.Update: a new value (and TTL) for an existing key, or a new TTL for a
   * directory (its value must be empty).
   * @throws V2Error 100, 102 not a file (value for a directory), 104, 107
   */
  update(nodePath: string, newValue: string, opts: TtlOptions): V2Event {
    nodePath = cleanPath(nodePath);
    if (this.readonly.has(nodePath)) {
      this.inc('updateSuccess'); // etcd counts this refusal as a success
      throw new V2Error(V2Code.RootROnly, '/', this.currentIndex);
    }
    const currIndex = this.currentIndex;
    const nextIndex = currIndex + 1;
    let n: V2Node;
    try {
      n = this.internalGet(nodePath);
    } catch (e) {
      this.inc('updateFail');
      throw e;
    }
    if (n.isDir() && newValue.length !== 0) {
      this.inc('updateSuccess');
      throw new V2Error(V2Code.NotFile, nodePath, currIndex);
    }
    if (opts.refresh) newValue = n.value;
    const e: V2Event = { action: V2Action.Update, node: { key: nodePath, modifiedIndex: nextIndex, createdIndex: n.createdIndex }, etcdIndex: nextIndex };
    e.prevNode = this.repr(n, false, false);
    if (!n.isDir()) {
      n.value = newValue;
      n.modifiedIndex = nextIndex;
    }
    if (n.isDir()) e.node!.dir = true;
    else e.node!.value = newValue;
    this.updateTtl(n, opts.expireTime);
    this.setTtl(e.node!, n);
    if (!opts.refresh) this.hub.notify(e);
    else {
      e.refresh = true;
      this.hub.add(e);
    }
    this.currentIndex = nextIndex;
    this.inc('updateSuccess');
    return e;
  }

  /**
   * Store.CompareAndSwap: replaces the value of the key at `nodePath` when it
   * has value `prevValue` (when not empty) and modifiedIndex `prevIndex` (when
   * not 0).
   * @throws V2Error 101 compare failed (cause `[prev != current]`), 102 (a directory), 100, 104, 107
   */
  compareAndSwap(nodePath: string, prevValue: string, prevIndex: number, value: string, opts: TtlOptions): V2Event {
    nodePath = cleanPath(nodePath);
    if (this.readonly.has(nodePath)) {
      this.inc('compareAndSwapSuccess');
      throw new V2Error(V2Code.RootROnly, '/', this.currentIndex);
    }
    let n: V2Node;
    try {
      n = this.internalGet(nodePath);
      if (n.isDir()) throw new V2Error(V2Code.NotFile, nodePath, this.currentIndex);
      const cause = compareFailCause(n, prevValue, prevIndex);
      if (cause !== undefined) throw new V2Error(V2Code.TestFailed, cause, this.currentIndex);
    } catch (e) {
      this.inc('compareAndSwapFail');
      throw e;
    }
    if (opts.refresh) value = n.value;
    this.currentIndex++;
    const e: V2Event = { action: V2Action.CompareAndSwap, node: { key: nodePath, modifiedIndex: this.currentIndex, createdIndex: n.createdIndex }, etcdIndex: this.currentIndex };
    e.prevNode = this.repr(n, false, false);
    n.value = value;
    n.modifiedIndex = this.currentIndex;
    this.updateTtl(n, opts.expireTime);
    e.node!.value = value;
    this.setTtl(e.node!, n);
    if (!opts.refresh) this.hub.notify(e);
    else {
      e.refresh = true;
      this.hub.add(e);
    }
    this.inc('compareAndSwapSuccess');
    return e;
  }

  /**
   * Store.Delete: removes the key at `nodePath`, or the directory when `dir`
   * (empty) or `recursive` (with everything below it).
   * @throws V2Error 100, 102 not a file (a directory without dir), 108 directory not empty, 104, 107
   */
  delete(nodePath: string, dir: boolean, recursive: boolean): V2Event {
    nodePath = cleanPath(nodePath);
    if (this.readonly.has(nodePath)) {
      this.inc('deleteSuccess');
      throw new V2Error(V2Code.RootROnly, '/', this.currentIndex);
    }
    if (recursive) dir = true;
    let n: V2Node;
    try {
      n = this.internalGet(nodePath);
    } catch (e) {
      this.inc('deleteFail');
      throw e;
    }
    const nextIndex = this.currentIndex + 1;
    const e: V2Event = { action: V2Action.Delete, node: { key: nodePath, modifiedIndex: nextIndex, createdIndex: n.createdIndex }, etcdIndex: nextIndex };
    e.prevNode = this.repr(n, false, false);
    if (n.isDir()) e.node!.dir = true;
    try {
      this.removeNode(n, dir, recursive, (p) => this.hub.notifyWatchers(e, p, true));
    } catch (err) {
      this.inc('deleteFail');
      throw err;
    }
    this.currentIndex++;
    this.hub.notify(e);
    this.inc('deleteSuccess');
    return e;
  }

  /**
   * Store.CompareAndDelete: removes the key at `nodePath` when its value and
   * modifiedIndex match (as in {@link compareAndSwap}).
   * @throws V2Error 101, 102 (a directory), 100, 104
   */
  compareAndDelete(nodePath: string, prevValue: string, prevIndex: number): V2Event {
    nodePath = cleanPath(nodePath);
    let n: V2Node;
    try {
      n = this.internalGet(nodePath);
    } catch (e) {
      this.inc('compareAndDeleteFail');
      throw e;
    }
    // etcd counts these two refusals as successes
    if (n.isDir()) {
      this.inc('compareAndDeleteSuccess');
      throw new V2Error(V2Code.NotFile, nodePath, this.currentIndex);
    }
    const cause = compareFailCause(n, prevValue, prevIndex);
    if (cause !== undefined) {
      this.inc('compareAndDeleteSuccess');
      throw new V2Error(V2Code.TestFailed, cause, this.currentIndex);
    }
    this.currentIndex++;
    const e: V2Event = { action: V2Action.CompareAndDelete, node: { key: nodePath, modifiedIndex: this.currentIndex, createdIndex: n.createdIndex }, etcdIndex: this.currentIndex };
    e.prevNode = this.repr(n, false, false);
    this.removeNode(n, false, false, (p) => this.hub.notifyWatchers(e, p, true));
    this.hub.notify(e);
    this.inc('compareAndDeleteSuccess');
    return e;
  }

  /**
   * Store.Watch: a watcher of `key` (and below it when `recursive`) from
   * `sinceIndex` (0: the next index) on.
   * @throws V2Error 401 when `sinceIndex` is older than the event history
   */
  watch(key: string, recursive: boolean, stream: boolean, sinceIndex: number): V2Watcher {
    key = cleanPath(key);
    if (sinceIndex === 0) sinceIndex = this.currentIndex + 1;
    return this.hub.watch(key, recursive, stream, sinceIndex, this.currentIndex);
  }

  /**
   * Store.DeleteExpiredKeys: removes every node whose expiry time is at or
   * before `cutoffNs`, oldest first, one index and one `expire` event each.
   */
  deleteExpiredKeys(cutoffNs: bigint): void {
    for (;;) {
      let top: V2Node | undefined;
      for (const n of this.ttlNodes) if (!top || n.expireTime < top.expireTime) top = n;
      if (!top || top.expireTime > cutoffNs) break;
      this.currentIndex++;
      const e: V2Event = { action: V2Action.Expire, node: { key: top.path, modifiedIndex: this.currentIndex, createdIndex: top.createdIndex }, etcdIndex: this.currentIndex };
      e.prevNode = this.repr(top, false, false);
      if (top.isDir()) e.node!.dir = true;
      this.ttlNodes.delete(top);
      this.removeNode(top, true, true, (p) => this.hub.notifyWatchers(e, p, true));
      this.inc('expireCount');
      this.hub.notify(e);
    }
  }

  private internalCreate(nodePath: string, dir: boolean, value: string, unique: boolean, replace: boolean, expireTime: bigint, action: string): V2Event {
    const currIndex = this.currentIndex;
    const nextIndex = currIndex + 1;
    if (unique) nodePath += '/' + String(nextIndex).padStart(20, '0');
    nodePath = cleanPath(nodePath);
    if (this.readonly.has(nodePath)) throw new V2Error(V2Code.RootROnly, '/', currIndex);
    if (expireTime < MIN_EXPIRE_NS) expireTime = 0n;
    const [dirName, nodeName] = splitPath(nodePath);
    let d: V2Node;
    try {
      d = this.walkCreatingDirs(dirName);
    } catch (e) {
      this.inc('setsFail'); // etcd counts a failed parent walk as a failed set, whatever the action
      (e as V2Error).index = currIndex;
      throw e;
    }
    const e: V2Event = { action, node: { key: nodePath, modifiedIndex: nextIndex, createdIndex: nextIndex }, etcdIndex: 0 };
    const existing = d.children!.get(nodeName);
    if (existing) {
      if (!replace) throw new V2Error(V2Code.NodeExist, nodePath, currIndex);
      if (existing.isDir()) throw new V2Error(V2Code.NotFile, nodePath, currIndex);
      e.prevNode = this.repr(existing, false, false);
      this.removeNode(existing, false, false, undefined);
    }
    let n: V2Node;
    if (!dir) {
      e.node!.value = value;
      n = new V2Node(nodePath, nextIndex, d, expireTime, value, undefined);
    } else {
      e.node!.dir = true;
      n = new V2Node(nodePath, nextIndex, d, expireTime, '', new Map());
    }
    d.children!.set(nodeName, n);
    if (!n.isPermanent()) {
      this.ttlNodes.add(n);
      this.setTtl(e.node!, n);
    }
    this.currentIndex = nextIndex;
    return e;
  }

  /** store.walk with checkDir: the directory `dirName`, creating missing ones (index = next index). */
  private walkCreatingDirs(dirName: string): V2Node {
    let curr = this.root;
    for (const comp of dirName.split('/').slice(1)) {
      if (comp === '') break;
      const child = curr.children!.get(comp);
      if (child) {
        if (!child.isDir()) throw new V2Error(V2Code.NotDir, child.path, this.currentIndex);
        curr = child;
        continue;
      }
      const n = new V2Node(posix.join(curr.path, comp), this.currentIndex + 1, curr, 0n, '', new Map());
      curr.children!.set(comp, n);
      curr = n;
    }
    return curr;
  }

  /** node.Remove: removes `n` (a directory only with `dir`, a non-empty one only with `recursive`). */
  private removeNode(n: V2Node, dir: boolean, recursive: boolean, callback: ((path: string) => void) | undefined): void {
    if (!n.isDir()) {
      if (n.parent && n.parent.children!.get(n.name()) === n) n.parent.children!.delete(n.name());
      callback?.(n.path);
      if (!n.isPermanent()) this.ttlNodes.delete(n);
      return;
    }
    if (!dir) throw new V2Error(V2Code.NotFile, n.path, this.currentIndex);
    if (n.children!.size !== 0 && !recursive) throw new V2Error(V2Code.DirNotEmpty, n.path, this.currentIndex);
    for (const c of [...n.children!.values()]) this.removeNode(c, true, true, callback);
    if (n.parent && n.parent.children!.get(n.name()) === n) {
      n.parent.children!.delete(n.name());
      callback?.(n.path);
      if (!n.isPermanent()) this.ttlNodes.delete(n);
    }
  }

  /** node.UpdateTTL: a new expiry time (0n: permanent). */
  private updateTtl(n: V2Node, expireTime: bigint): void {
    n.expireTime = expireTime;
    if (expireTime === 0n) this.ttlNodes.delete(n);
    else this.ttlNodes.add(n);
  }

  // ---- snapshot ----

  /**
   * The store as JSON (Store.Save): the tree, index, statistics and event
   * history, for the member's raft snapshot. Our own format (etcd's is Go's
   * JSON of its structs).
   */
  save(): string {
    const enc = (n: V2Node): unknown => [n.path, n.createdIndex, n.modifiedIndex, n.expireTime.toString(), n.isDir() ? null : n.value, n.isDir() ? [...n.children!.values()].map(enc) : null];
    const h = this.hub.history;
    return JSON.stringify({
      version: 1,
      currentIndex: this.currentIndex,
      root: enc(this.root),
      stats: this.stats,
      history: { events: h.events.map((e) => JSON.parse(eventJsonWithIndex(e))), startIndex: h.startIndex, lastIndex: h.lastIndex },
    });
  }

  /** Empties the store (a fresh store's namespaces, index 0, no history); waiting watchers are kept. */
  reset(): void {
    this.ttlNodes.clear();
    this.root = this.newTree();
    this.currentIndex = 0;
    this.stats = newStats();
    const h = this.hub.history;
    h.events = [];
    h.startIndex = 0;
    h.lastIndex = 0;
  }

  /**
   * Replaces the store's content with etcd 3.4's saved store (the data of its raft
   * snapshots: Go's JSON of v2store.store, with Root, CurrentIndex, Stats and the
   * watcher hub's EventHistory ring).
   * @throws Error when `json` is not such a store
   */
  recoverEtcd(json: string): void {
    interface GoNode { Path: string; CreatedIndex: number; ModifiedIndex: number; ExpireTime: string; Value: string; Children: Record<string, GoNode> | null }
    interface GoStore {
      Root?: GoNode;
      CurrentIndex?: number;
      Stats?: Partial<V2StoreStats>;
      WatcherHub?: { EventHistory?: { Queue?: { Events?: Array<V2Event | null>; Front?: number; Size?: number; Capacity?: number }; StartIndex?: number; LastIndex?: number } };
    }
    const g = JSON.parse(json) as GoStore;
    if (!g.Root || typeof g.Root.Path !== 'string') throw new Error('not an etcd v2 store: no Root');
    this.ttlNodes.clear();
    const dec = (x: GoNode, parent: V2Node | undefined): V2Node => {
      const n = new V2Node(x.Path, x.CreatedIndex, parent, parseGoTime(x.ExpireTime), x.Value ?? '', x.Children ? new Map() : undefined);
      n.modifiedIndex = x.ModifiedIndex;
      for (const [name, c] of Object.entries(x.Children ?? {})) n.children!.set(name, dec(c, n));
      if (!n.isPermanent()) this.ttlNodes.add(n);
      return n;
    };
    this.root = dec(g.Root, undefined);
    this.currentIndex = g.CurrentIndex ?? 0;
    this.stats = { ...newStats(), ...(g.Stats ?? {}) };
    const eh = g.WatcherHub?.EventHistory;
    const q = eh?.Queue;
    const h = this.hub.history;
    h.events = [];
    if (q?.Events && q.Capacity) {
      for (let i = 0; i < (q.Size ?? 0); i++) {
        const e = q.Events[((q.Front ?? 0) + i) % q.Capacity];
        if (e) h.events.push({ ...e, etcdIndex: 0 });
      }
    }
    h.startIndex = eh?.StartIndex ?? 0;
    h.lastIndex = eh?.LastIndex ?? 0;
  }

  /**
   * Replaces the store's content with a {@link save}d state (Store.Recovery).
   * Waiting watchers are kept.
   * @throws Error when `state` is not a saved store
   */
  recover(state: string): void {
    const s = JSON.parse(state) as { version: number; currentIndex: number; root: unknown; stats: V2StoreStats; history: { events: V2Event[]; startIndex: number; lastIndex: number } };
    if (s.version !== 1 || !Array.isArray(s.root)) throw new Error('v2 store snapshot: unknown format');
    this.ttlNodes.clear();
    type Enc = [string, number, number, string, string | null, Enc[] | null];
    const dec = (x: Enc, parent: V2Node | undefined): V2Node => {
      const [p, ci, mi, exp, value, children] = x;
      const n = new V2Node(p, ci, parent, BigInt(exp), value ?? '', children ? new Map() : undefined);
      n.modifiedIndex = mi;
      if (children) for (const c of children) n.children!.set(c[0].slice(c[0].lastIndexOf('/') + 1), dec(c, n));
      if (!n.isPermanent()) this.ttlNodes.add(n);
      return n;
    };
    this.root = dec(s.root as Enc, undefined);
    this.currentIndex = s.currentIndex;
    this.stats = { ...newStats(), ...s.stats };
    const h = this.hub.history;
    h.events = s.history.events.map((e) => ({ ...e, etcdIndex: e.etcdIndex ?? 0 }));
    h.startIndex = s.history.startIndex;
    h.lastIndex = s.history.lastIndex;
  }
}

/** Nanoseconds since the epoch of a Go RFC 3339 time (0n for Go's zero time, year 1). */
export function parseGoTime(t: string): bigint {
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(t);
  if (!m) throw new Error(`not an RFC 3339 time: ${JSON.stringify(t)}`);
  if (m[1] === '0001') return 0n;
  const ms = Date.parse(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${m[8]}`);
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 time: ${JSON.stringify(t)}`);
  return BigInt(ms) * 1_000_000n + BigInt((m[7] ?? '').padEnd(9, '0') || '0');
}

/** An event's JSON with its etcdIndex and refresh flag kept (for {@link V2Store.save}). */
function eventJsonWithIndex(e: V2Event): string {
  const j = eventJson(e);
  return `${j.slice(0, -1)},"etcdIndex":${e.etcdIndex}}`;
}

/** getCompareFailCause, or undefined when `n` matches (node.Compare). */
function compareFailCause(n: V2Node, prevValue: string, prevIndex: number): string | undefined {
  const indexMatch = prevIndex === 0 || n.modifiedIndex === prevIndex;
  const valueMatch = prevValue === '' || n.value === prevValue;
  if (indexMatch && valueMatch) return undefined;
  if (indexMatch) return `[${prevValue} != ${n.value}]`;
  if (valueMatch) return `[${prevIndex} != ${n.modifiedIndex}]`;
  return `[${prevValue} != ${n.value}] [${prevIndex} != ${n.modifiedIndex}]`;
}
