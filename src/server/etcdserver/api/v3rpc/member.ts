/**
 * @module server/etcdserver/api/v3rpc/member
 * The Cluster service (etcd 3.4 etcdserver/api/v3rpc/member.go). Headers of
 * member responses carry cluster_id, member_id and raft_term but no revision,
 * as etcd's ClusterServer.header().
 */
import type {
  MemberAddRequest, MemberAddResponse, MemberListResponse, MemberPromoteRequest, MemberPromoteResponse,
  MemberRemoveRequest, MemberRemoveResponse, MemberUpdateRequest, MemberUpdateResponse,
} from '../../../../gen/etcdserverpb/rpc_pb.js';
import type { CallContext, EtcdServerApi } from '../../api.js';
import { Header } from './header.js';
import * as rpctypes from './rpctypes/error.js';
import { togRPCError } from './util.js';

/**
 * Validates peer URLs as etcd's types.NewURLs: at least one; each (trimmed)
 * parses as a URL with scheme http, https, unix or unixs, a host:port and no
 * path. Returns a reason, or undefined when valid.
 */
export function invalidPeerURLs(urls: readonly string[]): string | undefined {
  if (urls.length === 0) return 'no valid URLs given';
  for (const raw of urls) {
    const s = raw.trim();
    const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^?#]*)/.exec(s);
    if (!m) return `URL scheme must be http, https, unix, or unixs: ${s}`;
    const [, scheme, host, path] = m as unknown as [string, string, string, string];
    if (!['http', 'https', 'unix', 'unixs'].includes(scheme)) return `URL scheme must be http, https, unix, or unixs: ${s}`;
    if (!/^(\[[^\]]*\]|[^:[\]]*):[^:]*$/.test(host.replace(/^[^@]*@/, ''))) return `URL address does not have the form "host:port": ${s}`;
    if (path !== '') return `URL must not contain a path: ${s}`;
  }
  return undefined;
}

/** Cluster service handlers (etcd ClusterServer). */
export class ClusterServer {
  private readonly hdr: Header;

  constructor(private readonly s: EtcdServerApi) {
    this.hdr = new Header(s);
  }

  /** Bad peer URLs → ErrGRPCMemberBadURLs before the server is asked. */
  async memberAdd(ctx: CallContext, r: MemberAddRequest): Promise<MemberAddResponse> {
    if (invalidPeerURLs(r.peerURLs) !== undefined) throw rpctypes.ErrGRPCMemberBadURLs;
    const resp = await this.s.memberAdd(ctx, r).catch((e) => { throw togRPCError(e); });
    resp.header = this.hdr.make(0n);
    return resp;
  }

  async memberRemove(ctx: CallContext, r: MemberRemoveRequest): Promise<MemberRemoveResponse> {
    const resp = await this.s.memberRemove(ctx, r).catch((e) => { throw togRPCError(e); });
    resp.header = this.hdr.make(0n);
    return resp;
  }

  async memberUpdate(ctx: CallContext, r: MemberUpdateRequest): Promise<MemberUpdateResponse> {
    const resp = await this.s.memberUpdate(ctx, r).catch((e) => { throw togRPCError(e); });
    resp.header = this.hdr.make(0n);
    return resp;
  }

  /** etcd 3.4's MemberList reads the local member list (not linearizable). */
  async memberList(ctx: CallContext): Promise<MemberListResponse> {
    const resp = await this.s.memberList(ctx, false).catch((e) => { throw togRPCError(e); });
    resp.header = this.hdr.make(0n);
    return resp;
  }

  async memberPromote(ctx: CallContext, r: MemberPromoteRequest): Promise<MemberPromoteResponse> {
    const resp = await this.s.memberPromote(ctx, r).catch((e) => { throw togRPCError(e); });
    resp.header = this.hdr.make(0n);
    return resp;
  }
}
