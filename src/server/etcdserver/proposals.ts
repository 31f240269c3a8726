/**
 * Bookkeeping that lets a member skip protobuf work for its own proposals. etcd has
 * no counterpart: etcd 3.4 marshals every request in processInternalRaftRequestOnce
 * (etcdserver/v3_server.go) and unmarshals every entry in applyEntryNormal
 * (etcdserver/server.go); with protobuf-es both cost more than the rest of a put.
 *
 * - {@link PendingProposals}: the request objects this member proposed and has not
 *   applied yet, so the apply loop can apply the object instead of decoding its own
 *   entry (entries of other members, or of this member before a restart, are decoded).
 * - {@link ReceivedWireBytes} (the {@link wireBytes} instance): request messages the
 *   gRPC layer decoded from the wire and passes on unchanged, with those bytes, so the
 *   proposal path embeds them instead of encoding the message again.
 *
 * Neither changes what is proposed or applied: the entry bytes are the same (up to
 * field order, which protobuf allows) and the held object is what decoding them gives.
 */
import type { InternalRaftRequest } from '../../gen/etcdserverpb/raft_internal_pb.js';
import { SlotMap } from '../../util/slot-map.js';

/**
 * Requests proposed by this member and not applied yet, by request ID (the header ID
 * of the InternalRaftRequest). The proposer (v3-server.ts raftRequest) registers the
 * request just before proposing it; an entry is removed when the apply loop
 * (apply.ts) takes it to apply it, or when the proposer gives up on it (the proposal
 * was dropped, timed out, was canceled or failed), since such a proposal may never be
 * applied. A request that was given up on and is applied later anyway is decoded from
 * its entry like any other.
 */
export class PendingProposals {
  /** A SlotMap: a request applied or given up on is not kept alive (util/slot-map.ts). */
  private readonly byId = new SlotMap<bigint, InternalRaftRequest>();

  /** Remembers `req`, about to be proposed under request ID `id`. */
  register(id: bigint, req: InternalRaftRequest): void {
    this.byId.set(id, req);
  }

  /** The request proposed under `id`, removed from the tracker; undefined if not (or no longer) held. */
  take(id: bigint): InternalRaftRequest | undefined {
    return this.byId.take(id);
  }

  /** Forgets `id` (the proposer gave up waiting for it). */
  delete(id: bigint): void {
    this.byId.take(id);
  }

  /** Requests held. */
  get size(): number {
    return this.byId.size;
  }
}

/**
 * Request messages as they arrived on the wire, keyed by the decoded message object.
 * The gRPC layer (api/v3rpc/grpc.ts) records a request it decoded and passes on
 * unchanged; encodeInternalRequest (internal-request.ts) embeds the recorded bytes
 * instead of encoding the message again. Entries are never removed explicitly: the
 * map is weak, so an entry goes when its message object is garbage-collected. A
 * message must not be modified after it is recorded (the bytes would no longer match).
 */
export class ReceivedWireBytes {
  private readonly byMessage = new WeakMap<object, Uint8Array>();

  /** Records that `msg` was decoded from `bytes`. */
  set(msg: object, bytes: Uint8Array): void {
    this.byMessage.set(msg, bytes);
  }

  /** The bytes `msg` was decoded from, if recorded. */
  get(msg: object): Uint8Array | undefined {
    return this.byMessage.get(msg);
  }
}

/** The process-wide {@link ReceivedWireBytes} shared by the gRPC layer and the proposal path. */
export const wireBytes = new ReceivedWireBytes();
