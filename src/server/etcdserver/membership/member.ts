/**
 * Cluster members and how their IDs are computed (etcd 3.4
 * etcdserver/api/membership/member.go and cluster.go genID), so that the same
 * flags give the same member and cluster IDs as etcd.
 */
import { createHash } from 'node:crypto';
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

function first8BytesBE(digest: Buffer): bigint {
  return digest.readBigUInt64BE(0);
}

/**
 * A member's ID: the first 8 bytes (big endian) of SHA-1 over its sorted peer URLs
 * concatenated, the cluster token, and for members added at run time the Unix
 * time in seconds as decimal (etcd membership.NewMember).
 */
export function computeMemberId(peerUrls: readonly string[], clusterToken: string, nowSeconds?: number): bigint {
  const sorted = [...peerUrls].sort();
  let s = sorted.join('') + clusterToken;
  if (nowSeconds !== undefined) s += String(Math.floor(nowSeconds));
  return first8BytesBE(createHash('sha1').update(s, 'utf8').digest());
}

/**
 * The cluster ID: the first 8 bytes (big endian) of SHA-1 over the members'
 * IDs, sorted ascending, each as 8 big-endian bytes (etcd RaftCluster.genID).
 */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const ids = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const b = Buffer.alloc(8 * ids.length);
  ids.forEach((id, i) => b.writeBigUInt64BE(id, 8 * i));
  return first8BytesBE(createHash('sha1').update(b).digest());
}

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
