/**
 * @module server/etcdserver/corrupt
 * Data-corruption checks between members (etcd 3.4 etcdserver/corrupt.go):
 * - {@link checkInitialHashKV}: with --experimental-initial-corrupt-check, a restarting
 *   member compares its KV hash with each peer's hash at its own revision before it
 *   starts raft, and refuses to start (`<id> found data inconsistency with peers`) when
 *   a peer with the same compact revision has another hash;
 * - {@link checkHashKV}: with --experimental-corrupt-check-time, the leader does the same
 *   periodically and raises the CORRUPT alarm on a mismatch;
 * - {@link serveHashKV}: the peer endpoint `GET /members/hashkv` both of them ask.
 * Peer hashes travel as JSON (Go's encoding/json of etcdserverpb.HashKVRequest /
 * HashKVResponse: `{"revision":N}` → `{"header":{"revision":R},"hash":H,"compact_revision":C}`).
 */
import type { ServerLogger } from './server.js';
import type { Member } from './membership/member.js';
import { peerRequest, type PeerClientTls } from './cluster-util.js';
import { ErrCompacted, ErrFutureRev } from '../mvcc/errors.js';
import type { HashKVResult } from '../mvcc/kv.js';

/** etcd's PeerHashKVPath. */
export const PEER_HASHKV_PATH = '/members/hashkv';

/** What the checks need of the server. */
export interface CorruptCheckHost {
  readonly memberId: bigint;
  readonly clusterId: bigint;
  readonly log: ServerLogger;
  /** The KV hash up to `rev` (0: current); throws ErrCompacted / ErrFutureRev. */
  hashByRev(rev: number): HashKVResult;
  /** Every member of the cluster (this one included). */
  members(): readonly Member[];
  /** Peer TLS for outgoing requests, if the peer URLs are https. */
  peerClientTls(): PeerClientTls | undefined;
  /** etcd Cfg.ReqTimeout(), ms. */
  reqTimeoutMs(): number;
}

const idHex = (id: bigint): string => id.toString(16);

/** One peer's answer: its hash response, or why there is none. */
interface PeerHash {
  id: bigint;
  eps: readonly string[];
  resp?: { revision: number; hash: number; compactRevision: number; memberId: bigint };
  err?: Error;
}

/**
 * Serves `GET /members/hashkv` (etcd hashKVHandler): `body` is the JSON HashKVRequest.
 * Returns the HTTP status and body: 200 with the JSON HashKVResponse, 400 with the
 * error text for a bad body or a compacted / future revision, 405 for other methods.
 */
export function serveHashKV(method: string, body: Buffer, hashByRev: (rev: number) => HashKVResult, log: ServerLogger): { status: number; body: string; json?: boolean } {
  if (method !== 'GET') return { status: 405, body: 'Method Not Allowed' };
  let rev = 0;
  try {
    const j = JSON.parse(body.length ? body.toString('utf8') : '{}') as { revision?: unknown };
    if (j.revision !== undefined) {
      if (typeof j.revision !== 'number' || !Number.isSafeInteger(j.revision)) throw new Error(`json: cannot unmarshal ${typeof j.revision} into Go struct field HashKVRequest.revision of type int64`);
      rev = j.revision;
    }
  } catch (e) {
    log.warn('failed to unmarshal request', { error: (e as Error).message });
    return { status: 400, body: 'error unmarshalling request' };
  }
  let h: HashKVResult;
  try {
    h = hashByRev(rev);
  } catch (e) {
    log.warn('failed to get hashKV', { 'requested-revision': rev, error: (e as Error).message });
    return { status: 400, body: (e as Error).message };
  }
  const resp: Record<string, unknown> = { header: { revision: h.currentRev } };
  if (h.hash) resp.hash = h.hash;
  if (h.compactRev) resp.compact_revision = h.compactRev;
  return { status: 200, body: JSON.stringify(resp), json: true };
}

/** Asks every other member's peer URLs for its hash at `rev` (etcd getPeerHashKVs). */
async function getPeerHashKVs(host: CorruptCheckHost, rev: number): Promise<PeerHash[]> {
  const out: PeerHash[] = [];
  for (const m of host.members()) {
    if (m.id === host.memberId || m.peerUrls.length === 0) continue;
    const p: PeerHash = { id: m.id, eps: m.peerUrls };
    for (const ep of m.peerUrls) {
      try {
        const r = await peerRequest(ep.replace(/\/$/, '') + PEER_HASHKV_PATH, {
          method: 'GET',
          body: Buffer.from(JSON.stringify({ revision: rev })),
          contentType: 'application/json',
          timeoutMs: host.reqTimeoutMs(),
          tls: host.peerClientTls(),
        });
        const text = r.body.toString('utf8');
        if (r.status === 400 && text.includes(new ErrCompacted().message)) throw new ErrCompacted();
        if (r.status === 400 && text.includes(new ErrFutureRev().message)) throw new ErrFutureRev();
        if (r.status !== 200) throw new Error(`unknown error: ${text}`);
        const j = JSON.parse(text) as { header?: { revision?: number; member_id?: number }; hash?: number; compact_revision?: number };
        p.resp = { revision: j.header?.revision ?? 0, hash: j.hash ?? 0, compactRevision: j.compact_revision ?? 0, memberId: m.id };
        p.err = undefined;
        break;
      } catch (e) {
        p.err = e as Error;
        host.log.warn('failed hash kv request', { 'local-member-id': idHex(host.memberId), 'requested-revision': rev, 'remote-peer-endpoint': ep, error: (e as Error).message });
      }
    }
    out.push(p);
  }
  return out;
}

