// Transport: members in one process exchanging raft messages over loopback HTTP
// (streams, pipeline, snapshots), failures and their reports, cluster-ID checks,
// TLS, local address binding and clean shutdown. No timing assertions: waits are
// bounded polls of observable state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { EntryType, makeMessage, MessageType, type Message } from '../../../src/server/raft/types.js';
import { idString } from '../../../src/server/rafthttp/index.js';
import { makeTestCerts } from '../../harness/certs.js';
import { connectAll, logMsgs, startMember, waitFor, type TestMember } from './helpers.js';

const A = 0x8e9e05c52164694dn; // ids above 2^53, as etcd's random member ids
const B = 0x91bc3c398fb3c146n;
const C = 0xfd422379fda50e48n;

function app(from: bigint, to: bigint, index: number, data = 'x'): Message {
  return makeMessage({
    type: MessageType.MsgApp, from, to, term: 3, logTerm: 3, index, commit: index,
    entries: [{ term: 3, index: index + 1, type: EntryType.EntryNormal, data: new TextEncoder().encode(data) }],
  });
}

async function stopAll(...ms: TestMember[]): Promise<void> {
  await Promise.all(ms.map((m) => m.stop()));
}

test('two members: streams attach both ways; MsgApp and heartbeats flow over them', async () => {
  const a = await startMember(A);
  const b = await startMember(B);
  try {
    await connectAll([a, b]);
    const hb = makeMessage({ type: MessageType.MsgHeartbeat, from: B, to: A, term: 3, commit: 7, context: new Uint8Array([1, 2]) });
    const m = app(A, B, 10, 'hello');
    a.tr.send([m]);
    b.tr.send([hb]);
    await waitFor(() => b.received.length === 1 && a.received.length === 1, 'both messages delivered');
    assert.deepEqual(b.received[0], m);
    assert.deepEqual(a.received[0], hb);
    for (const x of [a, b]) {
      assert.ok(logMsgs(x).includes('established TCP streaming connection with remote peer'));
      assert.ok(logMsgs(x).includes('peer became active'));
    }
    // they went over the streams (one message each), not the pipeline
    assert.equal(a.tr.streamStats(B).messages, 1);
    assert.equal(b.tr.streamStats(A).messages, 1);
    assert.deepEqual([a.unreachable, b.unreachable], [[], []]);
  } finally {
    await stopAll(a, b);
  }
});

test('three members: every pair exchanges messages', async () => {
  const ms = [await startMember(A), await startMember(B), await startMember(C)];
  try {
    await connectAll(ms);
    for (const from of ms) for (const to of ms) if (from !== to) from.tr.send([makeMessage({ type: MessageType.MsgVote, from: from.id, to: to.id, term: 5, index: 1, logTerm: 1 })]);
    await waitFor(() => ms.every((x) => x.received.length === 2), 'two votes at each member');
    for (const x of ms) {
      assert.deepEqual(x.received.map((m) => m.from).sort(), ms.filter((y) => y !== x).map((y) => y.id).sort());
      assert.ok(x.received.every((m) => m.to === x.id && m.type === MessageType.MsgVote));
    }
  } finally {
    await stopAll(...ms);
  }
});

test('pipeline: without streams messages are POSTed to /raft; MsgSnap via send reports success', async () => {
  const a = await startMember(A);
  const b = await startMember(B);
  try {
    // only A knows B: B never dials A, so A has no stream writer to B
    a.tr.addPeer(B, [b.url]);
    const msgs = [app(A, B, 1), makeMessage({ type: MessageType.MsgTimeoutNow, from: A, to: B, term: 3 })];
    const snap = makeMessage({
      type: MessageType.MsgSnap, from: A, to: B, term: 3,
      snapshot: { data: new TextEncoder().encode('v2'), metadata: { confState: { voters: [A, B], learners: [] }, index: 20, term: 3 } },
    });
    a.tr.send([...msgs, snap]);
    await waitFor(() => b.received.length === 3, '3 messages over the pipeline');
    assert.deepEqual(new Set(b.received.map((m) => m.type)), new Set([MessageType.MsgApp, MessageType.MsgTimeoutNow, MessageType.MsgSnap]));
    assert.deepEqual(b.received.find((m) => m.type === MessageType.MsgSnap), snap);
    await waitFor(() => a.snapshots.length === 1, 'snapshot report');
    assert.deepEqual(a.snapshots, [[B, true]]);
    assert.equal(a.tr.streamStats(B).messages, 0);
    assert.equal(a.tr.isStreamWriting(B, 'message'), false);
    // B logged A's stream dials as coming from an unknown member
    assert.ok(logMsgs(b).includes('failed to find remote peer in cluster'));
  } finally {
    await stopAll(a, b);
  }
});

