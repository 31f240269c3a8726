// util/arg-bytes: command-line arguments byte for byte. decodeArgBytes/argBytes must
// round-trip every byte string (random ones, every single byte, every pair of high
// bytes), keep valid UTF-8 as the same text, and rawArgv must take lossily decoded
// arguments from a cmdline image only when the rest matches.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { argBytes, decodeArgBytes, rawArgv } from '../../src/util/arg-bytes.js';

const roundTrips = (b: Uint8Array) => assert.ok(Buffer.from(argBytes(decodeArgBytes(b))).equals(Buffer.from(b)), `round trip of ${Buffer.from(b).toString('hex')}`);

test('every byte, every pair of bytes >= 0x80 and random strings round-trip', () => {
  for (let b = 0; b < 256; b++) roundTrips(Uint8Array.of(b));
  for (let a = 0x80; a < 256; a++) for (let b = 0x80; b < 256; b++) roundTrips(Uint8Array.of(a, b));
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 5000; i++) {
    const b = new Uint8Array(rnd() % 24);
    for (let k = 0; k < b.length; k++) b[k] = rnd() % 4 === 0 ? 0x80 + (rnd() % 128) : rnd() % 256;
    roundTrips(b);
  }
  // surrogate pairs next to escaped bytes (a valid 4-byte char whose low surrogate is in DC80..DCFF)
  roundTrips(Buffer.concat([Buffer.from('\u{1F600}', 'utf8'), Uint8Array.of(0xff), Buffer.from('\u{10C80}', 'utf8'), Uint8Array.of(0x80)]));
});

test('valid UTF-8 decodes to the same text; invalid bytes as U+DC00 + byte', () => {
  for (const s of ['', 'abc', 'κλειδί', '鍵', '\u{1F511}', 'a\u0000b']) assert.equal(decodeArgBytes(Buffer.from(s, 'utf8')), s);
  assert.equal(decodeArgBytes(Uint8Array.of(0x61, 0xff, 0xc3)), 'a\udcff\udcc3');
  // overlong, surrogate and out-of-range forms are invalid, as in Go
  assert.equal(decodeArgBytes(Uint8Array.of(0xc0, 0x80)), '\udcc0\udc80');
  assert.equal(decodeArgBytes(Uint8Array.of(0xed, 0xa0, 0x80)), '\udced\udca0\udc80');
  assert.equal(decodeArgBytes(Uint8Array.of(0xf4, 0x90, 0x80, 0x80)), '\udcf4\udc90\udc80\udc80');
  assert.deepEqual([...argBytes('é')], [0xc3, 0xa9]);
});

test('rawArgv takes lossy arguments from cmdline, only when the rest matches', () => {
  const raw = (parts: Uint8Array[]) => Buffer.concat(parts.flatMap((p) => [p, Uint8Array.of(0)]));
  const k = Uint8Array.of(0x6b, 0xff);
  const argv = ['put', Buffer.from(k).toString('utf8'), 'v'];
  const cmdline = raw([Buffer.from('node'), Buffer.from('--stack-size=900'), Buffer.from('/x/bin/etcdctl'), Buffer.from('put'), k, Buffer.from('v')]);
  assert.deepEqual(rawArgv(argv, cmdline), ['put', 'k\udcff', 'v']);
  assert.deepEqual([...argBytes(rawArgv(argv, cmdline)[1]!)], [0x6b, 0xff]);
  // nothing lossy: argv as it is, cmdline not read
  assert.deepEqual(rawArgv(['get', 'k'], Uint8Array.of()), ['get', 'k']);
  // a cmdline that does not match argv is not used
  const other = raw([Buffer.from('node'), Buffer.from('/x/bin/etcdctl'), Buffer.from('get'), k, Buffer.from('v')]);
  assert.deepEqual(rawArgv(argv, other), argv);
  assert.deepEqual(rawArgv(argv, raw([k])), argv);
});
