// The fault tools of the robustness runs, on their own (no traffic):
//   - tearWalTail on the WAL of a one-member cluster of real etcd 3.4.23 and of ours:
//     walFrames finds the records of each format; a zeroed last sector is repaired by
//     both on restart; a garbled last record is refused by etcd 3.4.23 (walpb: crc
//     mismatch, seen in robustness runs) and dropped as a torn tail by ours;
//   - the peer proxy keeps each stream's bytes in order while it delays chunks (a proxy
//     that reordered them made real etcd panic: README regression ledger).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { startRealCluster, type RealCluster } from '../harness/cluster.js';
import { ETCD_BIN, OUR_ETCD_BIN } from '../harness/etcd.js';
import { getFreePort } from '../harness/ports.js';
import { PutRequestSchema, PutResponseSchema } from '../../src/gen/etcdserverpb/rpc_pb.js';
import { Rng } from './corpus.js';
import { tearWalTail, walFrames } from './faults.js';
import { PeerProxy } from './proxy.js';
import { Conn } from './traffic.js';

const enc = new TextEncoder();

async function puts(endpoint: string, n: number): Promise<void> {
  const c = new Conn({ name: 'm1', endpoint });
  try {
    for (let i = 0; i < n; i++) await c.unary('/etcdserverpb.KV/Put', PutRequestSchema, PutResponseSchema, { key: enc.encode(`k${i}`), value: enc.encode(`v${i}`) }, 5000);
  } finally {
    c.close();
  }
}

function newestSegment(dataDir: string): Buffer {
  const dir = path.join(dataDir, 'member', 'wal');
  const segs = fs.readdirSync(dir).filter((f) => f.endsWith('.wal')).sort();
  return fs.readFileSync(path.join(dir, segs[segs.length - 1]!));
}

for (const [kind, binary] of [['real', ETCD_BIN], ['ours', OUR_ETCD_BIN]] as const) {
  describe(`tearWalTail on ${kind}`, () => {
    let cluster: RealCluster | undefined;
    after(async () => {
      await cluster?.stopAll();
    });
    test('records found; a zeroed last sector is repaired; a garbled last record is refused (etcd) or dropped (ours)', { timeout: 120_000 }, async () => {
      cluster = await startRealCluster(1, { binary });
      const m = cluster.members[0]!;
      await puts(m.endpoint, 20);
      await m.stop();
      const buf = newestSegment(m.dataDir);
      const { format, frames } = walFrames(buf);
      assert.equal(format, kind === 'real' ? 'etcd' : 'ours');
      assert.ok(frames.length > 20, `${frames.length} records`);
      const end = frames[frames.length - 1]!.end;
      if (kind === 'real') {
        // etcd preallocates segments (SegmentSizeBytes, 64,000,000 bytes of zeros): the records end where a zero length is
        assert.equal(buf.length, 64_000_000);
        assert.equal(buf.readBigUInt64LE(end), 0n);
      } else {
        assert.equal(end, buf.length);
      }
      const rng = new Rng(7);
      assert.match(tearWalTail(m.dataDir, 'zero', rng), /zeroed$/);
      await m.restart();
      await puts(m.endpoint, 3);
      await m.stop();
      assert.match(tearWalTail(m.dataDir, 'garble', rng), /garbled$/);
      if (kind === 'real') {
        await assert.rejects(m.restart(), /exited during startup/);
        assert.match(m.log(), /walpb: crc mismatch/);
      } else {
        await m.restart();
        await puts(m.endpoint, 1);
      }
    });
  });
}

test('peer proxy: delayed chunks keep their order', { timeout: 60_000 }, async () => {
  const received: Buffer[] = [];
  let done!: () => void;
  const all = new Promise<void>((r) => { done = r; });
  const N = 300;
  const server = net.createServer((s) => {
    s.on('data', (d: Buffer) => {
      received.push(d);
      if (Buffer.concat(received).length >= N * 4) done();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as net.AddressInfo).port;
  const listenPort = await getFreePort();
  const proxy = await PeerProxy.start([{ listenPort, listenHost: '127.0.0.1', host: '127.0.0.1', port }]);
  try {
    assert.equal(await proxy.setFault({ delay: [1, 40] }), 0);
    const c = net.connect({ host: '127.0.0.1', port: listenPort });
    c.setNoDelay(true);
    await new Promise<void>((r) => c.once('connect', () => r()));
    for (let i = 0; i < N; i++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(i);
      c.write(b);
      if (i % 10 === 0) await new Promise((r) => setTimeout(r, 2));
    }
    await all;
    c.destroy();
    const got = Buffer.concat(received);
    for (let i = 0; i < N; i++) assert.equal(got.readUInt32BE(i * 4), i, `chunk ${i} out of order`);
    assert.equal(await proxy.setFault({}), 1);
  } finally {
    proxy.close();
    server.close();
  }
});