test('stream batching: many messages sent at once go out in few socket writes, in order', async () => {
  const a = await startMember(A);
  const b = await startMember(B);
  try {
    await connectAll([a, b]);
    const before = a.tr.streamStats(B);
    const n = 2000;
    const msgs = Array.from({ length: n }, (_, i) => makeMessage({ type: MessageType.MsgHeartbeat, from: A, to: B, term: 3, commit: i }));
    a.tr.send(msgs);
    await waitFor(() => b.received.length === n, `${n} heartbeats`);
    assert.deepEqual(b.received.map((m) => m.commit), msgs.map((m) => m.commit));
    const after = a.tr.streamStats(B);
    assert.equal(after.messages - before.messages, n);
    // all were queued before the first flush: far fewer writes than messages
    assert.ok(after.batches - before.batches <= 2, `batches: ${after.batches - before.batches}`);
  } finally {
    await stopAll(a, b);
  }
});

test('bounded queues: a full stream queue drops messages and reports the peer unreachable', async () => {
  const a = await startMember(A);
  const b = await startMember(B);
  try {
    await connectAll([a, b]);
    const n = 5000; // > STREAM_BUF_SIZE (4096), all queued before the first flush
    const msgs = Array.from({ length: n }, (_, i) => makeMessage({ type: MessageType.MsgHeartbeat, from: A, to: B, term: 3, commit: i }));
    a.tr.send(msgs);
    assert.equal(a.unreachable.length, n - 4096);
    assert.ok(a.unreachable.every((id) => id === B));
    assert.ok(logMsgs(a).includes('dropped internal Raft message since sending buffer is full (overloaded network)'));
    await waitFor(() => b.received.length === 4096, 'the 4096 queued messages');
    assert.deepEqual(b.received.map((m) => m.commit), msgs.slice(0, 4096).map((m) => m.commit));
  } finally {
    await stopAll(a, b);
  }
});

test('peer down then up: unreachable reported and logged, streams re-established, messages flow again', async () => {
  const a = await startMember(A);
  let b = await startMember(B);
  const port = Number(new URL(b.url).port);
  try {
    await connectAll([a, b]);
    await b.stop();
    await waitFor(() => logMsgs(a).includes('lost TCP streaming connection with remote peer'), 'lost stream logged');
    await waitFor(() => !a.tr.isActive(B), 'B inactive');
    assert.ok(logMsgs(a).includes('peer became inactive (message send to peer failed)'));
    const inactive = a.lg.entries.find((e) => e.msg === 'peer became inactive (message send to peer failed)')!;
    assert.match(String(inactive.fields.error), new RegExp(`^failed to (write|read|dial) ${idString(B)} on (stream Message|stream MsgApp v2|pipeline) \\(`));
    // with no stream, sends go to the pipeline and fail
    a.tr.send([app(A, B, 1)]);
    await waitFor(() => a.unreachable.includes(B), 'B reported unreachable');
    // B comes back on the same address
    b = await startMember(B, { port });
    b.tr.addPeer(A, [a.url]);
    await waitFor(() => a.tr.isStreamWriting(B, 'message') && a.tr.isStreamWriting(B, 'msgapp') && a.tr.isActive(B), 'streams to B again');
    const m = app(A, B, 2, 'again');
    a.tr.send([m]);
    await waitFor(() => b.received.length === 1, 'message after reconnect');
    assert.deepEqual(b.received[0], m);
    assert.ok(logMsgs(a).filter((x) => x === 'peer became active').length >= 2);
    assert.ok(logMsgs(a).filter((x) => x === 'established TCP streaming connection with remote peer').length >= 4);
  } finally {
    await stopAll(a, b);
  }
});

