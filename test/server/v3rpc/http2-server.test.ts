// Our server-side HTTP/2 (src/server/etcdserver/api/v3rpc/transport/http2.ts) and
// HPACK decoder (src/util/http2/hpack.ts):
//
// - the HPACK decoder against RFC 7541 Appendix C and against blocks written by
//   Go's hpack encoder (golang.org/x/net/http2/hpack, what grpc-go uses);
// - GrpcServer connections driven by node:http2 clients and by hand-built frames:
//   the preface, grpc-go's header blocks, padding, PRIORITY, CONTINUATION,
//   malformed headers and framing errors, flow control both ways, the stream
//   limit, keepalive, GOAWAY both ways, TLS;
// - the real etcdctl 3.4.23 with http:// and https:// endpoints (grpc-go sends
//   `:authority: http://host:port`) against real etcd 3.4.23 and against our
//   server, same output.
//
// The Go vectors were made once with this program (GOPATH=/usr/share/gocode,
// GO111MODULE=off, go 1.19):
//
//   e := hpack.NewEncoder(&buf)
//   req := func(path, auth string, extra ...hpack.HeaderField) {
//     buf.Reset()
//     for _, f := range append([]hpack.HeaderField{{":method", "POST"}, {":scheme", "http"},
//       {":path", path}, {":authority", auth}, {"content-type", "application/grpc"},
//       {"user-agent", "grpc-go/1.26.0"}, {"te", "trailers"}}, extra...) { e.WriteField(f) }
//     fmt.Println(hex.EncodeToString(buf.Bytes()))
//   }
//   req("/etcdserverpb.Maintenance/Status", "http://127.0.0.1:2379")
//   req("/etcdserverpb.Maintenance/Defragment", "http://127.0.0.1:2379", {Name: "token", Value: "secret", Sensitive: true})
//   e.SetMaxDynamicTableSize(128)
//   req("/etcdserverpb.Maintenance/HashKV", "http://127.0.0.1:2379", {"grpc-timeout", "4999m"})
//   req("/etcdserverpb.KV/Range", "http://127.0.0.1:2379")
//   fmt.Println(hex.EncodeToString(hpack.AppendHuffmanString(nil, string(allOctets0to255))))

import assert from 'node:assert/strict';
import { once } from 'node:events';
import fs from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { CLIENT_PREFACE, FrameFlag, FrameType, frameHeader } from '../../../src/util/http2/frame.js';
import {
  encodeLiteralBlock,
  HpackDecoder,
  HpackError,
  huffmanDecode,
  huffmanEncode,
  HUFFMAN_CODE_LENGTHS,
  type HeaderField,
} from '../../../src/util/http2/hpack.js';
import { encodeMessage } from '../../../src/util/grpc/message.js';
import { H2Code } from '../../../src/util/http2/frame.js';
import type { Method } from '../../../src/server/etcdserver/api/v3rpc/transport/method.js';
import { GrpcServer } from '../../../src/server/etcdserver/api/v3rpc/transport/server.js';
import type { ServerStream } from '../../../src/server/etcdserver/api/v3rpc/transport/stream.js';
import { makeTestCerts, type TestCerts } from '../../harness/certs.js';
import { startTwinEtcds, type EtcdProcess } from '../../harness/etcd.js';
import { newRunContext, normalizeDbSize, normalizeDurations, REAL, runCli, stripLogLines } from '../../harness/run.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

/** RFC 7541 C.3 (requests without Huffman) and C.4 (the same with Huffman). */
const RFC_C3 = ['828684410f7777772e6578616d706c652e636f6d', '828684be58086e6f2d6361636865', '828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565'];
const RFC_C4 = ['828684418cf1e3c2e5f23a6ba0ab90f4ff', '828684be5886a8eb10649cbf', '828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf'];
const RFC_FIELDS = [
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com']],
  [[':method', 'GET'], [':scheme', 'http'], [':path', '/'], [':authority', 'www.example.com'], ['cache-control', 'no-cache']],
  [[':method', 'GET'], [':scheme', 'https'], [':path', '/index.html'], [':authority', 'www.example.com'], ['custom-key', 'custom-value']],
];

/** Go's hpack.Encoder: four grpc-go requests on one connection (see the head comment). */
const GO_BLOCKS = [
  '8386459760a924882d9dcb6571afa066a925a87510ac6e48d36a3f418f9d29aee30c044eae05c0b86e09975f5f8b1d75d0620d263d4c4d65647a8a9acac8b4c7602b89c5c140027465864d833505b11f',
  '8386459a60a924882d9dcb6571afa066a925a87510ac5f2cb60e6a4b527fc2c1c0bf108449fa96af8441496153',
  '3f618386459760a924882d9dcb6571afa066a925a87510ac631a27cdc7418f9d29aee30c044eae05c0b86e09975f5f8b1d75d0620d263d4c4d65647a8a9acac8b4c7602b89c5c140027465864d833505b11f40899acac8b24d494f6a7f8469f7dfa7',
  '8386459060a924882d9dcb6571af9b8b1b4754c5418f9d29aee30c044eae05c0b86e09975f5f8b1d75d0620d263d4c4d65647a8a9acac8b4c7602b89c5c140027465864d833505b11f',
].map((h) => hex(h));
const GO_PATHS = ['/etcdserverpb.Maintenance/Status', '/etcdserverpb.Maintenance/Defragment', '/etcdserverpb.Maintenance/HashKV', '/etcdserverpb.KV/Range'];

