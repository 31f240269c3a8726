/**
 * Cluster members and how their IDs are computed (etcd 3.4
 * etcdserver/api/membership/member.go and cluster.go genID), so that the same
 * flags give the same member and cluster IDs as etcd.
 */
import { computeClusterId, computeMemberId, memberJson, type EtcdMember } from '../../../util/etcd-format/members.js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { MemberSchema, type Member as MemberPb } from '../../../gen/membershippb/membership_pb.js';

/** One cluster member (etcd-format's EtcdMember: the same record as etcd stores it). */
export type Member = EtcdMember;

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

/** Encodes a member as membershippb.Member (the context of our raft conf-change entries). */
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

/**
 * Encodes a member as etcd 3.4 stores it in the backend's `members` bucket and in its
 * conf-change contexts: the JSON of membership.Member (`{"id":<decimal>,"peerURLs":[...],
 * "name":...,"clientURLs":[...]}`, empty fields left out).
 */
export function encodeMemberJson(m: Member): Uint8Array {
  return Buffer.from(memberJson(m));
}

/**
 * Decodes a member from either form: etcd's JSON ({@link encodeMemberJson}; data
 * directories imported from etcd, and our `members` bucket) or membershippb.Member
 * ({@link encodeMember}; our conf-change contexts and `members` buckets written before
 * the bucket held JSON). Throws on malformed input.
 */
export function decodeMember(data: Uint8Array): Member {
  if (data.length > 0 && data[0] === 0x7b /* { */) {
    const text = Buffer.from(data).toString('utf8');
    const j = JSON.parse(text) as { peerURLs?: string[]; isLearner?: boolean; name?: string; clientURLs?: string[] };
    // the id is a uint64 written as a JSON number: read its digits, not a float
    const id = /"id"\s*:\s*(\d+)/.exec(text);
    if (!id) throw new Error(`member JSON without an id: ${text}`);
    return { id: BigInt(id[1]!), peerUrls: j.peerURLs ?? [], isLearner: j.isLearner ?? false, name: j.name ?? '', clientUrls: j.clientURLs ?? [] };
  }
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