test('cluster ID mismatch: streams and pipeline POSTs rejected with 412, logged on both sides', async () => {
  const a = await startMember(A, { clusterId: 0x1111n });
  const c = await startMember(C, { clusterId: 0x2222n });
  try {
    a.tr.addPeer(C, [c.url]);
    c.tr.addPeer(A, [a.url]);
    await waitFor(() => logMsgs(a).includes('request sent was ignored by remote peer due to cluster ID mismatch'), 'mismatch seen by the dialer');
    assert.ok(logMsgs(c).includes('request cluster ID mismatch'));
    const w = c.lg.entries.find((e) => e.msg === 'request cluster ID mismatch')!;
    assert.equal(w.level, 'warn');
    assert.equal(w.fields['remote-peer-cluster-id'], '1111');
    assert.equal(w.fields['local-member-cluster-id'], '2222');
    a.tr.send([app(A, C, 1)]);
    await waitFor(() => a.unreachable.includes(C), 'C unreachable for A');
    assert.equal(a.tr.isStreamWriting(C, 'message'), false);
    assert.equal(a.tr.isActive(C), false);
    assert.deepEqual(c.received, []);
    // the raw HTTP answer, as etcd's http.Error writes it
    const res = await fetch(`${c.url}/raft`, {
      method: 'POST',
      headers: { 'X-Etcd-Cluster-ID': '1111', 'X-Server-From': idString(A), 'X-Server-Version': '3.4.23', 'X-Min-Cluster-Version': '3.0.0' },
      body: new Uint8Array(0),
    });
    assert.equal(res.status, 412);
    assert.equal(await res.text(), 'cluster ID mismatch\n');
    assert.equal(res.headers.get('x-etcd-cluster-id'), '2222');
    const ok = await fetch(`${c.url}/raft`, { method: 'GET' });
    assert.equal(ok.status, 405);
    assert.equal(ok.headers.get('allow'), 'POST');
    await ok.text();
  } finally {
    await stopAll(a, c);
  }
});

test('snapshot: a 20 MiB database is streamed in chunks with bounded buffering, then reported', async () => {
  const total = 20 * 1024 * 1024;
  const chunk = 256 * 1024;
  let produced = 0;
  let consumed = 0;
  let maxLag = 0;
  const chunkSizes: number[] = [];
  const sent = createHash('sha256');
  const got = createHash('sha256');
  let meta: Message | undefined;
  const b = await startMember(B, {
    receiveSnapshot: async (m, body) => {
      meta = m;
      for await (const c of body as AsyncIterable<Buffer>) {
        chunkSizes.push(c.length);
        consumed += c.length;
        got.update(c);
        await new Promise((r) => setImmediate(r)); // a consumer slower than loopback
      }
    },
  });
  const a = await startMember(A);
  try {
    a.tr.addPeer(B, [b.url]);
    const db = Readable.from((function* () {
      for (let i = 0; produced < total; i++) {
        maxLag = Math.max(maxLag, produced - consumed);
        const c = Buffer.alloc(chunk, i & 0xff);
        c.writeUInt32BE(i, 0);
        produced += c.length;
        sent.update(c);
        yield c;
      }
    })());
    const m = makeMessage({
      type: MessageType.MsgSnap, from: A, to: B, term: 4,
      snapshot: { data: new TextEncoder().encode('{"members":[]}'), metadata: { confState: { voters: [A, B], learners: [] }, index: 1234, term: 4 } },
    });
    a.tr.sendSnapshot(m, db, total);
    await waitFor(() => a.snapshots.length === 1, 'snapshot reported', 120_000);
    assert.deepEqual(a.snapshots, [[B, true]]);
    assert.deepEqual(meta, m);
    assert.equal(consumed, total);
    assert.equal(got.digest('hex'), sent.digest('hex'));
    // after the database, the message reaches raft
    assert.deepEqual(b.received, [m]);
    // many chunks, none large: the body was never held whole
    assert.ok(chunkSizes.length >= 20, `chunks: ${chunkSizes.length}`);
    assert.ok(Math.max(...chunkSizes) <= 1024 * 1024, `max chunk ${Math.max(...chunkSizes)}`);
    // the producer was held back by the consumer (socket buffers + stream watermarks only)
    assert.ok(maxLag < total / 2, `producer ran ${maxLag} bytes ahead`);
    assert.ok(logMsgs(a).includes('sending database snapshot') && logMsgs(a).includes('sent database snapshot'));
    assert.ok(logMsgs(b).includes('receiving database snapshot') && logMsgs(b).includes('received and saved database snapshot'));
    console.log(`# snapshot: ${chunkSizes.length} chunks, max ${Math.max(...chunkSizes)} B, producer max lead ${maxLag} B`);
  } finally {
    await stopAll(a, b);
  }
});

