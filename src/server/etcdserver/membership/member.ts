/**
 * Cluster members and how their IDs are computed (etcd 3.4
 * etcdserver/api/membership/member.go and cluster.go genID), so that the same
 * flags give the same member and cluster IDs as etcd.
 */
import { computeClusterId, computeMemberId } from '../../../util/etcd-format/members.js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { MemberSchema, type Member as MemberPb } from '../../../gen/membershippb/membership_pb.js';

/** One cluster member. IDs are uint64 as bigint. */
export interface Member {
  readonly id: bigint;
  /** Peer URLs, sorted (etcd sorts them when the member is created). */
  readonly peerUrls: readonly string[];
  readonly isLearner: boolean;
  /** Published by the member once started; empty until then. */
  readonly name: string;
  readonly clientUrls: readonly string[];
}

export { computeClusterId, computeMemberId };

/** Creates a member record the way etcd's NewMember does (peer URLs sorted, ID computed). */
export function newMember(name: string, peerUrls: readonly string[], clusterToken: string, nowSeconds?: number, isLearner = false): Member {
  return {
    id: computeMemberId(peerUrls, clusterToken, nowSeconds),
    peerUrls: [...peerUrls].sort(),
    isLearner,
    name,
    clientUrls: [],
  };
}

/** Encodes a member as membershippb.Member (the raft conf-change context and the members bucket value). */
export function encodeMember(m: Member): Uint8Array {
  return toBinary(
    MemberSchema,
    create(MemberSchema, {
      ID: m.id,
      raftAttributes: { peerUrls: [...m.peerUrls], isLearner: m.isLearner },
      memberAttributes: { name: m.name, clientUrls: [...m.clientUrls] },
    }),
  );
}

/** Decodes {@link encodeMember}'s bytes; throws on malformed protobuf. */
export function decodeMember(data: Uint8Array): Member {
  const pb: MemberPb = fromBinary(MemberSchema, data);
  return {
    id: pb.ID,
    peerUrls: pb.raftAttributes?.peerUrls ?? [],
    isLearner: pb.raftAttributes?.isLearner ?? false,
    name: pb.memberAttributes?.name ?? '',
    clientUrls: pb.memberAttributes?.clientUrls ?? [],
  };
}

/** A member's ID as etcd prints it in logs and errors (lower-case hex, no padding). */
export function idHex(id: bigint): string {
  return id.toString(16);
}
