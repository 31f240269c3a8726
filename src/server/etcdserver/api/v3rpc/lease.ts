/**
 * @module server/etcdserver/api/v3rpc/lease
 * The Lease service (etcd 3.4 etcdserver/api/v3rpc/lease.go): LeaseGrant,
 * LeaseRevoke, LeaseTimeToLive, LeaseLeases and the LeaseKeepAlive stream.
 */
import { create } from '@bufbuild/protobuf';
import {
  LeaseKeepAliveResponseSchema, LeaseLeasesResponseSchema, LeaseTimeToLiveResponseSchema,
  type LeaseGrantRequest, type LeaseGrantResponse, type LeaseKeepAliveRequest, type LeaseKeepAliveResponse,
  type LeaseLeasesResponse, type LeaseRevokeRequest, type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest, type LeaseTimeToLiveResponse,
} from '../../../../gen/etcdserverpb/rpc_pb.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { Header } from './header.js';
import { GrpcStatusError } from './rpctypes/error.js';
import type { ServerStream } from './transport/stream.js';
import { togRPCError } from './util.js';

const isLeaseNotFound = (e: unknown) => e instanceof Error && e.name === 'ErrLeaseNotFound';

/** Lease service handlers (etcd LeaseServer). */
export class LeaseServer {
  private readonly hdr: Header;

  constructor(private readonly s: EtcdServerApi) {
    this.hdr = new Header(s);
  }

  async leaseGrant(ctx: CallContext, r: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    let resp: LeaseGrantResponse;
    try {
      resp = await this.s.leaseGrant(ctx, r);
    } catch (e) {
      throw togRPCError(e);
    }
    this.hdr.fill(resp);
    return resp;
  }

  async leaseRevoke(ctx: CallContext, r: LeaseRevokeRequest): Promise<LeaseRevokeResponse> {
    const resp = await this.s.leaseRevoke(ctx, r).catch((e) => { throw togRPCError(e); });
    this.hdr.fill(resp);
    return resp;
  }

  /** An unknown lease is not an error: the response has TTL -1 (lease.go LeaseTimeToLive). */
  async leaseTimeToLive(ctx: CallContext, r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    let resp: LeaseTimeToLiveResponse;
    try {
      resp = await this.s.leaseTimeToLive(ctx, r);
    } catch (e) {
      if (!isLeaseNotFound(e)) throw togRPCError(e);
      resp = create(LeaseTimeToLiveResponseSchema, { ID: r.ID, TTL: -1n });
    }
    this.hdr.fill(resp);
    return resp;
  }

  /** ErrLeaseNotFound gives an empty list (lease.go LeaseLeases). */
  async leaseLeases(ctx: CallContext): Promise<LeaseLeasesResponse> {
    let resp: LeaseLeasesResponse;
    try {
      resp = await this.s.leaseLeases(ctx);
    } catch (e) {
      if (!isLeaseNotFound(e)) throw togRPCError(e);
      resp = create(LeaseLeasesResponseSchema, { leases: [] });
    }
    this.hdr.fill(resp);
    return resp;
  }

  /**
   * Serves one LeaseKeepAlive stream (lease.go leaseKeepAlive): requests are
   * handled one at a time in arrival order; each response's header is taken
   * *before* the renewal (so its revision is <= the renewal's), an unknown lease
   * answers TTL 0, any other error ends the stream with its status. Reading
   * pauses while the client is not reading responses (backpressure).
   * Resolves when the stream is over.
   */
  keepAlive(call: ServerStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>, ctx: CallContext): Promise<void> {
    return new Promise<void>((resolve) => {
      let chain = Promise.resolve();
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        resolve();
      };
      call.on('data', (req: LeaseKeepAliveRequest) => {
        call.pause();
        chain = chain.then(async () => {
          if (done) return;
          const resp = create(LeaseKeepAliveResponseSchema, { ID: req.ID });
          this.hdr.fill(resp);
          let ttl: bigint;
          try {
            ttl = await this.s.leaseRenew(ctx, req.ID);
          } catch (e) {
            if (!isLeaseNotFound(e)) {
              call.emit('error', togRPCError(e));
              finish();
              return;
            }
            ttl = 0n;
          }
          if (done) return;
          resp.TTL = ttl;
          if (!call.write(resp)) await new Promise<void>((r) => { call.once('drain', r); call.once('close', r); });
          if (!done) call.resume();
        });
      });
      // the client closed its side: etcd returns nil (status OK) once the loop ends
      call.on('end', () => { void chain.then(() => { if (!done) { call.end(); finish(); } }); });
      call.on('cancelled', finish);
      // the leader monitor ends hasleader streams with its reason (lease.go: ErrGRPCNoLeader)
      const signal = ctx.signal;
      const onAbort = () => {
        if (signal?.reason instanceof GrpcStatusError && !done) call.emit('error', signal.reason);
        finish();
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      call.on('close', finish);
      call.on('error', finish);
    });
  }
}