test('snapshot to a peer that cannot save it: failure reported (unreachable + snapshot failure)', async () => {
  const b = await startMember(B); // no receiveSnapshot: answered 500
  const a = await startMember(A);
  try {
    a.tr.addPeer(B, [b.url]);
    const m = makeMessage({ type: MessageType.MsgSnap, from: A, to: B, term: 4, snapshot: { data: new Uint8Array(0), metadata: { confState: { voters: [A, B], learners: [] }, index: 9, term: 4 } } });
    a.tr.sendSnapshot(m, Readable.from([Buffer.alloc(1000)]), 1000);
    await waitFor(() => a.snapshots.length === 1, 'snapshot reported');
    assert.deepEqual(a.snapshots, [[B, false]]);
    assert.ok(a.unreachable.includes(B));
    assert.ok(logMsgs(a).includes('failed to send database snapshot'));
    assert.ok(logMsgs(b).includes('failed to save incoming database snapshot'));
    assert.deepEqual(b.received, []);
  } finally {
    await stopAll(a, b);
  }
});

test('outgoing connections bind to the local address', async () => {
  const b = await startMember(B);
  const a = await startMember(A, { localAddress: '127.0.0.2' });
  try {
    await connectAll([a, b]);
    a.tr.send([app(A, B, 1)]);
    await waitFor(() => b.received.length === 1, 'delivered');
    const fromA = b.remoteAddresses;
    assert.ok(fromA.length > 0);
    assert.deepEqual([...new Set(fromA)], ['127.0.0.2']);
    // B has no localAddress: its dials come from 127.0.0.1
    assert.deepEqual([...new Set(a.remoteAddresses)], ['127.0.0.1']);
  } finally {
    await stopAll(a, b);
  }
});

test('add, update and remove peers at runtime', async () => {
  const a = await startMember(A);
  let b = await startMember(B);
  try {
    await connectAll([a, b]);
    // B moves to a new port: A learns the URL through updatePeer
    await b.stop();
    b = await startMember(B);
    b.tr.addPeer(A, [a.url]);
    a.tr.updatePeer(B, [b.url]);
    await waitFor(() => a.tr.isStreamWriting(B, 'message') && b.tr.isStreamWriting(A, 'message'), 'streams after update');
    a.tr.send([app(A, B, 5)]);
    await waitFor(() => b.received.length === 1, 'delivered after update');
    // removal closes A's streams to B and further sends are ignored
    a.tr.removePeer(B);
    assert.equal(a.tr.isStreamWriting(B, 'message'), false);
    a.tr.send([app(A, B, 6)]);
    await waitFor(() => !b.tr.isStreamWriting(A, 'message'), 'B lost its stream to A');
    assert.equal(b.received.length, 1);
    assert.ok(logMsgs(a).includes('removed remote peer') && logMsgs(a).includes('updated remote peer'));
    assert.throws(() => a.tr.addPeer(C, []), /at least one URL/);
    assert.throws(() => a.tr.addPeer(C, ['ftp://x']), /scheme must be http or https/);
  } finally {
    await stopAll(a, b);
  }
});