/** hpack.AppendHuffmanString of the octets 0..255. */
const GO_HUFFMAN_ALL = hex(`
ffc7fffd8fffffe2fffffe3fffffe4fffffe5fffffe6fffffe7fffffe8ffffeafffffff3fffffa7fffffabffffffdfffffebfffffecfffffedfffffeefffffefffffff0
ffffff1ffffff2fffffffbfffffcffffffd3fffffd7fffffdbfffffdffffffe3fffffe7fffffebfffffed4fe3f9ffaffcabf1febfafefe7fdfd2cbb00089969b71d79fb9f
7fff20ffbff3ff50ddbd7f061c58f265cd9f469d5af66dddbf871e5f9cff7ff7fffc3ff9ffe45fff4719242cb34e6e9d68a6a3d7dac426defe3cfaf7fffbfe7ffbffdfffff
fcfffe6ffff4bfff9ffffa3fffd3ffff53fffd5ffffb3fffeb7fffdaffffb7ffff73fffeeffffdeffffebffffbfffffd9ffffdbfffebffffe0ffffeeffffc3ffff8bffff1f
fffe4fffee7fffb1ffff97fffd9ffffcdffff9fffffbffffdafffeeffff4ffffb7fffee7fffe8ffffd3fffdeffffd5fffeeffffbdffffe1fffdfffff7fffff5ffffecffff0
7fff87fffe0ffff17fffedffff87ffff77fffeffffeaffff8bfffe3ffff93ffff87fffcbffff37ffff1fffff83ffffe1fffebfffe3ffff3fffff2ffffa3ffffd9fffff17f
fffc7fffff27ffffdefffffbffffff2fffff8fffffb7fff97fff8fffffe6fffffc1fffff87ffffe7fffffc5ffffe5fffe4ffff2fffffd1fffff4ffffffefffffe3fffffc9f
ffff97fffb3ffffcffffb7fffcdffff4ffff9ffffd1ffffcffffeaffffafffffddffffeffffff4fffff5fffffabffffa7ffffd7fffff9bffffecfffffb7fffff3fffffe8
fffffd3fffffabfffff5fffffff7ffffecfffffdbfffffbbfffff7ffffff0fffffbbf`);

const pairs = (fields: readonly HeaderField[]) => fields.map((f) => [f.name, f.value]);

function frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  return Buffer.concat([frameHeader(payload.length, type, flags, streamId), payload]);
}

interface Frame {
  type: number;
  flags: number;
  streamId: number;
  payload: Buffer;
  raw: Buffer;
}

/** Splits `buf` into whole frames and the rest. */
function parseFrames(buf: Buffer): { frames: Frame[]; rest: Buffer } {
  const frames: Frame[] = [];
  let off = 0;
  while (buf.length - off >= 9) {
    const len = buf.readUIntBE(off, 3);
    if (buf.length - off < 9 + len) break;
    const raw = buf.subarray(off, off + 9 + len);
    frames.push({ type: raw[3]!, flags: raw[4]!, streamId: raw.readUInt32BE(5) & 0x7fffffff, payload: raw.subarray(9), raw });
    off += 9 + len;
  }
  return { frames, rest: buf.subarray(off) };
}

describe('HPACK decoder (RFC 7541)', () => {
  it('RFC 7541 C.3 and C.4: three requests on one context, plain and Huffman', () => {
    for (const vectors of [RFC_C3, RFC_C4]) {
      const d = new HpackDecoder();
      vectors.forEach((v, i) => assert.deepEqual(pairs(d.decode(hex(v)).fields), RFC_FIELDS[i]));
      // C.3.3 / C.4.3: custom-key, cache-control, :authority in the table, 164 octets
      assert.equal(d.tableLength, 3);
      assert.equal(d.tableSize, 164);
    }
  });

  it('the Huffman code is complete and decodes what Go encodes for every octet', () => {
    let kraft = 0n;
    for (const len of HUFFMAN_CODE_LENGTHS) kraft += 1n << BigInt(30 - len);
    assert.equal(kraft, 1n << 30n);
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i)).toString('latin1');
    assert.equal(huffmanDecode(GO_HUFFMAN_ALL), all);
    assert.ok(huffmanEncode(all).equals(GO_HUFFMAN_ALL));
    assert.equal(huffmanDecode(Buffer.alloc(0)), '');
  });

  it('Huffman errors: EOS in the string, padding over 7 bits, padding not all ones', () => {
    assert.throws(() => huffmanDecode(Buffer.of(0xff, 0xff, 0xff, 0xff)), /EOS symbol/);
    assert.throws(() => huffmanDecode(Buffer.concat([huffmanEncode('a'), Buffer.of(0xff)])), /longer than 7 bits/);
    assert.throws(() => huffmanDecode(Buffer.of(0x18)), /not the prefix of EOS/); // 'a' = 00011, then 000
    assert.equal(huffmanDecode(Buffer.of(0x1f)), 'a');
  });

  it("grpc-go's blocks: dynamic table references, never-indexed field, size update with eviction", () => {
    const d = new HpackDecoder();
    const got = GO_BLOCKS.map((b) => d.decode(b));
    const base = (path: string) => [[':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'http://127.0.0.1:2379'], ['content-type', 'application/grpc'], ['user-agent', 'grpc-go/1.26.0'], ['te', 'trailers']];
    assert.deepEqual(pairs(got[0]!.fields), base(GO_PATHS[0]!));
    assert.deepEqual(pairs(got[1]!.fields), [...base(GO_PATHS[1]!), ['token', 'secret']]);
    assert.equal(got[1]!.fields[7]!.neverIndex, true);
    assert.deepEqual(got[2]!.sizeUpdates, [128]);
    assert.deepEqual(pairs(got[2]!.fields), [...base(GO_PATHS[2]!), ['grpc-timeout', '4999m']]);
    assert.deepEqual(pairs(got[3]!.fields), base(GO_PATHS[3]!));
    assert.ok(d.tableSize <= 128);
  });

  it('malformed blocks are HpackErrors', () => {
    const bad: [string, Buffer, RegExp][] = [
      ['index 0', Buffer.of(0x80), /index 0/],
      ['index past the table', Buffer.of(0xbe), /index 62 not in the table/],
      ['size update after a field', Buffer.of(0x82, 0x20), /after a header field/],
      ['size update over the limit', Buffer.of(0x3f, 0xe2, 0x1f), /exceeds the limit 4096/],
      ['string past the end', Buffer.of(0x00, 0x05, 0x61, 0x62), /past the end/],
      ['truncated integer', Buffer.of(0xff, 0x80), /truncated in an integer/],
      ['integer overflow', Buffer.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f), /overflow/],
      ['bad Huffman in a value', Buffer.of(0x04, 0x81, 0x18), /not the prefix of EOS/],
    ];
    for (const [what, block, re] of bad) {
      assert.throws(() => new HpackDecoder().decode(block), (e: unknown) => e instanceof HpackError && re.test(e.message), what);
    }
    assert.deepEqual(new HpackDecoder().decode(Buffer.of(0x3f, 0xe1, 0x1f)).sizeUpdates, [4096]);
  });

  it('encodeLiteralBlock: decodes to the same list without touching the table', () => {
    const fields: HeaderField[] = [
      { name: ':authority', value: '127.0.0.1:2379', neverIndex: false },
      { name: 'x-long', value: 'v'.repeat(300), neverIndex: false },
      { name: 'token', value: 'secret', neverIndex: true },
      { name: 'bin', value: '\u0000\u00ff\u0080', neverIndex: false },
    ];
    const enc = encodeLiteralBlock(fields, [0, 4096]);
    assert.deepEqual([...enc.subarray(0, 5)], [0x20, 0x3f, 0xe1, 0x1f, 0x01], 'size updates, then :authority by static index 1');
    const d = new HpackDecoder();
    const got = d.decode(enc);
    assert.deepEqual(got.fields, fields);
    assert.deepEqual(got.sizeUpdates, [0, 4096]);
    assert.equal(d.tableLength, 0);
  });
});

