/**
 * @module util/etcd-format/members
 * How etcd 3.4 names and records cluster members on disk: member and cluster IDs
 * (etcdserver/api/membership/member.go NewMember, cluster.go genID), a member as the
 * JSON of membership.Member (the context of the conf-change entries that bootstrap a
 * cluster), and the v2 store that etcd 3.4 keeps its membership in and saves as JSON
 * in every raft snapshot (etcdserver/api/v2store store.go Save; the keys are
 * membership/store.go's `/0/members/<id>/raftAttributes` and `.../attributes`,
 * `/0/removed_members/<id>`, `/0/version`).
 */
import type * as cryptoNs from 'node:crypto';

/** sha1 of the bytes; node:crypto is loaded on first use (the CLI bundle starts without it). */
function sha1(data: string | Uint8Array): Buffer {
  const { createHash } = process.getBuiltinModule('node:crypto') as typeof cryptoNs;
  return typeof data === 'string' ? createHash('sha1').update(data, 'utf8').digest() : createHash('sha1').update(data).digest();
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
  return first8BytesBE(sha1(s));
}

/**
 * The cluster ID: the first 8 bytes (big endian) of SHA-1 over the members'
 * IDs, sorted ascending, each as 8 big-endian bytes (etcd RaftCluster.genID).
 */
export function computeClusterId(memberIds: readonly bigint[]): bigint {
  const ids = [...memberIds].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const b = Buffer.alloc(8 * ids.length);
  ids.forEach((id, i) => b.writeBigUInt64BE(id, 8 * i));
  return first8BytesBE(sha1(b));
}

/** A member as etcd 3.4 stores it (IDs uint64 as bigint). */
export interface EtcdMember {
  readonly id: bigint;
  /** Peer URLs, sorted (etcd sorts them when the member is created). */
  readonly peerUrls: readonly string[];
  readonly isLearner: boolean;
  /** Published by the member once started; empty until then. */
  readonly name: string;
  readonly clientUrls: readonly string[];
}

/** A string as Go's encoding/json writes it (HTML-safe: <, >, & and U+2028/9 escaped). */
export function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function goJsonList(l: readonly string[]): string {
  return `[${l.map(goJsonString).join(',')}]`;
}

/** json.Marshal of membership.RaftAttributes: `{"peerURLs":[...]}` (+ `"isLearner":true`). */
export function raftAttributesJson(m: Pick<EtcdMember, 'peerUrls' | 'isLearner'>): string {
  return `{"peerURLs":${goJsonList(m.peerUrls)}${m.isLearner ? ',"isLearner":true' : ''}}`;
}

/** json.Marshal of membership.Attributes: `{"name":...,"clientURLs":[...]}`, empty fields left out. */
export function attributesJson(m: Pick<EtcdMember, 'name' | 'clientUrls'>): string {
  const parts: string[] = [];
  if (m.name !== '') parts.push(`"name":${goJsonString(m.name)}`);
  if (m.clientUrls.length > 0) parts.push(`"clientURLs":${goJsonList(m.clientUrls)}`);
  return `{${parts.join(',')}}`;
}

/** json.Marshal of membership.Member: id (a number), raft attributes, attributes, empty ones left out. */
export function memberJson(m: EtcdMember): string {
  const attrs = attributesJson(m).slice(1, -1);
  return `{"id":${m.id},${raftAttributesJson(m).slice(1, -1)}${attrs ? ',' + attrs : ''}}`;
}

const PERMANENT = '"0001-01-01T00:00:00Z"';
/** v2store's event history size (etcd NewStore: newWatchHub(1000)). */
const EVENT_HISTORY = 1000;

/**
 * The v2 store JSON (`store.Save()`) of a store created with etcd's namespaces `/0`
 * and `/1` into which `members` were added in the order given (etcd adds them sorted
 * by ID) with only their raft attributes, as `etcdctl snapshot restore` builds it:
 * each addition is one `create` at the next index (1, 2, ...), the intermediate
 * directories taking the index of the creation that made them.
 */
