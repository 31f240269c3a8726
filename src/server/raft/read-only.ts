/**
 * @module raft/read-only
 *
 * Pending ReadIndex requests on the leader (read_only.go). In the safe mode a request
 * records the commit index when it arrives, rides on a heartbeat round carrying its
 * context, and is answered once a quorum of voters acknowledged that heartbeat: at that
 * moment the leader knows it was still the leader when the request arrived (Raft
 * thesis §6.4). Requests are answered in arrival order; an acknowledged context also
 * releases every request queued before it.
 */

import type { Message } from './types.js';

/** How reads are served: Safe (heartbeat quorum per request) or LeaseBased (relies on CheckQuorum and bounded clock drift). */
export enum ReadOnlyOption {
  ReadOnlySafe = 0,
  ReadOnlyLeaseBased = 1,
}

/** One pending request: the original message, the commit index at arrival, who acknowledged. */
export interface ReadIndexStatus {
  readonly req: Message;
  readonly index: number;
  readonly acks: Map<bigint, boolean>;
}

/** The context bytes as a map key (one char per byte). */
export function ctxKey(ctx: Uint8Array | undefined): string {
  if (ctx === undefined) return '';
  let s = '';
  for (const b of ctx) s += String.fromCharCode(b);
  return s;
}

/** The leader's queue of ReadIndex requests waiting for a heartbeat quorum. */
export class ReadOnly {
  private readonly pending = new Map<string, ReadIndexStatus>();
  private queue: string[] = [];

  /** @param option Safe or LeaseBased (Config.readOnlyOption) */
  constructor(readonly option: ReadOnlyOption) {}

  /** Queues a request (`m.entries[0].data` is its context) with the current commit index; duplicates are ignored. */
  addRequest(index: number, m: Message): void {
    const key = ctxKey(m.entries[0]?.data);
    if (this.pending.has(key)) return;
    this.pending.set(key, { index, req: m, acks: new Map() });
    this.queue.push(key);
  }

  /** Records a heartbeat acknowledgement from `id` for `ctx`; returns the acks so far (undefined if unknown). */
  recvAck(id: bigint, ctx: Uint8Array | undefined): Map<bigint, boolean> | undefined {
    const rs = this.pending.get(ctxKey(ctx));
    if (rs === undefined) return undefined;
    rs.acks.set(id, true);
    return rs.acks;
  }

  /** Removes and returns the requests up to and including the one with context `ctx` (empty if unknown). */
  advance(ctx: Uint8Array | undefined): ReadIndexStatus[] {
    const key = ctxKey(ctx);
    const i = this.queue.indexOf(key);
    if (i < 0) return [];
    const done = this.queue.slice(0, i + 1);
    this.queue = this.queue.slice(i + 1);
    return done.map((k) => {
      const rs = this.pending.get(k)!;
      this.pending.delete(k);
      return rs;
    });
  }

  /** The context of the newest pending request, or undefined (sent with regular heartbeats). */
  lastPendingRequestCtx(): Uint8Array | undefined {
    if (this.queue.length === 0) return undefined;
    return this.pending.get(this.queue[this.queue.length - 1]!)!.req.entries[0]?.data;
  }

  /** Number of pending requests. */
  size(): number {
    return this.queue.length;
  }
}