// ---------------------------------------------------------------------------
// GrpcServer connections

const text = { decode: (b: Uint8Array) => Buffer.from(b).toString(), encode: (s: string) => Buffer.from(s) };

/** A raw client connection: writes bytes, collects the server's frames. */
class RawConn {
  readonly frames: Frame[] = [];
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;
  constructor(readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      const { frames, rest } = parseFrames(this.buf);
      this.frames.push(...frames);
      this.buf = Buffer.from(rest);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => {});
  }
  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }
  write(...parts: Buffer[]): void {
    this.socket.write(Buffer.concat(parts));
  }
  /** Resolves when `pred` holds for the frames so far (or rejects after 5 s). */
  async until(what: string, pred: (frames: Frame[]) => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!pred(this.frames)) {
      if (Date.now() > deadline) throw new Error(`raw client: no ${what}; frames: ${this.frames.map((f) => `${f.type}/${f.flags}/${f.streamId}`).join(' ')}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100).unref();
      });
    }
  }
  /** grpc-status of each stream whose trailers (END_STREAM HEADERS) arrived, by stream id. */
  statuses(): Map<number, string> {
    const d = new HpackDecoder();
    const out = new Map<number, string>();
    for (const f of this.frames) {
      if (f.type !== FrameType.HEADERS) continue;
      const fields = d.decode(f.payload).fields;
      const st = fields.find((x) => x.name === 'grpc-status');
      if (st && f.flags & FrameFlag.END_STREAM) out.set(f.streamId, st.value);
    }
    return out;
  }
}

const isType = (t: number, flags?: number) => (f: Frame) => f.type === t && (flags === undefined || (f.flags & flags) === flags);

describe('GrpcServer HTTP/2 connections (transport/http2.ts)', () => {
  const server = new GrpcServer({ maxRecvBytes: 1 << 20 });
  server.addMethod('test.Svc', 'Echo', { kind: 'unary', ...text, handler: (call, req: unknown) => call.sendResponse(`echo:${req as string}`) } as Method);
  server.addMethod('test.Svc', 'Big', {
    kind: 'unary', ...text,
    handler: (call) => call.sendResponse(`len:${call.metadata.first('x-big')?.length ?? -1}`),
  } as Method);
  server.addMethod('test.Svc', 'Many', {
    kind: 'server_streaming', ...text,
    handler: (st: ServerStream<string, string>) => {
      // messages written in one turn of the event loop, as a watch stream writes a burst of events
      for (let i = 0; i < Number(st.request); i++) st.write(`message ${i} `.padEnd(100, '.'));
      st.end();
    },
  } as unknown as Method);
  server.addMethod('test.Svc', 'Secure', {
    kind: 'unary', ...text,
    handler: (call) => call.sendResponse(`encrypted:${(call.stream.socket as tls.TLSSocket).encrypted === true}`),
  } as Method);
  let listener: net.Server;
  let tlsListener: tls.Server;
  let port: number;
  let tlsPort: number;
  let certs: TestCerts;

  before(async () => {
    certs = await makeTestCerts();
    listener = net.createServer((sock) => server.handleConnection(sock));
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    port = (listener.address() as net.AddressInfo).port;
    tlsListener = tls.createServer(
      { cert: fs.readFileSync(certs.serverCert), key: fs.readFileSync(certs.serverKey), ALPNProtocols: ['h2'] },
      (sock) => server.handleConnection(sock),
    );
    tlsListener.listen(0, '127.0.0.1');
    await once(tlsListener, 'listening');
    tlsPort = (tlsListener.address() as net.AddressInfo).port;
  });
  after(() => {
    server.close();
    listener.close();
    tlsListener.close();
  });

  /** Unary calls to `path` on one node:http2 client session with the given :authority. */
  async function echoCalls(session: http2.ClientHttp2Session, authority: string | undefined, n: number, extra: http2.OutgoingHttpHeaders = {}, path = '/test.Svc/Echo') {
    const results: string[] = [];
    for (let i = 0; i < n; i++) {
      const req = session.request({
        ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers',
        ...(authority === undefined ? {} : { ':authority': authority }),
        ...extra,
      });
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.end(encodeMessage(Buffer.from(`m${i}`)));
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => req.once('trailers', resolve));
      const [, tr] = await Promise.race([Promise.all([once(req, 'close'), trailers]), new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no answer')), 5000).unref())]);
      assert.equal(tr['grpc-status'], '0');
      assert.equal(req.rstCode, http2.constants.NGHTTP2_NO_ERROR, 'not reset');
      results.push(Buffer.concat(chunks).subarray(5).toString());
    }
    return results;
  }

  const block = (fields: [string, string][]) => encodeLiteralBlock(fields.map(([name, value]) => ({ name, value, neverIndex: false })));
  const echoFields = (authority: string, path = '/test.Svc/Echo'): [string, string][] => [
    [':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', authority], ['content-type', 'application/grpc'],
  ];
  const echoBlock = (authority: string) => block(echoFields(authority));
  /** A connected raw client that has sent the preface and `settings` (id, value pairs). */
  const rawClient = (settings: [number, number][] = [], p = port) => {
    const c = new RawConn(net.connect(p, '127.0.0.1'));
    const payload = Buffer.alloc(6 * settings.length);
    settings.forEach(([id, v], i) => {
      payload.writeUInt16BE(id, 6 * i);
      payload.writeUInt32BE(v, 6 * i + 2);
    });
    c.write(CLIENT_PREFACE, frame(FrameType.SETTINGS, 0, 0, payload));
    return c;
  };
  const goawayCode = (c: RawConn) => c.frames.find(isType(FrameType.GOAWAY))?.payload.readUInt32BE(4);
  const rstCodes = (c: RawConn, id: number) => c.frames.filter((f) => f.type === FrameType.RST_STREAM && f.streamId === id).map((f) => f.payload.readUInt32BE(0));
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return b;
  };

  it('node:http2 client: host:port and http://host:port authorities (indexed by its encoder), a header list in CONTINUATION frames', async () => {
    const s = http2.connect(`http://127.0.0.1:${port}`);
    try {
      assert.deepEqual(await echoCalls(s, undefined, 3), ['echo:m0', 'echo:m1', 'echo:m2']);
      assert.deepEqual(await echoCalls(s, `http://127.0.0.1:${port}`, 3), ['echo:m0', 'echo:m1', 'echo:m2']);
      const big = 'b'.repeat(40000);
      assert.deepEqual(await echoCalls(s, undefined, 1, { 'x-big': big }, '/test.Svc/Big'), ['len:40000']);
      assert.deepEqual(await echoCalls(s, undefined, 1, {}, '/test.Svc/Secure'), ['encrypted:false']);
    } finally {
      s.close();
    }
  });

  it("grpc-go's requests (its HPACK dynamic table, a never-indexed field, a table size update): routed; our SETTINGS and window first; PING answered", async () => {
    const c = rawClient();
    await c.until('server SETTINGS', (fs) => fs.length >= 2);
    const settings = c.frames[0]!;
    assert.equal(settings.type, FrameType.SETTINGS);
    const vals = new Map<number, number>();
    for (let i = 0; i < settings.payload.length; i += 6) vals.set(settings.payload.readUInt16BE(i), settings.payload.readUInt32BE(i + 2));
    assert.equal(vals.get(0x4), 1 << 20, 'SETTINGS_INITIAL_WINDOW_SIZE 1 MiB');
    assert.equal(vals.get(0x3), 2 ** 32 - 1, 'no stream limit');
    assert.equal(c.frames[1]!.type, FrameType.WINDOW_UPDATE);
    assert.equal(c.frames[1]!.payload.readUInt32BE(0), (16 << 20) - 65535, 'connection window 16 MiB');
    c.write(frame(FrameType.SETTINGS, FrameFlag.ACK, 0));
    GO_BLOCKS.forEach((b, i) => c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1 + 2 * i, b), frame(FrameType.DATA, FrameFlag.END_STREAM, 1 + 2 * i, encodeMessage(Buffer.alloc(0)))));
    await c.until('4 statuses', () => c.statuses().size === 4);
    // grpc-go's status for unknown services: the headers were decoded and routed
    assert.deepEqual([...c.statuses()], [[1, '12'], [3, '12'], [5, '12'], [7, '12']]);
    // answered at the headers, before the client's END_STREAM was read: reset with NO_ERROR after the status, as grpc-go
    assert.deepEqual(c.frames.filter(isType(FrameType.RST_STREAM)).map((f) => f.payload.readUInt32BE(0)), [0, 0, 0, 0]);
    assert.ok(c.frames.some(isType(FrameType.SETTINGS, FrameFlag.ACK)), 'the client SETTINGS acknowledged');
    c.write(frame(FrameType.PING, 0, 0, Buffer.from('pingpong')));
    await c.until('PING ACK', (fs) => fs.some((f) => isType(FrameType.PING, FrameFlag.ACK)(f) && f.payload.toString() === 'pingpong'));
    assert.equal(c.frames.filter(isType(FrameType.GOAWAY)).length, 0);
    c.socket.destroy();
  });

  it('a request in the same bytes as the preface; HEADERS padded with priority and CONTINUATION; padded DATA in pieces', async () => {
    const c = new RawConn(net.connect(port, '127.0.0.1'));
    c.write(CLIENT_PREFACE, frame(FrameType.SETTINGS, 0, 0), frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, echoBlock('127.0.0.1')), frame(FrameType.DATA, FrameFlag.END_STREAM, 1, encodeMessage(Buffer.from('x'))));
    await c.until('status of stream 1', () => c.statuses().has(1));
    assert.equal(c.statuses().get(1), '0');
    const b = echoBlock('http://127.0.0.1:2379');
    const head = Buffer.concat([Buffer.of(3), Buffer.of(0, 0, 0, 0, 16), b.subarray(0, 10), Buffer.alloc(3)]);
    const msg = encodeMessage(Buffer.from('padded'));
    const padded = Buffer.concat([Buffer.of(2), msg.subarray(0, 4), Buffer.alloc(2)]);
    const raw = Buffer.concat([
      frame(FrameType.HEADERS, FrameFlag.PADDED | FrameFlag.PRIORITY, 3, head),
      frame(FrameType.CONTINUATION, 0, 3, b.subarray(10, 20)),
      frame(FrameType.CONTINUATION, FrameFlag.END_HEADERS, 3, b.subarray(20)),
      frame(FrameType.DATA, FrameFlag.PADDED, 3, padded),
      frame(FrameType.PRIORITY, 0, 3, Buffer.of(0, 0, 0, 0, 1)),
      frame(0xfa, 0, 0, Buffer.from('unknown frame types are ignored')),
      frame(FrameType.DATA, FrameFlag.END_STREAM, 3, msg.subarray(4)),
    ]);
    for (let i = 0; i < raw.length; i += 7) c.write(raw.subarray(i, i + 7));
    await c.until('status of stream 3', () => c.statuses().has(3));
    assert.equal(c.statuses().get(3), '0');
    const data = c.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 3);
    assert.equal(Buffer.concat(data.map((f) => f.payload)).subarray(5).toString(), 'echo:padded');
    assert.equal(c.frames.filter(isType(FrameType.GOAWAY)).length, 0);
    c.socket.destroy();
  });

  it('messages written in one turn share DATA frames, each within SETTINGS_MAX_FRAME_SIZE; the bytes are the messages in order', async () => {
    const c = rawClient([[0x4, 1 << 20]]);
    c.write(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(1 << 20)));
    c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, block(echoFields('a', '/test.Svc/Many'))), frame(FrameType.DATA, FrameFlag.END_STREAM, 1, encodeMessage(Buffer.from('1000'))));
    await c.until('status', () => c.statuses().has(1));
    assert.equal(c.statuses().get(1), '0');
    const data = c.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 1);
    const bytes = Buffer.concat(data.map((f) => f.payload));
    assert.equal(bytes.length, 1000 * 105);
    for (let i = 0; i < 1000; i++) {
      const m = bytes.subarray(i * 105, (i + 1) * 105);
      assert.equal(m.readUInt32BE(1), 100);
      assert.equal(m.subarray(5).toString(), `message ${i} `.padEnd(100, '.'));
    }
    assert.ok(data.every((f) => f.payload.length <= 16384), 'no frame over 16384 octets');
    assert.equal(data.length, Math.ceil(bytes.length / 16384), `${data.length} DATA frames for 1000 messages`);
    c.socket.destroy();
  });

  it('malformed request headers: RST_STREAM PROTOCOL_ERROR, the connection stays usable', async () => {
    const c = rawClient();
    const bad: [string, string][][] = [
      [...echoFields('a'), ['X-Upper', 'v']],
      echoFields('a').filter(([n]) => n !== ':path'),
      [['content-type', 'application/grpc'], ...echoFields('a')],
      [...echoFields('a'), [':unknown', 'v']],
      [...echoFields('a'), ['connection', 'close']],
      [...echoFields('a'), ['te', 'gzip']],
    ];
    bad.forEach((fields, i) => c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1 + 2 * i, block(fields)), frame(FrameType.DATA, FrameFlag.END_STREAM, 1 + 2 * i, encodeMessage(Buffer.from('x')))));
    const good = 1 + 2 * bad.length;
    c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, good, echoBlock('a')), frame(FrameType.DATA, FrameFlag.END_STREAM, good, encodeMessage(Buffer.from('ok'))));
    await c.until('status of the good stream', () => c.statuses().has(good));
    for (let i = 0; i < bad.length; i++) assert.deepEqual(rstCodes(c, 1 + 2 * i), [H2Code.PROTOCOL_ERROR], `case ${i}`);
    assert.equal(c.statuses().get(good), '0');
    assert.equal(c.frames.filter(isType(FrameType.GOAWAY)).length, 0);
    c.socket.destroy();
  });

  it('framing errors end the connection with GOAWAY and the RFC 7540 code', async () => {
    const cases: [string, Buffer[], number][] = [
      ['first frame not SETTINGS', [frame(FrameType.PING, 0, 0, Buffer.alloc(8))], H2Code.PROTOCOL_ERROR],
      ['malformed HPACK', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, Buffer.of(0x83, 0xc6))], H2Code.COMPRESSION_ERROR],
      ['frame over 16384 octets', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.PING, 0, 0, Buffer.alloc(16385))], H2Code.FRAME_SIZE_ERROR],
      ['DATA on stream 0', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.DATA, 0, 0, Buffer.from('x'))], H2Code.PROTOCOL_ERROR],
      ['even stream id', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 2, echoBlock('a'))], H2Code.PROTOCOL_ERROR],
      ['a frame inside a header block', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.HEADERS, 0, 1, echoBlock('a')), frame(FrameType.PING, 0, 0, Buffer.alloc(8))], H2Code.PROTOCOL_ERROR],
      ['connection window overflow', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.WINDOW_UPDATE, 0, 0, u32(2 ** 31 - 1))], H2Code.FLOW_CONTROL_ERROR],
      ['PING of 7 octets', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.PING, 0, 0, Buffer.alloc(7))], H2Code.FRAME_SIZE_ERROR],
      ['SETTINGS_MAX_FRAME_SIZE too small', [frame(FrameType.SETTINGS, 0, 0, Buffer.of(0, 5, 0, 0, 0, 1))], H2Code.PROTOCOL_ERROR],
      ['DATA padding longer than the frame', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, echoBlock('a')), frame(FrameType.DATA, FrameFlag.PADDED, 1, Buffer.of(5, 1))], H2Code.PROTOCOL_ERROR],
      ['PUSH_PROMISE from the client', [frame(FrameType.SETTINGS, 0, 0), frame(FrameType.PUSH_PROMISE, FrameFlag.END_HEADERS, 1, Buffer.alloc(4))], H2Code.PROTOCOL_ERROR],
    ];
    for (const [what, frames, code] of cases) {
      const c = new RawConn(net.connect(port, '127.0.0.1'));
      c.write(CLIENT_PREFACE, ...frames);
      await c.until(`close (${what})`, () => c.closed);
      assert.equal(goawayCode(c), code, what);
    }
    const notH2 = new RawConn(net.connect(port, '127.0.0.1'));
    notH2.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await notH2.until('close', () => notH2.closed);
    assert.equal(goawayCode(notH2), H2Code.PROTOCOL_ERROR, 'not the client preface');
  });

  it("the client's windows are respected: DATA stops at the stream window, the rest and the trailers follow its WINDOW_UPDATE", async () => {
    const c = rawClient([[0x4, 16]]);
    const long = 'y'.repeat(100);
    c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, echoBlock('a')), frame(FrameType.DATA, FrameFlag.END_STREAM, 1, encodeMessage(Buffer.from(long))));
    const dataOf = () => Buffer.concat(c.frames.filter((f) => f.type === FrameType.DATA && f.streamId === 1).map((f) => f.payload));
    await c.until('16 octets of DATA', () => dataOf().length === 16);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(dataOf().length, 16, 'no more than the window');
    assert.equal(c.statuses().has(1), false, 'trailers wait behind the data');
    c.write(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(50)));
    await c.until('66 octets', () => dataOf().length === 66);
    c.write(frame(FrameType.WINDOW_UPDATE, 0, 1, u32(1000)));
    await c.until('status', () => c.statuses().has(1));
    assert.equal(dataOf().subarray(5).toString(), `echo:${long}`);
    // the connection window: 65,535 octets until the client opens it
    const d = rawClient([[0x4, 1 << 20]]);
    const big = encodeMessage(Buffer.from('z'.repeat(70000)));
    d.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, echoBlock('a')));
    for (let off = 0; off < big.length; off += 16384) d.write(frame(FrameType.DATA, off + 16384 >= big.length ? FrameFlag.END_STREAM : 0, 1, big.subarray(off, off + 16384)));
    const dData = () => d.frames.filter((f) => f.type === FrameType.DATA).reduce((n, f) => n + f.payload.length, 0);
    await d.until('65535 octets', () => dData() === 65535);
    assert.ok(d.frames.filter((f) => f.type === FrameType.DATA).every((f) => f.payload.length <= 16384), 'frames within SETTINGS_MAX_FRAME_SIZE');
    d.write(frame(FrameType.WINDOW_UPDATE, 0, 0, u32(10000)));
    await d.until('status', () => d.statuses().has(1));
    assert.equal(dData(), 70000 + 5 + 5);
    c.socket.destroy();
    d.socket.destroy();
  });

  it('our receive windows are re-opened as data is read', async () => {
    const c = rawClient([[0x5, 1 << 20]]);
    const msg = encodeMessage(Buffer.alloc(600_000, 0x61));
    c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, block(echoFields('a', '/test.Svc/Big'))));
    for (let off = 0; off < msg.length; off += 16384) c.write(frame(FrameType.DATA, 0, 1, msg.subarray(off, off + 16384)));
    await c.until('stream WINDOW_UPDATE', (fs) => fs.some((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1));
    const inc = c.frames.find((f) => f.type === FrameType.WINDOW_UPDATE && f.streamId === 1)!.payload.readUInt32BE(0);
    assert.ok(inc >= 1 << 19, `stream window re-opened by ${inc}`);
    c.write(frame(FrameType.DATA, FrameFlag.END_STREAM, 1, Buffer.alloc(0)));
    await c.until('status', () => c.statuses().has(1));
    assert.equal(c.statuses().get(1), '0');
    c.socket.destroy();
  });

  it('SETTINGS_MAX_CONCURRENT_STREAMS: a stream past the limit is refused', async () => {
    const limited = new GrpcServer({ maxRecvBytes: 1000, maxConcurrentStreams: 1 });
    limited.addMethod('test.Svc', 'Echo', { kind: 'unary', ...text, handler: (call, req: unknown) => call.sendResponse(`echo:${req as string}`) } as Method);
    const l = net.createServer((sock) => limited.handleConnection(sock));
    l.listen(0, '127.0.0.1');
    await once(l, 'listening');
    try {
      const c = rawClient([], (l.address() as net.AddressInfo).port);
      c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, echoBlock('a')));
      c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 3, echoBlock('a')), frame(FrameType.DATA, FrameFlag.END_STREAM, 3, encodeMessage(Buffer.from('no'))));
      await c.until('RST_STREAM of stream 3', () => rstCodes(c, 3).length > 0);
      assert.deepEqual(rstCodes(c, 3), [H2Code.REFUSED_STREAM]);
      c.write(frame(FrameType.DATA, FrameFlag.END_STREAM, 1, encodeMessage(Buffer.from('yes'))));
      await c.until('status of stream 1', () => c.statuses().has(1));
      c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 5, echoBlock('a')), frame(FrameType.DATA, FrameFlag.END_STREAM, 5, encodeMessage(Buffer.from('again'))));
      await c.until('status of stream 5', () => c.statuses().has(5));
      c.socket.destroy();
    } finally {
      limited.close();
      l.close();
    }
  });

  it('keepalive: an unanswered PING closes the connection, an answered one keeps it', async () => {
    const ka = new GrpcServer({ maxRecvBytes: 1000, keepaliveIntervalMs: 100, keepaliveTimeoutMs: 200 });
    const l = net.createServer((sock) => ka.handleConnection(sock));
    l.listen(0, '127.0.0.1');
    await once(l, 'listening');
    try {
      const p = (l.address() as net.AddressInfo).port;
      const silent = rawClient([], p);
      const polite = rawClient([], p);
      polite.socket.on('data', () => {
        for (const f of polite.frames.splice(0)) if (f.type === FrameType.PING && !(f.flags & FrameFlag.ACK)) polite.write(frame(FrameType.PING, FrameFlag.ACK, 0, f.payload));
      });
      await silent.until('close', () => silent.closed);
      assert.ok(silent.frames.some(isType(FrameType.PING)), 'pinged');
      assert.equal(polite.closed, false);
      assert.equal(ka.connectionCount, 1);
      polite.socket.destroy();
    } finally {
      ka.close();
      l.close();
    }
  });

  it('client GOAWAY: the open stream finishes, then the connection closes; close(): GOAWAY NO_ERROR', async () => {
    const c = rawClient();
    c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, 1, echoBlock('a')), frame(FrameType.GOAWAY, 0, 0, Buffer.alloc(8)));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(c.closed, false);
    c.write(frame(FrameType.DATA, FrameFlag.END_STREAM, 1, encodeMessage(Buffer.from('last'))));
    await c.until('close', () => c.closed);
    assert.equal(c.statuses().get(1), '0');

    const other = new GrpcServer({ maxRecvBytes: 1000 });
    const l = net.createServer((sock) => other.handleConnection(sock));
    l.listen(0, '127.0.0.1');
    await once(l, 'listening');
    try {
      const d = rawClient([], (l.address() as net.AddressInfo).port);
      await d.until('server SETTINGS', (fs) => fs.length > 0);
      other.close();
      await d.until('close', () => d.closed);
      assert.equal(goawayCode(d), H2Code.NO_ERROR);
    } finally {
      l.close();
    }
  });

  it('over TLS (ALPN h2): https://host:port authority taken, the call sees the TLS socket', async () => {
    const s = http2.connect(`https://127.0.0.1:${tlsPort}`, { ca: fs.readFileSync(certs.caCert) });
    try {
      assert.deepEqual(await echoCalls(s, `https://127.0.0.1:${tlsPort}`, 3), ['echo:m0', 'echo:m1', 'echo:m2']);
      assert.deepEqual(await echoCalls(s, undefined, 1, {}, '/test.Svc/Secure'), ['encrypted:true']);
    } finally {
      s.close();
    }
  });
});