export function membersStoreJson(members: readonly EtcdMember[]): string {
  const n = members.length;
  const node = (path: string, index: number, value: string, children: string | null) =>
    `{"Path":${goJsonString(path)},"CreatedIndex":${index},"ModifiedIndex":${index},"ExpireTime":${PERMANENT},"Value":${goJsonString(value)},"Children":${children ?? 'null'}}`;
  const indexed = members.map((m, i) => ({ m, index: i + 1, hex: m.id.toString(16) }));
  const memberNodes = [...indexed]
    .sort((a, b) => (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0))
    .map(({ m, index, hex }) => {
      const dir = `/0/members/${hex}`;
      const attrs = node(`${dir}/raftAttributes`, index, raftAttributesJson(m), null);
      return `${goJsonString(hex)}:${node(dir, index, '', `{"raftAttributes":${attrs}}`)}`;
    });
  const membersDir = n > 0 ? `{"members":${node('/0/members', 1, '', `{${memberNodes.join(',')}}`)}}` : '{}';
  const root = node('/', 0, '', `{"0":${node('/0', 0, '', membersDir)},"1":${node('/1', 0, '', '{}')}}`);
  const events: string[] = indexed.map(
    ({ m, index, hex }) =>
      `{"action":"create","node":{"key":${goJsonString(`/0/members/${hex}/raftAttributes`)},"value":${goJsonString(raftAttributesJson(m))},"modifiedIndex":${index},"createdIndex":${index}}}`,
  );
  while (events.length < EVENT_HISTORY) events.push('null');
  const history = `{"Queue":{"Events":[${events.join(',')}],"Size":${n},"Front":0,"Back":${n % EVENT_HISTORY},"Capacity":${EVENT_HISTORY}},"StartIndex":${n > 0 ? 1 : 0},"LastIndex":${n}}`;
  const stats =
    `{"getsSuccess":0,"getsFail":0,"setsSuccess":0,"setsFail":0,"deleteSuccess":0,"deleteFail":0,"updateSuccess":0,"updateFail":0,` +
    `"createSuccess":${n},"createFail":0,"compareAndSwapSuccess":0,"compareAndSwapFail":0,"compareAndDeleteSuccess":0,"compareAndDeleteFail":0,"expireCount":0,"watchers":0}`;
  return `{"Root":${root},"WatcherHub":{"EventHistory":${history}},"CurrentIndex":${n},"Stats":${stats},"CurrentVersion":2}`;
}

/** Membership as read from a v2 store snapshot. */
export interface StoreMembership {
  readonly members: EtcdMember[];
  readonly removed: bigint[];
  /** `/0/version` (the cluster version, e.g. "3.4.0"), when set. */
  readonly clusterVersion?: string;
}

interface StoreNode {
  Value?: string;
  Children?: Record<string, StoreNode> | null;
}

/**
 * Reads the members, removed members and cluster version out of a v2 store JSON
 * (a raft snapshot's data in etcd 3.4).
 * @throws Error when the JSON does not parse or a member's attributes are malformed
 */
export function parseStoreMembership(json: Uint8Array | string): StoreMembership {
  const store = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8'), (k, v) => v) as { Root?: StoreNode };
  const zero = store.Root?.Children?.['0']?.Children ?? {};
  const members: EtcdMember[] = [];
  for (const [hex, dir] of Object.entries(zero['members']?.Children ?? {})) {
    const raw = dir.Children?.['raftAttributes']?.Value;
    const ra = raw ? (JSON.parse(raw) as { peerURLs?: string[]; isLearner?: boolean }) : {};
    const av = dir.Children?.['attributes']?.Value;
    const at = av ? (JSON.parse(av) as { name?: string; clientURLs?: string[] }) : {};
    members.push({ id: BigInt('0x' + hex), peerUrls: ra.peerURLs ?? [], isLearner: ra.isLearner ?? false, name: at.name ?? '', clientUrls: at.clientURLs ?? [] });
  }
  members.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const removed = Object.keys(zero['removed_members']?.Children ?? {}).map((h) => BigInt('0x' + h));
  const version = zero['version']?.Value;
  return { members, removed, ...(version ? { clusterVersion: version } : {}) };
}
