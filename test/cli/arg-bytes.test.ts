// Keys, values and prefixes reach the server byte for byte as the shell passed them,
// as with the real etcdctl (Go keeps os.Args' bytes; Node decodes argv as UTF-8 and
// bin/etcdctl takes lossy arguments from /proc/self/cmdline, util/arg-bytes.ts).
// Arguments are passed through bash's $'\xHH' quoting, so the processes get raw bytes:
// every byte 0x01..0xFF in a key and a value (ascending, descending, each byte >= 0x80
// alone between ASCII letters), a Kubernetes-style binary value; then get, get
// --prefix and del with raw-byte arguments. Real and ours write under their own prefix
// on one server and must store and print the same bytes.
//
// Serve mode: the same against our server (the subject CLI is compared with the real
// one either way).

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startEtcd, stopAll, type RealEtcd } from '../harness/etcd.js';
import { OURS, REAL, runCli } from '../harness/run.js';
import { SERVE } from '../harness/target.js';

let server: RealEtcd;
before(async () => {
  server = await startEtcd({ serverKind: SERVE ? 'ours' : 'real' });
});
after(async () => {
  await stopAll(server);
});

/** bash ANSI-C quoting of raw bytes (no NUL). */
const q = (b: Uint8Array) => `$'${[...b].map((x) => '\\x' + x.toString(16).padStart(2, '0')).join('')}'`;

/** Runs `bin` through bash with already-quoted arguments. */
function sh(bin: string, quotedArgs: string[]) {
  return runCli('/bin/bash', ['-c', `exec ${bin} --endpoints=${server.endpoint} ${quotedArgs.join(' ')}`]);
}

const range = (a: number, b: number) => Uint8Array.from({ length: b - a + 1 }, (_, i) => a + i);
const cat = (...p: Uint8Array[]) => new Uint8Array(Buffer.concat(p));
const txt = (s: string) => new Uint8Array(Buffer.from(s, 'latin1'));

const ascending = range(1, 255);
const descending = ascending.slice().reverse();
const highAlone = cat(...[...range(0x80, 0xff)].map((b) => Uint8Array.of(0x61, b)), txt('z'));
const k8sValue = Uint8Array.of(0x0a, 0x03, 0x6b, 0x38, 0x73, 0x01, 0xff, 0xfe, 0x00 + 0x7f);
const samples: Array<[string, Uint8Array, Uint8Array]> = [
  ['ascending', ascending, descending],
  ['descending', descending, ascending],
  ['high-alone', highAlone, highAlone],
  ['k8s', txt('/registry/pods/default/p\xff'), k8sValue],
];

describe('arguments byte for byte, as the real etcdctl', () => {
  test('put, get, get --prefix, del with every byte value', async () => {
    for (const [name, key, value] of samples) {
      const outs: Buffer[] = [];
      for (const [side, bin] of [['real', REAL], ['ours', OURS]] as const) {
        const prefix = txt(`/${side}/${name}/`);
        const k = cat(prefix, key);
        const put = await sh(bin, ['put', q(k), q(value)]);
        assert.equal(put.code, 0, `${side} put ${name}: ${put.stderr}`);
        // what is stored, read back with the real etcdctl as base64
        const j = await runCli(REAL, [`--endpoints=${server.endpoint}`, 'get', '--prefix', `/${side}/${name}/`, '-w', 'json']);
        const kvs = (JSON.parse(j.stdout.toString()) as { kvs: Array<{ key: string; value: string }> }).kvs;
        assert.equal(kvs.length, 1);
        assert.ok(Buffer.from(kvs[0]!.key, 'base64').equals(Buffer.from(k)), `${side} ${name}: stored key`);
        assert.ok(Buffer.from(kvs[0]!.value, 'base64').equals(Buffer.from(value)), `${side} ${name}: stored value`);
        const get = await sh(bin, ['get', q(k)]);
        assert.equal(get.code, 0, get.stderr);
        const pre = await sh(bin, ['get', '--prefix', q(cat(prefix, key.subarray(0, 7)))]);
        assert.equal(pre.code, 0, pre.stderr);
        assert.ok(pre.stdout.equals(get.stdout), `${side} ${name}: get --prefix of a raw prefix`);
        const del = await sh(bin, ['del', q(k)]);
        assert.equal(del.stdout.toString(), '1\n', `${side} ${name}: del ${del.stderr}`);
        outs.push(Buffer.concat([get.stdout.subarray(prefix.length)]));
      }
      assert.ok(outs[0]!.equals(outs[1]!), `${name}: get prints the same bytes`);
    }
  });
});