// ---------------------------------------------------------------------------
// grpc-go's keepalive enforcement, real etcd 3.4.23 vs ours

describe('client PINGs too often: GOAWAY ENHANCE_YOUR_CALM "too_many_pings", as real etcd 3.4', { concurrency: false }, () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  before(async () => {
    // a 1 h min time so that any two PINGs of the test are too close while a call is open
    [real, ours] = await startTwinEtcds({ extraArgs: ['--grpc-keepalive-min-time=1h'] }, ['real', 'ours']);
  });
  after(async () => {
    await Promise.all([real?.stop(), ours?.stop()]);
  });

  const ping = (i: number) => frame(FrameType.PING, 0, 0, Buffer.from(`ping${String(i).padStart(4, '0')}`));
  const requestBlock = (path: string) => encodeLiteralBlock([
    [':method', 'POST'], [':scheme', 'http'], [':path', path], [':authority', 'localhost'], ['content-type', 'application/grpc'], ['te', 'trailers'],
  ].map(([name, value]) => ({ name: name!, value: value!, neverIndex: false })));

  /**
   * Connects to `s`, optionally opens a call that stays open (a Watch stream), then sends
   * `n` PINGs 20 ms apart, and, when `answerBetween`, an unknown-method call between them
   * (the server writes its status: headers reset the strikes). Reports which PINGs were
   * acknowledged, the GOAWAY (code, debug data) and whether the connection closed.
   */
  async function pings(s: EtcdProcess, n: number, openCall: boolean, answerBetween: boolean) {
    const url = new URL(s.clientURL);
    const c = new RawConn(net.connect(Number(url.port), url.hostname));
    c.write(CLIENT_PREFACE, frame(FrameType.SETTINGS, 0, 0));
    await c.until('server SETTINGS', (fs) => fs.some(isType(FrameType.SETTINGS)));
    c.write(frame(FrameType.SETTINGS, FrameFlag.ACK, 0));
    let id = 1;
    if (openCall) {
      c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS, id, requestBlock('/etcdserverpb.Watch/Watch')));
      id += 2;
    }
    for (let i = 0; i < n && !c.closed; i++) {
      if (answerBetween) {
        c.write(frame(FrameType.HEADERS, FrameFlag.END_HEADERS | FrameFlag.END_STREAM, id, requestBlock('/etcdserverpb.KV/Nope')));
        const sid = id;
        id += 2;
        await c.until(`status of ${sid}`, () => c.statuses().has(sid));
      }
      c.write(ping(i));
      await new Promise((r) => setTimeout(r, 20));
    }
    await c.until('close or all acks', () => c.closed || c.frames.filter(isType(FrameType.PING, FrameFlag.ACK)).length === n);
    if (!c.closed) await new Promise((r) => setTimeout(r, 200));
    const goaway = c.frames.find(isType(FrameType.GOAWAY));
    const result = {
      acked: c.frames.filter(isType(FrameType.PING, FrameFlag.ACK)).map((f) => f.payload.toString()),
      goaway: goaway ? { code: goaway.payload.readUInt32BE(4), debug: goaway.payload.subarray(8).toString() } : undefined,
      closed: c.closed,
    };
    c.socket.destroy();
    return result;
  }

  const cases: [string, number, boolean, boolean][] = [
    ['no call open: the 4th PING within 2 h', 4, false, false],
    ['a call open, --grpc-keepalive-min-time=1h: the 4th PING', 4, true, false],
    ['three PINGs only: no GOAWAY', 3, true, false],
    ['the server answered between PINGs: no strikes', 6, true, true],
  ];
  for (const [what, n, openCall, answerBetween] of cases) {
    it(what, async () => {
      const [a, b] = await Promise.all([pings(real, n, openCall, answerBetween), pings(ours, n, openCall, answerBetween)]);
      assert.deepEqual(b, a);
      if (n === 4) assert.deepEqual(a.goaway, { code: H2Code.ENHANCE_YOUR_CALM, debug: 'too_many_pings' });
      else assert.equal(a.goaway, undefined);
    });
  }
});

