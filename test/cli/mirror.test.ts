// `etcdctl make-mirror`, compared live with the real etcdctl 3.4.23.
//
// Three real etcd servers: a source, and one destination for each mirror. For every
// case real etcdctl mirrors the source into DEST_REAL and ours into DEST_OURS, both at
// the same time; the test writes to the source (before the mirrors start: the base
// copy; after: watched changes, including multi-key txns and range deletes), waits
// until both destinations have the case's final marker key, then compares the two
// destinations (keys and values, under the case's destination range) with each other
// and with the source content renamed as etcdctl renames it. Both mirrors are then
// ended with SIGTERM (etcdctl has no handler: both die by the signal, nothing printed).
//
// One pair of mirrors runs for the whole file to check the running total etcdctl prints
// every 30 s (the file waits until 31 s have passed for it).
//
// Serve mode (ETCDTS_TARGET=serve): the source is a real etcd plus our twin of it, every
// write goes to both; the real etcdctl mirrors the real source into DEST_REAL (real etcd)
// and our source into DEST_OURS (our server), so our server is tested as a mirror source
// (get at a revision, watch from it) and as a destination (txns). The ours-only flag
// tests then run our etcdctl from the real source into our server.
//
// Argument errors are compared byte for byte; `make-mirror --help` with the lines of
// the flags etcdctl 3.4.23 lacks (3.5's --dest-user/--dest-password, 3.6's --rev and
// --max-txn-ops) removed from ours. Those flags are tested on our side only.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { describeProc, killAllProcs, procStderr as stderr, procStdout as stdout, sleep, startProc, stopProc, waitFor as waitForWithin, type Proc } from '../harness/proc.js';
import { startComparedEtcd, startEtcd, startRealEtcd, stopAll, type RealEtcd } from '../harness/etcd.js';
import { bytesToText, compareCli, errorLine, OURS, REAL, runCli, SUBJECT_BIN } from '../harness/run.js';
import { CLI_ONLY, SERVE, skipInServe } from '../harness/target.js';
import { EtcdClient } from '../../src/client/client.js';
import { FROM_KEY_END, prefixEnd } from '../../src/client/range.js';

const CASE_TIMEOUT_MS = 60_000;
const WAIT_MS = 20_000;
const waitFor = (what: string, cond: () => boolean | Promise<boolean>, ms = WAIT_MS) => waitForWithin(what, cond, ms);
const stop = (p: Proc, sig: NodeJS.Signals = 'SIGTERM') => stopProc(p, sig, WAIT_MS);

// ---------------------------------------------------------------------------
// Servers

let src: RealEtcd;
/** The source the side under test mirrors from (serve mode: our twin of src). */
let srcSubject: RealEtcd;
let dstReal: RealEtcd;
let dstOurs: RealEtcd;
const clients = new Map<RealEtcd, EtcdClient>();
const c = (s: RealEtcd) => clients.get(s)!;

/** The counting pair (see the file comment) and when it started. */
let counters: Proc[] = [];
let countersStarted = 0;
const COUNT_PREFIX = '/t/';

before(async () => {
  [src, dstReal, dstOurs] = await Promise.all([startComparedEtcd(), startRealEtcd(), startEtcd({ serverKind: SERVE ? 'ours' : 'real' })]);
  srcSubject = (src.subject as RealEtcd | undefined) ?? src;
  for (const s of new Set([src, srcSubject, dstReal, dstOurs])) {
    clients.set(s, await EtcdClient.connect({ endpoints: [s.endpoint], dialTimeoutMs: 5000, commandTimeoutMs: 10_000, keepaliveTimeMs: 10_000, keepaliveTimeoutMs: 6000 }));
  }
  // the counting pair: 3 keys in the base copy, 2 events
  for (const k of ['1', '2', '3']) await put(COUNT_PREFIX + k, 'v');
  counters = [
    startProc(REAL, [`--endpoints=${src.endpoint}`, 'make-mirror', '--prefix', COUNT_PREFIX, dstReal.endpoint]),
    startProc(SUBJECT_BIN, [`--endpoints=${srcSubject.endpoint}`, 'make-mirror', '--prefix', COUNT_PREFIX, dstOurs.endpoint]),
  ];
  countersStarted = Date.now();
  await waitFor('the counting mirrors', async () => (await dump(dstReal, COUNT_PREFIX)).length === 3 && (await dump(dstOurs, COUNT_PREFIX)).length === 3);
  await put(COUNT_PREFIX + '4', 'v');
  for (const s of sources()) await c(s).deleteRange({ key: Buffer.from(COUNT_PREFIX + '1') });
});

