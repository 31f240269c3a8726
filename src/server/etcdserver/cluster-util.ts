/**
 * Talking to other members over their peer URLs outside raft (etcd 3.4
 * etcdserver/cluster_util.go, etcdhttp/peer.go, lease/leasehttp): the members list a
 * joining member fetches (`GET /members`), learner promotion forwarded to the leader
 * (`POST /members/promote/<id>`), and lease keep-alives and time-to-live queries
 * forwarded to the leader (`POST /leases`, `POST /leases/internal`, protobuf bodies).
 *
 * Members travel as etcd's JSON (membership.Member): `{"id":<uint64>,"peerURLs":[...],
 * "name":"...","clientURLs":[...]}` with `isLearner`, `name` and `clientURLs` omitted
 * when empty; IDs are JSON numbers that do not fit a double, so they are written and
 * read as digit strings spliced into the text.
 */
import http from 'node:http';
import https from 'node:https';
import { putUvarint, readLength, readUvarint, uvarintSize } from '../../util/protowire.js';
import type { Member } from './membership/member.js';
import { CheckedPeerAgent, allowedCertCheck } from '../rafthttp/peer-tls.js';

/** Encodes members as etcd's peer `/members` body (json.Encoder: one line, newline-terminated). */
export function membersToJson(members: readonly Member[]): string {
  const one = (m: Member): string => {
    let s = `{"id":${m.id.toString()},"peerURLs":${JSON.stringify(m.peerUrls ?? [])}`;
    if (m.isLearner) s += ',"isLearner":true';
    if (m.name !== '') s += `,"name":${JSON.stringify(m.name)}`;
    if (m.clientUrls.length > 0) s += `,"clientURLs":${JSON.stringify(m.clientUrls)}`;
    return s + '}';
  };
  return `[${members.map(one).join(',')}]\n`;
}

/**
 * Parses a `/members` body. Throws a SyntaxError for text that is not a JSON array of
 * members with numeric IDs.
 */
export function parseMembersJson(text: string): Member[] {
  // quote the uint64 IDs before JSON.parse so no digit is lost
  const quoted = text.replace(/"id"\s*:\s*(\d+)/g, '"id":"$1"');
  const raw: unknown = JSON.parse(quoted);
  if (!Array.isArray(raw)) throw new SyntaxError('members response is not a JSON array');
  return raw.map((o: Record<string, unknown>) => {
    if (typeof o !== 'object' || o === null || typeof o.id !== 'string') throw new SyntaxError('member without a numeric "id"');
    const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
    return {
      id: BigInt(o.id),
      peerUrls: strings(o.peerURLs),
      isLearner: o.isLearner === true,
      name: typeof o.name === 'string' ? o.name : '',
      clientUrls: strings(o.clientURLs),
    };
  });
}

/** TLS for requests to peers (https peer URLs). */
export interface PeerClientTls {
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
  readonly ca?: string | Buffer;
  readonly insecureSkipVerify?: boolean;
  /** --peer-cert-allowed-cn: the CN the peer's server certificate must have (rafthttp/peer-tls.ts). */
  readonly allowedCn?: string;
  /** --peer-cert-allowed-hostname: a name the peer's server certificate must be valid for. */
  readonly allowedHostname?: string;
}

/** One HTTP exchange with a peer: status, headers and the whole body. */
export interface PeerResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/**
 * Sends one request to a peer URL and reads the whole answer. Rejects with Node's
 * connection error (ECONNREFUSED ...), or `Error('timeout')` after `timeoutMs` ms, or
 * when `signal` aborts.
 */
export function peerRequest(
  url: string,
  opts: { method: string; body?: Uint8Array; contentType?: string; timeoutMs: number; tls?: PeerClientTls; signal?: AbortSignal },
): Promise<PeerResponse> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = {};
    if (opts.body) {
      headers['Content-Type'] = opts.contentType ?? 'application/protobuf';
      headers['Content-Length'] = String(opts.body.length);
    }
    const base: https.RequestOptions = { method: opts.method, headers, signal: opts.signal };
    if (u.protocol === 'https:') {
      const t = opts.tls ?? {};
      const tlsOpts = { cert: t.cert, key: t.key, ca: t.ca, rejectUnauthorized: !t.insecureSkipVerify };
      Object.assign(base, tlsOpts);
      // the peer's server certificate must also pass the allowed CN / hostname, as in rafthttp
      const check = allowedCertCheck({ allowedCn: t.allowedCn ?? '', allowedHostname: t.allowedHostname ?? '' });
      if (check) base.agent = new CheckedPeerAgent(tlsOpts, check);
    }
    const req = (u.protocol === 'https:' ? https : http).request(u, base, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
      res.on('error', (e) => {
        clearTimeout(timer);
        reject(e);
      });
    });
    const timer = setTimeout(() => req.destroy(new Error('timeout')), opts.timeoutMs);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.end(opts.body);
  });
}