describe('--grpc-keepalive-interval and --grpc-keepalive-timeout: the server pings a silent client, then closes, as real etcd 3.4', { concurrency: false }, () => {
  let real: EtcdProcess;
  let ours: EtcdProcess;
  before(async () => {
    [real, ours] = await startTwinEtcds({ extraArgs: ['--grpc-keepalive-interval=200ms', '--grpc-keepalive-timeout=300ms'] }, ['real', 'ours']);
  });
  after(async () => {
    await Promise.all([real?.stop(), ours?.stop()]);
  });

  /** A client that answers SETTINGS but never a PING: when the first PING came (ms), and how the connection ended. */
  async function silent(s: EtcdProcess) {
    const url = new URL(s.clientURL);
    const t0 = Date.now();
    const c = new RawConn(net.connect(Number(url.port), url.hostname));
    c.write(CLIENT_PREFACE, frame(FrameType.SETTINGS, 0, 0));
    await c.until('server SETTINGS', (fs) => fs.some(isType(FrameType.SETTINGS)));
    c.write(frame(FrameType.SETTINGS, FrameFlag.ACK, 0));
    let pingAt = -1;
    await c.until('a PING', (fs) => {
      if (pingAt < 0 && fs.some(isType(FrameType.PING))) pingAt = Date.now() - t0;
      return pingAt >= 0;
    });
    await c.until('close', () => c.closed);
    return { pingAt, goaway: c.frames.some(isType(FrameType.GOAWAY)), closed: c.closed };
  }

  it('the interval is raised to 1 s (grpc-go KeepaliveParams); no answer within the timeout closes the connection, without GOAWAY', async () => {
    const [a, b] = await Promise.all([silent(real), silent(ours)]);
    for (const [who, r] of [['real', a], ['ours', b]] as const) {
      assert.ok(r.pingAt >= 900, `${who}: first PING after ${r.pingAt} ms, not before the 1 s minimum`);
      assert.equal(r.closed, true, who);
      assert.equal(r.goaway, false, who);
    }
  });
});

