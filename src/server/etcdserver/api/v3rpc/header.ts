/**
 * @module server/etcdserver/api/v3rpc/header
 * Fills response headers as etcd's v3rpc header.go `fill`.
 */
import { create } from '@bufbuild/protobuf';
import { ResponseHeaderSchema, type ResponseHeader } from '../../../../gen/etcdserverpb/rpc_pb.js';
import type { EtcdServerApi } from '../../api.js';

/** Header filler bound to one server. */
export class Header {
  constructor(private readonly s: EtcdServerApi) {}

  /**
   * Sets cluster_id, member_id and raft_term from the server, and revision to the
   * current store revision when it is 0 (header.go fill). Creates the header
   * when the response has none (etcd panics there). Returns it.
   */
  fill(resp: { header?: ResponseHeader }): ResponseHeader {
    const h = (resp.header ??= create(ResponseHeaderSchema));
    const info = this.s.header();
    h.clusterId = info.clusterId;
    h.memberId = info.memberId;
    h.raftTerm = info.raftTerm;
    if (h.revision === 0n) h.revision = info.revision;
    return h;
  }

  /**
   * A new header with cluster_id, member_id, raft_term and the given revision
   * (watch.go newResponseHeader; member.go header() passes 0).
   */
  make(revision: bigint): ResponseHeader {
    return create(ResponseHeaderSchema, this.fields(revision));
  }

  /** The values of {@link make}'s header, as a plain object (for encoders that need no message). */
  fields(revision: bigint): { clusterId: bigint; memberId: bigint; raftTerm: bigint; revision: bigint } {
    const info = this.s.header();
    return { clusterId: info.clusterId, memberId: info.memberId, raftTerm: info.raftTerm, revision };
  }
}