test('removed members: their streams get 410 and their messages 403', async () => {
  const removed = new Set<bigint>([A]);
  const b = await startMember(B, { extra: { isIdRemoved: (id) => removed.has(id) } });
  const a = await startMember(A);
  const critical: string[] = [];
  a.tr.opts.onCriticalError = (e) => critical.push(e.message);
  try {
    a.tr.addPeer(B, [b.url]);
    b.tr.addPeer(A, [a.url]);
    await waitFor(() => critical.length > 0, 'critical error at A');
    assert.equal(critical[0], 'the member has been permanently removed from the cluster');
    assert.ok(logMsgs(b).includes('rejected stream from remote peer because it was removed'));
  } finally {
    await stopAll(a, b);
  }
});

test('TLS: members with CA-signed certificates and client-cert-auth exchange messages; an unknown CA is refused', async () => {
  const certs = await makeTestCerts();
  const tls = {
    cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ca: readFileSync(certs.caCert), clientCertAuth: true,
  };
  const a = await startMember(A, { tls });
  const b = await startMember(B, { tls });
  const stranger = await startMember(C, {
    tls: { cert: readFileSync(certs.otherServerCert), key: readFileSync(certs.otherServerKey), ca: readFileSync(certs.caCert), clientCertAuth: true },
  });
  try {
    assert.match(a.url, /^https:/);
    await connectAll([a, b]);
    const m = app(A, B, 1, 'secret');
    a.tr.send([m]);
    await waitFor(() => b.received.length === 1, 'delivered over TLS');
    assert.deepEqual(b.received[0], m);
    // C's client certificate is signed by another CA: B refuses the handshake
    stranger.tr.addPeer(B, [b.url]);
    stranger.tr.send([app(C, B, 1)]);
    await waitFor(() => stranger.unreachable.includes(B), 'B unreachable for C');
    assert.equal(b.received.length, 1);
  } finally {
    await stopAll(a, b, stranger);
  }
});

test('stop() closes every connection and timer it opened', async () => {
  // resources that come and go on their own (transient requests, the terminal)
  const transient = new Set(['TTYWrap', 'Immediate', 'CloseReq', 'FSReqCallback']);
  const counts = () => {
    const c = new Map<string, number>();
    for (const r of process.getActiveResourcesInfo()) if (!transient.has(r)) c.set(r, (c.get(r) ?? 0) + 1);
    return c;
  };
  // handles closed by earlier tests finish closing on a later loop turn: start from no sockets
  await waitFor(() => !['TCPServerWrap', 'TCPSocketWrap', 'TLSWrap'].some((r) => counts().has(r)), 'earlier tests closed their sockets', 10_000);
  const baseline = counts();
  const a = await startMember(A);
  const b = await startMember(B);
  await connectAll([a, b]);
  a.tr.send([app(A, B, 1), makeMessage({ type: MessageType.MsgSnap, from: A, to: B, term: 1 })]);
  await waitFor(() => b.received.length === 2, 'traffic');
  assert.ok((counts().get('Timeout') ?? 0) > (baseline.get('Timeout') ?? 0), 'heartbeat timers were running');
  await stopAll(a, b);
  // a stopped transport ignores sends
  a.tr.send([app(A, B, 2)]);
  const extra = () => [...counts()].filter(([r, n]) => n > (baseline.get(r) ?? 0));
  await waitFor(() => extra().length === 0, 'no resources beyond the baseline', 10_000).catch((err: Error) => {
    throw new Error(`${err.message}: extra ${JSON.stringify(extra())}`);
  });
});

test('bounded pipeline: beyond 4 in flight + 64 queued, messages are dropped and reported (MsgSnap also as a failed snapshot)', async () => {
  const a = await startMember(A);
  const b = await startMember(B);
  try {
    a.tr.addPeer(B, [b.url]); // B does not know A: no streams, everything goes to the pipeline
    const n = 100;
    const msgs = Array.from({ length: n }, (_, i) => app(A, B, i));
    const snap = makeMessage({ type: MessageType.MsgSnap, from: A, to: B, term: 3 });
    a.tr.send([...msgs, snap]);
    // 4 POSTs started, 64 queued, the rest (and the MsgSnap) dropped synchronously
    assert.equal(a.unreachable.length, n + 1 - 4 - 64);
    assert.deepEqual(a.snapshots, [[B, false]]);
    assert.ok(logMsgs(a).includes('dropped internal Raft message since sending buffer is full (overloaded network)'));
    await waitFor(() => b.received.length === 68, 'the 68 accepted messages');
    assert.deepEqual(b.received.map((m) => m.index).sort((x, y) => x - y), msgs.slice(0, 68).map((m) => m.index));
  } finally {
    await stopAll(a, b);
  }
});