after(async () => {
  killAllProcs();
  for (const cl of clients.values()) cl.close();
  await stopAll(src, dstReal, dstOurs);
});

/** Every source server: src and, in serve mode, our twin of it (written in that order). */
const sources = (): RealEtcd[] => (srcSubject === src ? [src] : [src, srcSubject]);

async function put(key: string, value: string): Promise<void> {
  for (const s of sources()) await c(s).put({ key: Buffer.from(key), value: Buffer.from(value) });
}

/** `key=value` lines of `server` under `prefix` ('' = everything), in key order. */
async function dump(server: RealEtcd, prefix: string): Promise<string[]> {
  const k = prefix === '' ? FROM_KEY_END : Buffer.from(prefix);
  const r = await c(server).range({ key: k, rangeEnd: prefix === '' ? FROM_KEY_END : prefixEnd(k) });
  return r.kvs.map((kv) => `${Buffer.from(kv.key).toString()}=${Buffer.from(kv.value).toString()}`);
}

// ---------------------------------------------------------------------------
// Writes

/** A write on the source. */
type Write =
  | { put: [string, string] }
  | { del: string; prefix?: boolean }
  /** one txn of several puts (one revision: one txn on the destination) */
  | { txn: Array<[string, string]> };

async function apply(w: Write): Promise<void> {
  if ('put' in w) return put(w.put[0], w.put[1]);
  if ('del' in w) {
    const k = Buffer.from(w.del);
    for (const s of sources()) await c(s).deleteRange({ key: k, rangeEnd: w.prefix ? prefixEnd(k) : undefined });
    return;
  }
  for (const s of sources()) {
    await c(s).txn({
      success: w.txn.map(([k, v]) => ({ request: { case: 'requestPut' as const, value: { key: Buffer.from(k), value: Buffer.from(v) } } })),
    });
  }
}

// ---------------------------------------------------------------------------
// Cases

interface MirrorCase {
  name: string;
  /** make-mirror flags (before the destination) */
  flags: string[];
  /** source range mirrored ('' = all) and how its keys are renamed */
  srcPrefix: string;
  /** destination range compared */
  destRange: string;
  rename: (key: string) => string;
  /** writes before the mirrors start (base copy) */
  base: Write[];
  /** writes while they run */
  live: Write[];
}

const CASES: MirrorCase[] = [
  {
    name: '--prefix (same prefix at the destination)',
    flags: ['--prefix', '/a/'],
    srcPrefix: '/a/',
    destRange: '/a/',
    rename: (k) => k,
    base: [{ put: ['/a/1', 'one'] }, { put: ['/a/2', 'two'] }, { put: ['/other', 'not mirrored'] }],
    live: [
      { put: ['/a/3', 'three'] },
      { put: ['/a/1', 'one again'] },
      { del: '/a/2' },
      { put: ['/ab', 'outside the prefix'] },
      { txn: [['/a/t1', 'x'], ['/a/t2', 'y'], ['/a/t3', 'z']] },
      { del: '/a/t', prefix: true },
      { put: ['/a/zz', 'done'] },
    ],
  },
  {
    name: '--dest-prefix renames the first occurrence of the prefix',
    flags: ['--prefix', '/b/', '--dest-prefix', '/B/'],
    srcPrefix: '/b/',
    destRange: '/B/',
    rename: (k) => k.replace('/b/', '/B/'),
    base: [{ put: ['/b/1', 'one'] }, { put: ['/b/x/b/', 'twice'] }],
    live: [{ put: ['/b/2', 'two'] }, { del: '/b/1' }, { put: ['/b/y/b/z', 'twice again'] }, { put: ['/b/zz', 'done'] }],
  },
  {
    name: '--no-dest-prefix',
    flags: ['--prefix', '/c/', '--no-dest-prefix'],
    srcPrefix: '/c/',
    destRange: 'c',
    rename: (k) => k.replace('/c/', ''),
    base: [{ put: ['/c/c1', 'one'] }],
    live: [{ put: ['/c/c2', 'two'] }, { txn: [['/c/c3', 'a'], ['/c/c4', 'b']] }, { del: '/c/c1' }, { put: ['/c/czz', 'done'] }],
  },
  {
    name: 'the whole key space, under a destination prefix',
    flags: ['--dest-prefix', '/all'],
    srcPrefix: '',
    destRange: '/all',
    rename: (k) => '/all' + k,
    base: [{ put: ['/d/1', 'one'] }],
    live: [{ put: ['/d/2', 'two'] }, { del: '/d/1' }, { put: ['/d/zz', 'done'] }],
  },
];