/**
 * etcd CheckInitialHashKV: compares this member's hash (at its current revision) with
 * each reachable peer's. Peers that are behind, ahead beyond a compaction, or
 * unreachable are logged and skipped.
 * @throws Error `<member id> found data inconsistency with peers` when a peer with the
 *   same compact revision has a different hash.
 */
export async function checkInitialHashKV(host: CorruptCheckHost): Promise<void> {
  const local = idHex(host.memberId);
  host.log.info('starting initial corruption check', { 'local-member-id': local, timeout: `${host.reqTimeoutMs() / 1000}s` });
  const h = host.hashByRev(0);
  const peers = await getPeerHashKVs(host, h.currentRev);
  let mismatch = 0;
  for (const p of peers) {
    if (p.resp) {
      const fields = {
        'local-member-id': local,
        'local-member-revision': h.currentRev,
        'local-member-compact-revision': h.compactRev,
        'local-member-hash': h.hash,
        'remote-peer-id': idHex(p.id),
        'remote-peer-endpoints': p.eps,
        'remote-peer-revision': p.resp.revision,
        'remote-peer-compact-revision': p.resp.compactRevision,
        'remote-peer-hash': p.resp.hash,
      };
      if (h.hash !== p.resp.hash) {
        if (h.compactRev === p.resp.compactRevision) {
          host.log.warn('found different hash values from remote peer', fields);
          mismatch++;
        } else {
          host.log.warn('found different compact revision values from remote peer', fields);
        }
      }
      continue;
    }
    const base = { 'local-member-id': local, 'local-member-revision': h.currentRev, 'local-member-compact-revision': h.compactRev, 'local-member-hash': h.hash, 'remote-peer-id': idHex(p.id), 'remote-peer-endpoints': p.eps };
    if (p.err instanceof ErrFutureRev) host.log.warn('cannot fetch hash from slow remote peer', base);
    else if (p.err instanceof ErrCompacted) host.log.warn('cannot fetch hash from remote peer; local member is behind', base);
  }
  if (mismatch > 0) throw new Error(`${local} found data inconsistency with peers`);
  host.log.info('initial corruption checking passed; no corruption', { 'local-member-id': local });
}

/**
 * etcd checkHashKV (the leader's periodic check): hashes before and after a
 * linearizable read, compares with every peer, and calls `raiseAlarm` once when this
 * member's hash changed without a revision change or a follower is ahead of the leader,
 * or a follower with the same compact revision has another hash.
 */
export async function checkHashKV(host: CorruptCheckHost, linearizableRead: () => Promise<void>, raiseAlarm: () => void): Promise<void> {
  const h = host.hashByRev(0);
  const peers = await getPeerHashKVs(host, h.currentRev);
  await linearizableRead();
  const h2 = host.hashByRev(0);
  let alarmed = false;
  const mismatch = (): void => {
    if (alarmed) return;
    alarmed = true;
    raiseAlarm();
  };
  if (h2.hash !== h.hash && h2.currentRev === h.currentRev && h2.compactRev === h.compactRev) {
    host.log.warn('found hash mismatch', { 'revision-1': h.currentRev, 'compact-revision-1': h.compactRev, 'hash-1': h.hash, 'revision-2': h2.currentRev, 'compact-revision-2': h2.compactRev, 'hash-2': h2.hash });
    mismatch();
  }
  let checked = 0;
  for (const p of peers) {
    if (!p.resp) continue;
    checked++;
    if (p.resp.revision > h2.currentRev) {
      host.log.warn("revision from follower must be less than or equal to leader's", { 'leader-revision': h2.currentRev, 'follower-revision': p.resp.revision, 'follower-peer-id': idHex(p.id) });
      mismatch();
    }
    if (p.resp.compactRevision > h2.compactRev) {
      host.log.warn("compact revision from follower must be less than or equal to leader's", { 'leader-compact-revision': h2.compactRev, 'follower-compact-revision': p.resp.compactRevision, 'follower-peer-id': idHex(p.id) });
      mismatch();
    }
    if (p.resp.compactRevision === h.compactRev && p.resp.hash !== h.hash) {
      host.log.warn('same compact revision then hashes must match', { 'leader-compact-revision': h2.compactRev, 'leader-hash': h.hash, 'follower-compact-revision': p.resp.compactRevision, 'follower-hash': p.resp.hash, 'follower-peer-id': idHex(p.id) });
      mismatch();
    }
  }
  host.log.info('finished peer corruption check', { 'number-of-peers-checked': checked });
}
