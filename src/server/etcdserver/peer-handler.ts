/**
 * @module server/etcdserver/peer-handler
 * The HTTP handler mounted on --listen-peer-urls (etcd 3.4 etcdhttp.NewPeerHandler with
 * leasehttp and the corruption checker's hashKV handler):
 * - `/raft`, `/raft/stream/...`, `/raft/snapshot`, `/raft/probing`: the peer transport;
 * - `GET /version`: `{"etcdserver":"3.4.23","etcdcluster":"3.4.0"}` (`not_decided` before
 *   the cluster version is set);
 * - `GET /members`: the members as etcd's JSON, with `X-Etcd-Cluster-ID`;
 * - `POST /members/promote/<decimal id>`: promote a learner on the leader (404 unknown
 *   member, 412 not a learner / not ready, 500 otherwise);
 * - `GET /members/hashkv`: the KV hash for the corruption checks (corrupt.ts);
 * - `POST /leases` (renew) and `POST /leases/internal` (time-to-live): lease requests a
 *   follower forwards to the leader, as protobuf (leasehttp);
 * - 404 `404 page not found` for anything else; 405 with `Allow` for a wrong method.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  LeaseKeepAliveRequestSchema,
  LeaseKeepAliveResponseSchema,
  LeaseTimeToLiveRequestSchema,
  LeaseTimeToLiveResponseSchema,
  ResponseHeaderSchema,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
} from '../../gen/etcdserverpb/rpc_pb.js';
import { ErrLeaseNotFound } from '../lease/errors.js';
import type { HashKVResult } from '../mvcc/kv.js';
import { membersToJson, unwrapField1, wrapField1 } from './cluster-util.js';
import { PEER_HASHKV_PATH, serveHashKV } from './corrupt.js';
import { ErrIDNotFound, ErrLearnerNotReady, ErrMemberNotLearner } from './errors.js';
import type { Member } from './membership/member.js';
import type { ServerLogger } from './server.js';

/** What the peer handler needs of the member. */
export interface PeerHandlerHost {
  readonly serverVersion: string;
  readonly clusterId: bigint;
  readonly log: ServerLogger;
  /** Serves the request if it is the transport's (`/raft...`); true when it did. */
  transportHandle(req: IncomingMessage, res: ServerResponse): boolean;
  /** The cluster version ("3.4.0"), or '' before it is decided. */
  clusterVersion(): string;
  memberList(): readonly Member[];
  /** Promotes learner `id` on this member as the leader; rejects with etcd's membership errors. */
  promoteMember(id: bigint): Promise<void>;
  hashByRev(rev: number): HashKVResult;
  /** Renews lease `id` on this member's lessor once it applied what it committed; resolves with the TTL (s). */
  leaseRenew(id: bigint): Promise<number>;
  /** Time-to-live of a lease from this member's lessor once it applied what it committed. */
  leaseTimeToLive(r: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse>;
}

const idHex = (id: bigint): string => id.toString(16);

/** Returns the request handler for the peer listeners (see the module comment). */
export function newPeerHandler(host: PeerHandlerHost): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (host.transportHandle(req, res)) return;
    const path = (req.url ?? '/').split('?')[0]!;
    const text = (status: number, body: string): void => {
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'X-Content-Type-Options': 'nosniff' });
      res.end(body + '\n');
    };
    const allow = (method: string): boolean => {
      if (req.method === method) return true;
      res.setHeader('Allow', method);
      text(405, 'Method Not Allowed');
      return false;
    };
    const body = (then: (b: Buffer) => void): void => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => then(Buffer.concat(chunks)));
    };
    if (path === '/version') {
      if (!allow('GET')) return;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ etcdserver: host.serverVersion, etcdcluster: host.clusterVersion() || 'not_decided' }));
      return;
    }
    if (path === '/members') {
      if (!allow('GET')) return;
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Cluster-ID': idHex(host.clusterId) });
      res.end(membersToJson(host.memberList()));
      return;
    }
    if (path.startsWith('/members/promote/')) {
      if (!allow('POST')) return;
      req.resume();
      res.setHeader('X-Etcd-Cluster-ID', idHex(host.clusterId));
      const idText = path.slice('/members/promote/'.length);
      if (!/^\d+$/.test(idText) || BigInt(idText) >= 1n << 64n) {
        text(404, `member ${idText} not found in cluster`);
        return;
      }
      host.promoteMember(BigInt(idText)).then(
        () => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(membersToJson(host.memberList()));
        },
        (e: unknown) => {
          const msg = String((e as Error)?.message ?? e);
          if (e instanceof ErrIDNotFound) text(404, msg);
          else if (e instanceof ErrMemberNotLearner || e instanceof ErrLearnerNotReady) text(412, msg);
          else text(500, msg);
          host.log.warn('failed to promote a member', { 'member-id': idHex(BigInt(idText)), error: msg });
        },
      );
      return;
    }
    if (path === PEER_HASHKV_PATH) {
      body((b) => {
        const r = serveHashKV(req.method ?? 'GET', b, (rev) => host.hashByRev(rev), host.log);
        if (r.status === 405) res.setHeader('Allow', 'GET');
        if (!r.json) return text(r.status, r.body);
        res.writeHead(200, { 'Content-Type': 'application/json', 'X-Etcd-Cluster-ID': idHex(host.clusterId) });
        res.end(r.body);
      });
      return;
    }
    if (path === '/leases' || path === '/leases/internal') {
      if (!allow('POST')) return;
      body((b) => void serveLease(host, path, b, res, text));
      return;
    }
    text(404, '404 page not found');
  };
}

/** etcd leasehttp's handler: renew (`/leases`) or time-to-live (`/leases/internal`). */
async function serveLease(host: PeerHandlerHost, path: string, body: Buffer, res: ServerResponse, text: (status: number, body: string) => void): Promise<void> {
  try {
    if (path === '/leases') {
      let req;
      try {
        req = fromBinary(LeaseKeepAliveRequestSchema, body);
      } catch {
        text(400, 'error unmarshalling request');
        return;
      }
      const ttl = await host.leaseRenew(req.ID);
      res.writeHead(200, { 'Content-Type': 'application/protobuf' });
      res.end(toBinary(LeaseKeepAliveResponseSchema, create(LeaseKeepAliveResponseSchema, { header: create(ResponseHeaderSchema, {}), ID: req.ID, TTL: BigInt(ttl) })));
      return;
    }
    let inner;
    try {
      inner = fromBinary(LeaseTimeToLiveRequestSchema, unwrapField1(body));
    } catch {
      text(400, 'error unmarshalling request');
      return;
    }
    const resp = await host.leaseTimeToLive(inner);
    res.writeHead(200, { 'Content-Type': 'application/protobuf' });
    res.end(wrapField1(toBinary(LeaseTimeToLiveResponseSchema, resp)));
  } catch (e) {
    text(e instanceof ErrLeaseNotFound ? 404 : 400, String((e as Error)?.message ?? e));
  }
}
