/**
 * @module client/mirror
 * clientv3/mirror's Syncer (etcd 3.4 clientv3/mirror/syncer.go): reads the key space
 * under a prefix at one revision in pages of 1000 keys, then watches it from the next
 * revision, so that a copy made of both sees every change exactly once.
 *
 * Without a start revision, the revision is that of a `get foo` (syncer.go really
 * ranges over the key `foo` for it, so a user needs read access to `foo`). An empty
 * prefix means the whole key space (from `\x00`).
 */

import type { EtcdClient } from './client.js';
import { FROM_KEY_END, prefixEnd } from './range.js';
import type { RangeResponse } from '../gen/etcdserverpb/rpc_pb.js';
import { Watcher, type WatchChan } from './watch.js';

/** Keys per range request of the base sync (mirror.batchLimit). */
export const SYNC_BATCH_LIMIT = 1000n;

/** The key and range end of a prefix, as clientv3.WithPrefix/WithFromKey make them. */
function prefixRange(prefix: Uint8Array): { key: Uint8Array; end: Uint8Array } {
  if (prefix.length === 0) return { key: FROM_KEY_END, end: FROM_KEY_END };
  return { key: prefix, end: prefixEnd(prefix) };
}

/** mirror.Syncer: `syncBase` then `syncUpdates`. RPCs have no deadline (context.TODO()). */
export class Syncer {
  private watcher: Watcher | undefined;

  /**
   * @param prefix keys to mirror (empty: all)
   * @param rev revision of the base copy; 0 = the current one (taken by syncBase)
   */
  constructor(private readonly client: EtcdClient, readonly prefix: Uint8Array, public rev: bigint = 0n) {}

  /**
   * Fixes the revision (when 0) with a `get foo`. Split from `syncBase` because etcdctl
   * does things (its flag conflict check) between that get and the copy.
   * @returns the error of that get, if it failed (SyncBase sends it on its error channel)
   */
  async pickRevision(): Promise<unknown> {
    if (this.rev !== 0n) return undefined;
    try {
      const resp = await this.client.range({ key: Buffer.from('foo') }, { timeoutMs: 0 });
      this.rev = resp.header?.revision ?? 0n;
      return undefined;
    } catch (e) {
      return e;
    }
  }

  /**
   * SyncBase: every key under the prefix at `rev`, page by page (`onPage` is awaited
   * before the next page is read).
   * @throws the first failing range's EtcdError (e.g. compacted revision)
   */
  async syncBase(onPage: (r: RangeResponse) => Promise<void>): Promise<void> {
    const { end } = prefixRange(this.prefix);
    let key = prefixRange(this.prefix).key;
    for (;;) {
      const resp = await this.client.range({ key, rangeEnd: end, limit: SYNC_BATCH_LIMIT, revision: this.rev }, { timeoutMs: 0 });
      await onPage(resp);
      if (!resp.more || resp.kvs.length === 0) return;
      const last = resp.kvs[resp.kvs.length - 1]!.key;
      key = Buffer.concat([last, Buffer.from([0])]);
    }
  }

  /**
   * SyncUpdates: a watch of the prefix from `rev + 1`.
   * @throws Error if the revision is still 0 (syncer.go panics there)
   */
  async syncUpdates(): Promise<WatchChan> {
    if (this.rev === 0n) throw new Error('unexpected revision = 0. Calling SyncUpdates before SyncBase finishes?');
    const { key, end } = prefixRange(this.prefix);
    this.watcher = new Watcher(this.client);
    return this.watcher.watch({ key, end, rev: this.rev + 1n, prevKv: false, progressNotify: false });
  }

  /** Ends the update watch. */
  close(): void {
    this.watcher?.close();
  }
}
