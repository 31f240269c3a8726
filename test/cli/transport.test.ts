// The client's own gRPC/HTTP/2 transport (src/client/transport), which replaced grpc-js
// for a faster CLI start:
// - against real etcd 3.4.23 and our server: requests and responses larger than the
//   HTTP/2 flow-control windows (a 1.4 MiB put, a 3.6 MiB range), and a snapshot read by
//   a slow consumer (the stream's window is held back, nothing is lost);
// - against hand-made HTTP/2 servers: RST_STREAM, GOAWAY, a dropped connection, an
//   unanswered keepalive PING and a non-200 HTTP status end calls with grpc-go's codes
//   and messages (what etcdctl prints), and the channel goes back to idle after GOAWAY;
// - the grpc-timeout and grpc-message encodings.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import http2 from 'node:http2';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { EtcdClient } from '../../src/client/client.js';
import { EtcdError } from '../../src/client/errors.js';
import { Channel } from '../../src/client/transport/channel.js';
import { TypedStream } from '../../src/client/transport/stream.js';
import { Connection, decodeGrpcMessage, grpcTimeout, type CallStatus } from '../../src/client/transport/connection.js';
import { startEtcd, stopAll, type EtcdProcess } from '../harness/etcd.js';

const enc = new TextEncoder();

function clientFor(endpoint: string): Promise<EtcdClient> {
  return EtcdClient.connect({ endpoints: [endpoint], dialTimeoutMs: 5000, commandTimeoutMs: 30_000, keepaliveTimeMs: 2000, keepaliveTimeoutMs: 6000 });
}

for (const kind of ['real', 'ours'] as const) {
  describe(`transport against ${kind} etcd`, () => {
    let srv: EtcdProcess;
    let c: EtcdClient;
    before(async () => {
      srv = await startEtcd({ serverKind: kind });
      c = await clientFor(srv.endpoint);
    });
    after(async () => {
      c?.close();
      await stopAll(srv);
    });

    test('a put larger than the send windows, and a range larger than the receive windows', async () => {
      const big = new Uint8Array(1400 * 1024).map((_, i) => i % 251);
      for (const k of ['big1', 'big2', 'big3']) await c.put({ key: enc.encode(k), value: big });
      const r = await c.range({ key: enc.encode('big'), rangeEnd: enc.encode('bih') });
      assert.equal(r.kvs.length, 3);
      for (const kv of r.kvs) assert.deepEqual(Buffer.from(kv.value), Buffer.from(big));
    });

    test('a snapshot read slowly arrives whole', async () => {
      let total = 0;
      let last = -1n;
      let chunks = 0;
      for await (const { blob, remainingBytes } of c.snapshot()) {
        total += blob.length;
        last = remainingBytes;
        if (chunks++ % 4 === 0) await new Promise((r) => setTimeout(r, 5));
      }
      assert.equal(last, 0n);
      assert.ok(total > 4 * 1024 * 1024, `snapshot of ${total} bytes`);
    });
  });
}

