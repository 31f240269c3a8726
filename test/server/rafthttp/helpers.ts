// Test members for the rafthttp tests: a Transport plus its peer server on a random
// loopback port, recording what raft would see (processed messages, unreachable
// reports, snapshot reports) and the log lines.
import type { AddressInfo } from 'node:net';
import type http from 'node:http';
import type { Readable } from 'node:stream';
import { MemoryLogger } from '../../../src/server/logger.js';
import { createPeerServer, Transport, type PeerTlsOptions, type TransportOptions } from '../../../src/server/rafthttp/index.js';
import type { Message } from '../../../src/server/raft/types.js';

export interface TestMember {
  id: bigint;
  url: string;
  tr: Transport;
  server: http.Server;
  lg: MemoryLogger;
  received: Message[];
  unreachable: bigint[];
  snapshots: Array<[bigint, boolean]>;
  /** Remote addresses of every TCP connection accepted by the peer server. */
  remoteAddresses: string[];
  stop(): Promise<void>;
}

export interface MemberOptions {
  clusterId?: bigint;
  port?: number;
  tls?: PeerTlsOptions;
  localAddress?: string;
  receiveSnapshot?: (m: Message, body: Readable) => Promise<void>;
  extra?: Partial<TransportOptions>;
}

/** Starts a member listening on 127.0.0.1 (port 0 = random). */
export async function startMember(id: bigint, o: MemberOptions = {}): Promise<TestMember> {
  const lg = new MemoryLogger();
  const received: Message[] = [];
  const unreachable: bigint[] = [];
  const snapshots: Array<[bigint, boolean]> = [];
  const remoteAddresses: string[] = [];
  let tr: Transport | undefined;
  const server = createPeerServer((req, res) => tr!.requestListener(req, res), o.tls);
  server.on(o.tls ? 'secureConnection' : 'connection', (sock: { remoteAddress?: string }) => remoteAddresses.push(sock.remoteAddress ?? ''));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const url = `${o.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  tr = new Transport({
    id,
    clusterId: o.clusterId ?? 0xc1005n,
    urls: [url],
    logger: lg,
    process: (m) => received.push(m),
    reportUnreachable: (to) => unreachable.push(to),
    reportSnapshot: (to, ok) => snapshots.push([to, ok]),
    ...(o.receiveSnapshot ? { receiveSnapshot: o.receiveSnapshot } : {}),
    ...(o.tls ? { tls: o.tls } : {}),
    ...(o.localAddress ? { localAddress: o.localAddress } : {}),
    ...o.extra,
  });
  const t = tr;
  return {
    id, url, tr: t, server, lg, received, unreachable, snapshots, remoteAddresses,
    async stop() {
      t.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `pred` (every 5 ms) until true; fails after `limitMs` (a bound against hangs, not a timing assertion). */
export async function waitFor(pred: () => boolean, what: string, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Log messages of `m` at any level. */
export function logMsgs(m: TestMember): string[] {
  return m.lg.entries.map((e) => e.msg);
}

/** Connects members pairwise and waits until every stream in both directions is attached. */
export async function connectAll(members: TestMember[]): Promise<void> {
  for (const a of members) for (const b of members) if (a !== b) a.tr.addPeer(b.id, [b.url]);
  await waitFor(
    () => members.every((a) => members.every((b) => a === b || (a.tr.isStreamWriting(b.id, 'message') && a.tr.isStreamWriting(b.id, 'msgapp')))),
    'all streams attached',
  );
}