// ---------------------------------------------------------------------------
// The real etcdctl 3.4.23

/** Output of `endpoint status`: db sizes and raft indexes differ between twins. */
const normalizeStatus = (t: string) =>
  normalizeDbSize(t, newRunContext('real')).replace(/((?:true|false), (?:true|false), \d+), \d+, \d+,/g, '$1, <N>, <N>,');

describe('real etcdctl 3.4 with scheme-prefixed endpoints: real etcd vs ours', { concurrency: false }, () => {
  const COMMANDS = [
    ['defrag'],
    ['endpoint', 'hashkv'],
    ['alarm', 'list'],
    ['endpoint', 'status'],
    ['endpoint', 'status', '--cluster'],
    ['endpoint', 'health', '--cluster'],
    ['endpoint', 'hashkv', '--cluster'],
    ['defrag', '--cluster'],
    ['put', 'k', 'v'],
    ['get', 'k'],
  ];
  for (const secure of [false, true]) {
    describe(secure ? 'https:// with --cacert' : 'http://', () => {
      let real: EtcdProcess;
      let ours: EtcdProcess;
      let certs: TestCerts;
      before(async () => {
        certs = await makeTestCerts();
        [real, ours] = await startTwinEtcds(secure ? { tls: { certFile: certs.serverCert, keyFile: certs.serverKey } } : {}, ['real', 'ours']);
      });
      after(async () => {
        await Promise.all([real?.stop(), ours?.stop()]);
      });

      for (const cmd of COMMANDS) {
        it(cmd.join(' '), async () => {
          const run = async (s: EtcdProcess) => {
            const args = [`--endpoints=${s.clientURL}`, ...(secure ? [`--cacert=${certs.caCert}`] : []), ...cmd];
            const r = await runCli(REAL, args, { env: { ETCDCTL_API: '3' } });
            const norm = (t: string) => normalizeStatus(normalizeDurations(t.split(s.clientURL).join('<URL>'), newRunContext('real')));
            return { code: r.code, stdout: norm(r.stdout.toString()), stderr: norm(stripLogLines(r.stderr)), rawErr: r.stderr };
          };
          const [a, b] = await Promise.all([run(real), run(ours)]);
          assert.doesNotMatch(b.rawErr, /PROTOCOL_ERROR|RST_STREAM/);
          assert.equal(a.code, 0, a.rawErr);
          assert.deepEqual({ code: b.code, stdout: b.stdout, stderr: b.stderr }, { code: a.code, stdout: a.stdout, stderr: a.stderr });
          if (cmd.includes('--cluster') || cmd[0] === 'endpoint' || cmd[0] === 'defrag') assert.match(a.stdout + a.stderr, /<URL>/, 'the output names the endpoint');
        });
      }
    });
  }
});

