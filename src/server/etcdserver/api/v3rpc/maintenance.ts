/**
 * @module server/etcdserver/api/v3rpc/maintenance
 * The Maintenance service (etcd 3.4 etcdserver/api/v3rpc/maintenance.go):
 * Alarm, Status, Defragment, Hash, HashKV, Snapshot, MoveLeader.
 *
 * Error quirks kept from etcd: Alarm and Defragment return the server's error
 * unmapped, and the admin-permission check of Defragment/Snapshot/Hash/HashKV
 * (authMaintenanceServer) too, so those reach the client as code Unknown with
 * the raw message ("auth: permission denied"); the other errors go through
 * togRPCError.
 */
import { create } from '@bufbuild/protobuf';
import { createHash } from 'node:crypto';
import {
  DefragmentResponseSchema, MoveLeaderResponseSchema, SnapshotResponseSchema,
  type AlarmRequest, type AlarmResponse, type DefragmentResponse, type HashKVRequest, type HashKVResponse,
  type HashResponse, type MoveLeaderRequest, type MoveLeaderResponse, type SnapshotRequest, type SnapshotResponse,
  type StatusResponse,
} from '../../../../gen/etcdserverpb/rpc_pb.js';
import { AuthError } from '../../../auth/errors.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { Header } from './header.js';
import * as rpctypes from './rpctypes/error.js';
import type { ServerStream } from './transport/stream.js';
import { rawError, togRPCError } from './util.js';

/** Bytes per Snapshot message (maintenance.go snapshotSendBufferSize). */
export const SNAPSHOT_SEND_BUFFER_SIZE = 32 * 1024;

const isAuthError = (e: unknown) => e instanceof AuthError;

/** Auth errors raw (authMaintenanceServer.isAuthenticated), others mapped. */
function adminCheckedError(e: unknown) {
  return isAuthError(e) ? rawError(e) : togRPCError(e);
}

/** Maintenance service handlers (etcd maintenanceServer + authMaintenanceServer). */
export class MaintenanceServer {
  private readonly hdr: Header;

  constructor(private readonly s: EtcdServerApi) {
    this.hdr = new Header(s);
  }

  /** The server's response as is; errors unmapped (maintenance.go Alarm). */
  async alarm(ctx: CallContext, r: AlarmRequest): Promise<AlarmResponse> {
    return this.s.alarm(ctx, r).catch((e) => { throw rawError(e); });
  }

  async status(ctx: CallContext): Promise<StatusResponse> {
    const resp = await this.s.status(ctx).catch((e) => { throw togRPCError(e); });
    this.hdr.fill(resp);
    return resp;
  }

  /** An empty response (no header), errors unmapped, as etcd. */
  async defragment(ctx: CallContext): Promise<DefragmentResponse> {
    await this.s.defragment(ctx).catch((e) => { throw rawError(e); });
    return create(DefragmentResponseSchema, {});
  }

  async hash(ctx: CallContext): Promise<HashResponse> {
    const resp = await this.s.hash(ctx).catch((e) => { throw adminCheckedError(e); });
    this.hdr.fill(resp);
    return resp;
  }

  async hashKV(ctx: CallContext, r: HashKVRequest): Promise<HashKVResponse> {
    const resp = await this.s.hashKV(ctx, r.revision).catch((e) => { throw adminCheckedError(e); });
    this.hdr.fill(resp);
    return resp;
  }

  /**
   * Only the leader can move leadership: otherwise ErrGRPCNotLeader. The
   * response is empty (no header), as etcd's.
   */
  async moveLeader(ctx: CallContext, r: MoveLeaderRequest): Promise<MoveLeaderResponse> {
    if (this.s.leader() !== this.s.header().memberId) throw rpctypes.ErrGRPCNotLeader;
    await this.s.moveLeader(ctx, r).catch((e) => { throw togRPCError(e); });
    return create(MoveLeaderResponseSchema, {});
  }

  /**
   * Streams the backend (maintenance.go Snapshot): messages of exactly
   * {@link SNAPSHOT_SEND_BUFFER_SIZE} bytes (the last may be shorter) with
   * remaining_bytes = size - bytes sent so far, then one message whose blob is the
   * 32-byte sha256 of all bytes sent and remaining_bytes 0 (what `etcdctl
   * snapshot save` checks). Waits for the client when the stream's buffer is full.
   * Ends the call with OK, or with the mapped error status.
   */
  async snapshot(call: ServerStream<SnapshotRequest, SnapshotResponse>, ctx: CallContext): Promise<void> {
    let snap;
    try {
      snap = await this.s.snapshot(ctx);
    } catch (e) {
      call.emit('error', adminCheckedError(e));
      return;
    }
    let gone = false;
    const onGone = () => { gone = true; };
    call.on('cancelled', onGone);
    call.on('close', onGone);
    const waitDrain = () => new Promise<void>((r) => {
      const done = () => { call.off('drain', done); call.off('close', done); r(); };
      call.on('drain', done);
      call.on('close', done);
    });
    try {
      const h = createHash('sha256');
      const total = snap.size;
      let sent = 0;
      let buf = Buffer.allocUnsafe(SNAPSHOT_SEND_BUFFER_SIZE);
      let fill = 0;
      const flush = async () => {
        sent += fill;
        const blob = buf.subarray(0, fill);
        h.update(blob);
        const more = call.write(create(SnapshotResponseSchema, { remainingBytes: BigInt(Math.max(0, total - sent)), blob }));
        buf = Buffer.allocUnsafe(SNAPSHOT_SEND_BUFFER_SIZE);
        fill = 0;
        if (!more) await waitDrain();
      };
      for await (const chunk of snap.chunks) {
        let off = 0;
        while (off < chunk.length) {
          if (gone) return;
          const n = Math.min(chunk.length - off, SNAPSHOT_SEND_BUFFER_SIZE - fill);
          buf.set(chunk.subarray(off, off + n), fill);
          fill += n;
          off += n;
          if (fill === SNAPSHOT_SEND_BUFFER_SIZE) await flush();
        }
      }
      if (fill > 0) await flush();
      if (sent !== total) throw new Error(`snapshot: backend yielded ${sent} bytes, announced ${total}`);
      if (gone) return;
      call.write(create(SnapshotResponseSchema, { remainingBytes: 0n, blob: h.digest() }));
      call.end();
    } catch (e) {
      if (!gone) call.emit('error', togRPCError(e));
    } finally {
      snap.close();
      call.off('cancelled', onGone);
      call.off('close', onGone);
    }
  }
}