test('stream endpoint answers like etcd for bad requests', async () => {
  const a = await startMember(A);
  try {
    a.tr.addPeer(B, ['http://127.0.0.1:1']);
    const h = { 'X-Etcd-Cluster-ID': 'c1005', 'X-Server-From': idString(B), 'X-Server-Version': '3.4.23', 'X-Min-Cluster-Version': '3.0.0' };
    const get = async (path: string, headers: Record<string, string>, method = 'GET') => {
      const r = await fetch(`${a.url}${path}`, { method, headers });
      return [r.status, await r.text()];
    };
    assert.deepEqual(await get(`/raft/stream/message/${idString(B)}`, { ...h, 'X-Raft-To': 'abc' }), [412, 'to field mismatch\n']);
    assert.deepEqual(await get(`/raft/stream/bogus/${idString(B)}`, h), [404, 'invalid path\n']);
    assert.deepEqual(await get('/raft/stream/message/zz', h), [404, 'invalid from\n']);
    assert.deepEqual(await get(`/raft/stream/message/${idString(C)}`, { ...h, 'X-Raft-To': idString(A) }), [404, 'error sender not found\n']);
    assert.deepEqual(await get(`/raft/stream/message/${idString(B)}`, h, 'POST'), [405, 'Method Not Allowed\n']);
    assert.deepEqual(await get(`/raft/stream/message/${idString(B)}`, { ...h, 'X-Server-Version': '2.3.0' }), [412, 'incompatible version\n']);
    assert.deepEqual(await get('/raft/snapshot', h, 'GET'), [405, 'Method Not Allowed\n']);
    assert.deepEqual(await get('/other', h), [404, '404 page not found\n']);
    const bad = await fetch(`${a.url}/raft`, { method: 'POST', headers: h, body: new Uint8Array([0x0a, 0x05]) });
    assert.deepEqual([bad.status, await bad.text()], [400, 'error unmarshalling raft message\n']);
    assert.ok(logMsgs(a).includes('failed to check version compatibility'));
  } finally {
    await stopAll(a);
  }
});

test('a stream reader that stops reading is dropped after the write timeout; queued messages reported unreachable', async () => {
  const { connect } = await import('node:net');
  const a = await startMember(A, { extra: { connReadTimeoutMs: 500 } });
  const sock = connect(Number(new URL(a.url).port), '127.0.0.1');
  try {
    a.tr.addPeer(B, ['http://127.0.0.1:1']); // A's own dials to B fail; B's stream to A is the raw socket below
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write([
      `GET /raft/stream/message/${idString(B)} HTTP/1.1`, 'Host: x', 'X-Etcd-Cluster-ID: c1005', `X-Server-From: ${idString(B)}`,
      'X-Server-Version: 3.4.23', 'X-Min-Cluster-Version: 3.0.0', `X-Raft-To: ${idString(A)}`, '', '',
    ].join('\r\n'));
    sock.pause(); // never read: the kernel buffers fill up
    await waitFor(() => a.tr.isStreamWriting(B, 'message'), 'stream attached');
    const big = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 64 && a.tr.isStreamWriting(B, 'message'); i++) {
      a.tr.send([makeMessage({ type: MessageType.MsgHeartbeat, from: A, to: B, term: 1, context: big })]);
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => !a.tr.isStreamWriting(B, 'message'), 'stream dropped');
    assert.ok(logMsgs(a).includes('lost TCP streaming connection with remote peer'));
    // the failure reason (logged as "peer became inactive" or, when A's failing dials to B
    // deactivated the peer first, "peer deactivated again")
    assert.ok(a.lg.entries.some((e) => /^failed to write [0-9a-f]+ on stream Message \(i\/o timeout\)$/.test(String(e.fields.error))));
    assert.ok(a.unreachable.includes(B));
  } finally {
    sock.destroy();
    await stopAll(a);
  }
});