describe('make-mirror: compared with etcdctl', () => {
  for (const mc of CASES) {
    test(mc.name, { timeout: CASE_TIMEOUT_MS }, async () => {
      for (const w of mc.base) await apply(w);
      const args = (from: RealEtcd, dest: RealEtcd) => [`--endpoints=${from.endpoint}`, 'make-mirror', ...mc.flags, dest.endpoint];
      const real = startProc(REAL, args(src, dstReal));
      const ours = startProc(SUBJECT_BIN, args(srcSubject, dstOurs));
      try {
        const expected = async () => (await dump(src, mc.srcPrefix)).map((l) => mc.rename(l.slice(0, l.indexOf('='))) + l.slice(l.indexOf('='))).filter((l) => l.startsWith(mc.destRange)).sort();
        const synced = async () => {
          const want = (await expected()).join('\n');
          const [a, b] = await Promise.all([dump(dstReal, mc.destRange), dump(dstOurs, mc.destRange)]);
          return a.join('\n') === want && b.join('\n') === want;
        };
        await waitFor('the base copy', synced);
        for (const w of mc.live) await apply(w);
        await waitFor('the live changes', synced).catch(async (e) => {
          const [a, b, want] = await Promise.all([dump(dstReal, mc.destRange), dump(dstOurs, mc.destRange), expected()]);
          assert.fail(`${(e as Error).message}\nwant ${JSON.stringify(want)}\nreal ${JSON.stringify(a)}\nours ${JSON.stringify(b)}\n${describeProc('real', real)}\n${describeProc('ours', ours)}`);
        });
        assert.deepEqual(await dump(dstOurs, mc.destRange), await dump(dstReal, mc.destRange));
        assert.equal(ours.exited, undefined, describeProc('ours', ours));
        await Promise.all([stop(real), stop(ours)]);
        const msg = `${describeProc('real', real)}\n${describeProc('ours', ours)}`;
        assert.deepEqual(ours.exited, real.exited, msg);
        assert.equal(stdout(ours), stdout(real), msg);
        assert.equal(errorLine(stderr(ours)), errorLine(stderr(real)), msg);
      } finally {
        for (const p of [real, ours]) if (!p.exited) p.child.kill('SIGKILL');
      }
    });
  }

  test('argument errors and help', { timeout: CASE_TIMEOUT_MS, skip: skipInServe(CLI_ONLY) }, async () => {
    const cases: string[][] = [
      ['make-mirror'],
      ['make-mirror', 'a', 'b'],
      ['make-mirror', '--prefix', '/x/', '--dest-prefix', '/y/', '--no-dest-prefix', dstReal.endpoint],
      ['make-mirror', '--dest-prefix', '/y/', '--no-dest-prefix', dstReal.endpoint],
      ['make-mirror', '--dest-cert', '/no/such/cert', dstReal.endpoint],
      ['make-mirror', '--dest-cert', '/no/such/cert', '--dest-key', '/no/such/key', dstReal.endpoint],
      ['make-mirror', '--dest-cacert', '/no/such/ca', dstReal.endpoint],
      ['make-mirror', '--dest-insecure-transport=maybe', dstReal.endpoint],
      ['-w', 'bogus', 'make-mirror', dstReal.endpoint],
    ];
    // etcdctl 3.4.23 lacks four flags (3.5: --dest-user/--dest-password; 3.6: --rev,
    // --max-txn-ops): their lines are removed from the help (printed by --help, and
    // after flag errors) before comparing; nothing else in the help changes with them.
    const later = /^ {6}--(dest-user|dest-password|rev|max-txn-ops)=/;
    const dropLater = (t: string) => t.split('\n').filter((l) => !later.test(l)).join('\n');
    for (const args of cases) await compareCli(args, { server: src, normalize: dropLater });
    const { ours } = await compareCli(['make-mirror', '--help'], { normalize: dropLater, endpoints: false });
    assert.equal(bytesToText(ours.stdout).split('\n').filter((l) => later.test(l)).length, 4, 'ours documents the four later flags');
  });
});