/** A raw TCP server speaking just enough HTTP/2 for the case; returns its endpoint. */
async function rawServer(onConn: (s: net.Socket) => void): Promise<{ endpoint: string; close(): void }> {
  const socks = new Set<net.Socket>();
  const srv = net.createServer((s) => {
    socks.add(s);
    s.on('error', () => {});
    onConn(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  return {
    endpoint: `127.0.0.1:${port}`,
    close() {
      for (const s of socks) s.destroy();
      srv.close();
    },
  };
}

/** An HTTP/2 server (node:http2) whose stream handler is the case. */
async function h2Server(onStream: (s: http2.ServerHttp2Stream) => void): Promise<{ endpoint: string; close(): void }> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const srv = http2.createServer();
  srv.on('session', (s) => {
    sessions.add(s);
    s.on('error', () => {});
  });
  srv.on('stream', (s, _h) => {
    s.on('error', () => {});
    onStream(s);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  return {
    endpoint: `127.0.0.1:${port}`,
    close() {
      for (const s of sessions) s.destroy();
      srv.close();
    },
  };
}

/** Runs one call on a fresh connection to `endpoint` and returns its status. */
function callStatus(endpoint: string, opts: { keepaliveTimeMs?: number; keepaliveTimeoutMs?: number } = {}): Promise<CallStatus> {
  return new Promise((resolve, reject) => {
    const conn = new Connection({ target: endpoint, authority: endpoint, keepaliveTimeMs: opts.keepaliveTimeMs ?? 10_000, keepaliveTimeoutMs: opts.keepaliveTimeoutMs ?? 10_000 });
    conn.once('ready', () => {
      const call = conn.startCall('/etcdserverpb.KV/Range', [], Date.now() + 10_000);
      call.on('status', (st: CallStatus) => {
        conn.close();
        resolve(st);
      });
      call.write(new Uint8Array([0x0a, 0x01, 0x61]));
      call.end();
    });
    conn.once('close', (err?: Error) => {
      if (err) reject(err);
    });
    conn.open();
  });
}

/** The status of one call to an HTTP/2 server whose stream handler is `onStream`. */
async function statusFromH2(onStream: (s: http2.ServerHttp2Stream) => void): Promise<CallStatus> {
  const s = await h2Server(onStream);
  try {
    return await callStatus(s.endpoint);
  } finally {
    s.close();
  }
}

describe('transport: how calls end', () => {
  test('RST_STREAM codes map as grpc-go maps them', async () => {
    for (const [h2code, code, name] of [
      [http2.constants.NGHTTP2_REFUSED_STREAM, 14, 'REFUSED_STREAM'],
      [http2.constants.NGHTTP2_CANCEL, 1, 'CANCEL'],
      [http2.constants.NGHTTP2_ENHANCE_YOUR_CALM, 8, 'ENHANCE_YOUR_CALM'],
      [http2.constants.NGHTTP2_INTERNAL_ERROR, 13, 'INTERNAL_ERROR'],
    ] as const) {
      assert.deepEqual(await statusFromH2((st) => st.close(h2code)), { code, details: `stream terminated by RST_STREAM with error code: ${name}` });
    }
  });

  test('grpc-status and a percent-encoded grpc-message in the trailers', async () => {
    const st = await statusFromH2((st) => {
      st.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      st.on('wantTrailers', () => st.sendTrailers({ 'grpc-status': '5', 'grpc-message': 'caf%C3%A9 %25 not found' }));
      st.end();
    });
    assert.deepEqual(st, { code: 5, details: 'café % not found' });
  });

  test('a stream message that does not decode ends the stream with Internal, not Canceled', async () => {
    const s = await h2Server((st) => {
      st.respond({ ':status': 200, 'content-type': 'application/grpc' });
      st.write(Buffer.from([0, 0, 0, 0, 1, 0xff]));
    });
    const conn = new Connection({ target: s.endpoint, authority: s.endpoint, keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 10_000 });
    try {
      conn.open();
      await once(conn, 'ready');
      const stream = new TypedStream(conn.startCall('/etcdserverpb.Watch/Watch', [], undefined), (m: Uint8Array) => m, () => {
        throw new Error('premature EOF');
      });
      stream.on('error', () => {});
      const st = await new Promise<CallStatus>((resolve) => stream.on('status', resolve));
      assert.deepEqual(st, { code: 13, details: 'grpc: failed to unmarshal the received message premature EOF' });
    } finally {
      conn.close();
      s.close();
    }
  });

  test('a non-200 HTTP status without grpc-status', async () => {
    const st = await statusFromH2((st) => {
      st.respond({ ':status': 404 });
      st.end();
    });
    assert.deepEqual(st, { code: 12, details: 'unexpected HTTP status code received from server: 404 (Not Found)' });
  });

  test('GOAWAY before the stream: Unavailable, and the channel is idle again', async () => {
    const s = await rawServer((sock) => {
      // SETTINGS; once the request is in, GOAWAY with last stream id 0 (stream 1 refused)
      sock.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      let n = 0;
      sock.on('data', (d) => {
        n += d.length;
        if (n > 100 && n - d.length <= 100) sock.write(Buffer.from([0, 0, 8, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]));
      });
    });
    const ch = new Channel({ target: s.endpoint, authority: s.endpoint, keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 10_000 });
    try {
      assert.equal(ch.getState(true), 'connecting');
      assert.ok(await ch.waitForStateChange('connecting', Date.now() + 5000));
      assert.equal(ch.getState(), 'ready');
      const st = await new Promise<CallStatus>((resolve) => {
        const call = ch.startCall('/etcdserverpb.KV/Range', [], Date.now() + 5000);
        call.on('status', resolve);
        call.write(new Uint8Array(0));
        call.end();
      });
      assert.equal(st.code, 14);
      if (ch.getState() === 'ready') await ch.waitForStateChange('ready', Date.now() + 5000);
      assert.equal(ch.getState(), 'idle');
    } finally {
      ch.close();
      s.close();
    }
  });

  test('a dropped connection ends the call with Unavailable "transport is closing"; etcdctl prints it for a put', async () => {
    const s = await rawServer((sock) => {
      // SETTINGS, then drop the connection once the request's HEADERS are in (the
      // preface, SETTINGS, WINDOW_UPDATE and SETTINGS ACK take 73 bytes)
      sock.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]));
      let n = 0;
      sock.on('data', (d) => {
        n += d.length;
        if (n > 100) sock.destroy();
      });
    });
    try {
      const c = await EtcdClient.connect({ endpoints: [s.endpoint], dialTimeoutMs: 2000, commandTimeoutMs: 3000, keepaliveTimeMs: 2000, keepaliveTimeoutMs: 6000 });
      try {
        await assert.rejects(c.put({ key: enc.encode('a'), value: enc.encode('b') }), (e: unknown) => {
          assert.ok(e instanceof EtcdError);
          assert.equal(e.message, 'rpc error: code = Unavailable desc = transport is closing');
          return true;
        });
      } finally {
        c.close();
      }
    } finally {
      s.close();
    }
  });

  test('an unanswered keepalive PING closes the connection', async () => {
    const s = await rawServer((sock) => {
      sock.write(Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])); // SETTINGS; nothing else, ever
      sock.resume();
    });
    try {
      const t0 = Date.now();
      const st = await callStatus(s.endpoint, { keepaliveTimeMs: 200, keepaliveTimeoutMs: 200 });
      assert.deepEqual(st, { code: 14, details: 'transport is closing' });
      assert.ok(Date.now() - t0 < 5000);
    } finally {
      s.close();
    }
  });
});

describe('transport: encodings', () => {
  test('grpc-timeout takes the finest unit with at most 8 digits', () => {
    assert.equal(grpcTimeout(5000), '5000000u');
    assert.equal(grpcTimeout(99_999), '99999000u');
    assert.equal(grpcTimeout(100_000), '100000m');
    assert.equal(grpcTimeout(0), '1u');
    assert.equal(grpcTimeout(1e9), '1000000S');
    assert.equal(grpcTimeout(2 ** 40), '305420H');
  });

  test('grpc-message: %XX decoded as UTF-8 bytes, a lone % kept', () => {
    assert.equal(decodeGrpcMessage('etcdserver: key not found'), 'etcdserver: key not found');
    assert.equal(decodeGrpcMessage('a%20b%C3%A9'), 'a bé');
    assert.equal(decodeGrpcMessage('100%'), '100%');
    assert.equal(decodeGrpcMessage('%zz'), '%zz');
  });
});