/** A cluster as seen from one of its members' `/members` endpoint. */
export interface RemoteCluster {
  readonly clusterId: bigint;
  readonly members: Member[];
}

/**
 * Asks each URL's `/members` in turn for the cluster's members and ID (etcd
 * GetClusterFromRemotePeers, 10 s per URL). `warn` gets etcd's per-URL warnings.
 * Throws `could not retrieve cluster information from the given URLs` when no URL
 * answered usefully, or `failed to get raft cluster member(s) from the given URLs`
 * when one answered an empty list.
 */
export async function getClusterFromRemotePeers(
  urls: readonly string[],
  warn: (msg: string, fields: Record<string, unknown>) => void,
  tls?: PeerClientTls,
  timeoutMs = 10_000,
): Promise<RemoteCluster> {
  for (const u of urls) {
    const addr = `${u.replace(/\/$/, '')}/members`;
    let res: PeerResponse;
    try {
      res = await peerRequest(addr, { method: 'GET', timeoutMs, tls });
    } catch (e) {
      warn('failed to get cluster response', { address: addr, error: `Get "${addr}": ${(e as Error).message}` });
      continue;
    }
    let members: Member[];
    try {
      members = parseMembersJson(res.body.toString('utf8'));
    } catch (e) {
      warn('failed to unmarshal cluster response', { address: addr, error: (e as Error).message });
      continue;
    }
    const header = String(res.headers['x-etcd-cluster-id'] ?? '');
    if (!/^[0-9a-f]+$/i.test(header) || header.length > 16) {
      warn('failed to parse cluster ID', { address: addr, header, error: `invalid cluster ID ${JSON.stringify(header)}` });
      continue;
    }
    if (members.length === 0) throw new Error('failed to get raft cluster member(s) from the given URLs');
    return { clusterId: BigInt('0x' + header), members };
  }
  throw new Error('could not retrieve cluster information from the given URLs');
}

/**
 * etcd membership.ValidateClusterAndAssignIDs: every existing member must match one
 * local (--initial-cluster) member by its peer URLs (compared sorted); the local
 * members then take the existing IDs. Returns the local members with their IDs.
 * Throws `member count is unequal` or `PeerURLs: no match found for existing member
 * (<id hex>, [urls])`.
 */
export function assignIdsFromExisting(local: readonly Member[], existing: readonly Member[]): Member[] {
  if (local.length !== existing.length) throw new Error('member count is unequal');
  const key = (urls: readonly string[]): string => [...urls].map((u) => u.replace(/\/$/, '')).sort().join(',');
  const out = local.map((m) => ({ ...m }));
  for (const e of existing) {
    const j = out.findIndex((m) => key(m.peerUrls) === key(e.peerUrls));
    if (j < 0) throw new Error(`PeerURLs: no match found for existing member (${e.id.toString(16)}, [${e.peerUrls.join(' ')}]), last resolver error (<nil>)`);
    out[j] = { ...out[j]!, id: e.id };
  }
  return out;
}

/**
 * Wraps a message as field 1 of an outer message (leasepb.LeaseInternalRequest /
 * LeaseInternalResponse, whose only field 1 is the LeaseTimeToLive request/response).
 */
export function wrapField1(inner: Uint8Array): Uint8Array {
  const out = new Uint8Array(1 + uvarintSize(inner.length) + inner.length);
  out[0] = 0x0a;
  const pos = putUvarint(out, 1, inner.length);
  out.set(inner, pos);
  return out;
}

/** The bytes of field 1 of `outer` ({@link wrapField1}'s inverse; empty when absent). Throws RangeError on malformed input. */
export function unwrapField1(outer: Uint8Array): Uint8Array {
  const c = { pos: 0 };
  let found: Uint8Array = new Uint8Array(0);
  while (c.pos < outer.length) {
    const tagRaw = readUvarint(outer, c);
    if (tagRaw < 0n) throw new RangeError('malformed tag');
    const tag = Number(tagRaw);
    const wt = tag & 7;
    if (wt === 2) {
      const len = readLength(outer, c);
      if (len < 0) throw new RangeError('malformed length');
      if ((tag >>> 3) === 1) found = outer.subarray(c.pos, c.pos + len);
      c.pos += len;
    } else if (wt === 0) {
      if (readUvarint(outer, c) < 0n) throw new RangeError('malformed varint');
    } else if (wt === 1) {
      c.pos += 8;
    } else if (wt === 5) {
      c.pos += 4;
    } else {
      throw new RangeError(`unsupported wire type ${wt}`);
    }
  }
  if (c.pos > outer.length) throw new RangeError('truncated message');
  return found;
}