// ---------------------------------------------------------------------------
// Flags of later etcdctl versions (ours only; in serve mode from our source server)

describe('make-mirror: 3.5+/3.6+ flags (ours only)', () => {
  test('--rev starts from that revision without a base copy', { timeout: CASE_TIMEOUT_MS }, async () => {
    await put('/r/old', 'before');
    await put('/r/from', 'at rev');
    const rev = (await c(srcSubject).range({ key: Buffer.from('/r/from') })).kvs[0]!.modRevision;
    const p = startProc(OURS, [`--endpoints=${srcSubject.endpoint}`, 'make-mirror', '--prefix', '/r/', '--dest-prefix', '/R/', '--rev', String(rev), dstOurs.endpoint]);
    try {
      await waitFor('the event at --rev', async () => (await dump(dstOurs, '/R/')).length === 1);
      await put('/r/new', 'after');
      await waitFor('a later event', async () => (await dump(dstOurs, '/R/')).length === 2);
      assert.deepEqual(await dump(dstOurs, '/R/'), ['/R/from=at rev', '/R/new=after']);
    } finally {
      await stop(p);
    }
  });

  test('--max-txn-ops splits the events of one revision', { timeout: CASE_TIMEOUT_MS }, async () => {
    const p = startProc(OURS, [`--endpoints=${srcSubject.endpoint}`, 'make-mirror', '--prefix', '/m/', '--max-txn-ops', '2', dstOurs.endpoint]);
    try {
      await put('/m/0', 'ready');
      await waitFor('the mirror', async () => (await dump(dstOurs, '/m/')).length === 1);
      const before = (await c(dstOurs).range({ key: Buffer.from('/m/0') })).header!.revision;
      await apply({ txn: [['/m/1', 'a'], ['/m/2', 'b'], ['/m/3', 'c'], ['/m/4', 'd'], ['/m/5', 'e']] });
      await waitFor('the txn', async () => (await dump(dstOurs, '/m/')).length === 6);
      const afterRev = (await c(dstOurs).range({ key: Buffer.from('/m/0') })).header!.revision;
      assert.equal(afterRev - before, 3n, '5 operations in txns of at most 2');
    } finally {
      await stop(p);
    }
  });

  test('--rev on a compacted revision', { timeout: CASE_TIMEOUT_MS }, async () => {
    await put('/k/1', 'x');
    const rev = (await c(srcSubject).range({ key: Buffer.from('/k/1') })).header!.revision;
    await c(srcSubject).compact({ revision: rev, physical: true });
    const r = await runCli(OURS, [`--endpoints=${srcSubject.endpoint}`, 'make-mirror', '--prefix', '/k/', '--rev', '2', dstOurs.endpoint], { timeoutMs: 20_000 });
    assert.equal(errorLine(r.stderr), 'Error: etcdserver: mvcc: required revision has been compacted', r.stderr);
    assert.equal(r.code, 1);
  });
});

// ---------------------------------------------------------------------------
// The running total (last: waits for etcdctl's 30 s tick)

describe('make-mirror: running total', () => {
  test('printed after 30 s, as etcdctl does', { timeout: 60_000 }, async () => {
    const wait = countersStarted + 31_500 - Date.now();
    if (wait > 0) await sleep(wait);
    const [r, o] = counters as [Proc, Proc];
    await waitFor('both totals', () => stdout(r) !== '' && stdout(o) !== '', 5000).catch(() => undefined);
    const msg = `${describeProc('real', r)}\n${describeProc('ours', o)}`;
    assert.equal(stdout(r), '5\n', msg);
    assert.equal(stdout(o), stdout(r), msg);
    await Promise.all([stop(r), stop(o)]);
    assert.deepEqual(o.exited, r.exited, msg);
  });
});
